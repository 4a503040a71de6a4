"""Attempt accounting: every submission is recorded, a pass after wrong submissions is rewarded by the
reward rule, attempts are capped, and a data-blind guesser gains nothing from feedback.

The episodes are real runs (``run_async``, real kernels, host-side grading) of
``helpers.guessing_agents:DataBlindGuesser``, which submits 0, 1, 2, ... without running a cell.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers.guessing_agents import DataBlindGuesser
from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.episode import EpisodeConfig
from kernelgym.runs.runner import RunOptions, read_results, run_async, summarize
from kernelgym.tasks import Instance, select
from kernelgym.training.export import kto_rows, load_episodes, sft_rows

pytestmark = [pytest.mark.kernel]

GUESSER = "helpers.guessing_agents:DataBlindGuesser"
SEEN: dict[str, list[Any]] = {}
"""The observations the guesser was shown, per mode."""
MODES = {
    "blind": EpisodeConfig(max_turns=6),
    "feedback": EpisodeConfig(max_turns=6, feedback=True),
    "silent": EpisodeConfig(max_turns=6, silent_retries=True),
    "capped": EpisodeConfig(max_turns=6, feedback=True, max_attempts=2),
}


@pytest.fixture(scope="module")
def picks(ehr_data: Path) -> list[Instance]:
    """Three count questions: answers 2, 1 and 0 (the guesser's third, second and first guess)."""
    found: dict[int, Instance] = {}
    for inst in select("ehr", split="test"):
        gt = inst.ground_truth
        if inst.verifier == "answer" and type(gt) is int and gt in (0, 1, 2) and gt not in found:
            found[gt] = inst
        if len(found) == 3:
            break
    assert len(found) == 3
    return [found[2], found[1], found[0]]


@pytest.fixture(scope="module")
def runs(picks: list[Instance], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("attempts")
    out = {}
    for mode, cfg in MODES.items():
        insts = picks[:1] if mode == "capped" else picks
        out[mode] = root / mode
        DataBlindGuesser.seen = []
        asyncio.run(run_async(insts, load_agent(GUESSER), out[mode], RunOptions(concurrency=3, progress=False, episode=cfg)))
        SEEN[mode] = DataBlindGuesser.seen
    return out


def by_task(run: Path) -> dict[str, Any]:
    results, bad = read_results(run)
    assert bad == 0
    return {r.task_id: r for r in results}


def test_a_data_blind_guesser_scores_no_more_with_feedback_than_without(runs: dict[str, Path], picks: list[Instance]) -> None:
    """Issue 17, item 2: with --feedback a guesser that never looks at the data passed 45 % of tasks
    against 21.7 % without it, because a pass after any number of wrong submissions scored 1.0. Its
    reward (the default rule, ``first``) must not exceed its reward without feedback, with feedback or
    with MedAgentGym's silent retries, while its final verdicts do pass more often."""
    blind, feedback, silent = (by_task(runs[m]) for m in ("blind", "feedback", "silent"))
    reward = {m: sum(r.reward for r in rs.values()) for m, rs in (("blind", blind), ("feedback", feedback), ("silent", silent))}
    passed = {m: sum(r.passed for r in rs.values()) for m, rs in (("blind", blind), ("feedback", feedback), ("silent", silent))}
    assert passed == {"blind": 1, "feedback": 3, "silent": 3}, passed  # retrying does find the answers...
    assert reward["feedback"] <= reward["blind"] and reward["silent"] <= reward["blind"], reward  # ...but earns nothing
    assert reward == {"blind": 1.0, "feedback": 1.0, "silent": 1.0}
    for rs in (feedback, silent):
        assert [rs[i.id].attempts for i in picks] == [3, 2, 1]
        assert [rs[i.id].reward for i in picks] == [0.0, 0.0, 1.0]
        assert all(r.reward_rule == "first" for r in rs.values())
    summary = summarize(read_results(runs["feedback"])[0])["total"]
    assert summary["pass_rate"] == 1.0 and summary["first_attempt_pass_rate"] == round(1 / 3, 4)
    assert summary["mean_reward"] == round(1 / 3, 4) and summary["mean_attempts"] == 2.0
    # feedback tells the guesser; silent retries never do
    told = [o.feedback for o in SEEN["feedback"] if o.feedback]
    assert len(told) == 3 and all("not correct" in t and "more submission" in t for t in told)
    assert len(SEEN["silent"]) == 6 and not any(o.feedback for o in SEEN["silent"])


def test_every_submission_is_recorded_in_results_notebooks_and_exports(runs: dict[str, Path], picks: list[Instance]) -> None:
    """Every submission shows in results.jsonl, the notebook's metadata and its record and header
    cells, and the exports: a pass after wrong submissions is not a success to learn from."""
    first = picks[0]  # the answer is the third guess
    rec = by_task(runs["feedback"])[first.id]
    assert [(s.turn, s.answer, s.passed) for s in rec.submissions] == [(1, 0, False), (2, 1, False), (3, 2, True)]
    assert rec.passed and rec.attempts == 3 and rec.reward == 0.0 and rec.score == 1.0
    assert by_task(runs["blind"])[first.id].submissions[0].passed is False  # graded by the verifier alone
    nb = nbformat.read(runs["feedback"] / rec.notebook, as_version=4)
    meta = nb.metadata["kernelgym"]
    assert [s["answer"] for s in meta["episode"]["submissions"]] == [0, 1, 2]
    assert meta["episode"]["wrong_answers"] == 2 and meta["episode"]["max_attempts"] == 3
    assert (meta["result"]["attempts"], meta["result"]["reward"], meta["result"]["reward_rule"]) == (3, 0.0, "first")
    record = nbk.cells_with_tag(nb, nbk.TAG_RECORD)[0].source
    assert "attempts: 3 submissions graded; reward 0" in record and "PASSED" in record
    assert "| attempts | attempts: 3" in nbk.cells_with_tag(nb, nbk.TAG_HEADER)[0].source
    assert nbk.is_result_record(record, meta["result"])
    episodes = load_episodes([runs["feedback"]])
    kto = {r["task_id"]: r for r in kto_rows(episodes)}
    assert {t: (r["label"], r["attempts"], r["reward"]) for t, r in kto.items()} == {
        picks[0].id: (False, 3, 0.0), picks[1].id: (False, 2, 0.0), picks[2].id: (True, 1, 1.0)}
    sft = sft_rows(episodes)
    assert [r["task_id"] for r in sft] == [picks[2].id]
    # the rebuilt conversation shows the feedback the guesser saw
    told = [m["content"] for m in kto[picks[0].id]["completion"] if "not correct" in str(m.get("content"))]
    assert len(told) == 2 and "at most 2 more submissions" in told[0] and "at most 1 more submission." in told[1]


def test_attempts_are_capped_per_episode(runs: dict[str, Path], picks: list[Instance]) -> None:
    """A cap on submissions per episode: with --max-attempts 2 the guesser whose answer is its third
    guess is stopped after its second, and fails."""
    rec = by_task(runs["capped"])[picks[0].id]
    assert rec.attempts == 2 and not rec.passed and rec.stop_reason == "answered" and rec.turns == 2
    assert rec.reward == 0.0


def test_kernelgym_grade_counts_the_attempts_again(runs: dict[str, Path], picks: list[Instance], tmp_path: Path) -> None:
    """Re-grading keeps the attempts and reward, counted again from the re-executed cells: a notebook
    whose recorded attempts were edited down to 1 (to claim a first-attempt reward) is re-graded with
    its 3 submissions and reward 0."""
    import copy

    from kernelgym.regrade import GradeOptions, grade_paths

    rec = by_task(runs["feedback"])[picks[0].id]
    nb = nbformat.read(runs["feedback"] / rec.notebook, as_version=4)
    edited = copy.deepcopy(nb)
    result = edited.metadata["kernelgym"]["result"]
    result.update(attempts=1, reward=1.0)
    edited.metadata["kernelgym"]["episode"]["submissions"] = edited.metadata["kernelgym"]["episode"]["submissions"][-1:]
    nbk.cells_with_tag(edited, nbk.TAG_RECORD)[0].source = nbk.result_markdown(result)
    paths = {"as_run": tmp_path / "as_run.ipynb", "edited": tmp_path / "edited.ipynb"}
    nbk.write(nb, paths["as_run"])
    nbk.write(edited, paths["edited"])
    records = grade_paths(list(paths.values()), tmp_path / "graded", GradeOptions(concurrency=2, timeout=60, progress=False))
    assert all(r.passed and r.error is None for r in records), records
    for name in paths:
        graded = nbformat.read(tmp_path / "graded" / f"{name}.ipynb", as_version=4)
        assert (graded.metadata["kernelgym"]["result"]["attempts"], graded.metadata["kernelgym"]["result"]["reward"]) == (3, 0.0)
        assert "attempts: 3 submissions graded; reward 0" in nbk.cells_with_tag(graded, nbk.TAG_RECORD)[0].source


def test_several_submit_calls_in_one_cell_are_one_graded_submission(picks: list[Instance]) -> None:
    """Every value passed to submit() is recorded: a cell that submits 0, 1 and 2 (the answer) is one
    submission, graded on its last value (as the verifier grades it), the earlier ones kept as superseded."""
    from kernelgym.episode import Action, Observation, run_episode

    class Spray:
        async def act(self, obs: Observation) -> Action:
            return Action.code("submit(0)\nsubmit(1)\nsubmit(2)")

    result, nb = asyncio.run(run_episode(picks[0], Spray(), config=EpisodeConfig(max_turns=3, feedback=True)))
    assert result.passed and result.attempts == 1 and result.reward == 1.0
    [sub] = result.submissions
    assert (sub.answer, sub.values, sub.superseded, sub.passed) == (2, 3, [0, 1], True)
    assert nb.metadata["kernelgym"]["episode"]["submissions"][0]["superseded"] == [0, 1]
