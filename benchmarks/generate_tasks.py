"""Benchmark: generate every task family into a fresh task store, N times.

    python benchmarks/generate_tasks.py [--repeats 3] [--suite all] [--jobs N] [--sequential]

Everything happens in a temporary KERNELGYM_HOME (the user's ~/.cache/kernelgym is not touched).
The data sets the families need (the synthetic EHR data set, its ehr-predict derivative) are built
once first and timed separately: they are data, not task generation. Then, per repeat, with the
task store emptied before each measurement:

- each family alone, in a fresh Python process: wall and CPU time of ``instances(family)`` (its
  generation, its imports of the libraries it needs and writing its store; the interpreter start
  and ``import kernelgym.tasks`` are outside);
- all families together, as the issue measures it: ``kernelgym tasks stats --json`` in a fresh
  process, end to end (interpreter start included), which generates missing families in up to
  ``--jobs`` processes (default: ``$KERNELGYM_JOBS`` or the number of CPUs); its CPU time includes
  the worker processes. ``--sequential`` also measures it with ``KERNELGYM_JOBS=1``.

Prints per family the median wall and CPU seconds and the instance and category counts, then the
total against the 120 s limit of the issue (median wall / 120 s), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LIMIT_S = 120.0

CHILD = r"""
import json, sys, time
from kernelgym.tasks import instances

family = sys.argv[1]
wall0, cpu0 = time.perf_counter(), time.process_time()
items = instances(family)
wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
print(json.dumps({"wall": wall, "cpu": cpu, "instances": len(items),
                  "categories": len({i.category for i in items})}))
"""

PREPARE = r"""
import json, sys, time
from kernelgym.tasks.stats import suite_names
from kernelgym.tasks import get_spec
from kernelgym.tasks.store import _dataset_fingerprint

names = suite_names(sys.argv[1])
wall0 = time.perf_counter()
for name in names:
    _dataset_fingerprint(get_spec(name).profile)  # builds the data sets the family's instances depend on
print(json.dumps({"names": names, "wall": time.perf_counter() - wall0}))
"""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_child(args: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run a process; return its stdout, wall seconds and CPU seconds (its waited-for children included)."""
    cpu0, wall0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[:4])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout, wall, cpu


def kernelgym_cli() -> str:
    exe = Path(sys.executable).with_name("kernelgym")
    return str(exe) if exe.exists() else shutil.which("kernelgym") or "kernelgym"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per figure (default 3)")
    parser.add_argument("--suite", default="all", help="families: 'all' (default) or comma-separated names")
    parser.add_argument("--jobs", type=int, default=None, help="KERNELGYM_JOBS for the all-families run")
    parser.add_argument("--sequential", action="store_true", help="also time all families with KERNELGYM_JOBS=1")
    args = parser.parse_args()

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kernelgym-gen-bench-") as tmp:
        env = {**os.environ, "KERNELGYM_HOME": tmp}
        env.pop("KERNELGYM_SPECS", None)
        if args.jobs is not None:
            env["KERNELGYM_JOBS"] = str(args.jobs)
        store = Path(tmp) / "tasks"
        out, _, _ = run_child([sys.executable, "-c", PREPARE, args.suite], env)
        prepared = json.loads(out)
        names: list[str] = prepared["names"]
        print(f"data sets built in {prepared['wall']:.1f} s (not task generation; not counted below)", flush=True)

        per: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        total: dict[str, list[tuple[float, float]]] = {"parallel": [], "sequential": []}
        stats: dict[str, Any] = {}
        for r in range(args.repeats):
            for name in names:
                shutil.rmtree(store, ignore_errors=True)
                out, _, _ = run_child([sys.executable, "-c", CHILD, name], env)
                per[name].append(json.loads(out))
            runs = [("parallel", env)]
            if args.sequential:
                runs.append(("sequential", {**env, "KERNELGYM_JOBS": "1"}))
            for label, run_env in runs:
                shutil.rmtree(store, ignore_errors=True)
                out, wall, cpu = run_child([kernelgym_cli(), "tasks", "stats", "--json", "--suite", args.suite], run_env)
                stats = json.loads(out)
                total[label].append((wall, cpu))
            figures = ", ".join(f"{k} {v[-1][0]:.1f} s wall / {v[-1][1]:.1f} s cpu" for k, v in total.items() if v)
            print(f"repeat {r + 1}/{args.repeats}: all families: {figures}", flush=True)
    load_end = os.getloadavg()

    jobs = args.jobs if args.jobs is not None else os.environ.get("KERNELGYM_JOBS") or len(os.sched_getaffinity(0))
    print()
    print(f"{'family':<14}{'instances':>11}{'categories':>12}{'wall s':>9}{'cpu s':>9}   (medians of {args.repeats}, "
          "each family alone)")
    sum_wall = sum_cpu = 0.0
    for name in names:
        wall = statistics.median(m["wall"] for m in per[name])
        cpu = statistics.median(m["cpu"] for m in per[name])
        sum_wall, sum_cpu = sum_wall + wall, sum_cpu + cpu
        last = per[name][-1]
        print(f"{name:<14}{last['instances']:>11,}{last['categories']:>12}{wall:>9.2f}{cpu:>9.2f}")
    print(f"{'sum':<14}{sum(per[n][-1]['instances'] for n in names):>11,}"
          f"{sum(per[n][-1]['categories'] for n in names):>12}{sum_wall:>9.2f}{sum_cpu:>9.2f}")
    print()
    print(f"tasks stats --json: {stats.get('categories')} categories, {stats.get('total', 0):,} instances "
          f"({stats.get('train', 0):,} train, {stats.get('test', 0):,} test)")
    for label, runs in total.items():
        if not runs:
            continue
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        how = f"KERNELGYM_JOBS={jobs}" if label == "parallel" else "KERNELGYM_JOBS=1"
        print(f"all families, {how:<17} {wall:6.2f} s wall, {cpu:6.2f} s cpu (median of {len(runs)}): "
              f"{wall / LIMIT_S:.2f} of the {LIMIT_S:.0f} s limit")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in load_start)} at start, "
          f"{', '.join(f'{x:.2f}' for x in load_end)} at end; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
