"""Venous thromboembolism: Wells' criteria for PE and for DVT, the PERC rule, the Caprini score."""

from __future__ import annotations

from typing import Literal


def wells_pe(
    heart_rate: float = 0.0,
    dvt_signs: bool = False,
    pe_most_likely: bool = False,
    immobilization_or_surgery: bool = False,
    previous_pe_or_dvt: bool = False,
    hemoptysis: bool = False,
    malignancy: bool = False,
) -> float:
    """Wells' criteria for pulmonary embolism (0-12.5).

    Clinical signs of DVT 3; PE the most likely diagnosis 3; heart rate > 100 1.5; immobilization
    >= 3 days or surgery in the previous 4 weeks 1.5; previous PE or DVT 1.5; hemoptysis 1;
    malignancy (treatment within 6 months or palliative) 1.
    Source: Wells PS et al. Derivation of a simple clinical model to categorize patients' probability
    of pulmonary embolism. Thromb Haemost 2000;83:416-420; MDCalc "Wells' Criteria for Pulmonary
    Embolism".
    """
    score = 3.0 * dvt_signs + 3.0 * pe_most_likely
    score += 1.5 if heart_rate > 100 else 0.0
    score += 1.5 * immobilization_or_surgery + 1.5 * previous_pe_or_dvt
    score += 1.0 * hemoptysis + 1.0 * malignancy
    return float(score)


def wells_dvt(
    active_cancer: bool = False,
    bedridden_or_major_surgery: bool = False,
    calf_swelling: bool = False,
    collateral_veins: bool = False,
    entire_leg_swollen: bool = False,
    localized_tenderness: bool = False,
    pitting_edema: bool = False,
    paralysis_or_cast: bool = False,
    previous_dvt: bool = False,
    alternative_diagnosis_likely: bool = False,
) -> int:
    """Wells' criteria for deep vein thrombosis (-2 to 9).

    One point each: active cancer; bedridden > 3 days or major surgery within 12 weeks; calf swelling
    > 3 cm versus the other leg; collateral (non-varicose) superficial veins; entire leg swollen;
    localized tenderness along the deep venous system; pitting edema confined to the symptomatic leg;
    paralysis, paresis or recent plaster immobilization of the leg; previously documented DVT.
    Minus 2 if an alternative diagnosis is at least as likely.
    Source: Wells PS et al. Evaluation of D-dimer in the diagnosis of suspected deep-vein thrombosis.
    N Engl J Med 2003;349:1227-1235; MDCalc "Wells' Criteria for DVT".
    """
    items = (active_cancer, bedridden_or_major_surgery, calf_swelling, collateral_veins, entire_leg_swollen,
             localized_tenderness, pitting_edema, paralysis_or_cast, previous_dvt)
    return sum(int(x) for x in items) - (2 if alternative_diagnosis_likely else 0)


def perc(
    age: float,
    heart_rate: float = 0.0,
    o2_saturation: float = 100.0,
    unilateral_leg_swelling: bool = False,
    hemoptysis: bool = False,
    recent_surgery_or_trauma: bool = False,
    previous_pe_or_dvt: bool = False,
    hormone_use: bool = False,
) -> int:
    """Number of PERC criteria met (0-8): age >= 50, HR >= 100, SaO2 < 95 %, unilateral leg swelling,
    hemoptysis, recent surgery or trauma (<= 4 weeks), prior PE or DVT, hormone use.

    Source: Kline JA et al. Clinical criteria to prevent unnecessary diagnostic testing in emergency
    department patients with suspected pulmonary embolism. J Thromb Haemost 2004;2:1247-1255;
    MDCalc "PERC Rule for Pulmonary Embolism".
    """
    count = int(age >= 50) + int(heart_rate >= 100) + int(o2_saturation < 95)
    count += int(unilateral_leg_swelling) + int(hemoptysis) + int(recent_surgery_or_trauma)
    count += int(previous_pe_or_dvt) + int(hormone_use)
    return count


CapriniSurgery = Literal["none", "minor", "major", "laparoscopic", "arthroplasty"]
CapriniMobility = Literal["normal", "bed_rest", "confined_72h"]


