"""Cardiology: mean arterial pressure, corrected QT (5 formulas), CHA2DS2-VASc, HAS-BLED, HEART,
Revised Cardiac Risk Index, Framingham hard CHD risk.

Blood pressures in mm Hg, heart rate in beats/min, QT in ms, creatinine and lipids in mg/dL.
"""

from __future__ import annotations

import math
from typing import Literal

Sex = Literal["male", "female"]


def mean_arterial_pressure(systolic: float, diastolic: float) -> float:
    """Mean arterial pressure (mm Hg): (SBP + 2 x DBP) / 3.

    Source: MDCalc "Mean Arterial Pressure (MAP)"; Zheng L et al. Mean arterial pressure: a better
    marker of stroke in patients with uncontrolled hypertension. J Hum Hypertens 2008;22:250.
    """
    return (systolic + 2.0 * diastolic) / 3.0


def qtc_bazett(qt_ms: float, heart_rate: float) -> float:
    """QTc (ms), Bazett: QT / sqrt(RR), RR = 60 / HR in seconds.

    Source: Bazett HC. An analysis of the time-relations of electrocardiograms. Heart 1920;7:353-370;
    MDCalc "Corrected QT Interval (QTc)".
    """
    rr = 60.0 / heart_rate
    return qt_ms / math.sqrt(rr)


def qtc_fridericia(qt_ms: float, heart_rate: float) -> float:
    """QTc (ms), Fridericia: QT / RR^(1/3), RR in seconds.

    Source: Fridericia LS. Die Systolendauer im Elektrokardiogramm bei normalen Menschen und bei
    Herzkranken. Acta Med Scand 1920;53:469-486; MDCalc "Corrected QT Interval (QTc)".
    """
    rr = 60.0 / heart_rate
    return qt_ms / rr ** (1.0 / 3.0)


def qtc_framingham(qt_ms: float, heart_rate: float) -> float:
    """QTc (ms), Framingham: QT + 154 x (1 - RR), RR in seconds.

    Source: Sagie A et al. An improved method for adjusting the QT interval for heart rate (the
    Framingham Heart Study). Am J Cardiol 1992;70:797-801; MDCalc "Corrected QT Interval (QTc)".
    """
    rr = 60.0 / heart_rate
    return qt_ms + 154.0 * (1.0 - rr)


def qtc_hodges(qt_ms: float, heart_rate: float) -> float:
    """QTc (ms), Hodges: QT + 1.75 x (HR - 60).

    Source: Hodges M et al. Bazett's QT correction reviewed: evidence that a linear QT correction for
    heart rate is better. J Am Coll Cardiol 1983;1:694; MDCalc "Corrected QT Interval (QTc)".
    """
    return qt_ms + 1.75 * (heart_rate - 60.0)


def qtc_rautaharju(qt_ms: float, heart_rate: float) -> float:
    """QTc (ms), Rautaharju: QT x (120 + HR) / 180.

    Source: Rautaharju PM et al. Assessment of prolonged QT and JT intervals in ventricular
    conduction defects. Am J Cardiol 2014 (QT x (120 + HR)/180); MDCalc "Corrected QT Interval (QTc)".
    """
    return qt_ms * (120.0 + heart_rate) / 180.0


def cha2ds2_vasc(
    age: float,
    sex: Sex,
    chf: bool = False,
    hypertension: bool = False,
    stroke_tia_thromboembolism: bool = False,
    vascular_disease: bool = False,
    diabetes: bool = False,
) -> int:
    """CHA2DS2-VASc stroke risk score in atrial fibrillation (0-9).

    CHF 1, hypertension 1, age >= 75 2 (65-74 1), diabetes 1, prior stroke/TIA/thromboembolism 2,
    vascular disease (prior MI, peripheral artery disease, aortic plaque) 1, female sex 1.
    Source: Lip GYH et al. Refining clinical risk stratification for predicting stroke and
    thromboembolism in atrial fibrillation. Chest 2010;137:263-272; MDCalc "CHA2DS2-VASc Score".
    """
    score = 0
    if age >= 75:
        score += 2
    elif age >= 65:
        score += 1
    score += 1 if sex == "female" else 0
    score += int(chf) + int(hypertension) + int(diabetes) + int(vascular_disease)
    score += 2 if stroke_tia_thromboembolism else 0
    return score


def has_bled(
    age: float,
    hypertension: bool = False,
    renal_disease: bool = False,
    liver_disease: bool = False,
    stroke: bool = False,
    prior_bleeding: bool = False,
    labile_inr: bool = False,
    bleeding_medication: bool = False,
    alcohol_drinks_per_week: float = 0,
) -> int:
    """HAS-BLED major bleeding risk score (0-9), one point each.

    Uncontrolled hypertension (SBP > 160), abnormal renal function, abnormal liver function, stroke,
    bleeding history or predisposition, labile INR, elderly (age > 65), drugs predisposing to bleeding
    (antiplatelets, NSAIDs), alcohol (>= 8 drinks/week).
    Source: Pisters R et al. A novel user-friendly score (HAS-BLED) to assess 1-year risk of major
    bleeding in patients with atrial fibrillation. Chest 2010;138:1093-1100; MDCalc "HAS-BLED Score".
    """
    score = int(hypertension) + int(renal_disease) + int(liver_disease) + int(stroke)
    score += int(prior_bleeding) + int(labile_inr) + int(bleeding_medication)
    score += 1 if age > 65 else 0
    score += 1 if alcohol_drinks_per_week >= 8 else 0
    return score


