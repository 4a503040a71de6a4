"""Laboratory chemistry: anion gap family, corrected calcium and sodium, osmolality, LDL, HOMA-IR.

Electrolytes in mmol/L (= mEq/L), albumin in g/dL, calcium, glucose, BUN and lipids in mg/dL.
"""

from __future__ import annotations


def anion_gap(sodium: float, chloride: float, bicarbonate: float) -> float:
    """Anion gap (mEq/L): Na - (Cl + HCO3).

    Source: Kraut JA, Madias NE. Serum anion gap: its uses and limitations in clinical medicine.
    Clin J Am Soc Nephrol 2007;2:162-174; MDCalc "Anion Gap".
    """
    return sodium - (chloride + bicarbonate)


def delta_gap(sodium: float, chloride: float, bicarbonate: float) -> float:
    """Delta gap (mEq/L): anion gap - 12 (normal anion gap).

    Source: Wrenn K. The delta (delta) gap: an approach to mixed acid-base disorders. Ann Emerg Med
    1990;19:1310-1313; MDCalc "Delta Gap".
    """
    return sodium - (chloride + bicarbonate) - 12.0


def delta_ratio(sodium: float, chloride: float, bicarbonate: float) -> float:
    """Delta ratio: (anion gap - 12) / (24 - HCO3).

    Source: Wrenn K. Ann Emerg Med 1990;19:1310-1313; Rastegar A. Use of the DeltaAG/DeltaHCO3- ratio
    in the diagnosis of mixed acid-base disorders. J Am Soc Nephrol 2007;18:2429-2431;
    MDCalc "Delta Ratio (Delta Gap)".
    """
    return (sodium - (chloride + bicarbonate) - 12.0) / (24.0 - bicarbonate)


def albumin_corrected_anion_gap(sodium: float, chloride: float, bicarbonate: float, albumin_g_dl: float) -> float:
    """Albumin-corrected anion gap (mEq/L): anion gap + 2.5 x (4 - albumin g/dL).

    Source: Figge J, Jabor A, Kazda A, Fencl V. Anion gap and hypoalbuminemia. Crit Care Med
    1998;26:1807-1810; MDCalc "Albumin Corrected Anion Gap".
    """
    return sodium - (chloride + bicarbonate) + 2.5 * (4.0 - albumin_g_dl)


def albumin_corrected_delta_gap(sodium: float, chloride: float, bicarbonate: float, albumin_g_dl: float) -> float:
    """Albumin-corrected delta gap (mEq/L): albumin-corrected anion gap - 12.

    Source: Figge J et al. Crit Care Med 1998;26:1807-1810; Wrenn K. Ann Emerg Med 1990;19:1310;
    MDCalc "Albumin Corrected Delta Gap".
    """
    return sodium - (chloride + bicarbonate) + 2.5 * (4.0 - albumin_g_dl) - 12.0


def albumin_corrected_delta_ratio(sodium: float, chloride: float, bicarbonate: float, albumin_g_dl: float) -> float:
    """Albumin-corrected delta ratio: (albumin-corrected anion gap - 12) / (24 - HCO3).

    Source: Figge J et al. Crit Care Med 1998;26:1807-1810; Rastegar A. J Am Soc Nephrol
    2007;18:2429-2431; MDCalc "Albumin Corrected Delta Ratio".
    """
    return (sodium - (chloride + bicarbonate) + 2.5 * (4.0 - albumin_g_dl) - 12.0) / (24.0 - bicarbonate)


def corrected_calcium(calcium_mg_dl: float, albumin_g_dl: float, normal_albumin_g_dl: float = 4.0) -> float:
    """Calcium corrected for hypoalbuminemia (mg/dL): Ca + 0.8 x (normal albumin - albumin).

    Source: Payne RB et al. Interpretation of serum calcium in patients with abnormal serum proteins.
    Br Med J 1973;4:643-646; MDCalc "Calcium Correction for Hypoalbuminemia".
    """
    return calcium_mg_dl + 0.8 * (normal_albumin_g_dl - albumin_g_dl)


def corrected_sodium(sodium: float, glucose_mg_dl: float) -> float:
    """Sodium corrected for hyperglycemia (mEq/L), Hillier: Na + 0.024 x (glucose - 100).

    Source: Hillier TA, Abbott RD, Barrett EJ. Hyponatremia: evaluating the correction factor for
    hyperglycemia. Am J Med 1999;106:399-403; MDCalc "Sodium Correction for Hyperglycemia".
    """
    return sodium + 0.024 * (glucose_mg_dl - 100.0)


def serum_osmolality(sodium: float, bun_mg_dl: float, glucose_mg_dl: float) -> float:
    """Calculated serum osmolality (mOsm/kg): 2 x Na + BUN / 2.8 + glucose / 18.

    Source: Dorwart WV, Chalmers L. Comparison of methods for calculating serum osmolality.
    Clin Chem 1975;21:190-194; MDCalc "Serum Osmolality/Osmolarity".
    """
    return 2.0 * sodium + bun_mg_dl / 2.8 + glucose_mg_dl / 18.0


def ldl_friedewald(total_cholesterol_mg_dl: float, hdl_mg_dl: float, triglycerides_mg_dl: float) -> float:
    """LDL cholesterol (mg/dL), Friedewald: total - HDL - triglycerides / 5.

    Source: Friedewald WT, Levy RI, Fredrickson DS. Estimation of the concentration of LDL cholesterol
    in plasma, without use of the preparative ultracentrifuge. Clin Chem 1972;18:499-502;
    MDCalc "LDL Calculated".
    """
    return total_cholesterol_mg_dl - hdl_mg_dl - triglycerides_mg_dl / 5.0


def homa_ir(insulin_uiu_ml: float, glucose_mg_dl: float) -> float:
    """HOMA-IR: fasting insulin (µIU/mL) x fasting glucose (mg/dL) / 405.

    Source: Matthews DR et al. Homeostasis model assessment. Diabetologia 1985;28:412-419;
    MDCalc "HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)".
    """
    return insulin_uiu_ml * glucose_mg_dl / 405.0
