"""Agreement of kernelgym's clinical calculators with MedCalc-Bench v1.0.

Recomputes every row of the MedCalc-Bench test set from its ``Relevant Entities``, prints agreement
per calculator, and attributes every departure to documented errata. With ``--write`` it regenerates
``docs/medcalc.md`` and ``kernelgym/importers/medcalc_bench_departures.yaml``; with ``--check`` it
exits 1 if either file is out of date or a departure is unexplained.

    python benchmarks/medcalc_agreement.py [CSV] [--write | --check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kernelgym.importers import medcalc_bench as mb
from kernelgym.importers import medcalc_report as mr

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "data" / "medcalc-bench" / "test_data.csv.gz"
DOC = ROOT / "docs" / "medcalc.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="regenerate docs/medcalc.md and the departures file")
    mode.add_argument("--check", action="store_true", help="fail if the generated files are out of date")
    args = ap.parse_args(argv)
    if not args.csv.is_file():
        print(f"MedCalc-Bench test set not found: {args.csv}", file=sys.stderr)
        return 2
    report = mr.build_report(mb.read_rows(args.csv))
    ua, un = report.unflagged()
    ra, rn = report.unflagged_new_errata_only()
    print(f"agreement with v1.0: {report.agree}/{report.rows} = {100 * report.agree / report.rows:.1f}%")
    print(f"calculators the audit did not flag: {ua}/{un} = {100 * ua / un:.2f}%"
          f" (not counting audit errata: {ra}/{rn} = {100 * ra / rn:.2f}%)")
    print(f"departures: {len(report.departures)}, unexplained: {len(report.unexplained)}")
    doc, yml = mr.markdown(report), mr.departures_yaml(report)
    if args.write:
        DOC.write_text(doc)
        mb.DEPARTURES_FILE.write_text(yml)
        print(f"wrote {DOC.relative_to(ROOT)} and {mb.DEPARTURES_FILE.relative_to(ROOT)}")
    elif args.check:
        stale = [p for p, text in ((DOC, doc), (mb.DEPARTURES_FILE, yml)) if not p.is_file() or p.read_text() != text]
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)} (run with --write)", file=sys.stderr)
        if stale or report.unexplained:
            return 1
    return 1 if report.unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
