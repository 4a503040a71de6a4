"""Clinical calculators: worked examples from their sources, and the grading bands around them.

Each example is worked by hand from the published formula or point table cited in the calculator's
docstring (MDCalc and the original paper). Equation-based answers are graded within +/-5 %
(MedCalc-Bench), so an answer 4.9 % off passes and one 5.1 % off fails; rule-based scores and dates
must match exactly.
"""

from __future__ import annotations

import datetime as dt
import inspect
import typing

import pytest

from kernelgym.calculators import BY_SLUG, REGISTRY, units
from kernelgym.grading import Grader, grade
from kernelgym.importers.medcalc_bench import corrected_grader

D = dt.date

# slug -> (kwargs, expected answer, absolute tolerance of the worked example)
EXAMPLES: dict[str, tuple[dict[str, typing.Any], typing.Any, float]] = {
    # (140 - 60) x 72 / (72 x 1.0); 180 cm: BMI 22.2 (normal), IBW 75.0 > 72 kg -> actual weight
    "cockcroft_gault": ({"age": 60, "sex": "male", "weight_kg": 72, "height_cm": 180, "creatinine_mg_dl": 1.0}, 80.0, 0.01),
    # 142 x (1.0/0.9)^-1.2 x 0.9938^50 = 91.7 (NKF calculator: 92)
    "ckd_epi_2021": ({"age": 50, "sex": "male", "creatinine_mg_dl": 1.0}, 91.7, 0.1),
    # 76 y (2) + female (1) + hypertension (1) + diabetes (1)
    "cha2ds2_vasc": ({"age": 76, "sex": "female", "hypertension": True, "diabetes": True}, 5, 0),
    "mean_arterial_pressure": ({"systolic": 120, "diastolic": 80}, 93.333, 0.001),
    "bmi": ({"weight_kg": 70, "height_cm": 175}, 22.857, 0.001),
    # 8.0 + 0.8 x (4 - 2.0)
    "calcium_correction": ({"calcium_mg_dl": 8.0, "albumin_g_dl": 2.0}, 9.6, 1e-9),
    # HR 110 (1.5) + hemoptysis (1) + signs of DVT (3)
    "wells_pe": ({"heart_rate": 110, "hemoptysis": True, "dvt_signs": True}, 5.5, 0),
    # 175 x 1^-1.154 x 50^-0.203 = 79.09
    "mdrd_gfr": ({"age": 50, "sex": "male", "creatinine_mg_dl": 1.0}, 79.09, 0.01),
    # 6 ft: 50 + 2.3 x 12
    "ideal_body_weight": ({"sex": "male", "height_cm": 182.88}, 77.6, 1e-6),
    # RR 0.8 s: 400 / sqrt(0.8)
    "qtc_bazett": ({"qt_ms": 400, "heart_rate": 75}, 447.21, 0.01),
    "due_date": ({"last_menstrual_period": D(2023, 1, 1), "cycle_length": 32}, D(2023, 10, 12), 0),
    # bilirubin 2.5 (2) + albumin 3.0 (2) + INR 1.5 (1) + slight ascites (2) + no encephalopathy (1)
    "child_pugh": ({"bilirubin_mg_dl": 2.5, "albumin_g_dl": 3.0, "inr": 1.5, "ascites": "slight"}, 8, 0),
    # cancer (1) + calf swelling (1) + pitting edema (1) - alternative diagnosis (2)
    "wells_dvt": ({"active_cancer": True, "calf_swelling": True, "pitting_edema": True, "alternative_diagnosis_likely": True}, 1, 0),
    # high-risk surgery + creatinine 2.4 > 2
    "rcri": ({"high_risk_surgery": True, "creatinine_mg_dl": 2.4}, 2, 0),
    # history moderately (1) + normal ECG (0) + age 67 (2) + 2 risk factors (1) + troponin 1-3x (1)
    "heart_score": ({"history": "moderately", "ecg": "normal", "age": 67, "troponin": "1-3x", "hypertension": True, "smoking": True}, 5, 0),
    # 50 x 40 / (200 x sqrt(25))
    "fib4": ({"age": 50, "ast": 40, "alt": 25, "platelets_10e9_l": 200}, 2.0, 1e-9),
    # age 10 (+1) + 38.5 °C (+1) + no cough (+1) + exudate (+1)
    "centor": ({"age": 10, "temperature_c": 38.5, "cough_absent": True, "tonsillar_exudate_or_swelling": True}, 4, 0),
    # E2 V3 M4
    "gcs": ({"eye": "pain", "verbal": "inappropriate", "motor": "withdraws"}, 9, 0),
    # 40 + 2 x 10 + 1 x 5
    "maintenance_fluids": ({"weight_kg": 25}, 65.0, 1e-9),
    # MELD(i) 2.004 -> 2.0 -> 20; 20 + 1.32 x 7 - 0.033 x 20 x 7 = 24.62 -> 25
    "meld_na": ({"creatinine_mg_dl": 1.9, "bilirubin_mg_dl": 4.2, "inr": 1.2, "sodium": 130}, 25.0, 0),
    # prednisone 5 mg = dexamethasone 0.75 mg; 40 mg -> 6 mg
    "steroid_conversion": ({"dose_mg": 40, "from_steroid": "PredniSONE PO", "to_steroid": "Dexamethasone PO"}, 6.0, 1e-9),
    # age 70 (1) + hypertension (1) + drugs (1) + alcohol 10/week (1)
    "has_bled": ({"age": 70, "hypertension": True, "bleeding_medication": True, "alcohol_drinks_per_week": 10}, 4, 0),
    # 130 + 0.024 x 500
    "sodium_correction": ({"sodium": 130, "glucose_mg_dl": 600}, 142.0, 1e-9),
    # BUN 30 (4) + man Hb 11 (3) + SBP 95 (2) + HR 105 (1) + melena (1)
    "glasgow_blatchford": ({"bun_mg_dl": 30, "hemoglobin_g_dl": 11, "sex": "male", "systolic": 95, "heart_rate": 105, "melena": True}, 11, 0),
    # temp 39.5 (3) + MAP 65 (2) + HR 125 (2) + RR 30 (1) + PaO2 58 (3) + pH 7.30 (2) + Na 128 (2) + K 3.2 (1)
    # + Cr 2.1 (3) + Hct 28 (2) + WBC 18 (1) + GCS 13 (2) + age 66 (5) + chronic health, nonoperative (5) = 34
    "apache_ii": ({"age": 66, "temperature_c": 39.5, "map_mmhg": 65, "heart_rate": 125, "respiratory_rate": 30, "ph": 7.30,
                       "sodium": 128, "potassium": 3.2, "creatinine_mg_dl": 2.1, "hematocrit": 28, "wbc_10e3_ul": 18, "gcs": 13,
                       "fio2": 0.3, "pao2": 58, "chronic_health": True}, 34, 0),
    # woman 70 (60) + nursing home (10) + CHF (10) + RR 32 (20) + BUN 35 (20)
    "psi": ({"age": 70, "sex": "female", "nursing_home": True, "chf": True, "respiratory_rate": 32, "bun_mg_dl": 35}, 120, 0),
    # 2 x 140 + 14 / 2.8 + 180 / 18
    "serum_osmolality": ({"sodium": 140, "bun_mg_dl": 14, "glucose_mg_dl": 180}, 295.0, 1e-9),
    # glucose 5 mmol/L x insulin 10 / 22.5 (Matthews) = 90 mg/dL x 10 / 405
    "homa_ir": ({"insulin_uiu_ml": 10, "glucose_mg_dl": 90}, 2.2222, 1e-4),
    # age 72 (3) + CHF (1) + diabetes with end-organ damage (2) + metastatic tumor (6)
    "charlson": ({"age": 72, "chf": True, "diabetes": "end_organ_damage", "solid_tumor": "metastatic"}, 12, 0),
    "feverpain": ({"fever_past_24h": True, "purulence": True, "no_cough_or_coryza": True}, 3, 0),
    # age 65 (2) + major surgery (2) + BMI 28 (1) + varicose veins (1) + history of DVT (3) + bed rest (1)
    "caprini": ({"age": 65, "surgery": "major", "bmi": 28, "varicose_veins": True, "history_dvt_pe": True, "mobility": "bed_rest"}, 10, 0),
    # 0.6 x 70 x (160/140 - 1)
    "free_water_deficit": ({"age": 40, "sex": "male", "weight_kg": 70, "sodium": 160}, 6.0, 1e-9),
    "anion_gap": ({"sodium": 140, "chloride": 100, "bicarbonate": 14}, 26.0, 1e-9),
    # 100 x (20 x 2) / (140 x 100)
    "fena": ({"sodium": 140, "creatinine_mg_dl": 2, "urine_sodium": 20, "urine_creatinine_mg_dl": 100}, 0.2857, 1e-4),
    # P/F 80/0.8 = 100 ventilated (3) + platelets 45 (3) + GCS 9 (3) + bilirubin 2.5 (2) + norepinephrine 0.2 (4)
    # + creatinine 1.5 (1), urine 400 mL/day (3) -> renal 3
    "sofa": ({"pao2": 80, "fio2": 0.8, "ventilated": True, "platelets_10e3_ul": 45, "gcs": 9, "bilirubin_mg_dl": 2.5,
                  "norepinephrine": 0.2, "creatinine_mg_dl": 1.5, "urine_output_ml_day": 400}, 18, 0),
    # 200 - 50 - 150/5
    "ldl": ({"total_cholesterol_mg_dl": 200, "hdl_mg_dl": 50, "triglycerides_mg_dl": 150}, 120.0, 1e-9),
    # confusion + BUN 25 > 19 + RR 32 + age 70
    "curb65": ({"age": 70, "confusion": True, "bun_mg_dl": 25, "respiratory_rate": 32, "systolic": 120, "diastolic": 80}, 4, 0),
    # ATP III point table for this man: 16 points -> 25 % (the table rounds); the equation gives 29.0 %
    "framingham_chd": ({"age": 54, "sex": "male", "total_cholesterol_mg_dl": 235, "hdl_mg_dl": 26, "systolic": 139, "smoker": True}, 29.02, 0.01),
    # age 55 + HR 110 + SaO2 92 %
    "perc": ({"age": 55, "heart_rate": 110, "o2_saturation": 92}, 3, 0),
    # oxycodone 10 mg x 3 x 1.5 + fentanyl patch 25 µg/h x 2.4 (CDC 2022)
    "mme": ({"doses": {"oxycodone": (10, 3), "fentanyl patch": (25, 1)}}, 105.0, 1e-9),
    # temp 38.5 + HR 95 + WBC 3000
    "sirs": ({"temperature_c": 38.5, "heart_rate": 95, "respiratory_rate": 16, "wbc_per_ul": 3000}, 3, 0),
    "qtc_fridericia": ({"qt_ms": 400, "heart_rate": 75}, 430.89, 0.01),
    "qtc_framingham": ({"qt_ms": 400, "heart_rate": 75}, 430.8, 1e-9),
    "qtc_hodges": ({"qt_ms": 400, "heart_rate": 75}, 426.25, 1e-9),
    "qtc_rautaharju": ({"qt_ms": 400, "heart_rate": 75}, 433.33, 0.01),
    # sqrt(180 x 80 / 3600)
    "body_surface_area": ({"weight_kg": 80, "height_cm": 180}, 2.0, 1e-9),
    "target_weight": ({"target_bmi": 25, "height_cm": 180}, 81.0, 1e-9),
    # IBW 74.99 + 0.4 x (100 - 74.99)
    "adjusted_body_weight": ({"sex": "male", "weight_kg": 100, "height_cm": 180}, 85.0, 0.01),
    "delta_gap": ({"sodium": 140, "chloride": 100, "bicarbonate": 14}, 14.0, 1e-9),
    "delta_ratio": ({"sodium": 140, "chloride": 100, "bicarbonate": 14}, 1.4, 1e-9),
    "albumin_corrected_anion_gap": ({"sodium": 140, "chloride": 100, "bicarbonate": 14, "albumin_g_dl": 2.0}, 31.0, 1e-9),
    "albumin_corrected_delta_gap": ({"sodium": 140, "chloride": 100, "bicarbonate": 14, "albumin_g_dl": 2.0}, 19.0, 1e-9),
    "albumin_corrected_delta_ratio": ({"sodium": 140, "chloride": 100, "bicarbonate": 14, "albumin_g_dl": 2.0}, 1.9, 1e-9),
    "conception_date": ({"last_menstrual_period": D(2023, 1, 1)}, D(2023, 1, 15), 0),
    # 59 days
    "gestational_age": ({"last_menstrual_period": D(2023, 1, 1), "current_date": D(2023, 3, 1)}, (8, 3), 0),
}


