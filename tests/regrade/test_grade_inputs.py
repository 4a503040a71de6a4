"""``kernelgym grade`` on hostile files and re-labelled notebooks (issue 15, items 9 and 12), through the
real CLI, real kernels and notebooks of a real reference run. Where a hostile file is graded, the command
is ``python -m kernelgym grade`` in a subprocess bounded by a timeout, so a grader that hangs (on a FIFO)
fails the test instead of hanging the suite; the others run the command in the test process
(``helpers.cli``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import kernelgym
from kernelgym import notebook as nbk
from kernelgym.regrade import GRADES
from kernelgym.runs.runner import read_results

pytestmark = [pytest.mark.kernel]

CAP = 64 * 1024 * 1024


def grade(*args: str | Path, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kernelgym", "grade", *map(str, args), "--no-progress"], check=False,
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def hostile(folder: Path, kind: str) -> Path:
    """A file named ``*.ipynb`` that is not a notebook a grader may read."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}.ipynb"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    else:  # oversized: sparse, so it costs no disk
        with open(path, "wb") as fh:
            fh.truncate(CAP + 1)
    return path


@pytest.fixture(scope="module")
def reference_notebook(ehr_reference_run: Path) -> Path:
    rec = read_results(ehr_reference_run)[0][0]
    return ehr_reference_run / str(rec.notebook)


WHY = {"fifo": "a FIFO (named pipe), not a regular file", "dev_zero": "a character device, not a regular file",
       "oversized": "over the 64 MiB limit for notebook files"}


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "oversized"])
def test_a_hostile_file_named_on_the_command_line_is_refused_before_any_work(kind: str, tmp_path: Path) -> None:
    """Issue 15 (9): ``kernelgym grade x.ipynb`` hung forever on a FIFO and ate memory on a symlink to
    ``/dev/zero`` (and read any size). A FIFO, a device or a file over the size cap named on the command
    line stops the command with a one-line error (which file, why, what to do), exit 2, before any work:
    no output folder is made."""
    path = hostile(tmp_path, kind)
    out = tmp_path / "graded"
    proc = grade(path, "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and str(path) in line and WHY[kind] in line, line
    assert not out.exists()


@pytest.mark.slow
def test_hostile_files_found_in_a_folder_are_reported_and_the_others_graded(reference_notebook: Path, tmp_path: Path) -> None:
    """Issue 15 (9): in a folder, each refused file gets one ``grades.jsonl`` line with a one-line
    reason and a row of the flagged table; the real notebook beside them is graded (and passes); the
    command exits 1 (a notebook could not be graded), never hangs."""
    folder = tmp_path / "episodes"
    folder.mkdir()
    shutil.copy(reference_notebook, folder / "good.ipynb")
    kinds = ["fifo", "dev_zero", "oversized"]
    for kind in kinds:
        hostile(folder, kind)
    out = tmp_path / "graded"
    proc = grade(folder, "--out", out, timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    by = {Path(r["notebook"]).stem: r for r in map(json.loads, (out / GRADES).read_text().splitlines())}
    assert set(by) == {"good", *kinds}
    assert by["good"]["passed"] is True and by["good"]["error"] is None and not by["good"]["tampered"], by["good"]
    for kind in kinds:
        error = by[kind]["error"]
        assert error.startswith(f"refused: {folder / kind}.ipynb: ") and WHY[kind] in error and "\n" not in error, error
        assert by[kind]["passed"] is False
    for kind in kinds:
        assert f"{kind}.ipynb" in proc.stdout and "refused" in proc.stdout
    assert nbk.read(out / "good.ipynb").metadata.kernelgym.grade.tampered is False


def test_the_size_cap_is_configurable(reference_notebook: Path, tmp_path: Path) -> None:
    """``$KERNELGYM_MAX_NOTEBOOK_MB`` sets the cap (here below the notebook's size: it is refused)."""
    proc = kernelgym("grade", str(reference_notebook), "--out", str(tmp_path / "graded"), "--no-progress",
                     env={"KERNELGYM_MAX_NOTEBOOK_MB": "0.001"})
    assert proc.returncode == 2 and "limit for notebook files" in proc.stderr and "KERNELGYM_MAX_NOTEBOOK_MB" in proc.stderr


def _relabelled_pair(run: Path) -> tuple[Path, str, str]:
    """A notebook of the run (task A) and another existing task B that its setup and verifier cells fit
    just as well (same inputs, same verifier): re-labelled, only the task id tells them apart."""
    from kernelgym.tasks import get_instance, instances

    for rec in read_results(run)[0]:
        a = get_instance(rec.task_id)
        for b in instances(a.family):
            if b.id != a.id and b.profile == a.profile and nbk.setup_source(b) == nbk.setup_source(a) \
                    and nbk.verifier_source(b) == nbk.verifier_source(a):
                return run / str(rec.notebook), a.id, b.id
    raise AssertionError("no two tasks of the run's families share their setup and verifier cells")


@pytest.mark.slow
def test_a_reference_notebook_relabelled_as_another_existing_task_is_flagged(ehr_reference_run: Path, tmp_path: Path) -> None:
    """Issue 15 (12): a notebook whose task id was changed to another existing task (in the parameters
    cell, the metadata and the task heading alike, its recorded result dropped) graded clean under the
    new task: its setup and verifier cells are the new task's too. The checksums recorded with its
    cells bind the task id now: ``kernelgym grade`` flags it (exit 1) and grades it under the task it
    names; the untouched notebook beside it stays clean."""
    src, a, b = _relabelled_pair(ehr_reference_run)
    nb = nbk.read(src)
    nbk.cells_with_tag(nb, nbk.TAG_PARAMETERS)[0].source = f"task_id = {b!r}"
    nb.metadata.kernelgym.task.update(id=b, category=b.split("/")[1])
    [heading] = nbk.cells_with_tag(nb, nbk.TAG_TASK)
    heading.source = heading.source.replace(a, b)
    del nb.metadata.kernelgym["result"]  # what a forger cannot know: the new task's expected answer
    nb.cells = [c for c in nb.cells if nbk.TAG_RESULT not in nbk.tags_of(c)]
    relabelled = tmp_path / "relabelled.ipynb"
    nbk.write(nb, relabelled)
    untouched = Path(shutil.copy(src, tmp_path / "untouched.ipynb"))
    out = tmp_path / "graded"
    proc = kernelgym("grade", str(relabelled), str(untouched), "--out", str(out), "--no-progress")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    by = {Path(r["notebook"]).stem: r for r in map(json.loads, (out / GRADES).read_text().splitlines())}
    assert by["untouched"]["tampered"] is False and by["untouched"]["passed"] is True, by["untouched"]
    rec = by["relabelled"]
    assert rec["task_id"] == b and rec["error"] is None and rec["tampered"] is True, rec
    assert any(r.startswith("the task id was changed after the episode") and repr(b) in r for r in rec["tamper_reasons"]), rec
    assert "task id was changed" in proc.stdout
