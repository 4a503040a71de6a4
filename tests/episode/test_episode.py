"""Episodes: a fresh kernel per episode, graded by a verifier whose verdict cannot be faked."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import adversarial_agents
from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.episode import EpisodeConfig, EpisodeResult, run_episode
from kernelgym.runtime.kernel_session import SessionLimits
from kernelgym.tasks import Instance, select

pytestmark = [pytest.mark.kernel]


@pytest.fixture(scope="module")
def task(ehr_data: Path) -> Instance:
    """One answerable test instance (its ground truth is not None)."""
    return next(i for i in select("ehr", split="test") if i.ground_truth not in (None, [], ""))


def play(inst: Instance, agent: str, **cfg: object) -> tuple[EpisodeResult, nbformat.NotebookNode]:
    return asyncio.run(run_episode(inst, load_agent(agent)(), config=EpisodeConfig(**cfg)))  # type: ignore[arg-type]


@pytest.mark.slow
def test_reference_agent_passes_and_writes_a_conventional_notebook(task: Instance) -> None:
    result, nb = play(task, "reference")
    assert result.passed, result.explanation
    assert result.stop_reason == "answered"
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "kernelgym-ehr"
    meta = nb.metadata.kernelgym
    assert meta.task.id == task.id and meta.result.passed is True
    assert meta.episode.stop_reason == "answered" and meta.episode.turns == result.turns
    tags = [c.metadata.tags[0] for c in nb.cells]
    assert tags[:4] == [nbk.TAG_HEADER, nbk.TAG_TASK, nbk.TAG_PARAMETERS, nbk.TAG_SETUP]
    assert tags[-3:] == [nbk.TAG_VERIFIER, nbk.TAG_RECORD, nbk.TAG_RESULT]
    assert all(len(c.metadata.tags) == 1 for c in nb.cells)
    verifier = nb.cells[-3]
    assert verifier.metadata.editable is False and verifier.metadata.deletable is False
    assert verifier.metadata.kernelgym.checksum == nbk.checksum(verifier.source, task.id)  # the task id is bound
    actions = nbk.cells_with_tag(nb, nbk.TAG_ACTION)
    assert all(c.metadata.kernelgym.checksum == nbk.checksum(c.source, task.id) for c in actions)
    assert actions and all(c.execution_count for c in actions)
    assert all("execution" in c.metadata for c in actions)  # real timings recorded


def test_ground_truth_never_enters_the_kernel_or_the_agent_view(task: Instance) -> None:
    """The notebook's code cells, which are all the kernel ever ran, hold no ground truth."""
    result, nb = play(task, "reference")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code" and nbk.TAG_ACTION not in c.metadata.tags)
    assert "ground_truth" not in code and "expected" not in code
    assert "ground_truth" not in task.public().model_dump()


@pytest.mark.parametrize("cheater", adversarial_agents.ALL_CHEATERS)
def test_cheating_agents_never_pass(task: Instance, cheater: str) -> None:
    """An agent must not pass by printing a PASS line, redefining submit or builtins, patching
    kernelgym's kernel state, or forging the answer/evidence messages with a wrong value."""
    result, nb = play(task, f"helpers.adversarial_agents:{cheater}")
    assert result.passed is False, (cheater, result)
    assert nb.metadata.kernelgym.result.passed is False


def test_forged_evidence_inside_the_verifier_cell_is_rejected(task: Instance) -> None:
    """Regression: a post_run_cell hook must not be able to add evidence to the verifier's outputs."""
    result, _ = play(task, "helpers.adversarial_agents:ForgesEvidenceInVerifier")
    assert not result.passed
    assert "evidence records" in result.explanation


@pytest.mark.slow
def test_infinite_loop_is_interrupted_and_the_episode_continues(task: Instance) -> None:
    result, nb = play(task, "helpers.adversarial_agents:LoopsForever", limits=SessionLimits(cell_timeout=3, grace=5))
    first = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[0]
    assert any(o.get("ename") == "KeyboardInterrupt" for o in first.outputs)
    assert "interrupted" in (adversarial_agents.LoopsForever.last_observation or "")
    assert result.passed and result.stop_reason == "answered"


def test_kernel_death_ends_the_episode_with_a_dead_kernel_reason(task: Instance) -> None:
    result, nb = play(task, "helpers.adversarial_agents:KillsKernel")
    assert result.stop_reason == "kernel_died" and not result.passed
    nbformat.validate(nb)


def test_agent_exception_ends_only_its_episode(task: Instance) -> None:
    result, _ = play(task, "helpers.adversarial_agents:RaisesInAct")
    assert result.stop_reason == "agent_error" and "agent bug" in (result.error or "")


def test_max_turns_stops_an_agent_that_never_answers(task: Instance) -> None:
    class Chatty:
        async def act(self, obs):  # type: ignore[no-untyped-def]
            from kernelgym import Action

            return Action.code(f"print({obs.turn})")

    result, _ = asyncio.run(run_episode(task, Chatty(), config=EpisodeConfig(max_turns=3)))
    assert result.turns == 3 and result.stop_reason == "max_turns" and not result.passed


def test_observation_is_truncated_with_a_visible_marker(task: Instance) -> None:
    seen: list[str] = []

    class Flood:
        async def act(self, obs):  # type: ignore[no-untyped-def]
            from kernelgym import Action

            if obs.output is not None:
                seen.append(obs.output)
                return Action.stop()
            return Action.code("print('x' * 50_000)\n1/0")

    asyncio.run(run_episode(task, Flood(), config=EpisodeConfig(max_observation_chars=500)))
    assert len(seen[0]) < 700 and "truncated" in seen[0]
    assert "ZeroDivisionError" in seen[0]  # the tail (the error) survives the cut
    assert "\x1b[" not in seen[0]  # ANSI colour codes stripped


@pytest.mark.kernel
def test_a_failed_verifier_says_so_in_the_explanation(ehr_data: Path) -> None:
    """Issue 15 (1): a verifier that could not run was recorded as "the kernel was gone before
    verification", which was false and hid the real cause."""
    from helpers.adversarial_agents import Scripted

    class BreaksVerifier(Scripted):
        cells = ["import sys\nsys.modules['kernelgym.kernel.verify'] = None"]

    task = select("ehr", split="test", limit=1)[0]
    result, _ = asyncio.run(run_episode(task, BreaksVerifier()))
    assert not result.passed
    assert "kernelgym verifier failed" in result.explanation and "gone" not in result.explanation


@pytest.mark.kernel
@pytest.mark.slow
def test_a_kernelgym_folder_in_the_current_folder_does_not_shadow_the_installed_package(
    ehr_data: Path, tmp_path: Path
) -> None:
    """Issue 15 (1): the fork server started with ``python -m`` imported kernelgym from the current
    folder (another checkout, or the repo root with a non-editable install); inside the sandbox the
    verifier then could not import, and every episode was recorded FAILED (0/200)."""
    fake = tmp_path / "kernelgym"
    (fake / "kernel").mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the kernelgym/ folder of the current folder was imported')\n")
    (fake / "kernel" / "__init__.py").write_text("")
    cli = Path(sys.executable).with_name("kernelgym")
    proc = subprocess.run([str(cli), "run", "--suite", "ehr", "--split", "test", "--limit", "3", "--out",
                           str(tmp_path / "run"), "--no-progress"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(x["passed"] for x in lines), [x["explanation"] for x in lines]
