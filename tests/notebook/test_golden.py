"""Golden notebooks (``tests/data/golden/``, written by real episodes with ``make_golden.py``): the
notebook conventions, tamper detection, exports and reports checked in milliseconds, no kernel.

Each tamper test starts from an honest golden notebook, changes one thing the way a policy or a
person editing the file would, and asserts that ``kernelgym grade``'s restore stage says so.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
import pytest

from helpers.paths import TESTS
from kernelgym import notebook as nbk
from kernelgym import tasks
from kernelgym.episode import EpisodeResult
from kernelgym.grading.attempts import attempt_fields
from kernelgym.notebook import starter
from kernelgym.regrade import prepare
from kernelgym.training.export import conversation

GOLDEN = TESTS / "data" / "golden"
NAMES = ["passed", "failed", "kernel_died", "function_passed", "starter_blank", "starter_solved"]
LEGACY = ["legacy_v1_passed", "legacy_v1_failed"]
"""Episode notebooks of schema 1 (written before checksums bound the task id), kept as they were:
make_golden.py never rewrites them."""
PRE_ATTEMPTS = ["pre_attempts_passed"]
"""An episode notebook of schema 3 written before attempts were counted (no submissions, no reward),
kept as it was: make_golden.py never rewrites it."""
SUM, SUM_COPY = "golden/sum/00000", "golden/sum/00001"
"""Two tasks with the same inputs and answer: a notebook re-labelled from one to the other passes."""


@pytest.fixture(scope="module", autouse=True)
def golden_specs(kg_home: Path) -> None:
    """The tiny ``golden`` family the notebooks were written for."""
    mp = pytest.MonkeyPatch()
    mp.setenv("KERNELGYM_SPECS", str(GOLDEN / "specs"))
    tasks.clear_caches()
    yield
    mp.undo()
    tasks.clear_caches()


def golden(name: str) -> nbformat.NotebookNode:
    return nbk.read(GOLDEN / f"{name}.ipynb")


@pytest.mark.parametrize("name", NAMES + PRE_ATTEMPTS)
def test_golden_notebooks_follow_the_conventions(name: str) -> None:
    nb = golden(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "kernelgym-biomed"
    for cell in nb.cells:
        own = [t for t in nbk.tags_of(cell) if t in nbk.TAGS]
        assert len(own) == 1, (name, cell.source[:80], nbk.tags_of(cell))
    verifiers = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    if name == "kernel_died":  # the verifier never ran: the episode ended with the kernel
        assert verifiers == [] and nb.metadata.kernelgym.episode.stop_reason == "kernel_died"
        return
    [verifier] = verifiers
    assert verifier.metadata.editable is False and verifier.metadata.deletable is False
    if name.startswith("starter"):  # its locked cells name their task in their source
        assert verifier.metadata.kernelgym.checksum == nbk.checksum(verifier.source)
    else:
        assert nb.metadata.kernelgym.schema_version == nbk.SCHEMA_VERSION == 3 and nbk.checksums_bind_task(nb)
        assert verifier.metadata.kernelgym.checksum == nbk.checksum(verifier.source, nb.metadata.kernelgym.task.id)


@pytest.mark.parametrize("name", NAMES + LEGACY + PRE_ATTEMPTS)
def test_honest_golden_notebooks_restore_clean(name: str) -> None:
    prep = prepare(golden(name))
    assert prep.reasons == [], prep.reasons
    assert prep.kind == ("starter" if name.startswith("starter") else "episode")


def relabel(nb: nbformat.NotebookNode, task_id: str, *, params: bool = True, metadata: bool = True,
            heading: bool = True) -> nbformat.NotebookNode:
    """``nb`` re-labelled as task ``task_id`` where asked: parameters cell, metadata, task heading."""
    old = nb.metadata.kernelgym.task.id
    if params:
        nbk.cells_with_tag(nb, nbk.TAG_PARAMETERS)[0].source = f"task_id = {task_id!r}"
    if metadata:
        nb.metadata.kernelgym.task.id = task_id
    if heading:
        [cell] = nbk.cells_with_tag(nb, nbk.TAG_TASK)
        cell.source = cell.source.replace(old, task_id)
    return nb


def test_a_notebook_relabelled_as_another_task_everywhere_is_flagged() -> None:
    """Issue 15 (12): a passed episode whose task id was changed consistently (parameters cell,
    metadata, heading) to another task with the same inputs and answer restored clean and graded
    PASSED under the new task. The checksums of its cells bind the task id now: flagged."""
    reasons = prepare(relabel(golden("passed"), SUM_COPY)).reasons
    assert reasons == [
        f"the task id was changed after the episode (or every checksummed cell was edited): none of the 3 checksums "
        f"recorded with its cells matches task {SUM_COPY!r}"
    ], reasons


@pytest.mark.parametrize("where", ["parameters", "parameters_and_metadata"])
def test_a_task_id_changed_in_some_places_names_the_task_the_cells_were_recorded_for(where: str) -> None:
    """Issue 15 (12): the parameters cell (or the parameters cell and the metadata) re-labelled:
    the checksums match the task the notebook still names elsewhere, and the reason says which."""
    nb = relabel(golden("passed"), SUM_COPY, metadata=where == "parameters_and_metadata", heading=False)
    prep = prepare(nb)
    assert prep.inst.id == SUM_COPY
    assert f"the task id was changed after the episode: the checksums of its cells bind task {SUM!r}, " \
           f"the notebook now names {SUM_COPY!r}" in prep.reasons, prep.reasons
    assert not any("edited after the episode" in r for r in prep.reasons), prep.reasons


def test_a_task_id_changed_only_in_the_metadata_is_flagged_and_the_cells_still_match() -> None:
    prep = prepare(relabel(golden("passed"), SUM_COPY, params=False, heading=False))
    assert prep.inst.id == SUM and prep.reasons == [
        f"the parameters cell names task {SUM!r} but the metadata names {SUM_COPY!r}"], prep.reasons


def test_lowering_the_schema_version_does_not_hide_a_relabelled_notebook() -> None:
    nb = relabel(golden("passed"), SUM_COPY)
    nb.metadata.kernelgym.schema_version = 1  # as if written before the task id was bound
    reasons = prepare(nb).reasons
    assert reasons and all("edited after the episode" in r or "checksum" in r for r in reasons), reasons


def test_a_relabelled_legacy_notebook_is_caught_only_by_what_schema_1_records() -> None:
    """Schema 1 notebooks grade as they always did: their checksums cover the source only, so a
    consistent re-label (parameters, metadata and heading) to a task with the same inputs cannot be
    told from their checksums (regenerate such notebooks to get the protection). A careless one is
    caught: a heading that still names the old task, or parameters and metadata that disagree."""
    assert prepare(relabel(golden("legacy_v1_passed"), SUM_COPY)).reasons == []
    careless = prepare(relabel(golden("legacy_v1_passed"), SUM_COPY, heading=False)).reasons
    assert careless == [f"the task cell names task {SUM!r}, the notebook now names {SUM_COPY!r}"], careless


def test_an_edited_action_cell_of_a_legacy_notebook_is_still_flagged() -> None:
    nb = golden("legacy_v1_failed")
    nbk.cells_with_tag(nb, nbk.TAG_ACTION)[-1].source = "submit(10)"
    assert any("edited after the episode" in r for r in prepare(nb).reasons), prepare(nb).reasons


def test_the_recorded_verdicts_are_what_the_host_grades() -> None:
    for name, passed in (("passed", True), ("failed", False), ("kernel_died", False), ("function_passed", True)):
        nb = golden(name)
        inst = tasks.get_instance(nb.metadata.kernelgym.task.id)
        [verifier] = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER) or [None]
        evidence = nbk.evidence_of(verifier) if verifier is not None else []
        answer, grade = inst.verdict(evidence)
        assert grade.passed is passed and nb.metadata.kernelgym.result.passed is passed, name
        # the record carries the episode's attempts and reward (issue 17), by the rule it recorded
        counted = attempt_fields(len(nb.metadata.kernelgym.episode.get("submissions", [])), grade.score,
                                 nb.metadata.kernelgym.result.reward_rule)
        assert nb.metadata.kernelgym.result == nbk.result_record(inst, answer, grade) | counted | {
            "explanation": nb.metadata.kernelgym.result.explanation}
        [record] = nbk.cells_with_tag(nb, nbk.TAG_RECORD)
        assert record.source == nbk.result_markdown(nb.metadata.kernelgym.result)
        [header] = nbk.cells_with_tag(nb, nbk.TAG_HEADER)
        assert nb.cells[0] is header and header.source == nbk.header_markdown(nb.metadata.kernelgym)


def test_a_forged_result_cell_is_flagged() -> None:
    """A failed episode whose result cell and metadata were rewritten to PASSED."""
    nb = golden("failed")
    nb.metadata.kernelgym.result.passed = True
    nb.metadata.kernelgym.result.score = 1.0
    [cell] = nbk.cells_with_tag(nb, nbk.TAG_RECORD)
    cell.source = nbk.result_markdown(dict(nb.metadata.kernelgym.result))
    assert prepare(nb).reasons


def test_an_action_cell_edited_after_it_ran_is_flagged() -> None:
    nb = golden("passed")
    action = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[-1]
    action.source = "submit(10)"
    assert any("action" in r or "checksum" in r for r in prepare(nb).reasons), prepare(nb).reasons


def test_a_replaced_verifier_is_flagged_and_the_canonical_one_restored() -> None:
    nb = golden("failed")
    [verifier] = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    verifier.source = "print('kernelgym evidence: passed')"
    prep = prepare(nb)
    assert prep.reasons
    [restored] = nbk.cells_with_tag(prep.nb, nbk.TAG_VERIFIER)
    assert restored.source == nbk.verifier_source(prep.inst)


def test_a_deleted_verifier_is_flagged_unless_the_kernel_died() -> None:
    nb = golden("failed")
    nb.cells = [c for c in nb.cells if nbk.TAG_VERIFIER not in nbk.tags_of(c)]
    assert prepare(nb).reasons
    assert prepare(golden("kernel_died")).reasons == []  # its verifier never ran: nothing to restore


def test_a_changed_task_id_in_a_starter_is_noticed() -> None:
    nb = golden("starter_blank")
    [params] = nbk.cells_with_tag(nb, nbk.TAG_PARAMETERS)
    params.source = "task_id = 'golden/double/00000'"
    prep = prepare(nb)
    assert prep.inst.id == "golden/double/00000"
    assert prep.reasons or prep.warnings


def test_the_solved_starter_shows_the_host_verdict_and_the_blank_one_none() -> None:
    from kernelgym.kernel.mime import VERDICT_MIME

    def verdicts(nb: nbformat.NotebookNode) -> list[dict]:
        [cell] = nbk.cells_with_tag(nb, nbk.TAG_RESULT)
        return [o["data"][VERDICT_MIME] for o in cell.get("outputs", []) if VERDICT_MIME in o.get("data", {})]

    assert verdicts(golden("starter_blank")) == []
    [verdict] = verdicts(golden("starter_solved"))
    assert verdict["passed"] is True and "10" in verdict["summary"]
    assert starter.is_starter(golden("starter_solved"))


def test_sft_conversation_of_the_passed_episode() -> None:
    nb = golden("passed")
    conv = conversation(nb, protocol="tools")
    roles = [m["role"] for m in conv.messages]
    assert roles[:2] == ["system", "user"] and roles[2] == "assistant"
    calls = [c["function"]["name"] for m in conv.messages for c in m.get("tool_calls") or []]
    assert calls == ["run_cell", "run_cell"]
    assert any("10" in (m.get("content") or "") for m in conv.messages if m["role"] == "tool")
    text = conversation(nb, protocol="text").messages
    assert all("tool_calls" not in m for m in text) and "```python" in text[2]["content"]


def golden_run(run: Path) -> Path:
    """A run folder (``results.jsonl`` and ``episodes/``) made of the golden episode notebooks."""
    (run / "episodes").mkdir(parents=True)
    lines = []
    for name in ("passed", "failed", "kernel_died", "function_passed"):
        nb = golden(name)
        meta = nb.metadata.kernelgym
        nbk.write(copy.deepcopy(nb), run / "episodes" / f"{name}.ipynb")
        lines.append(EpisodeResult(
            task_id=meta.task.id, family=meta.task.family, category=meta.task.category, split=meta.task.split,
            agent=meta.agent.name, passed=meta.result.passed, score=meta.result.score, answer=meta.result.answer,
            expected=meta.result.expected, turns=meta.episode.turns, stop_reason=meta.episode.stop_reason,
            duration_s=meta.episode.duration_s, started_at=meta.episode.start_time, notebook=f"episodes/{name}.ipynb",
        ).model_dump_json())
    (run / "results.jsonl").write_text("\n".join(lines) + "\n")
    return run


def test_report_of_a_run_folder_made_of_golden_notebooks(tmp_path: Path) -> None:
    from kernelgym.runs.report import make_report

    run = golden_run(tmp_path / "run")
    data, paths = make_report([run], tmp_path / "report")
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(data, default=str))
    html = paths["html"].read_text()
    assert "golden/sum" in html and "golden/double" in html


def test_a_failed_write_leaves_neither_a_temporary_file_nor_a_damaged_notebook(tmp_path: Path) -> None:
    """Issue 15 (13): failed writes left `.tmp` files and 0-byte graded notebooks. A write that fails
    (here: the target is a folder) removes its temporary file; a notebook already there is untouched."""
    nb = golden("passed")
    target = tmp_path / "episode.ipynb"
    target.mkdir()
    with pytest.raises(OSError):
        nbk.write(nb, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode.ipynb"]
    good = tmp_path / "good.ipynb"
    nbk.write(nb, good)
    before = good.read_bytes()
    broken = copy.deepcopy(nb)
    broken.cells[0]["cell_type"] = "not a cell type"
    with pytest.raises(nbformat.ValidationError):
        nbk.write(broken, good)
    assert good.read_bytes() == before and not (tmp_path / ".good.ipynb.tmp").exists()


def test_export_refuses_episode_notebooks_that_are_not_regular_files(tmp_path: Path) -> None:
    """Issue 15 (9): ``kernelgym export`` read every episode notebook of a run folder with a plain
    ``open()``: a FIFO in its place hung the export, a symlink to ``/dev/zero`` ate memory. Each is
    refused and reported (which file, why), and the other episodes are exported."""
    from kernelgym.training.export import ExportReport, load_episodes

    run = golden_run(tmp_path / "run")
    results = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for i, r in enumerate(results):  # one rollout each, so that no episode is a duplicate of another
        r["rollout"] = i
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    fifo, zero = run / "episodes" / "failed.ipynb", run / "episodes" / "function_passed.ipynb"
    fifo.unlink()
    os.mkfifo(fifo)
    zero.unlink()
    zero.symlink_to("/dev/zero")
    report = ExportReport("sft")
    episodes = load_episodes([run], report)
    assert sorted(Path(str(e.result.notebook)).stem for e in episodes) == ["kernel_died", "passed"]
    reasons = "\n".join(report.skipped)
    assert f"refused {fifo}: a FIFO" in reasons and f"refused {zero}: a character device" in reasons, reasons


def test_episodes_record_their_attempts_and_older_notebooks_read_as_before() -> None:
    """Issue 17, item 2: submissions were not recorded. The golden episodes record each submission and
    the reward (metadata, record and header cells); a notebook and a results line written before
    attempts were counted still restore clean, show no attempts and read with reward = score."""
    nb = golden("passed")
    episode, result = nb.metadata.kernelgym.episode, nb.metadata.kernelgym.result
    assert [s["answer"] for s in episode.submissions] == [result.answer] and episode.wrong_answers == 0
    assert (result.attempts, result.reward, result.reward_rule) == (1, 1.0, "first")
    assert "attempts: 1 submission graded" in nbk.cells_with_tag(nb, nbk.TAG_RECORD)[0].source
    old = golden("pre_attempts_passed")
    assert "reward" not in old.metadata.kernelgym.result and "submissions" not in old.metadata.kernelgym.episode
    record = nbk.cells_with_tag(old, nbk.TAG_RECORD)[0].source
    assert nbk.is_result_record(record, dict(old.metadata.kernelgym.result)) and "attempts" not in record
    assert "attempts" not in nbk.cells_with_tag(old, nbk.TAG_HEADER)[0].source
    line = {"task_id": SUM, "family": "golden", "category": "sum", "split": "test", "agent": "a", "passed": True,
            "score": 1.0, "turns": 2, "stop_reason": "answered", "duration_s": 1.0, "started_at": ""}
    legacy = EpisodeResult.model_validate_json(json.dumps(line))
    assert (legacy.reward, legacy.reward_rule, legacy.attempts, legacy.submissions) == (1.0, None, 0, [])
