"""Benchmark: ``kernelgym grade`` of N episode notebooks vs one plain ``papermill`` call per notebook.

    python benchmarks/grade.py                 # N=200 (makes a reference run of 200 episodes first)
    python benchmarks/grade.py --n 40          # smaller
    python benchmarks/grade.py --run runs/x    # grade the notebooks of an existing run (cycled up to N)

Both sides execute the same notebooks on the same machine, in kernels of the task's profile:

- ``kernelgym grade DIR --concurrency K``: one process; restores the canonical cells, executes every
  notebook with papermill (kernelgym's engine) in a fresh kernel, grades on the host;
- baseline: ``papermill in.ipynb out.ipynb`` as a subprocess per notebook, one after the other (a
  shell loop), with the installed ``kernelgym-<profile>`` kernelspec (``--baseline-env
  KERNELGYM_FORK=0`` for an ordinary kernel launch instead of the fork server). ``--baseline-sample
  M`` runs only M of them and extrapolates the total from their mean (printed as an estimate).

Prints per-notebook medians, totals and the ratio of the totals. Uses ``$KERNELGYM_HOME`` (the data
set is built on first use); ``--home DIR`` to use another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sh(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], check=False, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def source_notebooks(args: argparse.Namespace, work: Path) -> list[Path]:
    if args.run:
        found = sorted(Path(args.run).rglob("*.ipynb"))
    else:
        run = work / "run"
        t0 = time.monotonic()
        proc = sh("kernelgym", "run", "--suite", args.suite, "--agent", "reference", "--split", "all",
                  "--limit", str(args.n), "--concurrency", str(args.concurrency), "--out", str(run), "--no-progress")
        if proc.returncode != 0:
            sys.exit(f"the reference run failed:\n{proc.stderr[-3000:]}")
        print(f"reference run of {args.n} episodes: {time.monotonic() - t0:.1f} s")
        found = sorted((run / "episodes").glob("*.ipynb"))
    if not found:
        sys.exit("no notebooks to grade")
    inputs = work / "inputs"
    inputs.mkdir()
    out = []
    for i in range(args.n):  # cycle when the source has fewer notebooks than N
        dest = inputs / f"{i:04d}__{found[i % len(found)].name}"
        shutil.copy(found[i % len(found)], dest)
        out.append(dest)
    return out


def bench_grade(notebooks: list[Path], args: argparse.Namespace, work: Path) -> tuple[float, list[float], int]:
    out = work / "graded"
    t0 = time.monotonic()
    proc = sh("kernelgym", "grade", str(notebooks[0].parent), "--out", str(out), "--concurrency", str(args.concurrency),
              "--timeout", str(args.timeout), "--no-progress")
    wall = time.monotonic() - t0
    lines = [json.loads(x) for x in (out / "grades.jsonl").read_text().splitlines()] if (out / "grades.jsonl").is_file() else []
    if len(lines) != len(notebooks):
        sys.exit(f"kernelgym grade graded {len(lines)} of {len(notebooks)} notebooks:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall, [x["duration_s"] for x in lines], sum(bool(x["passed"]) for x in lines)


def bench_papermill(notebooks: list[Path], args: argparse.Namespace, work: Path) -> tuple[list[float], int]:
    out = work / "papermill"
    out.mkdir()
    sample = notebooks[: args.baseline_sample] if args.baseline_sample else notebooks
    times, failed = [], 0
    for nb in sample:
        t0 = time.monotonic()
        proc = subprocess.run([args.papermill, str(nb), str(out / nb.name), "--no-progress-bar"], check=False,
                              capture_output=True, text=True, env={**os.environ, **args.baseline_env})
        times.append(time.monotonic() - t0)
        failed += proc.returncode != 0
    return times, failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="notebooks to grade (default 200)")
    ap.add_argument("--run", help="a run folder (or any folder of episode notebooks) to take notebooks from")
    ap.add_argument("--suite", default="ehr")
    ap.add_argument("--concurrency", type=int, default=max(2, min(8, os.cpu_count() or 2)))
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--baseline-sample", type=int, default=0, help="run only M papermill calls and extrapolate")
    ap.add_argument("--baseline-env", action="append", default=[], metavar="KEY=VALUE",
                    help="environment of the papermill calls, e.g. KERNELGYM_FORK=0 (ordinary kernel launch)")
    ap.add_argument("--home", help="KERNELGYM_HOME to use")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    args.baseline_env = dict(kv.split("=", 1) for kv in args.baseline_env)
    if args.home:
        os.environ["KERNELGYM_HOME"] = args.home
    beside = Path(sys.executable).with_name("papermill")
    args.papermill = shutil.which("papermill") or (str(beside) if beside.is_file() else None)
    if args.papermill is None:
        sys.exit("papermill is not installed")
    from kernelgym.runtime.profiles import ensure_kernelspecs_installed

    ensure_kernelspecs_installed()  # the baseline's papermill finds kernelgym-<profile> kernels
    work = Path(tempfile.mkdtemp(prefix="kernelgym-bench-grade-"))
    try:
        notebooks = source_notebooks(args, work)
        print(f"{len(notebooks)} notebooks, {os.cpu_count()} CPUs, kernelgym grade --concurrency {args.concurrency}")
        g_wall, g_each, g_passed = bench_grade(notebooks, args, work)
        print(f"kernelgym grade: {g_wall:.1f} s total, {g_wall / len(notebooks):.3f} s per notebook "
              f"(median time in flight {statistics.median(g_each):.2f} s), {g_passed}/{len(notebooks)} passed")
        p_each, p_failed = bench_papermill(notebooks, args, work)
        p_total = sum(p_each) if not args.baseline_sample else statistics.mean(p_each) * len(notebooks)
        estimate = f" (estimated from a sample of {len(p_each)})" if args.baseline_sample else ""
        env = " ".join(f"{k}={v}" for k, v in args.baseline_env.items())
        print(f"papermill x{len(p_each)}{' with ' + env if env else ''}: median {statistics.median(p_each):.2f} s per notebook, "
              f"{p_total:.1f} s total{estimate}, {p_failed} exited non-zero")
        print(f"ratio (papermill total / kernelgym grade total): {p_total / g_wall:.2f}x")
        print(f"ratio of per-notebook medians (papermill call / kernelgym grade wall per notebook): "
              f"{statistics.median(p_each) / (g_wall / len(notebooks)):.2f}x")
    finally:
        if args.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