def test_registry_covers_the_55_medcalc_bench_calculators() -> None:
    assert len(REGISTRY) == 55
    assert len({c.slug for c in REGISTRY.values()}) == 55
    assert set(EXAMPLES) == set(BY_SLUG)


@pytest.mark.parametrize("slug", sorted(BY_SLUG))
def test_every_calculator_is_typed_and_cites_its_source(slug: str) -> None:
    calc = BY_SLUG[slug]
    assert "MDCalc" in calc.source and len(calc.source) > 30, calc.source
    hints = typing.get_type_hints(calc.func)
    assert "return" in hints
    assert all(name in hints for name in inspect.signature(calc.func).parameters)


@pytest.mark.parametrize("slug", sorted(EXAMPLES))
def test_worked_example(slug: str) -> None:
    kwargs, expected, tol = EXAMPLES[slug]
    got = BY_SLUG[slug](**kwargs)
    if isinstance(expected, (dt.date, tuple)):
        assert got == expected
    elif BY_SLUG[slug].output == "integer":
        assert got == expected and float(got).is_integer()
    else:
        assert got == pytest.approx(expected, abs=tol)


@pytest.mark.parametrize("slug", sorted(s for s, c in BY_SLUG.items() if c.output == "decimal"))
def test_equation_band_is_plus_minus_five_percent(slug: str) -> None:
    calc = BY_SLUG[slug]
    value = float(calc(**EXAMPLES[slug][0]))
    grader = corrected_grader(calc)
    assert grade(value, value, grader).passed
    for inside in (value * 1.049, value * 0.951):
        assert grade(inside, value, grader).passed, (slug, inside)
    for outside in (value * 1.051, value * 0.949):
        assert not grade(outside, value, grader).passed, (slug, outside)


