"""Issue 16: runs a researcher can trust: the run manifest and resume check, error accounting,
selection over families, and agents loaded as the README says. Everything goes through the real CLI:
in the test process (``helpers.cli``), but for the README's example and an agent file named relative to
the current folder, which run the command as a newcomer does, in a folder of their own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import kernelgym as kernelgym_cli
from kernelgym.runs.runner import read_results

pytestmark = [pytest.mark.kernel]


def kernelgym_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A fresh ``python -m kernelgym`` in ``cwd``: for what depends on the current folder."""
    return subprocess.run([sys.executable, "-m", "kernelgym", *args], capture_output=True, text=True, timeout=900,
                          cwd=cwd)


REF_ARGS = ("run", "--suite", "ehr", "--split", "test", "--limit", "2", "--no-progress")


@pytest.fixture(scope="module")
def small_run(ehr_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two reference episodes; tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("trust") / "ref"
    proc = kernelgym_cli(*REF_ARGS, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target, ignore=shutil.ignore_patterns(".kernelgym-run.lock"))
    return target


# ---- A. run manifest and resume check ---------------------------------------------------------


def test_run_json_records_the_configuration_and_summary_repeats_it(small_run: Path) -> None:
    manifest = json.loads((small_run / "run.json").read_text())
    config = manifest["config"]
    assert config["agent"] == {"name": "reference", "model": None, "options": {}}
    assert config["episode"]["max_turns"] == 15 and config["episode"]["cell_timeout_s"] == 120.0
    assert config["episode"]["time_budget_s"] == 1800.0 and config["episode"]["feedback"] is False
    assert config["selection"]["suite"] == "ehr" and config["selection"]["limit"] == 2
    assert config["selection"]["tasks"] == 2 and len(config["selection"]["tasks_sha256"]) == 64
    assert config["datasets"]["ehr"].startswith("ehr:")
    assert config["kernelgym_version"] and "sampling" in config["seeds"]
    assert manifest["command"][:2] == ["kernelgym", "run"] and manifest["host"]["hostname"]
    run = json.loads((small_run / "summary.json").read_text())["run"]
    for key in ("kernelgym_version", "agent", "model", "agent_options", "max_turns", "cell_timeout_s",
                "time_budget_s", "feedback", "suite", "split", "limit", "tasks_sha256", "datasets", "seeds"):
        assert key in run, key
    assert run["datasets"] == config["datasets"] and run["created_at"] == manifest["created_at"]


def test_resume_with_the_same_configuration_adds_nothing(small_run: Path, tmp_path: Path) -> None:
    out = _copy(small_run, tmp_path)
    before = (out / "results.jsonl").read_text(), (out / "run.json").read_text()
    proc = kernelgym_cli(*REF_ARGS, "--out", str(out), "--concurrency", "1")  # concurrency is not configuration
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ((out / "results.jsonl").read_text(), (out / "run.json").read_text()) == before


@pytest.mark.parametrize(("extra", "named"), [
    (("--agent", "helpers.adversarial_agents:WrongAnswer"), "--agent"),
    (("--max-turns", "3"), "--max-turns"),
    (("--cell-timeout", "30"), "--cell-timeout"),
    (("--feedback",), "--feedback"),
])
def test_resume_with_another_configuration_is_refused_before_any_work(
        small_run: Path, tmp_path: Path, extra: tuple[str, ...], named: str) -> None:
    """Issue 16 (1): another agent or option into an existing --out appended to it, and summary.json
    labelled the mix with the latest agent."""
    out = _copy(small_run, tmp_path)
    before = (out / "results.jsonl").read_text()
    proc = kernelgym_cli(*REF_ARGS, *extra, "--out", str(out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "another configuration" in lines[0], proc.stderr
    assert named in lines[0]
    assert (out / "results.jsonl").read_text() == before


def test_a_folder_without_run_json_resumes_only_with_the_agent_it_recorded(small_run: Path, tmp_path: Path) -> None:
    out = _copy(small_run, tmp_path)
    (out / "run.json").unlink()  # written before manifests existed
    proc = kernelgym_cli(*REF_ARGS, "--agent", "helpers.adversarial_agents:WrongAnswer", "--out", str(out))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
    assert "without a run.json" in proc.stderr and not (out / "run.json").exists()
    proc = kernelgym_cli(*REF_ARGS, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["config"]["agent"]["name"] == "reference"
    assert len(read_results(out)[0]) == 2


# ---- B. error accounting ----------------------------------------------------------------------


@pytest.mark.slow  # over 3 s on a quiet 2-core machine: not in the quick tier
def test_an_agent_raising_in_every_episode_gives_exit_1_an_error_count_and_its_traceback(
        ehr_data: Path, tmp_path: Path) -> None:
    """Issue 16 (2): an agent that raised in every episode gave exit 0 and "0.0 %", no error count,
    no traceback, and a notebook saying "no answer was submitted"."""
    out = tmp_path / "run"
    proc = kernelgym_cli(*REF_ARGS, "--agent", "helpers.adversarial_agents:RaisesInAct", "--out", str(out))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "2 of 2 episode(s) ended in an error" in proc.stderr and "--retry-errors" in proc.stderr
    assert "errors" in proc.stdout  # the table's column
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"]["errors"] == 2 and summary["total"]["failed"] == 0 and summary["total"]["passed"] == 0
    assert summary["error_stop_reasons"] == {"agent_error": 2}
    results = read_results(out)[0]
    assert len(results) == 2
    for r in results:
        assert r.stop_reason == "agent_error" and r.error == "RuntimeError: agent bug"
        assert r.traceback and "Traceback (most recent call last)" in r.traceback
        assert 'raise RuntimeError("agent bug")' in r.traceback
        import nbformat

        nb = nbformat.read(out / str(r.notebook), as_version=4)
        [result_cell] = [c.source for c in nb.cells if "kernelgym-record" in c.metadata.get("tags", [])]
        assert "**ERROR**" in result_cell and 'raise RuntimeError("agent bug")' in result_cell
        assert nb.metadata.kernelgym.result["error"]["stop_reason"] == "agent_error"
    # a rate the user accepts
    proc = kernelgym_cli(*REF_ARGS, "--agent", "helpers.adversarial_agents:RaisesInAct", "--out", str(out),
                         "--fail-on-error", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow  # over 3 s on a quiet 2-core machine: not in the quick tier
def test_retry_errors_runs_only_the_errored_episodes_and_each_counts_once(ehr_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "--suite", "ehr", "--split", "test", "--limit", "3", "--no-progress",
            "--agent", "helpers.run_agents:RaisesWhileEnvSet", "--out", str(out))
    proc = kernelgym_cli(*args, env={"KG_TEST_AGENT_RAISES": "1"})
    assert proc.returncode == 1, proc.stderr[-2000:]
    first = {r.task_id for r in read_results(out)[0]}
    assert len(first) == 3
    proc = kernelgym_cli(*args)  # a plain resume: errored episodes are done
    assert proc.returncode == 1 and len((out / "results.jsonl").read_text().splitlines()) == 3
    proc = kernelgym_cli(*args, "--retry-errors")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "3 errored episode(s) run again" in proc.stderr
    assert len((out / "results.jsonl").read_text().splitlines()) == 6  # appended; the later line supersedes
    results = read_results(out)[0]
    assert {r.task_id for r in results} == first and {r.stop_reason for r in results} == {"answered"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"]["episodes"] == 3 and summary["total"]["errors"] == 0 and summary["total"]["failed"] == 3


def test_an_episode_the_harness_cannot_run_is_a_harness_error_with_its_traceback(
        ehr_data: Path, tmp_path: Path) -> None:
    from kernelgym.runs.runner import RunOptions, run
    from kernelgym.tasks import select

    def broken_factory() -> object:
        raise OSError("no more file descriptors")

    tasks = select("ehr", split="test", limit=1)
    summary = run(tasks, broken_factory, tmp_path, RunOptions(progress=False, pool_size=0))  # type: ignore[arg-type]
    [r] = read_results(tmp_path)[0]
    assert r.stop_reason == "harness_error" and "OSError: no more file descriptors" in (r.error or "")
    assert r.traceback and "broken_factory" in r.traceback
    assert summary["total"]["errors"] == 1 and r.notebook and (tmp_path / r.notebook).is_file()


# ---- D. agents and their options --------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_custom_agent() -> tuple[str, str]:
    """The README's custom agent (the python block after "An agent is any class") and the command line
    that runs it, exactly as written."""
    import re

    text = README.read_text()
    after = text[text.index("An agent is any class"):]
    code = re.search(r"```python\n(.*?)```", after, re.S)
    assert code is not None
    [command] = [line.strip() for line in text.splitlines() if "--agent mypkg.agents:MyAgent" in line]
    return code.group(1), command


@pytest.mark.slow
def test_the_readme_custom_agent_example_runs_as_written(ehr_data: Path, tmp_path: Path) -> None:
    """Issue 16 (5): `-O temperature=0.2` reached the agent as the string "0.2", `MyAgent()` took no
    options, and a package in the current folder was not importable by the `kernelgym` command."""
    import shlex

    code, command = _readme_custom_agent()
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "agents.py").write_text(code)
    argv = shlex.split(command)
    assert argv[0] == "kernelgym"
    script = Path(sys.executable).parent / "kernelgym"  # the installed command, not `python -m`
    proc = subprocess.run([str(script), *argv[1:], "--no-progress"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "runs" / "mine"
    config = json.loads((out / "run.json").read_text())["config"]
    assert config["agent"] == {"name": "mypkg.agents:MyAgent", "model": None, "options": {"temperature": 0.2}}
    results = read_results(out)[0]
    assert results and all(r.stop_reason == "answered" and r.answer == 42 and r.turns == 2 for r in results)


def test_options_are_json_and_checked_against_the_agent(ehr_data: Path, tmp_path: Path) -> None:
    proc = kernelgym_cli("run", "--limit", "1", "--no-progress", "--out", str(tmp_path / "a"),
                         "--agent", "helpers.run_agents:TakesOptions", "-O", "temperature=0.5", "-O", "name=0.5x",
                         "-O", "flags=[1, 2]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    [r] = read_results(tmp_path / "a")[0]
    assert r.answer == [0.5, "0.5x", [1, 2]]
    proc = kernelgym_cli("run", "--limit", "1", "--out", str(tmp_path / "b"), "--agent",
                         "helpers.run_agents:TakesOptions", "-O", "temprature=0.5")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [
        "error: agent 'helpers.run_agents:TakesOptions' takes no option 'temprature' (its options: temperature, "
        "name, flags)"]
    assert not (tmp_path / "b").exists()


@pytest.mark.slow  # over 3 s on a quiet 2-core machine: not in the quick tier
def test_an_agent_given_as_a_file(ehr_data: Path, tmp_path: Path) -> None:
    (tmp_path / "my_agent.py").write_text(
        "from kernelgym import Action\n\nclass Mine:\n    async def act(self, obs):\n        return Action.answer(7)\n")
    proc = kernelgym_subprocess("run", "--limit", "1", "--no-progress", "--agent", "my_agent.py:Mine", "--out", "run",
                                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [r] = read_results(tmp_path / "run")[0]
    assert r.answer == 7
    name = json.loads((tmp_path / "run" / "run.json").read_text())["config"]["agent"]["name"]
    assert name == f"{(tmp_path / 'my_agent.py').resolve()}:Mine"
    proc = kernelgym_subprocess("run", "--limit", "1", "--agent", "missing.py:Mine", "--out", "run2", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
