"""Soak: one run of many episodes mixing honest and hostile agents; checks what a trainer relies on.

    python benchmarks/soak.py --episodes 2000 --concurrency 8

One ``kernelgym.runs.runner.run`` in this process (fork server, warm pool, default sandbox) over
``--episodes`` tasks spread over the categories of ``ehr``, ``ehr_qa`` and ``ehr_quality``. Every other episode is the reference agent; the rest cycle through every
hostile agent of ``tests/helpers/adversarial_agents.py`` (cheaters, sandbox attacks, hostile
messages, kernel killers). Afterwards it checks, and prints:

- every episode is recorded exactly once, with a notebook that nbformat validates;
- every hostile episode is graded failed (except those that send hostile messages and then solve
  their task honestly: they must pass), every reference episode passed;
- no process of a kernel uid, no System V IPC object and no ``kernelgym-*`` temp folder is left;
- the run process's resident memory (RSS), sampled every second: peak, and at each quarter of the run.

Exit code 0 when every check holds. Uses its own ``KERNELGYM_HOME`` (``--home``; a small EHR data set is
built there once). Small limits keep the disk and fork attacks cheap (``KERNELGYM_WORK_LIMIT=64M``,
``KERNELGYM_FILE_LIMIT=32M``, ``KERNELGYM_MAX_PROCESSES=64``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the hostile agents live with the tests

HOSTILE = [
    # cheaters: fake a pass without the answer
    "WrongAnswer", "PrintsSuccess", "RedefinesSubmit", "PatchesKernelState", "RedefinesBuiltins",
    "ForgesAnswerMessage", "ForgesEvidenceInVerifier",
    # the kernel and the run
    "KillsKernel", "LeavesDeepTree", "RaisesInAct",
    # the sandbox
    "ReadsTaskStore", "ImportsTaskGenerators", "ReadsOtherProcesses", "OpensNetwork", "Allocates50GiB",
    "ForkBomb", "KillsParent", "AsksTheGraderForVerdicts", "UsesHostIPC", "MakesNamespaces", "FillsHostDisk",
    "EscapesLimits",
    # hostile messages (these then solve their task: they must pass)
    "SendsDeepJson", "SendsHugeInt", "SendsLoneSurrogate", "ForgesHostileEvidence",
]
SUITE = "ehr,ehr_qa,ehr_quality"
MUST_PASS = {"reference", "SendsDeepJson", "SendsHugeInt", "SendsLoneSurrogate"}


class Mix:
    """Routes each episode to the agent planned for its task."""

    plan: dict[str, str] = {}

    def __init__(self) -> None:
        self._agent: Any = None

    async def act(self, obs: Any) -> Any:
        if self._agent is None:
            name = self.plan[obs.task.id]
            if name == "reference":
                from kernelgym.agents.reference import ReferenceAgent

                self._agent = ReferenceAgent()
            else:
                from helpers import adversarial_agents

                self._agent = getattr(adversarial_agents, name)()
        return await self._agent.act(obs)


def kernel_processes(uid_blocks: list[int]) -> list[int]:
    """Processes running as a kernel uid of this run (the uid blocks its fork servers leased)."""
    from kernelgym.runtime.sandbox import UID_BLOCK

    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if any(base <= uid < base + UID_BLOCK for base in uid_blocks):
                out.append(int(entry))
    return out


def ipc_objects() -> set[str]:
    found = set()
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        found |= {f"{kind}:{line.split()[1]}" for line in lines if line.strip()}  # by id
    return found


def temp_folders(owners: set[int]) -> set[str]:
    """Temp folders made by this process or its fork servers (other runs on the machine may be busy)."""
    from kernelgym.runtime.tempdirs import parse_owner

    roots = {tempfile.gettempdir(), "/tmp"}
    found = set()
    for root in roots:
        for p in Path(root).glob("kernelgym-*"):
            parsed = parse_owner(p.name)
            if parsed is not None and parsed[1].pid in owners:
                found.add(str(p))
    return found


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self.stop.wait(1.0):
            self.samples.append((time.monotonic(), me.memory_info().rss))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--home", default="/tmp/kernelgym-soak-home", help="KERNELGYM_HOME for the soak")
    ap.add_argument("--out", default=None, help="run folder (default: a new temp folder)")
    args = ap.parse_args()
    if args.episodes < 1 or args.concurrency < 1:
        ap.error("--episodes and --concurrency must be at least 1")
    os.environ["KERNELGYM_HOME"] = args.home
    os.environ.setdefault("KERNELGYM_MAX_PROCESSES", "64")
    os.environ.setdefault("KERNELGYM_WORK_LIMIT", "64M")
    os.environ.setdefault("KERNELGYM_FILE_LIMIT", "32M")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")]))

    import nbformat

    from kernelgym.datasets.ehr import build_ehr
    from kernelgym.kernel.paths import dataset_dir
    from kernelgym.runs.runner import RunOptions, read_results, run
    from kernelgym.runtime.forkclient import live_zygotes, shutdown_zygotes
    from kernelgym.tasks import select

    if not (dataset_dir("ehr") / "manifest.json").is_file():
        build_ehr(patients=300, seed=0)
    pool = select(SUITE)  # every category of the families that run on the ehr kernel
    if len(pool) < args.episodes:
        ap.error(f"only {len(pool)} tasks in {SUITE}; ask for at most that many episodes")
    tasks = pool[:: len(pool) // args.episodes][: args.episodes]  # spread over the categories
    Mix.plan = {t.id: ("reference" if i % 2 == 0 else HOSTILE[(i // 2) % len(HOSTILE)]) for i, t in enumerate(tasks)}

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="soak-run-"))
    ipc_before = ipc_objects()
    sampler = RssSampler()
    sampler.start()
    t0 = time.monotonic()
    load_before = os.getloadavg()
    run(tasks, Mix, out, RunOptions(concurrency=args.concurrency, progress=sys.stderr.isatty()))
    zygotes = [(z.proc.pid, z.ping()["uid_base"]) for z in live_zygotes()]
    shutdown_zygotes()
    wall = time.monotonic() - t0
    load_after = os.getloadavg()
    sampler.stop.set()
    sampler.join()

    results, _ = read_results(out)
    keys = [(r.task_id, r.rollout) for r in results]
    problems: list[str] = []
    if len(keys) != len(tasks) or len(set(keys)) != len(tasks):
        problems.append(f"{len(keys)} records, {len(set(keys))} distinct, for {len(tasks)} episodes")
    bad_notebooks = 0
    for r in results:
        try:
            nbformat.validate(nbformat.read(out / r.notebook, as_version=4))
        except Exception:
            bad_notebooks += 1
    if bad_notebooks:
        problems.append(f"{bad_notebooks} notebooks missing or invalid")
    wrong = [(Mix.plan[r.task_id], r.passed, r.stop_reason) for r in results
             if r.passed is not (Mix.plan[r.task_id] in MUST_PASS)]
    if wrong:
        problems.append(f"{len(wrong)} verdicts not as expected, e.g. {wrong[:5]}")
    time.sleep(2)  # let the last kernels' processes be reaped
    left = {"processes": sorted(kernel_processes([base for _, base in zygotes])),
            "ipc": sorted(ipc_objects() - ipc_before),
            "temp": sorted(temp_folders({os.getpid(), *(pid for pid, _ in zygotes)}))}
    for what, items in left.items():
        if items:
            problems.append(f"left behind: {what}: {items[:5]}")
    rss = [s[1] for s in sampler.samples] or [0]
    quarters = [rss[min(len(rss) - 1, (len(rss) * q) // 4)] // 2**20 for q in (1, 2, 3, 4)]
    stops: dict[str, int] = {}
    for r in results:
        stops[r.stop_reason] = stops.get(r.stop_reason, 0) + 1
    report = {
        "episodes": len(tasks), "recorded": len(keys), "concurrency": args.concurrency,
        "hostile": sum(1 for v in Mix.plan.values() if v != "reference"), "wall_s": round(wall, 1),
        "episodes_per_s": round(len(tasks) / wall, 2), "rss_peak_mib": max(rss) // 2**20,
        "rss_mib_at_quarters": quarters, "stop_reasons": stops,
        "load_average_before": [round(x, 2) for x in load_before], "load_average_after": [round(x, 2) for x in load_after],
        "left_behind": {k: len(v) for k, v in left.items()}, "out": str(out), "problems": problems,
    }
    print(json.dumps(report, indent=2))
    print("soak:", "OK" if not problems else "FAILED: " + "; ".join(problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