@pytest.mark.parametrize("slug", sorted(s for s, c in BY_SLUG.items() if c.output == "integer"))
def test_rule_based_scores_are_exact(slug: str) -> None:
    calc = BY_SLUG[slug]
    value = calc(**EXAMPLES[slug][0])
    grader = corrected_grader(calc)
    assert grade(value, value, grader).passed
    assert grade(str(value), value, grader).passed
    for wrong in (value + 1, value - 1, value + 0.5):
        assert not grade(wrong, value, grader).passed, (slug, wrong)


def test_dates_are_exact_in_iso_or_us_format() -> None:
    g = corrected_grader(BY_SLUG["due_date"])
    assert grade("2023-10-12", "2023-10-12", g).passed
    assert grade("10/12/2023", "2023-10-12", g).passed
    assert not grade("2023-10-13", "2023-10-12", g).passed
    assert not grade("12/10/2023", "2023-10-12", g).passed
    ga = corrected_grader(BY_SLUG["gestational_age"])
    assert grade([8, 3], [8, 3], ga).passed
    assert not grade([8, 4], [8, 3], ga).passed and not grade([3, 8], [8, 3], ga).passed


def test_range_rule_keeps_medcalc_bench_bounds() -> None:
    """MedCalc-Bench accepts a number within [Lower Limit, Upper Limit], bounds included."""
    g = Grader(rule="range", lower=23.9761, upper=26.4999)
    assert grade(23.9761, 25.238, g).passed and grade("26.4999", 25.238, g).passed
    assert not grade(23.976, 25.238, g).passed and not grade(26.5, 25.238, g).passed
    assert not grade("twenty-five", 25.238, g).passed and not grade(None, 25.238, g).passed


