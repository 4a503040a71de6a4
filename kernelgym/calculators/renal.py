"""Kidney function and water balance: Cockcroft-Gault, CKD-EPI 2021, MDRD, FENa, free water deficit.

Creatinine in mg/dL, sodium in mmol/L (= mEq/L), weight in kg, height in cm, age in years.
"""

from __future__ import annotations

from typing import Literal

Sex = Literal["male", "female"]


def cockcroft_gault(age: float, sex: Sex, weight_kg: float, height_cm: float, creatinine_mg_dl: float) -> float:
    """Creatinine clearance (mL/min), Cockcroft-Gault, with the body weight chosen by BMI.

    CrCl = (140 - age) x weight x (0.85 if female) / (72 x creatinine).
    Weight (MDCalc's recommendation, and MedCalc-Bench's question): BMI < 18.5 -> actual weight;
    18.5-24.9 -> the lesser of ideal (Devine) and actual weight; >= 25 -> adjusted body weight
    (IBW + 0.4 x (actual - IBW)).
    Source: Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine.
    Nephron 1976;16:31-41; MDCalc "Creatinine Clearance (Cockcroft-Gault Equation)".
    """
    h = height_cm / 100.0
    bmi = weight_kg / (h * h)
    ibw = (50.0 if sex == "male" else 45.5) + 2.3 * (height_cm / 2.54 - 60.0)
    if bmi < 18.5:
        weight = weight_kg
    elif bmi < 25:
        weight = min(ibw, weight_kg)
    else:
        weight = ibw + 0.4 * (weight_kg - ibw)
    factor = 0.85 if sex == "female" else 1.0
    return (140.0 - age) * weight * factor / (72.0 * creatinine_mg_dl)


def ckd_epi_2021(age: float, sex: Sex, creatinine_mg_dl: float) -> float:
    """eGFR (mL/min/1.73 m²), CKD-EPI 2021 creatinine equation (race-free).

    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female];
    k = 0.7 (female) / 0.9 (male); a = -0.241 (female) / -0.302 (male).
    Source: Inker LA et al. New creatinine- and cystatin C-based equations to estimate GFR without
    race. N Engl J Med 2021;385:1737-1749; MDCalc "CKD-EPI Equations for Glomerular Filtration Rate".
    """
    female = sex == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = creatinine_mg_dl / kappa
    egfr = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** age
    return egfr * 1.012 if female else egfr


def mdrd(age: float, sex: Sex, creatinine_mg_dl: float, black: bool = False) -> float:
    """eGFR (mL/min/1.73 m²), 4-variable MDRD study equation (IDMS-traceable creatinine).

    eGFR = 175 x Scr^-1.154 x age^-0.203 x 0.742 [female] x 1.212 [Black].
    Source: Levey AS et al. Using standardized serum creatinine values in the MDRD study equation.
    Ann Intern Med 2006;145:247-254; MDCalc "MDRD GFR Equation".
    """
    egfr = 175.0 * creatinine_mg_dl ** -1.154 * age ** -0.203
    if sex == "female":
        egfr *= 0.742
    if black:
        egfr *= 1.212
    return egfr


def fena(sodium: float, creatinine_mg_dl: float, urine_sodium: float, urine_creatinine_mg_dl: float) -> float:
    """Fractional excretion of sodium, %: 100 x (urine Na x serum Cr) / (serum Na x urine Cr).

    Source: Espinel CH. The FENa test. JAMA 1976;236:579-581; MDCalc "Fractional Excretion of
    Sodium (FENa)".
    """
    return 100.0 * (urine_sodium * creatinine_mg_dl) / (sodium * urine_creatinine_mg_dl)


def free_water_deficit(age: float, sex: Sex, weight_kg: float, sodium: float) -> float:
    """Free water deficit (L): total body water x (Na / 140 - 1).

    Total body water fraction of weight: children (< 18 y) 0.6; adult men 0.6, women 0.5;
    elderly (>= 65 y) men 0.5, women 0.45.
    Source: Adrogue HJ, Madias NE. Hypernatremia. N Engl J Med 2000;342:1493-1499;
    MDCalc "Free Water Deficit".
    """
    if age < 18:
        fraction = 0.6
    elif age < 65:
        fraction = 0.6 if sex == "male" else 0.5
    else:
        fraction = 0.5 if sex == "male" else 0.45
    return fraction * weight_kg * (sodium / 140.0 - 1.0)

