"""Benchmark: build the default synthetic EHR data set (1,000 patients) N times.

    python benchmarks/ehr_data.py [N] [--patients P] [--seed S]

Prints the median wall time, the median CPU time of the building process (less sensitive to other
load on the machine), total rows and event rows, and rows per second. Builds go to a temporary
folder; the data set in KERNELGYM_HOME is not touched.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kernelgym.datasets.ehr import build_ehr

EVENT_TABLES = ("chartevents", "labevents", "inputevents_mv", "outputevents", "prescriptions",
                "microbiologyevents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=3, help="number of builds (default 3)")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    walls: list[float] = []
    cpus: list[float] = []
    fingerprints: set[str] = set()
    manifest = None
    with tempfile.TemporaryDirectory(prefix="kernelgym-ehr-bench-") as tmp:
        for i in range(args.n):
            wall0, cpu0 = time.perf_counter(), time.process_time()
            manifest = build_ehr(Path(tmp) / f"run{i}", patients=args.patients, seed=args.seed)
            walls.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
            fingerprints.add(manifest.fingerprint)
            print(f"build {i + 1}/{args.n}: {walls[-1]:.2f} s wall, {cpus[-1]:.2f} s cpu", flush=True)
    assert manifest is not None
    rows = sum(manifest.tables.values())
    events = sum(manifest.tables[t] for t in EVENT_TABLES)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"patients            {args.patients:,} (seed {args.seed})")
    print(f"median build time   {wall:.2f} s wall, {cpu:.2f} s cpu (over {args.n} builds)")
    print(f"rows                {rows:,} in {len(manifest.tables)} tables, {events:,} event rows")
    for table, n in sorted(manifest.tables.items(), key=lambda kv: -kv[1]):
        print(f"  {table:<20} {n:>10,}")
    print(f"rows/s              {rows / wall:,.0f} (wall), {rows / cpu:,.0f} (cpu)")
    print(f"deterministic       {'yes' if len(fingerprints) == 1 else 'NO'} (fingerprint {', '.join(sorted(fingerprints))})")


if __name__ == "__main__":
    main()