HeartHistory = Literal["slightly", "moderately", "highly"]
HeartEcg = Literal["normal", "nonspecific", "st_deviation"]
HeartTroponin = Literal["normal", "1-3x", ">3x"]


def heart_score(
    history: HeartHistory,
    ecg: HeartEcg,
    age: float,
    troponin: HeartTroponin = "normal",
    hypertension: bool = False,
    hypercholesterolemia: bool = False,
    diabetes: bool = False,
    obesity: bool = False,
    smoking: bool = False,
    family_history: bool = False,
    atherosclerotic_disease: bool = False,
) -> int:
    """HEART score for major adverse cardiac events (0-10).

    History: slightly 0 / moderately 1 / highly suspicious 2. ECG: normal 0 / non-specific
    repolarization disturbance 1 / significant ST deviation 2. Age: < 45 0 / 45-64 1 / >= 65 2.
    Risk factors (hypertension, hypercholesterolemia, diabetes, obesity BMI > 30, smoking, family
    history of CVD): none 0 / 1-2 1 / >= 3 or known atherosclerotic disease (prior MI, PCI/CABG,
    CVA/TIA, peripheral arterial disease) 2. Initial troponin: <= normal limit 0 / 1-3x 1 / > 3x 2.
    Source: Six AJ, Backus BE, Kelder JC. Chest pain in the emergency room: value of the HEART score.
    Neth Heart J 2008;16:191-196; MDCalc "HEART Score for Major Cardiac Events".
    """
    score = {"slightly": 0, "moderately": 1, "highly": 2}[history]
    score += {"normal": 0, "nonspecific": 1, "st_deviation": 2}[ecg]
    score += 2 if age >= 65 else 1 if age >= 45 else 0
    n_risk = sum(map(int, (hypertension, hypercholesterolemia, diabetes, obesity, smoking, family_history)))
    score += 2 if (n_risk >= 3 or atherosclerotic_disease) else 1 if n_risk >= 1 else 0
    score += {"normal": 0, "1-3x": 1, ">3x": 2}[troponin]
    return score


def rcri(
    high_risk_surgery: bool = False,
    ischemic_heart_disease: bool = False,
    heart_failure: bool = False,
    cerebrovascular_disease: bool = False,
    insulin_treatment: bool = False,
    creatinine_mg_dl: float = 0.0,
) -> int:
    """Revised Cardiac Risk Index (0-6), one point each.

    High-risk (intraperitoneal, intrathoracic or suprainguinal vascular) surgery, ischemic heart
    disease, congestive heart failure, cerebrovascular disease, preoperative insulin treatment,
    preoperative creatinine > 2 mg/dL.
    Source: Lee TH et al. Derivation and prospective validation of a simple index for prediction of
    cardiac risk of major noncardiac surgery. Circulation 1999;100:1043-1049; MDCalc "Revised Cardiac
    Risk Index for Pre-Operative Risk".
    """
    score = int(high_risk_surgery) + int(ischemic_heart_disease) + int(heart_failure)
    score += int(cerebrovascular_disease) + int(insulin_treatment)
    score += 1 if creatinine_mg_dl > 2.0 else 0
    return score


def framingham_hard_chd(
    age: float,
    sex: Sex,
    total_cholesterol_mg_dl: float,
    hdl_mg_dl: float,
    systolic: float,
    bp_treated: bool = False,
    smoker: bool = False,
) -> float:
    """10-year risk (%) of hard coronary heart disease (MI or coronary death), Framingham / ATP III.

    Men: L = 52.00961 ln(age) + 20.014077 ln(TC) - 0.905964 ln(HDL) + 1.305784 ln(SBP)
    + 0.241549 treated + 12.096316 smoker - 4.605038 ln(age) ln(TC) - 2.84367 ln(age_s) smoker
    - 2.93323 ln(age)^2 - 172.300168; risk = 1 - 0.9402^exp(L); age_s = min(age, 70).
    Women: L = 31.764001 ln(age) + 22.465206 ln(TC) - 1.187731 ln(HDL) + 2.552905 ln(SBP)
    + 0.420251 treated + 13.07543 smoker - 5.060998 ln(age) ln(TC) - 2.996945 ln(age_s) smoker
    - 146.5933061; risk = 1 - 0.98767^exp(L); age_s = min(age, 78). Lipids in mg/dL.
    Source: Expert Panel. Third Report of the NCEP (ATP III), JAMA 2001;285:2486-2497 and its
    risk-assessment tool; MDCalc "Framingham Risk Score for Hard Coronary Heart Disease".
    """
    la, ltc, lhdl, lsbp = math.log(age), math.log(total_cholesterol_mg_dl), math.log(hdl_mg_dl), math.log(systolic)
    t, s = float(bp_treated), float(smoker)
    if sex == "male":
        las = math.log(min(age, 70.0))
        lin = (52.00961 * la + 20.014077 * ltc - 0.905964 * lhdl + 1.305784 * lsbp + 0.241549 * t
               + 12.096316 * s - 4.605038 * la * ltc - 2.84367 * las * s - 2.93323 * la * la - 172.300168)
        risk = 1.0 - 0.9402 ** math.exp(lin)
    else:
        las = math.log(min(age, 78.0))
        lin = (31.764001 * la + 22.465206 * ltc - 1.187731 * lhdl + 2.552905 * lsbp + 0.420251 * t
               + 13.07543 * s - 5.060998 * la * ltc - 2.996945 * las * s - 146.5933061)
        risk = 1.0 - 0.98767 ** math.exp(lin)
    return 100.0 * risk
