"""Comorbidity: the Charlson Comorbidity Index (age-adjusted)."""

from __future__ import annotations

from typing import Literal

LiverDisease = Literal["none", "mild", "moderate_severe"]
Diabetes = Literal["none", "uncomplicated", "end_organ_damage"]
SolidTumor = Literal["none", "localized", "metastatic"]


def charlson(
    age: float,
    myocardial_infarction: bool = False,
    chf: bool = False,
    peripheral_vascular_disease: bool = False,
    cerebrovascular_disease: bool = False,
    dementia: bool = False,
    copd: bool = False,
    connective_tissue_disease: bool = False,
    peptic_ulcer_disease: bool = False,
    liver_disease: LiverDisease = "none",
    diabetes: Diabetes = "none",
    hemiplegia: bool = False,
    moderate_severe_ckd: bool = False,
    solid_tumor: SolidTumor = "none",
    leukemia: bool = False,
    lymphoma: bool = False,
    aids: bool = False,
) -> int:
    """Charlson Comorbidity Index, with age points.

    Age < 50 0, 50-59 1, 60-69 2, 70-79 3, >= 80 4. One point: myocardial infarction, CHF,
    peripheral vascular disease, cerebrovascular accident or TIA, dementia, chronic pulmonary disease,
    connective tissue disease, peptic ulcer disease, mild liver disease, uncomplicated diabetes.
    Two points: diabetes with end-organ damage, hemiplegia, moderate to severe chronic kidney disease,
    localized solid tumor, leukemia, lymphoma. Three: moderate to severe liver disease.
    Six: metastatic solid tumor, AIDS.
    Source: Charlson ME et al. A new method of classifying prognostic comorbidity in longitudinal
    studies. J Chronic Dis 1987;40:373-383; Charlson M et al. Validation of a combined comorbidity
    index. J Clin Epidemiol 1994;47:1245-1251; MDCalc "Charlson Comorbidity Index (CCI)".
    """
    score = 4 if age >= 80 else 3 if age >= 70 else 2 if age >= 60 else 1 if age >= 50 else 0
    score += int(myocardial_infarction) + int(chf) + int(peripheral_vascular_disease)
    score += int(cerebrovascular_disease) + int(dementia) + int(copd) + int(connective_tissue_disease)
    score += int(peptic_ulcer_disease)
    score += {"none": 0, "mild": 1, "moderate_severe": 3}[liver_disease]
    score += {"none": 0, "uncomplicated": 1, "end_organ_damage": 2}[diabetes]
    score += 2 * (int(hemiplegia) + int(moderate_severe_ckd) + int(leukemia) + int(lymphoma))
    score += {"none": 0, "localized": 2, "metastatic": 6}[solid_tumor]
    score += 6 * int(aids)
    return score
