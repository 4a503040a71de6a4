"""Start-up of the `kernelgym` command: with and without skipping jsonschema's rfc3987_syntax grammars.

    python benchmarks/cli_start.py [--repeats 5]

Both sides run the same `kernelgym run --dry-run` (selection only, no kernel) in a fresh process, in a
temporary KERNELGYM_HOME whose ehr task store is generated once first. "before" calls the command's
app directly (what the console script did); "after" is `python -m kernelgym` (`kernelgym.cli.main`,
which skips the optional grammar build). Prints medians of wall and user+sys CPU, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ARGS = ["run", "--suite", "ehr", "--split", "test", "--limit", "2", "--no-progress", "--dry-run"]
SIDES = {
    "before": [sys.executable, "-c", "import sys; from kernelgym.cli import app; app(prog_name='kernelgym')"],
    "after": [sys.executable, "-m", "kernelgym"],
}


def once(cmd: list[str], env: dict[str, str], out: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([*cmd, *ARGS, "--out", out], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "KERNELGYM_HOME": home}
        out = os.path.join(home, "run")
        once(SIDES["after"], env, out)  # builds the data set and the ehr task store
        rows = {}
        for _ in range(args.repeats):
            for name, cmd in SIDES.items():
                rows.setdefault(name, []).append(once(cmd, env, out))
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.repeats}")
    med = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for name, r in rows.items()}
    for name, (wall, cpu) in med.items():
        print(f"{name:7s} wall {wall:.2f} s  cpu {cpu:.2f} s")
    print(f"ratio after/before: wall {med['after'][0] / med['before'][0]:.2f}x, cpu {med['after'][1] / med['before'][1]:.2f}x")


if __name__ == "__main__":
    main()
