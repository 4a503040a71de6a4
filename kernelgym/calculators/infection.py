"""Infection: Centor (McIsaac) and FeverPAIN for pharyngitis, CURB-65 and PSI for pneumonia."""

from __future__ import annotations

from typing import Literal

Sex = Literal["male", "female"]


def centor_mcisaac(
    age: float,
    temperature_c: float | None = None,
    cough_absent: bool = False,
    tender_anterior_nodes: bool = False,
    tonsillar_exudate_or_swelling: bool = False,
) -> int:
    """Modified Centor (McIsaac) score for streptococcal pharyngitis (-1 to 5).

    Age 3-14 +1, 15-44 0, >= 45 -1; exudate or swelling on tonsils +1; tender/swollen anterior
    cervical nodes +1; temperature > 38 °C +1; cough absent +1. (Ages under 3 fall outside the
    derivation population and get no age point.)
    Source: McIsaac WJ et al. A clinical score to reduce unnecessary antibiotic use in patients with
    sore throat. CMAJ 1998;158:75-83; MDCalc "Centor Score (Modified/McIsaac) for Strep Pharyngitis".
    """
    score = 1 if 3 <= age < 15 else -1 if age >= 45 else 0
    if temperature_c is not None and temperature_c > 38:
        score += 1
    score += int(cough_absent) + int(tender_anterior_nodes) + int(tonsillar_exudate_or_swelling)
    return score


def feverpain(
    fever_past_24h: bool = False,
    purulence: bool = False,
    attend_rapidly: bool = False,
    severely_inflamed_tonsils: bool = False,
    no_cough_or_coryza: bool = False,
) -> int:
    """FeverPAIN score for streptococcal pharyngitis (0-5), one point each.

    Fever in the past 24 h; Purulence (pharyngeal/tonsillar exudate); Attend rapidly (symptom onset
    <= 3 days); severely Inflamed tonsils; No cough or coryza.
    Source: Little P et al. Clinical score and rapid antigen detection test to guide antibiotic use for
    sore throats. BMJ 2013;347:f5806; MDCalc "FeverPAIN Score for Strep Pharyngitis".
    """
    return int(fever_past_24h) + int(purulence) + int(attend_rapidly) + int(severely_inflamed_tonsils) + int(no_cough_or_coryza)


def curb65(
    age: float,
    confusion: bool = False,
    bun_mg_dl: float | None = None,
    respiratory_rate: float | None = None,
    systolic: float | None = None,
    diastolic: float | None = None,
) -> int:
    """CURB-65 pneumonia severity score (0-5), one point each.

    Confusion; BUN > 19 mg/dL (urea > 7 mmol/L); respiratory rate >= 30; SBP < 90 or DBP <= 60;
    age >= 65.
    Source: Lim WS et al. Defining community acquired pneumonia severity on presentation to hospital:
    an international derivation and validation study. Thorax 2003;58:377-382; MDCalc "CURB-65 Score
    for Pneumonia Severity".
    """
    score = int(confusion) + int(age >= 65)
    score += int(bun_mg_dl is not None and bun_mg_dl > 19)
    score += int(respiratory_rate is not None and respiratory_rate >= 30)
    low_bp = (systolic is not None and systolic < 90) or (diastolic is not None and diastolic <= 60)
    return score + int(low_bp)


def psi(
    age: float,
    sex: Sex,
    nursing_home: bool = False,
    neoplastic_disease: bool = False,
    liver_disease: bool = False,
    chf: bool = False,
    cerebrovascular_disease: bool = False,
    renal_disease: bool = False,
    altered_mental_status: bool = False,
    respiratory_rate: float | None = None,
    systolic: float | None = None,
    temperature_c: float | None = None,
    heart_rate: float | None = None,
    ph: float | None = None,
    bun_mg_dl: float | None = None,
    sodium: float | None = None,
    glucose_mg_dl: float | None = None,
    hematocrit: float | None = None,
    pao2: float | None = None,
    pleural_effusion: bool = False,
) -> int:
    """Pneumonia Severity Index (PORT score); a missing finding scores 0.

    Age in years (women: age - 10); nursing home +10; neoplastic disease +30; liver disease +20;
    CHF +10; cerebrovascular disease +10; renal disease +10; altered mental status +20;
    respiratory rate >= 30 +20; SBP < 90 +20; temperature < 35 or >= 40 °C +15; pulse >= 125 +10;
    pH < 7.35 +30; BUN >= 30 mg/dL +20; sodium < 130 +20; glucose >= 250 mg/dL +10;
    hematocrit < 30 % +10; PaO2 < 60 mm Hg +10; pleural effusion +10.
    Source: Fine MJ et al. A prediction rule to identify low-risk patients with community-acquired
    pneumonia. N Engl J Med 1997;336:243-250; MDCalc "PSI/PORT Score: Pneumonia Severity Index".
    """
    score = age - 10 if sex == "female" else age
    score += 10 * nursing_home + 30 * neoplastic_disease + 20 * liver_disease + 10 * chf
    score += 10 * cerebrovascular_disease + 10 * renal_disease + 20 * altered_mental_status
    if respiratory_rate is not None and respiratory_rate >= 30:
        score += 20
    if systolic is not None and systolic < 90:
        score += 20
    if temperature_c is not None and (temperature_c < 35 or temperature_c >= 40):
        score += 15
    if heart_rate is not None and heart_rate >= 125:
        score += 10
    if ph is not None and ph < 7.35:
        score += 30
    if bun_mg_dl is not None and bun_mg_dl >= 30:
        score += 20
    if sodium is not None and sodium < 130:
        score += 20
    if glucose_mg_dl is not None and glucose_mg_dl >= 250:
        score += 10
    if hematocrit is not None and hematocrit < 30:
        score += 10
    if pao2 is not None and pao2 < 60:
        score += 10
    score += 10 * pleural_effusion
    return round(score)
