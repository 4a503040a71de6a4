"""Liver and GI bleeding: Child-Pugh, MELD Na (OPTN), FIB-4, Glasgow-Blatchford."""

from __future__ import annotations

import math
from typing import Literal

Ascites = Literal["absent", "slight", "moderate"]
Encephalopathy = Literal["none", "grade_1_2", "grade_3_4"]
Sex = Literal["male", "female"]


def child_pugh(
    bilirubin_mg_dl: float,
    albumin_g_dl: float,
    inr: float,
    ascites: Ascites = "absent",
    encephalopathy: Encephalopathy = "none",
) -> int:
    """Child-Pugh score for cirrhosis (5-15).

    Bilirubin < 2 / 2-3 / > 3 mg/dL: 1/2/3. Albumin > 3.5 / 2.8-3.5 / < 2.8 g/dL: 1/2/3.
    INR < 1.7 / 1.7-2.3 / > 2.3: 1/2/3. Ascites absent/slight/moderate: 1/2/3.
    Encephalopathy none / grade 1-2 / grade 3-4: 1/2/3.
    Source: Pugh RN et al. Transection of the oesophagus for bleeding oesophageal varices. Br J Surg
    1973;60:646-649; MDCalc "Child-Pugh Score for Cirrhosis Mortality".
    """
    score = 1 if bilirubin_mg_dl < 2 else 2 if bilirubin_mg_dl <= 3 else 3
    score += 1 if albumin_g_dl > 3.5 else 2 if albumin_g_dl >= 2.8 else 3
    score += 1 if inr < 1.7 else 2 if inr <= 2.3 else 3
    score += {"absent": 1, "slight": 2, "moderate": 3}[ascites]
    score += {"none": 1, "grade_1_2": 2, "grade_3_4": 3}[encephalopathy]
    return score


def meld_na(
    creatinine_mg_dl: float,
    bilirubin_mg_dl: float,
    inr: float,
    sodium: float,
    dialysis_twice_or_cvvhd: bool = False,
) -> float:
    """MELD Na score (UNOS/OPTN, 2016), 6-40.

    Creatinine, bilirubin and INR below 1.0 are set to 1.0; creatinine above 4.0, or dialysis twice
    or 24 h of CVVHD in the past week, sets creatinine to 4.0; sodium is bounded to 125-137 mEq/L.
    MELD(i) = 0.957 ln(Cr) + 0.378 ln(bilirubin) + 1.120 ln(INR) + 0.643, rounded to the tenth and
    multiplied by 10. If MELD(i) > 11: MELD = MELD(i) + 1.32 (137 - Na) - 0.033 MELD(i) (137 - Na).
    The result is rounded to a whole number and capped at 40.
    Source: OPTN/UNOS Policy 9.1 and "MELD Serum Sodium Policy Clarification" (2016); Kim WR et al.
    Hyponatremia and mortality among patients on the liver-transplant waiting list. N Engl J Med
    2008;359:1018-1026; MDCalc "MELD Na (UNOS/OPTN)".
    """
    cr = 4.0 if dialysis_twice_or_cvvhd else min(max(creatinine_mg_dl, 1.0), 4.0)
    bili = max(bilirubin_mg_dl, 1.0)
    inr_ = max(inr, 1.0)
    na = min(max(sodium, 125.0), 137.0)
    meld_i = 0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(inr_) + 0.643
    meld_i = round(meld_i, 1) * 10.0
    meld = meld_i
    if meld_i > 11:
        meld = meld_i + 1.32 * (137.0 - na) - 0.033 * meld_i * (137.0 - na)
    return float(min(round(meld), 40))


def fib4(age: float, ast: float, alt: float, platelets_10e9_l: float) -> float:
    """FIB-4 index: age x AST / (platelets (10^9/L) x sqrt(ALT)); AST and ALT in U/L.

    Source: Sterling RK et al. Development of a simple noninvasive index to predict significant
    fibrosis in patients with HIV/HCV coinfection. Hepatology 2006;43:1317-1325;
    MDCalc "Fibrosis-4 (FIB-4) Index for Liver Fibrosis".
    """
    return age * ast / (platelets_10e9_l * math.sqrt(alt))


def glasgow_blatchford(
    bun_mg_dl: float,
    hemoglobin_g_dl: float,
    sex: Sex,
    systolic: float,
    heart_rate: float = 0.0,
    melena: bool = False,
    syncope: bool = False,
    hepatic_disease: bool = False,
    cardiac_failure: bool = False,
) -> int:
    """Glasgow-Blatchford bleeding score (0-23).

    BUN (mg/dL) 18.2-22.3 2, 22.4-27.9 3, 28-69.9 4, >= 70 6 (urea 6.5/8/10/25 mmol/L).
    Hemoglobin (g/dL), men 12-12.9 1, 10-11.9 3, < 10 6; women 10-11.9 1, < 10 6.
    Systolic BP 100-109 1, 90-99 2, < 90 3. Pulse >= 100 1; melena 1; syncope 2; hepatic disease 2;
    cardiac failure 2.
    Source: Blatchford O, Murray WR, Blatchford M. A risk score to predict need for treatment for
    upper-gastrointestinal haemorrhage. Lancet 2000;356:1318-1321; MDCalc "Glasgow-Blatchford
    Bleeding Score (GBS)".
    """
    score = 0
    if bun_mg_dl >= 70:
        score += 6
    elif bun_mg_dl >= 28:
        score += 4
    elif bun_mg_dl >= 22.4:
        score += 3
    elif bun_mg_dl >= 18.2:
        score += 2
    if sex == "male":
        score += 6 if hemoglobin_g_dl < 10 else 3 if hemoglobin_g_dl < 12 else 1 if hemoglobin_g_dl < 13 else 0
    else:
        score += 6 if hemoglobin_g_dl < 10 else 1 if hemoglobin_g_dl < 12 else 0
    score += 3 if systolic < 90 else 2 if systolic < 100 else 1 if systolic < 110 else 0
    score += 1 if heart_rate >= 100 else 0
    score += int(melena) + 2 * int(syncope) + 2 * int(hepatic_disease) + 2 * int(cardiac_failure)
    return score
