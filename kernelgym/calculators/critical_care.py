"""Critical care: Glasgow Coma Scale, APACHE II, SOFA, SIRS criteria.

Temperatures in °C, pressures in mm Hg, creatinine and bilirubin in mg/dL, counts per µL
(= per mm³), FiO2 as a fraction (0.21-1.0), vasopressor doses in µg/kg/min.
"""

from __future__ import annotations

from typing import Literal

GcsEye = Literal["spontaneous", "verbal", "pain", "none", "not_testable"]
GcsVerbal = Literal["oriented", "confused", "inappropriate", "incomprehensible", "none", "not_testable"]
GcsMotor = Literal["obeys", "localizes", "withdraws", "flexion", "extension", "none", "not_testable"]


def gcs(eye: GcsEye, verbal: GcsVerbal, motor: GcsMotor) -> int:
    """Glasgow Coma Scale (3-15): eye 1-4 + verbal 1-5 + motor 1-6.

    Eye: spontaneous 4, to verbal command 3, to pain 2, none 1. Verbal: oriented 5, confused 4,
    inappropriate words 3, incomprehensible sounds 2, none 1. Motor: obeys commands 6, localizes
    pain 5, withdraws from pain 4, abnormal flexion 3, extension 2, none 1.
    The published scale leaves a non-testable component unscored (Teasdale 2014); to give a number,
    a non-testable eye or verbal component is scored 4 and motor 6 (MedCalc-Bench's convention).
    Source: Teasdale G, Jennett B. Assessment of coma and impaired consciousness. Lancet
    1974;2:81-84; Teasdale G et al. The Glasgow Coma Scale at 40 years. Lancet Neurol 2014;13:844;
    MDCalc "Glasgow Coma Scale/Score (GCS)".
    """
    e = {"spontaneous": 4, "verbal": 3, "pain": 2, "none": 1, "not_testable": 4}[eye]
    v = {"oriented": 5, "confused": 4, "inappropriate": 3, "incomprehensible": 2, "none": 1, "not_testable": 4}[verbal]
    m = {"obeys": 6, "localizes": 5, "withdraws": 4, "flexion": 3, "extension": 2, "none": 1, "not_testable": 6}[motor]
    return e + v + m


ApacheAdmission = Literal["nonoperative", "emergency_postoperative", "elective_postoperative"]


def apache_ii(
    age: float,
    temperature_c: float,
    map_mmhg: float,
    heart_rate: float,
    respiratory_rate: float,
    ph: float,
    sodium: float,
    potassium: float,
    creatinine_mg_dl: float,
    hematocrit: float,
    wbc_10e3_ul: float,
    gcs: float,
    fio2: float,
    pao2: float | None = None,
    a_a_gradient: float | None = None,
    acute_renal_failure: bool = False,
    chronic_health: bool = False,
    admission: ApacheAdmission = "nonoperative",
) -> int:
    """APACHE II score (0-71).

    Acute physiology (worst values in 24 h; each 0-4): rectal temperature, mean arterial pressure,
    heart rate, respiratory rate, oxygenation (FiO2 >= 0.5: A-a gradient; else PaO2), arterial pH,
    sodium, potassium, creatinine (points doubled in acute renal failure), hematocrit, WBC
    (10^3/µL), and 15 - GCS. Age: <= 44 0, 45-54 2, 55-64 3, 65-74 5, >= 75 6. Chronic health:
    history of severe organ insufficiency or immunocompromise: nonoperative or emergency
    postoperative 5, elective postoperative 2.
    Source: Knaus WA, Draper EA, Wagner DP, Zimmerman JE. APACHE II: a severity of disease
    classification system. Crit Care Med 1985;13:818-829; MDCalc "APACHE II Score".
    """
    t = temperature_c
    score = 4 if t >= 41 else 3 if t >= 39 else 1 if t >= 38.5 else 0 if t >= 36 else 1 if t >= 34 else 2 if t >= 32 else 3 if t >= 30 else 4
    m = map_mmhg
    score += 4 if m >= 160 else 3 if m >= 130 else 2 if m >= 110 else 0 if m >= 70 else 2 if m >= 50 else 4
    h = heart_rate
    score += 4 if h >= 180 else 3 if h >= 140 else 2 if h >= 110 else 0 if h >= 70 else 2 if h >= 55 else 3 if h >= 40 else 4
    r = respiratory_rate
    score += 4 if r >= 50 else 3 if r >= 35 else 1 if r >= 25 else 0 if r >= 12 else 1 if r >= 10 else 2 if r >= 6 else 4
    if fio2 >= 0.5:
        if a_a_gradient is not None:
            g = a_a_gradient
            score += 4 if g >= 500 else 3 if g >= 350 else 2 if g >= 200 else 0
    elif pao2 is not None:
        p = pao2
        score += 0 if p > 70 else 1 if p >= 61 else 3 if p >= 55 else 4
    score += 4 if ph >= 7.7 else 3 if ph >= 7.6 else 1 if ph >= 7.5 else 0 if ph >= 7.33 else 2 if ph >= 7.25 else 3 if ph >= 7.15 else 4
    n = sodium
    score += 4 if n >= 180 else 3 if n >= 160 else 2 if n >= 155 else 1 if n >= 150 else 0 if n >= 130 else 2 if n >= 120 else 3 if n >= 111 else 4
    k = potassium
    score += 4 if k >= 7 else 3 if k >= 6 else 1 if k >= 5.5 else 0 if k >= 3.5 else 1 if k >= 3 else 2 if k >= 2.5 else 4
    c = creatinine_mg_dl
    cr_points = 4 if c >= 3.5 else 3 if c >= 2 else 2 if c >= 1.5 else 0 if c >= 0.6 else 2
    score += 2 * cr_points if acute_renal_failure else cr_points
    hct = hematocrit
    score += 4 if hct >= 60 else 2 if hct >= 50 else 1 if hct >= 46 else 0 if hct >= 30 else 2 if hct >= 20 else 4
    w = wbc_10e3_ul
    score += 4 if w >= 40 else 2 if w >= 20 else 1 if w >= 15 else 0 if w >= 3 else 2 if w >= 1 else 4
    score += 15 - round(gcs)
    score += 6 if age >= 75 else 5 if age >= 65 else 3 if age >= 55 else 2 if age >= 45 else 0
    if chronic_health:
        score += 2 if admission == "elective_postoperative" else 5
    return score


