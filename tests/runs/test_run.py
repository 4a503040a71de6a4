"""Runs: parallel episodes, results.jsonl, notebooks, resume, and a run that survives bad episodes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.cli import kernelgym as kernelgym_cli
from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.runs.runner import RunOptions, read_results, run
from kernelgym.tasks import select

pytestmark = [pytest.mark.kernel]

RESULT_FIELDS = {
    "task_id", "family", "category", "split", "rollout", "agent", "model", "passed", "score", "answer",
    "expected", "turns", "stop_reason", "duration_s", "notebook", "error",
}


def kernelgym_subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m kernelgym ARGS`` in a process of its own (most tests run the command in this one)."""
    return subprocess.run([sys.executable, "-m", "kernelgym", *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def reference_run(ehr_reference_run: Path) -> Path:
    """The session's reference run over every ehr category (conftest.py)."""
    return ehr_reference_run


@pytest.mark.slow
def test_reference_run_passes_everything_and_records_every_field(reference_run: Path) -> None:
    lines = (reference_run / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    n_categories = len({i.category for i in select("ehr", split="test")})
    assert len(records) == n_categories >= 10
    for rec in records:
        assert RESULT_FIELDS <= rec.keys()
        assert rec["passed"] is True, rec
        nb = nbformat.read(reference_run / rec["notebook"], as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "kernelgym-ehr"
        assert {t for c in nb.cells for t in c.metadata.tags} <= set(nbk.TAGS)
    summary = json.loads((reference_run / "summary.json").read_text())
    assert summary["total"]["episodes"] == len(records) and summary["total"]["passed"] == len(records)


@pytest.mark.slow
def test_rerun_into_the_same_folder_adds_nothing(reference_run: Path) -> None:
    before = (reference_run / "results.jsonl").read_text()
    proc = kernelgym_cli(
        "run", "--suite", "ehr", "--agent", "reference", "--split", "test", "--per-category", "1",
        "--out", str(reference_run), "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    assert (reference_run / "results.jsonl").read_text() == before


def test_half_written_line_from_a_killed_run_is_not_taken_for_a_result(ehr_data: Path, tmp_path: Path) -> None:
    tasks = select("ehr", split="test", limit=2)
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text(f'{{"task_id": "{tasks[0].id}", "passed": tr')  # killed mid-write
    run(tasks, load_agent("reference"), out, RunOptions(progress=False))
    results, bad = read_results(out)
    assert bad == 1
    assert sorted(r.task_id for r in results) == sorted(t.id for t in tasks)
    assert all(r.passed for r in results)


@pytest.mark.slow
def test_a_dying_kernel_does_not_stop_the_run(ehr_data: Path, tmp_path: Path) -> None:
    tasks = select("ehr", split="test", limit=3)
    summary = run(tasks, load_agent("helpers.adversarial_agents:KillsKernel"), tmp_path, RunOptions(progress=False))
    results, _ = read_results(tmp_path)
    assert len(results) == 3 and {r.stop_reason for r in results} == {"kernel_died"}
    assert summary["total"]["passed"] == 0


@pytest.mark.slow
def test_replay_agent_reproduces_a_saved_episode(reference_run: Path, tmp_path: Path) -> None:
    proc = kernelgym_cli(
        "run", "--suite", "ehr", "--agent", "replay", "-O", f"source={reference_run / 'episodes'}",
        "--split", "test", "--per-category", "1", "--limit", "4", "--out", str(tmp_path), "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    original = {r.task_id: r for r in read_results(reference_run)[0]}
    replayed = read_results(tmp_path)[0]
    assert len(replayed) == 4
    for r in replayed:
        assert r.passed and r.answer == original[r.task_id].answer


@pytest.mark.slow
def test_jsonl_family_runs_without_python(ehr_data: Path, tmp_path: Path) -> None:
    """A user adds a family with a YAML spec and a JSONL file of instances and reference cells."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "mine.yaml").write_text(
        "family: mine\ndescription: my own questions\nprofile: ehr\ninstances: mine.jsonl\n"
    )
    import pandas as pd

    n = len(pd.read_parquet(ehr_data / "patients.parquet"))
    rows = [
        {"category": "counts", "question": "How many patients are there?", "answer": n, "split": "test",
         "grader": {"rule": "numeric"}, "reference": ["submit(len(patients))"]},
        {"category": "counts", "question": "How many patients, via SQL?", "answer": n, "split": "test",
         "grader": {"rule": "numeric"}, "reference": ["submit(int(sql('select count(*) c from patients').c[0]))"]},
    ]
    (tmp_path / "specs" / "mine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = kernelgym_cli("run", "--specs", str(tmp_path / "specs"), "--suite", "mine", "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = read_results(tmp_path / "out")[0]
    assert [r.passed for r in results] == [True, True]
    assert {r.task_id for r in results} == {"mine/counts/00000", "mine/counts/00001"}


def test_episode_notebook_reruns_with_papermill_on_the_installed_kernel(reference_run: Path, tmp_path: Path) -> None:
    """The saved notebook names kernelgym-ehr and re-runs there, reproducing the evidence."""
    import papermill

    from kernelgym.runtime.profiles import install_kernelspecs
    from kernelgym.notebook import evidence_of as evidence_from

    install_kernelspecs(user=True)  # JUPYTER_DATA_DIR points into the test's home
    rec = read_results(reference_run)[0][0]
    out = tmp_path / "rerun.ipynb"
    papermill.execute_notebook(str(reference_run / rec.notebook), str(out), progress_bar=False, kernel_name="kernelgym-ehr")
    nb = nbformat.read(out, as_version=4)
    verifier = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)[0]
    [evidence] = evidence_from(verifier)
    assert evidence["submitted"] and evidence["answer"] == rec.answer


@pytest.mark.parametrize("args", [
    ("run", "--limit", "-1"), ("run", "--limit", "0"), ("run", "--per-category", "-1"),
    ("run", "--cell-timeout", "-5"), ("run", "--time-budget", "0"), ("grade", ".", "--timeout", "-1"),
])
def test_numbers_that_make_no_sense_are_refused_in_one_line_before_any_work(args: tuple[str, ...], tmp_path: Path) -> None:
    """Issue 15 (11): `--limit -1` ran every task but the last, negative timeouts were accepted."""
    proc = kernelgym_cli(*args, "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and args[-2] in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    """Issue 15 (11): `--out` naming a file gave a 100-line traceback."""
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    for cmd in (("run",), ("grade", str(tmp_path))):
        proc = kernelgym_cli(*cmd, "--out", str(target))
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
        assert "is a file" in proc.stderr


@pytest.mark.slow
def test_a_second_run_into_a_folder_in_use_is_refused(ehr_data: Path, tmp_path: Path) -> None:
    """Issue 15 (8): two runs into one `--out` recorded every episode twice. While one process holds
    the run folder, another `kernelgym run` into it stops at once with a one-line error, and so
    does the library's `run()`."""
    from kernelgym.runs.runner import RunFolderLocked, locked_run_folder

    out = tmp_path / "run"
    tasks = select("ehr", split="test", limit=1)
    with locked_run_folder(out):
        # another process: the folder's lock is held by this one
        proc = kernelgym_subprocess("run", "--limit", "1", "--out", str(out), "--no-progress")
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "in use by another kernelgym run" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        with pytest.raises(RunFolderLocked):
            run(tasks, load_agent("reference"), out, RunOptions(progress=False))
        assert not (out / "results.jsonl").exists()
    run(tasks, load_agent("reference"), out, RunOptions(progress=False))  # free again: the run goes ahead
    assert len((out / "results.jsonl").read_text().splitlines()) == 1


DISK_FULL_SCRIPT = r"""
set -u
mount -t tmpfs -o size=96k tmpfs "$MNT" || exit 97
run() { "$PY" -m kernelgym run --suite ehr --agent reference --split test --limit 12 --concurrency 2 \
        --out "$MNT/run" --no-progress; }
run > "$LOGS/first.out" 2> "$LOGS/first.err"; echo $? > "$LOGS/first.rc"
cp -r "$MNT/run" "$LOGS/after-first"
mount -o remount,size=16m "$MNT"
run > "$LOGS/second.out" 2> "$LOGS/second.err"; echo $? > "$LOGS/second.rc"
cp -r "$MNT/run" "$LOGS/after-second"
"""


@pytest.mark.slow  # over 3 s on a quiet 2-core machine: not in the quick tier
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="mounts a small tmpfs: needs root")
def test_a_full_disk_stops_the_run_in_one_line_and_the_run_resumes(ehr_data: Path, tmp_path: Path) -> None:
    """Issue 15 (4): a full disk raised ENOSPC from the results append and killed the whole run
    (traceback; a half line in results.jsonl, or episodes recorded as crashed). Now the run stops
    with one line, keeps only whole records (each with its notebook), and the same command resumes
    it once there is space: every episode recorded once. A real full disk: a 96 KiB tmpfs as --out,
    in a private mount namespace (``unshare -m``), grown to 16 MiB for the second run."""
    mnt, logs = tmp_path / "mnt", tmp_path / "logs"
    mnt.mkdir()
    logs.mkdir()
    env = {**os.environ, "MNT": str(mnt), "LOGS": str(logs), "PY": sys.executable}
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", DISK_FULL_SCRIPT],
                          env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode == 97:
        pytest.skip("cannot mount a tmpfs here")
    first_err = (logs / "first.err").read_text()
    assert (logs / "first.rc").read_text().strip() == "1", first_err[-3000:]
    assert first_err.strip().splitlines()[-1].startswith("error: the disk of"), first_err[-3000:]
    assert "Traceback" not in first_err and "free space and run the same command again" in first_err
    first, bad = read_results(logs / "after-first")
    assert bad == 0 and 0 < len(first) < 12  # stopped part way, every line whole
    for r in first:
        assert r.stop_reason != "harness_error" and (logs / "after-first" / r.notebook).is_file(), r
    assert (logs / "second.rc").read_text().strip() == "0", (logs / "second.err").read_text()[-3000:]
    second, bad = read_results(logs / "after-second")
    lines = (logs / "after-second" / "results.jsonl").read_text().splitlines()
    assert bad == 0 and len(lines) == len(second) == 12  # each episode recorded once
    assert len({(r.task_id, r.rollout) for r in second}) == 12 and all(r.passed for r in second)
    for r in second:
        nbformat.validate(nbformat.read(logs / "after-second" / r.notebook, as_version=4))
