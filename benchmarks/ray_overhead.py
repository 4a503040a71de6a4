"""Local versus Ray throughput on one machine: what the Ray backend costs.

    python benchmarks/ray_overhead.py [--episodes 200] [--concurrency 2] [--patients 120] [--address ADDR]

Runs the same reference episodes (the quickest ``ehr`` test categories) twice, in a temp folder each:
``kernelgym run`` locally with ``--concurrency`` episodes at once, then with ``--backend ray`` on a
one-node Ray cluster of ``--concurrency`` CPUs (started here with ``ray start --head`` and stopped
with ``ray stop --force`` at the end; or an existing cluster given by ``--address``). Both include
starting the fork server and warming the pool. Prints episodes/s of each and the overhead ratio
(local / Ray throughput), and checks that both runs recorded the same results.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = [
    "patient_age_at_admission", "hospital_length_of_stay", "vital_sign_extreme", "hours_to_first_lab",
    "days_between_admissions", "lab_count_abnormal", "microbiology_organisms", "patient_gender",
    "maybe_unanswerable", "diagnoses_of_admission",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=2, help="local concurrency = CPUs of the Ray node")
    ap.add_argument("--patients", type=int, default=120, help="size of the data set built in a temp home")
    ap.add_argument("--address", default=None, help="an existing Ray cluster (default: start one here)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kgrb-", dir="/tmp"))
    os.environ["KERNELGYM_HOME"] = str(work / "home")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # see tests/test_ray.py: keeps Ray's start-up within its deadlines on a busy machine
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests" / "ray_shim"), os.environ.get("PYTHONPATH")]))
    ray_cli = str(Path(sys.executable).with_name("ray"))
    started = False
    try:
        from kernelgym.datasets.ehr import build_ehr

        build_ehr(patients=args.patients, seed=0)
        from kernelgym.agents import load_agent
        from kernelgym.runs.ray_backend import RayExecutor, connect
        from kernelgym.runs.runner import RunOptions, read_results, run
        from kernelgym.tasks import select

        tasks = select("ehr", split="test", categories=CATEGORIES, limit=args.episodes)
        address = args.address
        if address is None:
            address = "127.0.0.1:46391"
            proc = subprocess.run(
                [ray_cli, "start", "--head", "--port=46391", "--node-ip-address=127.0.0.1", f"--num-cpus={args.concurrency}",
                 "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={work / 'ray'}"],
                capture_output=True, text=True, timeout=300,
            )
            started = True
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
                return 1
        connect(address)

        t0 = time.monotonic()
        run(tasks, load_agent("reference"), work / "local", RunOptions(concurrency=args.concurrency, progress=False))
        local_s = time.monotonic() - t0
        t0 = time.monotonic()
        run(tasks, load_agent("reference"), work / "ray-run",
            RunOptions(progress=False, executor=RayExecutor(address)))
        ray_s = time.monotonic() - t0

        def outcome(folder: Path) -> dict[str, tuple[bool, object]]:
            return {r.task_id: (r.passed, r.answer) for r in read_results(folder)[0]}

        same = outcome(work / "local") == outcome(work / "ray-run")
        n = len(tasks)
        print(f"{n} reference episodes (ehr, {len(CATEGORIES)} categories), {os.cpu_count()} CPUs, "
              f"concurrency {args.concurrency} / one Ray node of {args.concurrency} CPUs")
        print(f"local: {local_s:7.1f} s  {n / local_s:6.2f} episodes/s")
        print(f"ray:   {ray_s:7.1f} s  {n / ray_s:6.2f} episodes/s")
        print(f"overhead ratio (local / ray throughput): {local_s and ray_s / local_s:.2f}x")
        print(f"same results (passed, answer per task): {same}")
        return 0 if same else 1
    finally:
        if "ray" in sys.modules:
            sys.modules["ray"].shutdown()
        if started:
            subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
