"""Bookkeeping of huge runs: resume and ``kernelgym report`` on a synthetic run folder of N lines.

    python benchmarks/results_scale.py [--lines 1000000] [--home DIR] [--keep DIR]

Writes a run folder whose ``results.jsonl`` holds ``--lines`` records (~0.6 KB each, 50 categories,
one line in 1,000 superseded by a later one, as ``--retry-errors`` appends), then measures two
commands in child processes, each from its own start (peak RSS of the process, ``ru_maxrss`` from
``wait4`` in a small launcher process, and wall time):

- resume: ``kernelgym run --suite ehr --limit 10 --agent reference --out FOLDER``, whose 10 episodes
  are already in the folder: the run reads the folder, finds nothing to do and writes the summary
  of every record (no kernel starts). The folder has no ``run.json`` (as one written before run
  manifests): the run also reads every record to check that the same agent wrote them. About
  175 MB of this process is the task selection (``--dry-run`` alone), not the bookkeeping;
- the bookkeeping alone: ``summarize(iter_results(FOLDER)[0])`` in a bare interpreter (what resume and the
  summary add to a run);
- ``kernelgym report FOLDER``: tables, report.json, report.html and the plot over every record.

Prints the figures and the load average; exit code 1 if a command failed or its summary does not count
every episode once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_folder(folder: Path, lines: int, real_ids: list[str]) -> int:
    """The run folder; returns the number of distinct episodes."""
    folder.mkdir(parents=True, exist_ok=True)
    usage = {"prompt_tokens": 4100, "completion_tokens": 350, "total_tokens": 4450, "model_calls": 3,
             "model_latency_s": 2.91}
    base = {"split": "test", "rollout": 0, "agent": "reference", "model": None, "score": 1.0,
            "explanation": "answer matches the expected value within tolerance 0.01", "turns": 3,
            "duration_s": 3.217, "error": None, "traceback": None, "started_at": "2026-12-07T10:00:00+00:00",
            "usage": usage}
    episodes = 0
    with open(folder / "results.jsonl", "w") as fh:
        for task_id in real_ids:
            family, category, _ = task_id.split("/")
            fh.write(json.dumps({"task_id": task_id, "family": family, "category": category, **base, "passed": True,
                                 "answer": 1, "expected": 1, "stop_reason": "answered",
                                 "notebook": f"episodes/{task_id.replace('/', '__')}__r0.ipynb"}) + "\n")
            episodes += 1
        i = 0
        while i + len(real_ids) < lines:
            cat = f"category_{i % 50:02d}"
            task_id = f"synthetic/{cat}/{i:07d}"
            rec = {"task_id": task_id, "family": "synthetic", "category": cat, **base, "passed": i % 3 != 0,
                   "answer": [i % 97, "mmol/L"], "expected": [i % 97, "mmol/L"], "stop_reason": "answered",
                   "notebook": f"episodes/synthetic__{cat}__{i:07d}__r0.ipynb"}
            if i % 1000 == 999 and i + len(real_ids) + 1 < lines:  # an error, superseded by a later line
                fh.write(json.dumps({**rec, "passed": False, "score": 0.0, "stop_reason": "agent_error",
                                     "error": "RuntimeError: boom"}) + "\n")
                i += 1
            fh.write(json.dumps(rec) + "\n")
            episodes += 1
            i += 1
    return episodes


# Starts the measured command from a small process: a child's ru_maxrss counts the memory of the process it
# was forked from until its exec (this benchmark's own ~210 MB once it has selected tasks), so the command
# is forked by an interpreter that has imported nothing, which writes the command's peak RSS (KB) to a file.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def measure(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """(exit code, peak RSS MB, wall s, stderr tail) of ``cmd`` in a child process."""
    t0 = time.monotonic()
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as out:
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, out.name, *cmd], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.wait()
        maxrss_kb = int(out.read() or 0)
    return proc.returncode, maxrss_kb / 1024, time.monotonic() - t0, err[-2000:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--home", default=None, help="an existing KERNELGYM_HOME (default: a temp one, data built)")
    ap.add_argument("--keep", default=None, help="write the run folder here and keep it")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kg-results-scale-", dir="/tmp"))
    env = {**os.environ, "KERNELGYM_HOME": args.home or str(work / "home")}
    os.environ["KERNELGYM_HOME"] = env["KERNELGYM_HOME"]
    try:
        from kernelgym.kernel.paths import dataset_dir

        if not (dataset_dir("ehr") / "manifest.json").is_file():
            from kernelgym.datasets.ehr import build_ehr

            build_ehr(patients=120, seed=0)
        from kernelgym.tasks import select

        real = [inst.id for inst in select("ehr", split="test", limit=10)]
        folder = Path(args.keep) if args.keep else work / "run"
        t0 = time.monotonic()
        episodes = write_folder(folder, args.lines, real)
        size = (folder / "results.jsonl").stat().st_size
        print(f"# {args.lines:,} lines ({size / 2**20:.0f} MB, {episodes:,} episodes) written in "
              f"{time.monotonic() - t0:.1f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
        kg = [sys.executable, "-m", "kernelgym"]
        ok = True
        runs = {
            "the bookkeeping alone (index + summary, python -c)": [sys.executable, "-c", (
                "import pathlib; from kernelgym.runs import runner as r; "  # read_results: kernelgym before the index
                "read = getattr(r, 'iter_results', None) or r.read_results; "
                f"print(r.summarize(read(pathlib.Path({str(folder)!r}))[0])['total'])")],
            "resume (kernelgym run, nothing left to run)": kg + [
                "run", "--suite", "ehr", "--split", "test", "--limit", "10", "--agent", "reference", "--no-progress",
                "--out", str(folder)],
            "kernelgym report": kg + ["report", str(folder), "--out", str(work / "report")],
        }
        print("| command | peak RSS MB | wall s | load average |\n|---|---:|---:|---:|")
        for name, cmd in runs.items():
            code, rss, wall, err = measure(cmd, env)
            print(f"| {name} | {rss:.0f} | {wall:.1f} | {os.getloadavg()[0]:.2f} |", flush=True)
            if code != 0:
                ok = False
                print(f"#   exit {code}: {err}", file=sys.stderr)
        summary = json.loads((folder / "summary.json").read_text())
        if summary["total"]["episodes"] != episodes or summary["run"]["new_episodes"] != 0:
            ok = False
            print(f"# summary counts {summary['total']['episodes']:,} episodes, {episodes:,} expected", file=sys.stderr)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