# ---------------------------------------------------------------- boundaries of the point tables


def test_published_cut_points() -> None:
    gbs, cp, curb = BY_SLUG["glasgow_blatchford"], BY_SLUG["child_pugh"], BY_SLUG["curb65"]
    # Blatchford 2000: men 12.0-12.9 g/dL 1 point, >= 13 none; women 10.0-11.9 1 point
    assert gbs(bun_mg_dl=10, hemoglobin_g_dl=13.0, sex="male", systolic=120) == 0
    assert gbs(bun_mg_dl=10, hemoglobin_g_dl=12.9, sex="male", systolic=120) == 1
    assert gbs(bun_mg_dl=10, hemoglobin_g_dl=12.0, sex="female", systolic=120) == 0
    assert gbs(bun_mg_dl=18.2, hemoglobin_g_dl=15, sex="male", systolic=120) == 2
    # Pugh 1973: bilirubin 2-3 mg/dL 2 points, albumin 2.8-3.5 g/dL 2 points, INR 1.7-2.3 2 points
    assert cp(bilirubin_mg_dl=2.0, albumin_g_dl=3.6, inr=1.0) == 6
    assert cp(bilirubin_mg_dl=1.0, albumin_g_dl=2.8, inr=1.0) == 6
    assert cp(bilirubin_mg_dl=1.0, albumin_g_dl=3.6, inr=2.3) == 6
    assert cp(bilirubin_mg_dl=3.1, albumin_g_dl=2.7, inr=2.4, ascites="moderate", encephalopathy="grade_3_4") == 15
    # Lim 2003: BUN > 19 mg/dL, RR >= 30, SBP < 90 or DBP <= 60, age >= 65
    assert curb(age=65, bun_mg_dl=19, respiratory_rate=29, systolic=90, diastolic=61) == 1
    assert curb(age=64, bun_mg_dl=19.1, respiratory_rate=30, systolic=89, diastolic=61) == 3
    assert BY_SLUG["sirs"](heart_rate=90, temperature_c=38.0, wbc_per_ul=12000) == 0
    assert BY_SLUG["perc"](age=49, heart_rate=99, o2_saturation=95) == 0