def caprini(
    age: float,
    surgery: CapriniSurgery = "none",
    mobility: CapriniMobility = "normal",
    bmi: float = 0.0,
    recent_major_surgery: bool = False,
    recent_chf: bool = False,
    recent_sepsis: bool = False,
    recent_pneumonia: bool = False,
    recent_plaster_cast: bool = False,
    recent_fracture_hip_pelvis_leg: bool = False,
    recent_stroke: bool = False,
    recent_multiple_trauma: bool = False,
    recent_spinal_cord_injury: bool = False,
    varicose_veins: bool = False,
    swollen_legs: bool = False,
    central_venous_access: bool = False,
    history_dvt_pe: bool = False,
    family_history_thrombosis: bool = False,
    factor_v_leiden: bool = False,
    prothrombin_20210a: bool = False,
    homocysteine: bool = False,
    lupus_anticoagulant: bool = False,
    anticardiolipin: bool = False,
    hit: bool = False,
    other_thrombophilia: bool = False,
    inflammatory_bowel_disease: bool = False,
    acute_mi: bool = False,
    copd: bool = False,
    malignancy: bool = False,
    pregnant_or_postpartum: bool = False,
    stillbirth_or_recurrent_abortion: bool = False,
    hormonal_contraception: bool = False,
) -> int:
    """Caprini risk assessment model for venous thromboembolism (2005 version).

    Age 41-60 1, 61-74 2, >= 75 3. Type of surgery: minor 1, major (> 45 min) 2, laparoscopic (> 45 min)
    2, elective major lower-extremity arthroplasty 5. Within the last month: major surgery 1, CHF 1,
    sepsis 1, pneumonia 1, immobilizing plaster cast 2, hip/pelvis/leg fracture 5, stroke 5, multiple
    trauma 5, acute spinal cord injury with paralysis 5. Venous disease / clotting disorder: varicose
    veins 1, current swollen legs 1, current central venous access 2, history of DVT/PE 3, family
    history of thrombosis 3, factor V Leiden 3, prothrombin 20210A 3, elevated homocysteine 3, lupus
    anticoagulant 3, anticardiolipin antibody 3, HIT 3, other thrombophilia 3. Mobility: bed rest 1,
    confined to bed > 72 h 2. Other: inflammatory bowel disease 1, BMI > 25 1, acute MI 1, COPD 1,
    present or previous malignancy 2; women: pregnancy or postpartum 1, unexplained stillbirth or
    recurrent abortion 1, oral contraceptives or hormone replacement 1.
    Source: Caprini JA. Thrombosis risk assessment as a guide to quality patient care. Dis Mon
    2005;51:70-78; MDCalc "Caprini Score for Venous Thromboembolism (2005)".
    """
    score = 3 if age >= 75 else 2 if age >= 61 else 1 if age >= 41 else 0
    score += {"none": 0, "minor": 1, "major": 2, "laparoscopic": 2, "arthroplasty": 5}[surgery]
    score += {"normal": 0, "bed_rest": 1, "confined_72h": 2}[mobility]
    score += int(recent_major_surgery) + int(recent_chf) + int(recent_sepsis) + int(recent_pneumonia)
    score += 2 * int(recent_plaster_cast)
    score += 5 * (int(recent_fracture_hip_pelvis_leg) + int(recent_stroke) + int(recent_multiple_trauma)
                  + int(recent_spinal_cord_injury))
    score += int(varicose_veins) + int(swollen_legs) + 2 * int(central_venous_access)
    score += 3 * (int(history_dvt_pe) + int(family_history_thrombosis) + int(factor_v_leiden)
                  + int(prothrombin_20210a) + int(homocysteine) + int(lupus_anticoagulant)
                  + int(anticardiolipin) + int(hit) + int(other_thrombophilia))
    score += int(inflammatory_bowel_disease) + int(bmi > 25) + int(acute_mi) + int(copd)
    score += 2 * int(malignancy)
    score += int(pregnant_or_postpartum) + int(stillbirth_or_recurrent_abortion) + int(hormonal_contraception)
    return score
