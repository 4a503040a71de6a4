"""The Ray backend on a real two-node Ray cluster on 127.0.0.1.

A head (``ray start --head``) and a second node (``ray start --address``), each with its own temp
folder and 2 CPUs, share this test session's KERNELGYM_HOME (one machine: both nodes read the same
data set). ``kernelgym run --backend ray`` runs 100 reference episodes across both and must record
the same results (per task: passed, answer) as a local run of the same tasks; killing the second
node's kernel host mid-run must still leave all 100 episodes recorded exactly once.

The cluster's processes get ``rfc3987_syntax`` hidden (``tests/ray_shim``): Ray's raylet waits a
hard-coded 15 s for its dashboard agent to start, and on a busy 2-core machine most of the agent's
start is ``jsonschema`` building that optional module's grammar (measured: ``import ray`` 7-9 s
with it, 2 s without, at load 10). Nothing in kernelgym uses it.
"""

from __future__ import annotations

from helpers.paths import TESTS
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("ray")

from kernelgym.agents import load_agent  # noqa: E402
from kernelgym.runs.runner import RunOptions, read_results, run  # noqa: E402
from kernelgym.tasks import Instance, select  # noqa: E402

pytestmark = [pytest.mark.kernel, pytest.mark.ray, pytest.mark.slow]

N_EPISODES = 100
# the ehr categories whose reference solution is quickest (one query cell and an answer)
CATEGORIES = [
    "patient_age_at_admission", "hospital_length_of_stay", "vital_sign_extreme", "hours_to_first_lab",
    "days_between_admissions", "lab_count_abnormal", "microbiology_organisms", "patient_gender",
    "maybe_unanswerable", "diagnoses_of_admission",
]
SHIM = TESTS / "ray_shim"
MARKER = "KERNELGYM_RAY_TEST_NODE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM), env.get("PYTHONPATH")]))
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env.pop("RAY_ADDRESS", None)
    env.update(extra)
    return env


