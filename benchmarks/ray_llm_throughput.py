"""The LLM-bound benchmark (llm_throughput.py) locally and on local Ray clusters of 1, 2... nodes.

    python benchmarks/ray_llm_throughput.py [--ray-nodes 0 1 2] [--concurrency 16] [--latency 1.0] [--rounds 2]
        [--turns 3] [--home DIR] [--keep] [--address HOST:PORT --server-host IP]

Same scripted server, data set and measurement as llm_throughput.py (one ``kernelgym run`` child
process per line, ``C x --rounds`` episodes of the ``ehr`` family). For each node count N of
``--ray-nodes`` (0: a local run, no Ray) and each concurrency C, starts a Ray cluster on this machine:
``ray start --head`` and N - 1 ``ray start --address``, every node ``--node-ip-address=127.0.0.1``
with its own ``--temp-dir``, the C slots split over the nodes (``--num-cpus``: a kernel host runs as
many episodes at once as its node has CPUs, see docs/ray.md), then runs ``kernelgym run ...
--backend ray --address HEAD`` and stops the cluster. Prints one line per (N, C): episodes/s,
Little's-law efficiency, the episodes each node ran (summary.json ``run.backend.hosts``), the ratio
to the local and 1-node throughput of this invocation (in brackets: of the rates from the first model
request, start-up left out), the model requests the server saw at once, and
checks that every run recorded the same episodes and passes. "Run process CPU" is that of the
``kernelgym run`` process: on Ray the driver's alone (the episodes run in the nodes' kernel hosts).
The nodes run their workers at nice 0 (``RAY_worker_niceness=0``; Ray's default is 15), as the local run.

``--address``: runs on an existing cluster instead (not started nor stopped here; a local row too if
``--ray-nodes`` has 0); its nodes' ``--num-cpus`` are the slots, and their ``KERNELGYM_HOME`` must
hold the same ``ehr`` data set (``--patients``). Nodes on other machines call the scripted server, so
give it an address they reach: ``--server-host`` (default 127.0.0.1).

The cluster is stopped by killing its own processes (a marker in the environment of its ``ray start``
processes, and their descendants), not with ``ray stop``, which stops every Ray process on the machine.
All nodes here share this machine's cores: see docs/benchmarks.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_throughput import add_arguments, prepare_home, run_once, scripted_server

ROOT = Path(__file__).resolve().parents[1]
MARKER = "KG_BENCH_RAY_NODE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_processes(root: str) -> set[int]:
    """The processes of the cluster under ``root``: those whose environment has ``MARKER=root:...``
    (raylet, GCS...) and their descendants (Ray's agents and workers rewrite their environment's
    memory with their title, so the marker is not always left in it; kernels)."""
    needle, roots = f"{MARKER}={root}:".encode(), set()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
                if any(v.startswith(needle) for v in (entry / "environ").read_bytes().split(b"\0")):
                    roots.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def _stop(root: str) -> set[int]:
    """SIGTERM the cluster's processes, SIGKILL what is left after 5 s; returns any still alive."""
    pids = _cluster_processes(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            # a process gone or a zombie waiting for its (dead) parent's reaper
            pids = {p for p in pids | _cluster_processes(root) if _alive(p)}
            if not pids:
                return pids
            time.sleep(0.25)
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ray(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("ray")), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


@contextmanager
def local_cluster(cpus: list[int]) -> Iterator[tuple[str, float]]:
    """A head and ``len(cpus) - 1`` more nodes on 127.0.0.1 (node i: ``cpus[i]`` CPUs); yields its
    address and the seconds it took to start. Its processes are killed on exit."""
    root = Path(tempfile.mkdtemp(prefix="kgrl-", dir="/tmp"))  # short: Ray's socket paths are length-limited
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # Ray starts its workers (the kernel hosts, so the kernels) at nice 15: a small share of the CPU
    # next to other work and to the local run (nice 0) on a shared machine
    envs = [{**os.environ, MARKER: f"{root}:{i}", "RAY_worker_niceness": "0"} for i in range(len(cpus))]
    t0 = time.monotonic()
    try:
        for attempt in range(2):  # a busy machine may miss Ray's start-up deadlines once (as in test_ray.py)
            for i, n in enumerate(cpus):
                where = ["--head", f"--port={port}", "--include-dashboard=false"] if i == 0 else [f"--address={address}"]
                proc = _ray("start", *where, "--node-ip-address=127.0.0.1", f"--num-cpus={n}", "--disable-usage-stats",
                            f"--temp-dir={root / str(i)}", env=envs[i])
                if proc.returncode != 0:
                    break
            if proc.returncode == 0:
                break
            _stop(str(root))
        else:
            raise SystemExit(f"ray start of node {i} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        deadline = time.monotonic() + 60
        while (status := _ray("status", f"--address={address}", env=envs[0], timeout=60)).stdout.count("node_") < len(cpus):
            if time.monotonic() > deadline:
                raise SystemExit(f"the cluster has not got {len(cpus)} nodes after 60 s:\n{status.stdout}{status.stderr}")
            time.sleep(1)
        yield address, time.monotonic() - t0
    finally:
        left = _stop(str(root))
        if left:
            print(f"# processes of the Ray cluster left behind: {sorted(left)}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)


def _split(total: int, nodes: int) -> list[int]:
    """``total`` slots over ``nodes`` nodes, the head first for any remainder."""
    return [total // nodes + (1 if i < total % nodes else 0) for i in range(nodes)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(ap)
    ap.add_argument("--ray-nodes", type=int, nargs="+", default=[0, 1, 2],
                    help="node counts to run on (0: a local run without Ray)")
    ap.add_argument("--address", default=None,
                    help="an existing cluster (HOST:PORT) instead of local ones: its nodes' CPUs are the slots, "
                         "the Ray rows are one per concurrency (--concurrency only sets the episodes)")
    ap.set_defaults(concurrency=[16], rounds=2)
    args = ap.parse_args()
    if any(n < 0 for n in args.ray_nodes) or any(c < max(args.ray_nodes) for c in args.concurrency):
        ap.error("--ray-nodes must be >= 0 and each --concurrency at least the largest node count")

    work = Path(tempfile.mkdtemp(prefix="kg-rayllm-", dir="/tmp"))
    prepare_home(args, work)  # the nodes inherit KERNELGYM_HOME: all share its data set
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.pop("RAY_ADDRESS", None)
    # see tests/runs/test_ray.py: keeps Ray's start-up within its deadlines on a busy machine
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests" / "ray_shim"), os.environ.get("PYTHONPATH")]))
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    try:
        with scripted_server(args) as url:
            print("| nodes | CPUs per node | in flight | episodes | passed | episodes/s | ideal | efficiency "
                  "| from 1st request | episodes per node | vs local | vs 1 node | requests in flight "
                  "| run process CPU ms/episode | cluster start s | load before/after |")
            print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
            # -1: the cluster at --address
            for nodes in ([0] if 0 in args.ray_nodes else []) + [-1] if args.address else args.ray_nodes:
                for c in args.concurrency:
                    n = nodes
                    if nodes == 0:
                        r, cpus, start_s = run_once(c, args, url, work, label="-local"), [], 0.0
                    elif nodes < 0:
                        r = run_once(c, args, url, work, ["--backend", "ray", "--address", args.address], "-ray")
                        hosts = r["backend"]["hosts"]
                        n, cpus, start_s = len(hosts), [h["slots"] for h in hosts], 0.0
                        if sum(cpus) != c:
                            print(f"# the cluster has {sum(cpus)} slots, not {c}: ideal and efficiency assume {c}")
                    else:
                        cpus = _split(c, nodes)
                        with local_cluster(cpus) as (address, start_s):
                            r = run_once(c, args, url, work, ["--backend", "ray", "--address", address], f"-ray{nodes}")
                    rows[n, c] = r
                    hosts = (r["backend"] or {}).get("hosts") or []
                    per_node = " + ".join(str(h["episodes"]) for h in hosts) or "-"
                    ratio = {k: (f"{r['episodes_per_s'] / rows[k, c]['episodes_per_s']:.2f}x "
                                 f"({r['steady_per_s'] / rows[k, c]['steady_per_s']:.2f}x)" if (k, c) in rows else "-")
                             for k in (0, 1)}
                    print(f"| {n or 'local'} | {'/'.join(map(str, cpus)) or '-'} | {c} | {r['episodes']} | {r['passed']} "
                          f"| {r['episodes_per_s']} | {r['ideal_per_s']} | {r['efficiency']:.0%} "
                          f"| {r['steady_per_s']} ({r['steady_efficiency']:.0%}) | {per_node} | {ratio[0]} | {ratio[1]} "
                          f"| {r['max_requests_in_flight']} | {r['cpu_ms_per_episode']} | {start_s:.1f} | {r['load_before']} / {r['load_after']} |", flush=True)
                    if r["errors"]:
                        print(f"#   {r['errors']} episode(s) ended in an error: {r['stop_reasons']}", flush=True)
    finally:
        if args.keep:
            print(f"# kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    same = {c: {(r["episodes"], r["passed"]) for (_, k), r in rows.items() if k == c} for c in args.concurrency}
    ok = all(len(v) == 1 for v in same.values())
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; same episodes and passes in every run "
          f"of a concurrency: {ok}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