def sofa(
    pao2: float | None = None,
    fio2: float | None = None,
    ventilated: bool = False,
    platelets_10e3_ul: float | None = None,
    gcs: float = 15,
    bilirubin_mg_dl: float | None = None,
    map_mmhg: float | None = None,
    dopamine: float = 0.0,
    dobutamine: float = 0.0,
    epinephrine: float = 0.0,
    norepinephrine: float = 0.0,
    creatinine_mg_dl: float | None = None,
    urine_output_ml_day: float | None = None,
) -> int:
    """Sequential Organ Failure Assessment score (0-24); a missing value scores 0.

    Respiration, PaO2/FiO2 (mm Hg): >= 400 0, < 400 1, < 300 2, < 200 with respiratory support 3,
    < 100 with respiratory support 4 (without support at most 2). Coagulation, platelets 10^3/µL:
    < 150 1, < 100 2, < 50 3, < 20 4. Liver, bilirubin mg/dL: 1.2-1.9 1, 2.0-5.9 2, 6.0-11.9 3,
    >= 12 4. Cardiovascular: MAP < 70 1; dopamine <= 5 or any dobutamine 2; dopamine > 5,
    epinephrine <= 0.1 or norepinephrine <= 0.1 3; dopamine > 15, epinephrine > 0.1 or
    norepinephrine > 0.1 4 (µg/kg/min). CNS, GCS: 13-14 1, 10-12 2, 6-9 3, < 6 4. Renal, the
    higher of creatinine (1.2-1.9 1, 2.0-3.4 2, 3.5-4.9 3, >= 5 4) and urine output
    (< 500 mL/day 3, < 200 mL/day 4).
    Source: Vincent JL et al. The SOFA (Sepsis-related Organ Failure Assessment) score to describe
    organ dysfunction/failure. Intensive Care Med 1996;22:707-710; MDCalc "Sequential Organ Failure
    Assessment (SOFA) Score".
    """
    score = 0
    if pao2 is not None and fio2:
        ratio = pao2 / fio2
        if ratio < 200 and ventilated:
            score += 4 if ratio < 100 else 3
        else:
            score += 2 if ratio < 300 else 1 if ratio < 400 else 0
    if platelets_10e3_ul is not None:
        p = platelets_10e3_ul
        score += 4 if p < 20 else 3 if p < 50 else 2 if p < 100 else 1 if p < 150 else 0
    g = gcs
    score += 0 if g >= 15 else 1 if g >= 13 else 2 if g >= 10 else 3 if g >= 6 else 4
    if bilirubin_mg_dl is not None:
        b = bilirubin_mg_dl
        score += 4 if b >= 12 else 3 if b >= 6 else 2 if b >= 2 else 1 if b >= 1.2 else 0
    if dopamine > 15 or epinephrine > 0.1 or norepinephrine > 0.1:
        score += 4
    elif dopamine > 5 or epinephrine > 0 or norepinephrine > 0:
        score += 3
    elif dopamine > 0 or dobutamine > 0:
        score += 2
    elif map_mmhg is not None and map_mmhg < 70:
        score += 1
    renal = 0
    if creatinine_mg_dl is not None:
        c = creatinine_mg_dl
        renal = 4 if c >= 5 else 3 if c >= 3.5 else 2 if c >= 2 else 1 if c >= 1.2 else 0
    if urine_output_ml_day is not None:
        u = urine_output_ml_day
        renal = max(renal, 4 if u < 200 else 3 if u < 500 else 0)
    return score + renal


def sirs(
    temperature_c: float | None = None,
    heart_rate: float | None = None,
    respiratory_rate: float | None = None,
    paco2: float | None = None,
    wbc_per_ul: float | None = None,
    bands_percent: float | None = None,
) -> int:
    """Number of SIRS criteria met (0-4); a missing value does not meet its criterion.

    Temperature > 38 or < 36 °C; heart rate > 90; respiratory rate > 20 or PaCO2 < 32 mm Hg;
    WBC > 12,000 or < 4,000 /mm³ or > 10 % bands.
    Source: Bone RC et al. Definitions for sepsis and organ failure (ACCP/SCCM Consensus Conference).
    Chest 1992;101:1644-1655; MDCalc "SIRS, Sepsis, and Septic Shock Criteria".
    """
    count = 0
    if temperature_c is not None and (temperature_c > 38 or temperature_c < 36):
        count += 1
    if heart_rate is not None and heart_rate > 90:
        count += 1
    if (respiratory_rate is not None and respiratory_rate > 20) or (paco2 is not None and paco2 < 32):
        count += 1
    wbc_abnormal = wbc_per_ul is not None and (wbc_per_ul > 12000 or wbc_per_ul < 4000)
    if wbc_abnormal or (bands_percent is not None and bands_percent > 10):
        count += 1
    return count
