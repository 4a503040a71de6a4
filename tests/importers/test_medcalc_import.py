"""MedCalc-Bench import: corrected labels, documented departures, and the generated task families.

Uses the real test set in ../shared/data (skipped when absent; it is never copied into the project).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.paths import REPO
from kernelgym.grading import grade
from kernelgym.importers import medcalc_bench as mb
from kernelgym.importers import medcalc_errata as me
from kernelgym.importers import medcalc_report as mr

ROOT = REPO
CSV = ROOT.parent / "shared" / "data" / "medcalc-bench" / "test_data.csv.gz"

pytestmark = pytest.mark.skipif(not CSV.is_file(), reason="MedCalc-Bench test set not available")


@pytest.fixture(scope="module")
def rows() -> list[mb.Row]:
    return mb.read_rows(CSV)


@pytest.fixture(scope="module")
def report(rows: list[mb.Row]) -> mr.Report:
    return mr.build_report(rows)


def test_every_calculator_reads_every_row(rows: list[mb.Row]) -> None:
    assert len(rows) == 1047 and len({r.calculator_id for r in rows}) == 55
    errors = [(c.row.row_number, c.error) for c in mb.compare(rows) if c.error]
    assert not errors


def test_no_undocumented_departure(report: mr.Report) -> None:
    """Recompute the corrected labels: every row that departs from v1.0 must be in the departures file
    with the same errata and answers, and every documented row must still depart."""
    errata, documented = mb.load_departures()
    found = {d.row: d for d in report.departures}
    undocumented = sorted(set(found) - set(documented))
    stale = sorted(set(documented) - set(found))
    assert not undocumented, f"rows departing from v1.0 without a documented reason: {undocumented}"
    assert not stale, f"documented departures that no longer depart: {stale}"
    for row, d in found.items():
        doc = documented[row]
        assert doc.errata == d.errata, (row, doc.errata, d.errata)
        assert doc.corrected == d.corrected, (row, doc.corrected, d.corrected)
        assert set(d.errata) <= set(errata) == set(me.ERRATA)


def test_every_departure_is_explained_and_reproduced(report: mr.Report) -> None:
    """Each departure names at least one erratum, and putting the calculator's errata back into
    kernelgym's calculator gives v1.0's answer (so the stated reason is the real one)."""
    assert not report.unexplained, [(d.row, d.errata, d.reproduced) for d in report.unexplained]


def test_agreement_on_calculators_the_audit_did_not_flag(report: mr.Report) -> None:
    a, n = report.unflagged_new_errata_only()
    assert a / n >= 0.99, f"{a}/{n}"
    strict_a, strict_n = report.unflagged()
    # the remaining departures there are new errata, each documented (see docs/medcalc.md)
    assert strict_n - strict_a == sum(1 for d in report.departures if d.calculator_id not in mr.AUDIT_FLAGGED)


def test_agreement_doc_is_up_to_date(report: mr.Report) -> None:
    """docs/medcalc.md and the departures file are generated from this data by
    benchmarks/medcalc_agreement.py --write."""
    assert (ROOT / "docs" / "medcalc.md").read_text() == mr.markdown(report)
    assert mb.DEPARTURES_FILE.read_text() == mr.departures_yaml(report)


def test_import_command_writes_runnable_families(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 report: mr.Report) -> None:
    from typer.testing import CliRunner

    from kernelgym import tasks
    from kernelgym.cli import app

    runner = CliRunner()
    for labels in ("original", "corrected"):
        res = runner.invoke(app, ["import", "medcalc-bench", str(CSV), "--labels", labels, "--out", str(tmp_path)])
        assert res.exit_code == 0, res.output
    bad = runner.invoke(app, ["import", "medcalc-bench", str(CSV), "--labels", "nonsense", "--out", str(tmp_path)])
    assert bad.exit_code == 2

    monkeypatch.setenv("KERNELGYM_SPECS", str(tmp_path))
    tasks.clear_caches()
    try:
        original = tasks.instances("medcalc-bench")
        corrected = tasks.instances("medcalc-bench-corrected")
    finally:
        monkeypatch.delenv("KERNELGYM_SPECS")
        tasks.clear_caches()
    assert len(original) == len(corrected) == 1047
    assert len({i.category for i in original}) == 55
    departing = {d.row for d in report.departures}
    lines = [json.loads(x) for x in (tmp_path / "medcalc-bench.jsonl").read_text().splitlines()]
    for inst, line, c_inst in zip(original, lines, corrected):
        assert inst.inputs["note"] and inst.inputs["note"] in inst.prompt
        assert "ground_truth" not in inst.public().model_dump()
        assert grade(inst.ground_truth, inst.ground_truth, inst.grader).passed
        assert grade(c_inst.ground_truth, c_inst.ground_truth, c_inst.grader).passed
        assert line["answer"] == inst.ground_truth
    # v1.0's band is kept: for a departing decimal row, the corrected answer fails the original grader
    checked = 0
    for row in mb.read_rows(CSV):
        if row.row_number in departing and row.calculator.output == "decimal":
            value = mb.as_answer(row, mb.recompute(row))
            assert not grade(value, mb.original_answer(row), mb.original_grader(row)).passed
            checked += 1
    assert checked > 0


def test_registry_lists_the_entities_each_calculator_reads(rows: list[mb.Row]) -> None:
    """Every key of every row's Relevant Entities is either read by its calculator or known noise."""
    from kernelgym.calculators import REGISTRY

    noise = {  # keys v1.0 extracted that the published calculator does not use
        "Chronic Renal Failure", "Continuous veno-venous hemodialysis for ≥24 hours in the past week",
        ("Occipital, parietal or temporal scalp hematoma; history of level of conciousness (LOC) ≥5 sec; "
        "not acting normally per parent or severe mechanism of injury?"),
        "Altered mental status for PECARN head injury criteria",
        "cycle length",  # given for the conception date, which is LMP + 14 days whatever the cycle
    }
    for row in rows:
        unread = set(row.entities) - set(REGISTRY[row.calculator_id].entities) - noise
        assert not unread, (row.row_number, row.calculator_id, unread)