def test_ckd_epi_uses_kappa_0_9_for_men() -> None:
    """Audit erratum: v1.0 used kappa 0.7 for men with creatinine <= 0.9 mg/dL."""
    egfr = BY_SLUG["ckd_epi_2021"](age=80, sex="male", creatinine_mg_dl=0.87)
    assert egfr == pytest.approx(142 * (0.87 / 0.9) ** -0.302 * 0.9938 ** 80, rel=1e-9)


def test_meld_na_rounds_meld_i_to_the_tenth() -> None:
    """Audit erratum: v1.0 rounded MELD(i) to a whole number (1.83 -> 2 -> 20 instead of 18)."""
    assert BY_SLUG["meld_na"](creatinine_mg_dl=2.0, bilirubin_mg_dl=0.7, inr=1.59, sodium=142) == 18
    # floors at 1.0, dialysis sets creatinine to 4.0, sodium bounded to 125-137, cap 40
    assert BY_SLUG["meld_na"](creatinine_mg_dl=0.5, bilirubin_mg_dl=0.5, inr=0.9, sodium=150) == 6
    assert BY_SLUG["meld_na"](creatinine_mg_dl=1.0, bilirubin_mg_dl=40, inr=8, sodium=110,
                              dialysis_twice_or_cvvhd=True) == 40


def test_unit_conversions() -> None:
    assert units.creatinine_mg_dl(88.4, "µmol/L") == pytest.approx(1.0, abs=1e-3)
    assert units.bilirubin_mg_dl(17.1, "µmol/L") == pytest.approx(1.0, abs=1e-3)
    assert units.glucose_mg_dl(5.0, "mmol/L") == pytest.approx(90.08)
    assert units.bun_mg_dl(10, "mmol/L") == pytest.approx(28.0)
    assert units.calcium_mg_dl(2.5, "mmol/L") == pytest.approx(10.02)
    assert units.celsius(98.6, "degrees fahrenheit") == pytest.approx(37.0)
    assert units.celsius(37.2, "degrees celsisus") == 37.2
    assert units.kilograms(154, "lbs") == pytest.approx(69.85, abs=0.01)
    assert units.centimetres(70, "in") == pytest.approx(177.8)
    assert units.years(18, "months") == 1.5
    assert units.per_ul(9400, "m^3") == 9400 and units.per_ul(7.5, "10^9/L") == 7500
    with pytest.raises(units.UnitError):
        units.kilograms(1, "stone")
