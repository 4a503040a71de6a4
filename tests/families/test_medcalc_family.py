"""The synthetic ``medcalc`` family: 55 calculator categories on generated patient notes.

The reference solution of every category reads the values back out of the note and computes the
answer with the formula written out in the cell; here it runs in plain Python for many instances per
category (fast), and through the reference agent in real ``biomed`` kernels for one instance of each.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest

from kernelgym import notebook as nbk
from kernelgym.calculators import BY_SLUG, units
from kernelgym.families import medcalc as fam
from kernelgym.grading import grade
from kernelgym.tasks import Draft, load_spec, resource_dir

pytestmark = [pytest.mark.kernel]

N_PER_CATEGORY = 12


def drafts(slug: str, n: int = N_PER_CATEGORY, seed: str = "test") -> list[Draft]:
    rng = random.Random(f"{seed}/{slug}")
    out = [fam.CATEGORIES[slug].generate(None, rng) for _ in range(n)]
    assert all(d is not None for d in out)
    return out  # type: ignore[return-value]


def run_reference_in_python(draft: Draft) -> Any:
    """Execute the reference cells as the kernel would: `note` defined, `submit` records the answer."""
    submitted: list[Any] = []
    namespace: dict[str, Any] = {"note": draft.inputs["note"], "submit": submitted.append}
    for cell in draft.reference:
        exec(compile(cell, "<cell>", "exec"), namespace)  # noqa: S102 - our own reference solution
    assert len(submitted) == 1
    return submitted[0]


def test_the_spec_lists_55_categories_on_the_biomed_profile() -> None:
    spec = load_spec(resource_dir("task_specs") / "medcalc.yaml")
    assert spec.profile == "biomed" and spec.generator is not None
    assert set(fam.CATEGORIES) == set(BY_SLUG) and len(fam.CATEGORIES) == 55
    assert all(c.answer_format for c in fam.CATEGORIES.values())


@pytest.mark.parametrize("slug", sorted(BY_SLUG))
def test_reference_solution_reads_the_note_and_passes(slug: str) -> None:
    cat = fam.CATEGORIES[slug]
    for draft in drafts(slug):
        note = draft.inputs["note"]
        assert note in draft.question
        answer = run_reference_in_python(draft)
        verdict = grade(answer, draft.answer, cat.grader)
        assert verdict.passed, (slug, verdict.explanation, note)
        # the kernel side never imports host-side code, and the cells hold no answer literal
        code = "\n".join(draft.reference)
        assert "kernelgym" not in code
        assert "submit(answer)" in draft.reference[-1]


def band_edges(answer: Any, output: str, rel: float = 0.05) -> tuple[list[Any], list[Any]]:
    """Answers just inside and just outside the grading band of a calculator's answer, per rule:
    equation-based answers +/-``rel`` (relative to the expected value: 5 %, 1 % for the formulas
    whose values vary little, ``fam._TIGHT``), scores exact, dates exact, gestational age (weeks,
    days) exact."""
    if output == "decimal":
        if not answer:
            return [answer], [0.01, -0.01]
        inner, outer = rel * 0.998, rel * 1.002
        return [answer * (1 + inner), answer * (1 - inner)], [answer * (1 + outer), answer * (1 - outer)]
    if output == "integer":
        return [answer, float(answer), str(answer)], [answer + 1, answer - 1, answer + 0.5]
    if output == "date":
        day = dt.date.fromisoformat(str(answer))
        return [str(day), day.strftime("%m/%d/%Y")], [str(day + dt.timedelta(days=1)), str(day - dt.timedelta(days=1))]
    weeks, days = answer
    return [[weeks, days], (weeks, days)], [[weeks, days + 1], [weeks + 1, days], [weeks, days - 1]]


@pytest.mark.parametrize("slug", sorted(BY_SLUG))
def test_answers_just_inside_the_band_pass_and_just_outside_fail(slug: str) -> None:
    cat = fam.CATEGORIES[slug]
    calc = BY_SLUG[slug]
    rel = fam.TIGHT if slug in fam._TIGHT else 0.05
    for draft in drafts(slug, 3):
        inside, outside = band_edges(draft.answer, calc.output, rel)
        for a in inside:
            assert grade(a, draft.answer, cat.grader).passed, (slug, a, draft.answer)
        for a in outside:
            assert not grade(a, draft.answer, cat.grader).passed, (slug, a, draft.answer)
        assert not grade(None, draft.answer, cat.grader).passed


def test_original_labels_grade_on_the_rows_own_limits() -> None:
    """``--labels original`` keeps MedCalc-Bench's band: [Lower Limit, Upper Limit], inclusive."""
    from kernelgym.grading import Grader

    band = Grader(rule="range", lower=8.512, upper=9.408)
    for a, ok in [(8.512, True), (9.408, True), (8.96, True), (8.511, False), (9.409, False), ("9.0 mg/dL", False)]:
        assert grade(a, 8.96, band).passed is ok, a


