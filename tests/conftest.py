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

from helpers.shared import SESSION_ENV, made_once, session_dir  # noqa: E402

SMALL_PATIENTS = 120

# As `kernelgym` itself does (kernelgym.cli.main): without this, importing nbformat builds jsonschema's
# ~40 IRI grammars, seconds of CPU in every xdist worker; no test checks an IRI format.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


# Seconds per test file (setup, call and teardown of its tests, `pytest --durations=0` with 2 workers on a
# 2-core machine) of the files over 5 s; other files are estimated from their tests' markers.
FILE_SECONDS = {
    "runs/test_ray.py": 78, "families/test_ehr_more.py": 58, "kernel/test_kernel_conformance.py": 35,
    "regrade/test_grade.py": 28, "runtime/test_forkserver.py": 23, "jupyter/test_jupyterlab.py": 21,
    "families/test_biomed_families.py": 20, "llm/test_llm_agent.py": 18, "runs/test_run.py": 17,
    "training/test_gym.py": 17, "runs/test_run_trust.py": 15, "view/test_view.py": 13, "runs/test_run_scale.py": 12,
    "training/test_export.py": 12, "tasks/test_baselines.py": 11, "episode/test_episode.py": 10,
    "importers/test_medagentgym_import.py": 8, "families/test_ehr_family.py": 8, "llm/test_real_servers.py": 7,
    "runs/test_run_selection.py": 7, "tasks/test_selection.py": 6,
    "jupyter/test_host_channel.py": 6, "families/test_medcalc_family.py": 6, "regrade/test_grade_inputs.py": 5,
    "jupyter/test_jupyter_server.py": 5, "runs/test_report.py": 5, "runtime/test_sandbox.py": 5,
}


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for ``-n auto`` (at most ``--maxprocesses``): one per CPU, plus one for the whole suite.

    The whole suite waits much of its time on kernels, servers, Ray and Chromium (on 2 cores, 2 workers
    kept 1.3 CPUs busy: 250 s; 3 workers: 226 s); a run restricted with ``-m`` (the quick tier) is
    CPU-bound and is slower with a worker more (69-70 s against 75 s)."""
    cpus = os.cpu_count() or 1
    return cpus if config.getoption("markexpr") else cpus + 1


@pytest.hookimpl(trylast=True)  # after -m and -k deselected tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The test files that take longest run first. The suite runs one file per xdist worker (in this
    order: ``--no-loadscope-reorder``; xdist would otherwise start the files with the most tests first);
    a slow file picked up last left the other worker idle for minutes. A file's time is
    :data:`FILE_SECONDS` (the whole suite), else estimated from its selected tests' markers (rough seconds
    each); within a file, the order is kept."""
    weight: dict[str, float] = {}
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        w = 20.0 if marks & {"ray", "browser"} else 10.0 if "slow" in marks else 0.3 if "kernel" in marks else 0.02
        weight[item.nodeid.split("::")[0]] = weight.get(item.nodeid.split("::")[0], 0.0) + w
    if not config.getoption("markexpr") and not config.getoption("keyword"):  # whole files: their measured times
        for path in weight:  # a file not listed took under 5 s (a new long file belongs in the list)
            weight[path] = float(FILE_SECONDS.get(path.removeprefix("tests/"), min(weight[path], 4.5)))
    items.sort(key=lambda item: -weight[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session", autouse=True)
def kg_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("kghome")
    os.environ["KERNELGYM_HOME"] = str(home)
    shared = tmp_path_factory.getbasetemp()
    os.environ[SESSION_ENV] = str(shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared)
    # the processes the tests start (papermill, Jupyter servers, kernels) import the agents of tests/ and,
    # as this process, do without rfc3987_syntax's grammars (tests/ray_shim hides it: ~1 s of CPU in each
    # process whose jsonschema it would reach; no test checks an IRI format)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TESTS), str(TESTS / "ray_shim"), os.environ.get("PYTHONPATH")]))
    jupyter = home / "jupyter"
    os.environ["JUPYTER_DATA_DIR"] = str(jupyter)
    os.environ["JUPYTER_PATH"] = str(jupyter)
    from kernelgym import tasks

    tasks.clear_caches()
    return home


@pytest.fixture(scope="session")
def ehr_reference_run(ehr_data: Path) -> Path:
    """One ``kernelgym run`` of the reference agent over every category of the ehr family (test split,
    one task each), through the CLI (in the test process: ``helpers.cli``); shared by the tests that
    read a finished run (they must not change it). Made once per test session: the xdist workers share
    it (the data set it ran on is built with the same bytes in every worker's home)."""
    from helpers.cli import kernelgym

    with made_once("ehr-reference-run") as folder:
        if folder is not None:
            proc = kernelgym("run", "--suite", "ehr", "--agent", "reference", "--split", "test", "--per-category",
                             "1", "--concurrency", "2", "--out", str(folder / "ref"), "--no-progress")
            assert proc.returncode == 0, proc.stderr[-3000:]
    return session_dir() / "ehr-reference-run" / "ref"


@pytest.fixture(scope="session")
def default_ehr_data(kg_home: Path) -> Path:
    """The default synthetic EHR data set (1,000 patients, seed 0, as ``kernelgym data build`` makes it),
    built once per test session for the tests that need it rather than the session's small one (the
    xdist workers share it). Tests copy it into a home of their own: it must not change."""
    from kernelgym.datasets.ehr import build_ehr

    with made_once("ehr-default-data") as folder:
        if folder is not None:
            build_ehr(folder / "ehr", patients=1000, seed=0, workers=2)  # 2 processes
    return session_dir() / "ehr-default-data" / "ehr"


@pytest.fixture(scope="session")
def ehr_data(kg_home: Path) -> Path:
    """A small EHR data set (built once per test session)."""
    from kernelgym.datasets.ehr import build_ehr
    from kernelgym.kernel.paths import dataset_dir

    build_ehr(patients=SMALL_PATIENTS, seed=0)
    return dataset_dir("ehr")
