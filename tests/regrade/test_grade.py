"""``kernelgym grade`` and starter notebooks: re-execution with papermill, host-side grades, tampering.

Every test grades real notebooks in real kernels (papermill, the ``kernelgym`` papermill engine,
kernels of the ``ehr`` profile). The notebooks come from one small reference run made with the CLI,
a failed episode, and starter notebooks written by ``kernelgym notebook``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers import adversarial_agents
from helpers.cli import Ran, kernelgym
from kernelgym import notebook as nbk
from kernelgym.episode import Action, EpisodeConfig, run_episode
from kernelgym.kernel import EVIDENCE_MIME
from kernelgym.kernel.starter import VERDICT_MIME
from kernelgym.notebook import assigned_task_id, starter
from kernelgym.regrade import (
    GRADES,
    GradeOptions,
    GradeRecord,
    grade_paths,
    prepare,
    read_grades,
)
from kernelgym.runs.runner import read_results
from kernelgym.runtime.kernel_session import SessionLimits
from kernelgym.tasks import Instance, get_instance

pytestmark = [pytest.mark.kernel]

GRADE_FIELDS = {"task_id", "notebook", "passed", "score", "answer", "expected", "reproducible", "tampered",
                "tamper_reasons", "error", "duration_s"}
FAST = GradeOptions(concurrency=3, timeout=60, progress=False)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS``: the papermill command a person runs (``kernelgym`` commands run in this process)."""
    return subprocess.run([sys.executable, "-m", *args], check=False, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def code_cell(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def reference_run(ehr_reference_run: Path) -> Path:
    """The session's reference run over every ehr category (conftest.py)."""
    return ehr_reference_run


@pytest.fixture(scope="module")
def graded_run(reference_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ran]:
    out = tmp_path_factory.mktemp("graded")
    proc = kernelgym("grade", str(reference_run / "episodes"), "--out", str(out), "--concurrency", "4", "--no-progress")
    return out, proc


@pytest.fixture(scope="module")
def task(reference_run: Path) -> Instance:
    """A task of the reference run whose answer is not None."""
    for rec in read_results(reference_run)[0]:
        inst = get_instance(rec.task_id)
        if inst.ground_truth not in (None, [], "") and len(inst.reference) >= 2:
            return inst
    raise AssertionError("no suitable task")


def episode_notebook(inst: Instance, agent: object, path: Path) -> Path:
    _, nb = asyncio.run(run_episode(inst, agent, config=EpisodeConfig(limits=SessionLimits(cell_timeout=30))))  # type: ignore[arg-type]
    nbk.write(nb, path)
    return path


@pytest.fixture(scope="module")
def failed_episode(task: Instance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An honest episode that submitted a wrong answer."""
    return episode_notebook(task, adversarial_agents.WrongAnswer(), tmp_path_factory.mktemp("failed") / "failed.ipynb")


def reference_notebook(reference_run: Path, inst: Instance) -> Path:
    rec = next(r for r in read_results(reference_run)[0] if r.task_id == inst.id)
    return reference_run / str(rec.notebook)


# ---------------------------------------------------------------- a reference run


@pytest.mark.slow
def test_grading_a_reference_run_passes_every_notebook_reproducibly(
    graded_run: tuple[Path, Ran], reference_run: Path
) -> None:
    out, proc = graded_run
    lines = [json.loads(line) for line in (out / GRADES).read_text().splitlines()]
    bad = [r for r in lines if not r["passed"] or r["tampered"] or r["error"]]
    assert proc.returncode == 0 and not bad, json.dumps(bad, indent=1)[-6000:] + proc.stderr[-2000:]
    assert "kernelgym grade" in proc.stdout and "all" in proc.stdout
    episodes = read_results(reference_run)[0]
    assert len(lines) == len(episodes) >= 10
    recorded = {r.task_id: r.answer for r in episodes}
    for rec in lines:
        assert GRADE_FIELDS <= rec.keys()
        assert rec["passed"] is True and rec["reproducible"] is True, rec
        assert rec["tampered"] is False and rec["tamper_reasons"] == [] and rec["error"] is None, rec
        assert rec["answer"] == recorded[rec["task_id"]]
        nb = nbformat.read(rec["graded_notebook"], as_version=4)
        nbformat.validate(nb)
        assert [c.metadata.tags[0] for c in nb.cells[-3:]] == [nbk.TAG_VERIFIER, nbk.TAG_RECORD, nbk.TAG_RESULT]
        verifier = nb.cells[-3]
        assert verifier.source == nbk.verifier_source(get_instance(rec["task_id"]))
        assert nb.metadata.kernelgym.grade.tampered is False
        assert nb.metadata.kernelgym.result.passed is True
        # really re-executed (the result cell, written after the grade, ran in no kernel)
        assert all(c.execution_count for c in nb.cells if c.cell_type == "code" and nbk.TAG_RESULT not in c.metadata.tags)


@pytest.mark.slow
def test_episode_action_cells_carry_the_checksum_of_their_source_and_task_id(reference_run: Path) -> None:
    rec = read_results(reference_run)[0][0]
    nb = nbk.read(reference_run / str(rec.notebook))
    assert nbk.checksums_bind_task(nb) and nb.metadata.kernelgym.schema_version == nbk.SCHEMA_VERSION == 3
    for cell in nbk.cells_with_tag(nb, nbk.TAG_ACTION):
        assert cell.metadata.kernelgym.checksum == nbk.checksum(cell.source, rec.task_id)


# ---------------------------------------------------------------- tampered notebooks


def _tamper(src: Path, dest: Path, edit: object) -> Path:
    nb = nbk.read(src)
    edit(nb)  # type: ignore[operator]
    nbformat.write(nb, str(dest))
    return dest


@pytest.fixture(scope="module")
def tampered(reference_run: Path, failed_episode: Path, task: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeRecord]:
    """Tampered copies of a failed and of a passed episode, graded in one batch."""
    root = tmp_path_factory.mktemp("tampered")
    passed = reference_notebook(reference_run, task)
    truth = nbk.python_literal(task.ground_truth)

    def verifier_always_passes(nb: nbformat.NotebookNode) -> None:
        cell = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)[0]
        cell.source = (
            "from IPython.display import display\n"
            f"display({{{EVIDENCE_MIME!r}: {{'submitted': True, 'answer': {truth}}}}}, raw=True)"
        )
        cell.metadata.kernelgym.checksum = nbk.checksum(cell.source)  # a careful forger
        nb.metadata.kernelgym.result.update(passed=True, score=1.0, answer=task.ground_truth)

    def verifier_deleted(nb: nbformat.NotebookNode) -> None:
        nb.cells = [c for c in nb.cells if nbk.TAG_VERIFIER not in c.metadata.tags]

    def claims_passed(nb: nbformat.NotebookNode) -> None:
        nb.metadata.kernelgym.result.update(passed=True, score=1.0)

    def action_edited(nb: nbformat.NotebookNode) -> None:
        last = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[-1]
        last.source = f"submit({truth})"  # now submits the right answer

    def forged_result(nb: nbformat.NotebookNode) -> None:
        for cell in nbk.cells_with_tag(nb, nbk.TAG_RECORD) + nbk.cells_with_tag(nb, nbk.TAG_HEADER):
            cell.source = cell.source.replace("FAILED", "PASSED")
        nb.cells.append(code_cell(
            f"from IPython.display import display\ndisplay({{{EVIDENCE_MIME!r}: {{'submitted': True, 'answer': {truth}}}}}, raw=True)",
            nbk.TAG_RESULT,
        ))

    cases = {
        "untouched_failed": _tamper(failed_episode, root / "untouched_failed.ipynb", lambda nb: None),
        "verifier_always_passes": _tamper(failed_episode, root / "verifier_always_passes.ipynb", verifier_always_passes),
        "verifier_deleted": _tamper(passed, root / "verifier_deleted.ipynb", verifier_deleted),
        "claims_passed": _tamper(failed_episode, root / "claims_passed.ipynb", claims_passed),
        "action_edited": _tamper(failed_episode, root / "action_edited.ipynb", action_edited),
        "forged_result": _tamper(failed_episode, root / "forged_result.ipynb", forged_result),
    }
    records = grade_paths(list(cases.values()), root / "graded", FAST)
    by_name = {Path(r.notebook).stem: r for r in records}
    assert set(by_name) == set(cases)
    for rec in records:
        assert rec.error is None, rec
    return by_name


def test_an_untouched_failed_episode_fails_reproducibly_and_is_not_flagged(tampered: dict[str, GradeRecord]) -> None:
    rec = tampered["untouched_failed"]
    assert not rec.passed and rec.reproducible is True and not rec.tampered, rec


def test_verifier_edited_to_always_pass_is_restored_and_flagged(tampered: dict[str, GradeRecord]) -> None:
    """The forged verifier (with a matching checksum in its metadata) must not make a wrong answer pass."""
    rec = tampered["verifier_always_passes"]
    assert rec.passed is False and rec.answer == "certainly not the answer"
    assert rec.tampered and any("canonical verifier" in r for r in rec.tamper_reasons), rec.tamper_reasons


def test_deleted_verifier_is_restored_and_flagged(tampered: dict[str, GradeRecord]) -> None:
    """The code of this notebook really submits the right answer: it passes, and it is flagged."""
    rec = tampered["verifier_deleted"]
    assert rec.passed is True and rec.reproducible is True
    assert rec.tampered and any("verifier cell is missing" in r for r in rec.tamper_reasons), rec.tamper_reasons


def test_metadata_claiming_a_pass_on_a_failed_episode_is_flagged(tampered: dict[str, GradeRecord]) -> None:
    rec = tampered["claims_passed"]
    assert rec.passed is False and rec.claimed_passed is True
    assert rec.tampered and any("claims passed" in r for r in rec.tamper_reasons), rec.tamper_reasons


def test_action_cell_edited_after_the_fact_is_graded_on_its_new_code_and_flagged(tampered: dict[str, GradeRecord]) -> None:
    rec = tampered["action_edited"]
    assert rec.passed is True  # what the code in the notebook really does now
    assert rec.reproducible is False  # ... which is not what the episode recorded
    assert rec.tampered and any("edited after the episode" in r for r in rec.tamper_reasons), rec.tamper_reasons


def test_forged_result_cells_are_dropped_and_flagged(tampered: dict[str, GradeRecord]) -> None:
    """A result cell rewritten to PASSED, and a code cell tagged as a result that emits evidence."""
    rec = tampered["forged_result"]
    assert rec.passed is False
    assert rec.tampered and any("forged result cell" in r for r in rec.tamper_reasons), rec.tamper_reasons
    graded = nbk.read(Path(str(rec.graded_notebook)))
    assert len(nbk.cells_with_tag(graded, nbk.TAG_RESULT)) == 1
    [record] = nbk.cells_with_tag(graded, nbk.TAG_RECORD)
    assert "FAILED" in record.source and "PASSED" not in nbk.cells_with_tag(graded, nbk.TAG_HEADER)[0].source


def test_parameters_and_metadata_naming_different_tasks_is_flagged(failed_episode: Path, reference_run: Path) -> None:
    other = next(r.task_id for r in read_results(reference_run)[0] if r.task_id != nbk.read(failed_episode).metadata.kernelgym.task.id)
    nb = nbk.read(failed_episode)
    nbk.cells_with_tag(nb, nbk.TAG_PARAMETERS)[0].source = f"task_id = {other!r}"
    prep = prepare(nb)
    assert prep.inst.id == other  # what the notebook runs is graded
    assert any("parameters cell names task" in r for r in prep.reasons), prep.reasons


def test_an_episode_whose_kernel_died_is_not_flagged_for_its_missing_verifier(failed_episode: Path) -> None:
    """Regression: run_episode adds no verifier when the kernel is gone; that is not tampering."""
    nb = nbk.read(failed_episode)
    nb.cells = [c for c in nb.cells if nbk.TAG_VERIFIER not in c.metadata.tags]
    nb.metadata.kernelgym.episode.stop_reason = "kernel_died"
    nbk.write_header(nb)  # as the episode would have written it (the header shows the stop reason)
    assert prepare(nb).reasons == []
    nb.metadata.kernelgym.episode.stop_reason = "answered"
    nbk.write_header(nb)
    assert prepare(nb).reasons == ["the verifier cell is missing"]


def test_task_id_is_read_from_literal_assignments_only() -> None:
    assert assigned_task_id("task_id = 'ehr/a/00001'") == "ehr/a/00001"
    assert assigned_task_id('# Parameters\ntask_id = "ehr/a/00002"\n') == "ehr/a/00002"
    assert assigned_task_id("task_id = compute()") is None
    assert assigned_task_id("not python (") is None


# ---------------------------------------------------------------- failures that must not stop a batch


class ErrsThenSolves:
    """First cell raises, then the reference solution runs: the verifier must still run on replay."""

    def __init__(self, inst: Instance) -> None:
        self.cells = ["raise ValueError('a first attempt that fails')", *inst.reference]

    async def act(self, obs: object) -> Action:
        return Action.code(self.cells.pop(0)) if self.cells else Action.stop()


@pytest.mark.slow
def test_hangs_dead_kernels_and_broken_files_never_stop_the_batch(
    task: Instance, reference_run: Path, tmp_path: Path
) -> None:
    good = reference_notebook(reference_run, task)
    errs = episode_notebook(task, ErrsThenSolves(task), tmp_path / "errs_then_solves.ipynb")
    hang = _tamper(good, tmp_path / "hangs.ipynb", lambda nb: nb.cells.insert(3, code_cell(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)", nbk.TAG_ACTION)))
    dies = _tamper(good, tmp_path / "kills_kernel.ipynb", lambda nb: nb.cells.insert(3, code_cell("import os\nos._exit(1)", nbk.TAG_ACTION)))
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    t0 = time.monotonic()
    records = grade_paths([hang, dies, broken, good, errs], tmp_path / "graded",
                          GradeOptions(concurrency=3, timeout=6, cell_timeout=2, progress=False))
    wall = time.monotonic() - t0
    by = {Path(r.notebook).stem: r for r in records}
    assert by[good.stem].passed and by[good.stem].error is None
    assert by["errs_then_solves"].passed and by["errs_then_solves"].reproducible and not by["errs_then_solves"].tampered
    assert not by["hangs"].passed and "timed out" in str(by["hangs"].error)
    assert not by["kills_kernel"].passed and "kernel died" in str(by["kills_kernel"].error)
    assert not by["broken"].passed and "not a readable notebook" in str(by["broken"].error)
    assert by["hangs"].tampered and by["kills_kernel"].tampered  # cells added after the episode
    assert wall < 40, wall
    lines = (tmp_path / "graded" / GRADES).read_text().splitlines()
    assert [json.loads(x)["notebook"] for x in lines] == [str(p) for p in (hang, dies, broken, good, errs)]
    # the episode tagged its failing cell raises-exception, so plain papermill also reaches the verifier
    first = nbk.cells_with_tag(nbk.read(errs), nbk.TAG_ACTION)[0]
    assert nbk.TAG_RAISES in first.metadata.tags


# ---------------------------------------------------------------- starter notebooks


@pytest.fixture(scope="module")
def starters(task: Instance, reference_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from kernelgym.runtime.profiles import install_kernelspecs

    install_kernelspecs(user=True)  # the papermill CLI finds kernelgym-ehr in the test's JUPYTER_PATH
    root = tmp_path_factory.mktemp("starter")
    blank = root / "starter.ipynb"
    proc = kernelgym("notebook", task.id, "-o", str(blank))
    assert proc.returncode == 0 and blank.is_file(), proc.stderr
    other = get_instance(next(r.task_id for r in read_results(reference_run)[0] if r.task_id != task.id))

    def solved(inst: Instance, name: str) -> Path:
        nb = nbk.read(blank)
        at = nb.cells.index(nbk.cells_with_tag(nb, nbk.TAG_ACTION)[0]) + 1
        nb.cells.insert(at, nbformat.v4.new_code_cell("\n".join(inst.reference)))  # as JupyterLab adds a cell
        nbformat.write(nb, str(root / name))
        return root / name

    return {"blank": blank, "solved": solved(task, "solved.ipynb"), "solved_other": solved(other, "solved_other.ipynb"),
            "root": root, "other": other.id}


def _verdict(path: Path) -> dict[str, object]:
    nb = nbk.read(path)
    [cell] = [c for c in nbk.cells_with_tag(nb, nbk.TAG_RESULT) if c.cell_type == "code"]
    [verdict] = [o["data"][VERDICT_MIME] for o in cell.outputs if VERDICT_MIME in o.get("data", {})]
    return verdict


@pytest.mark.slow
def test_starter_notebook_has_the_conventional_cells(starters: dict[str, Any], task: Instance) -> None:
    nb = nbk.read(starters["blank"])
    nbformat.validate(nb)
    tags = [c.metadata.tags[0] for c in nb.cells]
    assert tags == [nbk.TAG_TASK, nbk.TAG_PARAMETERS, nbk.TAG_SETUP, nbk.TAG_ACTION, nbk.TAG_VERIFIER, nbk.TAG_RESULT]
    assert nb.metadata.kernelspec.name == "kernelgym-ehr" and nb.metadata.kernelgym.kind == starter.KIND
    assert assigned_task_id(nb.cells[1].source) == task.id
    for cell in nb.cells[2], nb.cells[4], nb.cells[5]:
        assert cell.metadata.editable is False and cell.metadata.kernelgym.checksum == nbk.checksum(cell.source)


@pytest.mark.slow
def test_solved_starter_passes_under_plain_papermill(starters: dict[str, Any], task: Instance) -> None:
    """Plain papermill CLI, default (sandboxed) kernel: the kernel asks the host-side grader over the
    host channel its provisioner serves, and gets passed/failed only."""
    out = starters["root"] / "out_plain.ipynb"
    proc = cli("papermill", str(starters["solved"]), str(out), "-p", "task_id", task.id)
    assert proc.returncode == 0, proc.stderr[-2000:]
    verdict = _verdict(out)
    assert verdict["passed"] is True, verdict
    assert verdict["via"] == "channel" and verdict["asked"] == 1, verdict
    assert set(verdict) <= {"task_id", "passed", "score", "summary", "by", "via", "asked"}  # nothing about the expected answer


@pytest.mark.slow
def test_plain_papermill_kernels_are_sandboxed_yet_get_their_verdict(starters: dict[str, Any], task: Instance) -> None:
    """Regression: the sandbox (on by default) hid the host grader from kernels that plain papermill
    starts, so a solved starter got evidence but no verdict. The kernel must stay sandboxed (no task
    store, no host-side modules) and still receive the verdict."""
    from kernelgym.kernel.paths import kernelgym_home

    nb = nbk.read(starters["solved"])
    at = nb.cells.index(nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)[0])
    probe = ("import importlib.util, os\n"
             f"print('PROBE', importlib.util.find_spec('kernelgym.tasks') is None, os.path.exists({str(kernelgym_home() / 'tasks')!r}))")
    nb.cells.insert(at, nbformat.v4.new_code_cell(probe))
    src, out = starters["root"] / "probe.ipynb", starters["root"] / "out_probe.ipynb"
    nbformat.write(nb, str(src))
    proc = cli("papermill", str(src), str(out), "-p", "task_id", task.id)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = "".join(o.get("text", "") for c in nbk.read(out).cells if c.cell_type == "code" for o in c.outputs)
    assert "PROBE True False" in printed, printed  # host side not importable, task store absent
    assert _verdict(out)["passed"] is True


@pytest.mark.slow
def test_starter_retargeted_with_papermill_parameters_passes_under_the_kernelgym_engine(starters: dict[str, Any]) -> None:
    """``papermill --engine kernelgym ... -p task_id OTHER`` with sandboxed kernels: the engine rewrites
    the setup and verifier cells for OTHER before execution and grades the evidence on the host."""
    import papermill

    other = starters["other"]
    out = starters["root"] / "out_engine.ipynb"
    papermill.execute_notebook(str(starters["solved_other"]), str(out), parameters={"task_id": other},
                               engine_name="kernelgym", progress_bar=False)
    verdict = _verdict(out)
    assert verdict["passed"] is True and verdict["task_id"] == other, verdict
    setup = nbk.cells_with_tag(nbk.read(out), nbk.TAG_SETUP)[0]
    assert other in setup.source and other in str(setup.outputs)


def test_unsolved_starter_fails_without_raising(starters: dict[str, Any], task: Instance) -> None:
    import papermill

    out = starters["root"] / "out_blank.ipynb"
    papermill.execute_notebook(str(starters["blank"]), str(out), parameters={"task_id": task.id},
                               engine_name="kernelgym", progress_bar=False)
    verdict = _verdict(out)
    assert verdict["passed"] is False and "no answer was submitted" in str(verdict["summary"])


@pytest.mark.slow
def test_unsolved_starter_fails_under_plain_papermill_without_raising(starters: dict[str, Any], task: Instance) -> None:
    """The papermill CLI alone on an unsolved starter: exit 0 (no cell raised), verdict failed."""
    out = starters["root"] / "out_blank_plain.ipynb"
    proc = cli("papermill", str(starters["blank"]), str(out), "-p", "task_id", task.id)
    assert proc.returncode == 0, proc.stderr[-2000:]
    verdict = _verdict(out)
    assert verdict["passed"] is False and "no answer was submitted" in str(verdict["summary"]), verdict
    assert not [o for c in nbk.read(out).cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def test_without_a_host_channel_the_starter_says_where_to_get_a_verdict(
    starters: dict[str, Any], task: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sandboxed kernel without a host channel (``KERNELGYM_HOST_CHANNEL=0``; every kernel that
    kernelgym starts itself) cannot reach the host side: no verdict, no exception, a pointer instead."""
    import papermill

    monkeypatch.setenv("KERNELGYM_HOST_CHANNEL", "0")
    out = starters["root"] / "out_sandboxed.ipynb"
    papermill.execute_notebook(str(starters["solved"]), str(out), parameters={"task_id": task.id}, progress_bar=False)
    verdict = _verdict(out)
    assert verdict["passed"] is None and "kernelgym grade" in str(verdict["summary"]), verdict
    [evidence] = [o["data"][EVIDENCE_MIME] for o in nbk.cells_with_tag(nbk.read(out), nbk.TAG_VERIFIER)[0].outputs
                  if EVIDENCE_MIME in o.get("data", {})]
    assert evidence["submitted"] is True


def test_starters_grade_with_kernelgym_grade(starters: dict[str, Any], task: Instance) -> None:
    root = starters["root"]
    papermill_outputs = [root / f"out_{k}.ipynb" for k in ("plain", "engine", "blank", "sandboxed")]
    inputs = [starters["solved"], starters["blank"], *(p for p in papermill_outputs if p.is_file())]
    records = grade_paths(inputs, root / "graded", FAST)
    by = {Path(r.notebook).stem: r for r in records}
    for rec in records:
        assert rec.error is None and not rec.tampered, rec
    assert by["solved"].passed and by["solved"].task_id == task.id
    assert not by["starter"].passed and by["starter"].explanation == "no answer was submitted"
    if "out_plain" in by:
        assert by["out_plain"].passed and by["out_plain"].reproducible is True
    if "out_engine" in by:
        assert by["out_engine"].passed and by["out_engine"].task_id == starters["other"]
        assert by["out_engine"].claimed_passed is True and by["out_engine"].reproducible is True
    if "out_blank" in by:
        assert not by["out_blank"].passed
    if "out_sandboxed" in by:
        assert by["out_sandboxed"].passed and by["out_sandboxed"].reproducible is True
    assert read_grades(root / "graded") == records