def test_generation_is_deterministic_and_varied() -> None:
    for slug in ("apache_ii", "mme", "due_date", "heart_score"):
        a, b = drafts(slug, 5, "x"), drafts(slug, 5, "x")
        assert [d.model_dump() for d in a] == [d.model_dump() for d in b]
        assert len({d.inputs["note"] for d in a}) == 5


def test_notes_state_findings_as_absent_or_leave_them_out() -> None:
    """Scores treat an unmentioned finding as absent; notes must exercise both phrasings."""
    notes = [d.inputs["note"] for d in drafts("wells_dvt", 40)]
    assert any("There is no " in n for n in notes) and any("significant for" in n for n in notes)
    assert any(re.search(r"\bµmol/L\b", d.inputs["note"]) for d in drafts("ckd_epi_2021", 40))
    assert any("°F" in d.inputs["note"] for d in drafts("centor", 40))


def test_unit_expressions_match_the_host_side_converters() -> None:
    checks = {
        "creatinine": units.creatinine_mg_dl, "bilirubin": units.bilirubin_mg_dl, "glucose": units.glucose_mg_dl,
        "calcium": units.calcium_mg_dl, "total_cholesterol": units.cholesterol_mg_dl,
        "triglycerides": units.triglycerides_mg_dl, "albumin": units.albumin_g_dl, "weight": units.kilograms,
        "height": units.centimetres, "temperature": units.celsius, "urea": units.bun_mg_dl,
        "hemoglobin": units.hemoglobin_g_dl,
    }
    for qty, convert in checks.items():
        for unit in fam.Q[qty].units:
            host_unit = {"°C": "degrees celsius", "°F": "degrees fahrenheit"}.get(unit.label, unit.label)
            for v in (1.0, 37.5, 120.0):
                assert math.isclose(fam._canonical(unit, str(v)), convert(v, host_unit), rel_tol=1e-9), (qty, unit.label)


@pytest.mark.slow
def test_reference_agent_passes_one_instance_of_every_category(tmp_path: Path) -> None:
    """The built-in reference agent, through a real run in biomed kernels, on the first instance of
    each of the 55 categories of the generated family."""
    from kernelgym.agents import load_agent
    from kernelgym.runs.runner import RunOptions, read_results, run
    from kernelgym.tasks import select

    insts = select("medcalc", per_category=1)
    assert {i.category for i in insts} == set(BY_SLUG)
    run(insts, load_agent("reference"), tmp_path, RunOptions(concurrency=2, progress=False))
    results, bad = read_results(tmp_path)
    assert bad == 0 and len(results) == 55
    failed = [(r.task_id, r.stop_reason, r.explanation, r.error) for r in results if not r.passed]
    assert not failed, failed
    assert {nbk.read(tmp_path / str(r.notebook)).metadata.kernelspec.name for r in results} == {"kernelgym-biomed"}