def _ray(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    ray_cli = Path(sys.executable).with_name("ray")
    return subprocess.run([str(ray_cli), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _marked_processes(value: str) -> dict[int, str]:
    """Processes (pid -> command line) whose environment has ``MARKER=value``."""
    found = {}
    needle = f"{MARKER}={value}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def tasks(ehr_data: Path) -> list[Instance]:
    chosen = select("ehr", split="test", categories=CATEGORIES, limit=N_EPISODES)
    assert len(chosen) == N_EPISODES
    return chosen


@pytest.fixture(scope="module")
def local_run(tasks: list[Instance], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tasks run locally: the baseline both Ray runs are compared with."""
    out = tmp_path_factory.mktemp("local") / "run"
    run(tasks, load_agent("reference"), out, RunOptions(concurrency=2, progress=False))
    return out


@dataclass
class Cluster:
    address: str
    second: str
    """The marker value of the second node's processes."""


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (started by any of its threads)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


@pytest.fixture(scope="module")
def cluster(ehr_data: Path) -> Iterator[Cluster]:
    """A head and a second node on 127.0.0.1 (2 CPUs each)."""
    root = Path(tempfile.mkdtemp(prefix="kgray-", dir="/tmp"))  # short: Ray's socket paths are length-limited
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head_env, node_env = _env(**{MARKER: f"{root}:head"}), _env(**{MARKER: f"{root}:second"})
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=2", "--disable-usage-stats"]
    try:
        for attempt in range(2):  # a machine busy with other work may miss Ray's start-up deadlines once
            head = _ray("start", "--head", f"--port={port}", "--include-dashboard=false",
                        f"--temp-dir={root / 'head'}", *common, env=head_env)
            node = _ray("start", f"--address={address}", f"--temp-dir={root / 'second'}", *common, env=node_env) \
                if head.returncode == 0 else head
            if head.returncode == 0 and node.returncode == 0:
                break
            _ray("stop", "--force", env=head_env)
        else:
            pytest.fail(f"ray start failed:\n{head.stdout[-2000:]}{head.stderr[-2000:]}\n{node.stderr[-2000:]}")
        deadline = time.monotonic() + 60
        while True:
            status = _ray("status", f"--address={address}", env=head_env, timeout=60)
            if status.stdout.count("node_") >= 2:
                break
            assert time.monotonic() < deadline, status.stdout + status.stderr
            time.sleep(1)
        yield Cluster(address, f"{root}:second")
    finally:
        _ray("stop", "--force", env=head_env)
        deadline = time.monotonic() + 20
        while (left := {**_marked_processes(f"{root}:head"), **_marked_processes(f"{root}:second")}) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["rm", "-rf", str(root)], check=False)
        from kernelgym.runtime.tempdirs import sweep

        sweep()  # the socket folders of the kernels the stopped Ray workers had (their owners are gone)
        assert not left, f"processes left behind by the Ray cluster: {left}"


def _ray_run_cmd(address: str, out: Path) -> list[str]:
    cats = [a for c in CATEGORIES for a in ("--category", c)]
    return [
        sys.executable, "-m", "kernelgym", "run", "--suite", "ehr", "--split", "test", *cats,
        "--limit", str(N_EPISODES), "--backend", "ray", "--address", address, "--out", str(out), "--no-progress",
    ]


def _by_task(out: Path) -> dict[tuple[str, int], tuple[bool, object]]:
    results, bad = read_results(out)
    assert bad == 0
    keys = [(r.task_id, r.rollout) for r in results]
    assert len(keys) == len(set(keys)), "an episode was recorded twice"
    return {(r.task_id, r.rollout): (r.passed, r.answer) for r in results}


def _cells(nb_path: Path) -> list[tuple[str, str, list[str]]]:
    """The cells, but the header's text: it states when the episode ran and how long it took."""
    nb = nbformat.read(nb_path, as_version=4)
    return [(c.cell_type, "" if "kernelgym-header" in c.metadata.get("tags", []) else c.source,
             list(c.metadata.get("tags", []))) for c in nb.cells]


def test_ray_run_across_two_nodes_matches_the_local_run(cluster: Cluster, local_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "ray"
    proc = subprocess.run(_ray_run_cmd(cluster.address, out), env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    local = _by_task(local_run)
    remote = _by_task(out)
    assert len(remote) == N_EPISODES
    assert remote == local
    assert all(passed for passed, _ in remote.values())
    # same files and fields as a local run
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    local_lines = {(x["task_id"], x["rollout"]): x for x in map(json.loads, (local_run / "results.jsonl").read_text().splitlines())}
    for rec in lines:
        twin = local_lines[(rec["task_id"], rec["rollout"])]
        assert rec.keys() == twin.keys()
        assert rec["notebook"] == twin["notebook"]
        assert _cells(out / rec["notebook"]) == _cells(local_run / twin["notebook"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"]["episodes"] == summary["total"]["passed"] == N_EPISODES
    hosts = summary["run"]["backend"]["hosts"]
    assert len(hosts) == 2 and all(h["episodes"] > 0 for h in hosts), hosts  # both nodes did work
    assert summary["run"]["backend"]["hosts_lost"] == []


def test_killing_the_second_nodes_kernel_host_loses_no_episode(cluster: Cluster, local_run: Path, tmp_path: Path) -> None:
    """The second node's kernel host is SIGKILLed mid-run: its episodes in flight are run again
    elsewhere, and the run ends with every episode recorded exactly once."""
    out = tmp_path / "ray"
    proc = subprocess.Popen(_ray_run_cmd(cluster.address, out), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        killed, orphans = None, []
        deadline = time.monotonic() + 300
        while killed is None:
            assert proc.poll() is None, "the run ended before its kernel host could be killed"
            assert time.monotonic() < deadline, "the second node's kernel host never ran episodes"
            done = len((out / "results.jsonl").read_text().splitlines()) if (out / "results.jsonl").is_file() else 0
            hosts = [pid for pid, cmd in _marked_processes(cluster.second).items() if cmd.startswith("ray::KernelHost")]
            if done >= N_EPISODES // 4 and hosts:
                orphans = _children(hosts[0])  # its fork server(s)
                os.kill(hosts[0], signal.SIGKILL)
                killed = hosts[0]
            time.sleep(0.2)
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-4000:]
    remote = _by_task(out)
    assert len(remote) == N_EPISODES  # all recorded, none twice (checked in _by_task)
    assert remote == _by_task(local_run)
    for rec in map(json.loads, (out / "results.jsonl").read_text().splitlines()):
        assert (out / rec["notebook"]).is_file()
    backend = json.loads((out / "summary.json").read_text())["run"]["backend"]
    assert len(backend["hosts_lost"]) >= 1, backend
    assert orphans, "the killed host had no fork server"
    alive = [pid for pid in orphans if Path(f"/proc/{pid}").exists()
             and "kernelgym.runtime.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
    assert not alive, "the killed host's fork server outlived it"


TRAINER_SCRIPT = r'''
import asyncio, json, sys
import gymnasium as gym
import kernelgym.training.gym  # noqa: F401  (registers the environments)
from kernelgym.agents.reference import ReferenceAgent
from kernelgym.runs.ray_backend import RayKernelHosts
from kernelgym.training.rollout import rollouts
from kernelgym.tasks import get_instance

address, ids = sys.argv[1], json.loads(sys.argv[2])
hosts = RayKernelHosts(address)
out = {"gym": {}, "rollouts": {}, "hosts": set()}
env = gym.make("kernelgym/ehr-v0", split="test", kernel_host=hosts)
for tid in ids:
    obs, info = env.reset(options={"task_id": tid})
    out["hosts"].add(env.unwrapped.driver.host)
    reward, done = 0.0, False
    for cell in get_instance(tid).reference:
        obs, reward, done, truncated, info = env.step(cell)
        if done or truncated:
            break
    out["gym"][tid] = [reward, done, env.unwrapped.result.answer]
env.close()

async def group():
    trajs = await rollouts(ids, ReferenceAgent, n=2, concurrency=4, kernel_host=hosts)
    return {tid: [[t.reward, t.result.answer, len(t.steps)] for t in g] for tid, g in zip(ids, trajs)}

out["rollouts"] = asyncio.run(group())
out["status"] = hosts.status()
out["hosts"] = sorted(h for h in out["hosts"] if h)
hosts.close()
print(json.dumps(out, default=str))
'''


def test_gymnasium_env_and_rollouts_take_a_ray_kernel_host(cluster: Cluster, local_run: Path, tmp_path: Path) -> None:
    """Item 3: a trainer on Ray gets kernels on any node: the Gymnasium environment and
    :func:`kernelgym.training.rollout.rollouts` run their episodes on the cluster's kernel hosts (driven step
    by step from the trainer's process) and get the rewards and answers of a local run."""
    local = {k[0]: v for k, v in _by_task(local_run).items()}
    ids = sorted(local)[:4]
    proc = subprocess.run([sys.executable, "-c", TRAINER_SCRIPT, cluster.address, json.dumps(ids)], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for tid in ids:
        passed, answer = local[tid]
        assert out["gym"][tid] == [1.0, True, answer]
        assert out["rollouts"][tid] == [[1.0, answer, 2], [1.0, answer, 2]]
    assert len(out["hosts"]) == 2, out  # episodes went to both nodes
