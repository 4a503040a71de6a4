"""Shared fixtures: every test session gets its own KERNELGYM_HOME with a small EHR data set.

Kernels inherit the environment, so the kernels started by the tests read the same small data set
and nothing touches the user's ~/.cache/kernelgym.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # agents used by tests are importable as module:Class

SMALL_PATIENTS = 120

# As `kernelgym` itself does (kernelgym.cli.main): without this, importing nbformat builds jsonschema's
# ~40 IRI grammars, seconds of CPU in every xdist worker; no test checks an IRI format.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test files that take longest run first. The suite runs one file per xdist worker; a slow
    file picked up last left the other worker idle for minutes. A file's time is estimated from its
    tests' markers (rough seconds each); within a file, the order is kept."""
    weight: dict[str, float] = {}
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        w = 20.0 if marks & {"ray", "browser"} else 10.0 if "slow" in marks else 0.3 if "kernel" in marks else 0.02
        weight[item.nodeid.split("::")[0]] = weight.get(item.nodeid.split("::")[0], 0.0) + w
    items.sort(key=lambda item: -weight[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session", autouse=True)
def kg_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("kghome")
    os.environ["KERNELGYM_HOME"] = str(home)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    jupyter = home / "jupyter"
    os.environ["JUPYTER_DATA_DIR"] = str(jupyter)
    os.environ["JUPYTER_PATH"] = str(jupyter)
    from kernelgym import tasks

    tasks.clear_caches()
    return home


@pytest.fixture(scope="session")
def ehr_reference_run(ehr_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``kernelgym run`` of the reference agent over every category of the ehr family (test split,
    one task each), through the CLI (in the test process: ``helpers.cli``); shared by the tests that
    read a finished run (they must not change it). Made once per test session: the xdist workers share
    it (the data set it ran on is built with the same bytes in every worker's home)."""
    import fcntl
    import shutil

    from helpers.cli import kernelgym

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    out = root / "ehr-reference-run" / "ref"
    with open(root / "ehr-reference-run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the run, then reuses it
        done = out.parent / "done"
        if not done.exists():
            shutil.rmtree(out.parent, ignore_errors=True)  # a run cut short by a failure
            out.parent.mkdir()
            proc = kernelgym("run", "--suite", "ehr", "--agent", "reference", "--split", "test", "--per-category",
                             "1", "--concurrency", "2", "--out", str(out), "--no-progress")
            assert proc.returncode == 0, proc.stderr[-3000:]
            done.touch()
    return out


@pytest.fixture(scope="session")
def ehr_data(kg_home: Path) -> Path:
    """A small EHR data set (built once per test session)."""
    from kernelgym.datasets.ehr import build_ehr
    from kernelgym.kernel.paths import dataset_dir

    build_ehr(patients=SMALL_PATIENTS, seed=0)
    return dataset_dir("ehr")
