"""Import the MedCalc-Bench test set as a kernelgym task family (``kernelgym import medcalc-bench``).

MedCalc-Bench (Khandekar et al., NeurIPS 2024 Datasets and Benchmarks; ncbi-nlp/MedCalc-Bench,
CC-BY-SA 4.0) pairs patient notes with a question about one of 55 clinical calculators, the
extracted inputs (``Relevant Entities``, a Python-literal dict), and a ground-truth answer with a
grading band [``Lower Limit``, ``Upper Limit``].

Two label sets:
- ``original``: the v1.0 answers, graded as MedCalc-Bench grades them (a number within
  [Lower Limit, Upper Limit], dates exactly), so that scores are comparable with published ones.
- ``corrected``: answers recomputed from ``Relevant Entities`` with :mod:`kernelgym.calculators`
  (published formulas); equation-based answers within +/-5 %, rule-based scores exactly, dates
  exactly. Every row where the two differ is listed, with its reason, in
  ``medcalc_bench_departures.yaml`` next to this module (and in ``docs/medcalc.md``).

Host side only: the ground truth never enters the kernel. Each instance gives the kernel the patient
note as the variable ``note``.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import gzip
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from kernelgym.calculators import REGISTRY, Calculator, units
from kernelgym.grading import Grader

Labels = Literal["original", "corrected"]
FAMILY = "medcalc-bench"
DEPARTURES_FILE = Path(__file__).with_name("medcalc_bench_departures.yaml")


class EntityError(ValueError):
    """The row's ``Relevant Entities`` cannot be read into the calculator's inputs."""


# ---------------------------------------------------------------- reading the CSV


@dataclass(frozen=True)
class Row:
    """One row of the MedCalc-Bench CSV."""

    row_number: int
    calculator_id: int
    calculator_name: str
    output_type: str
    note_id: str
    note: str
    question: str
    entities: dict[str, Any]
    answer: str
    lower: str
    upper: str
    explanation: str

    @property
    def calculator(self) -> Calculator:
        return REGISTRY[self.calculator_id]


def read_rows(path: Path | str) -> list[Row]:
    """Read the MedCalc-Bench CSV (``.csv`` or ``.csv.gz``)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    rows = []
    for rec in reader:
        rows.append(
            Row(
                row_number=int(rec["Row Number"]),
                calculator_id=int(rec["Calculator ID"]),
                calculator_name=rec["Calculator Name"],
                output_type=rec["Output Type"],
                note_id=rec.get("Note ID", ""),
                note=rec["Patient Note"],
                question=rec["Question"],
                entities=ast.literal_eval(rec["Relevant Entities"]),
                answer=rec["Ground Truth Answer"],
                lower=rec["Lower Limit"],
                upper=rec["Upper Limit"],
                explanation=rec.get("Ground Truth Explanation", ""),
            )
        )
    return rows


# ---------------------------------------------------------------- entities -> calculator inputs


def _q(e: dict[str, Any], key: str) -> tuple[float, str] | None:
    """A ``[value, unit]`` entity, or None when absent."""
    v = e.get(key)
    if v is None:
        return None
    if isinstance(v, (list, tuple)) and len(v) >= 2 and isinstance(v[-1], str):
        return float(v[0]), v[1]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v), ""
    raise EntityError(f"{key!r}: cannot read {v!r} as a quantity")


def _num(e: dict[str, Any], key: str, conv: Callable[[float, str], float] | None = None) -> float | None:
    q = _q(e, key)
    if q is None:
        return None
    value, unit = q
    return conv(value, unit) if conv else value


def _need(e: dict[str, Any], key: str, conv: Callable[[float, str], float] | None = None) -> float:
    v = _num(e, key, conv)
    if v is None:
        raise EntityError(f"missing {key!r}")
    return v


def _flag(e: dict[str, Any], *keys: str) -> bool:
    """True when any of the keys is present and true (absent means not present, as MDCalc assumes)."""
    return any(e.get(k) is True for k in keys)


def _sex(e: dict[str, Any]) -> str:
    s = str(e.get("sex", "")).strip().lower()
    if s not in ("male", "female"):
        raise EntityError(f"sex {e.get('sex')!r}")
    return s


def _age(e: dict[str, Any]) -> float:
    return _need(e, "age", units.years)


def _mmol(e: dict[str, Any], key: str) -> float | None:
    return _num(e, key, units.sodium_mmol_l if key == "Sodium" else units.electrolyte_mmol_l)


def _lytes(e: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, name in (("Sodium", "sodium"), ("Chloride", "chloride"), ("Bicarbonate", "bicarbonate")):
        v = _mmol(e, key)
        if v is None:
            raise EntityError(f"missing {key!r}")
        out[name] = v
    return out


def _fio2_fraction(e: dict[str, Any]) -> float | None:
    v = _num(e, "FiO₂")
    if v is None:
        return None
    return v / 100.0 if v > 1 else v


def _date(s: str) -> dt.date:
    return dt.datetime.strptime(s.strip(), "%m/%d/%Y").date()


def _choice(value: Any, table: dict[str, str], what: str) -> str:
    key = str(value).strip().lower()
    for prefix, out in table.items():
        if key.startswith(prefix):
            return out
    raise EntityError(f"{what}: unknown value {value!r}")


_PAO2 = "Partial pressure of oxygen (PaO₂) for Apache II"

_MME_DRUGS = {
    "codeine": "codeine", "fentanyl buccal": "fentanyl buccal", "fentanyl patch": "fentanyl patch",
    "hydrocodone": "hydrocodone", "hydromorphone": "hydromorphone", "methadone": "methadone",
    "morphine": "morphine", "oxycodone": "oxycodone", "oxymorphone": "oxymorphone",
    "tapentadol": "tapentadol", "tramadol": "tramadol",
}


def _mme_doses(e: dict[str, Any]) -> dict[str, tuple[float, float]]:
    doses: dict[str, tuple[float, float]] = {}
    for key, value in e.items():
        m = re.fullmatch(r"(.+?) Dose", key)
        if not m:
            continue
        drug = m.group(1).lower()
        if drug not in _MME_DRUGS:
            raise EntityError(f"unknown opioid {m.group(1)!r}")
        per_day = e.get(f"{key} Per Day")
        if per_day is None:
            raise EntityError(f"missing {key} Per Day")
        doses[_MME_DRUGS[drug]] = (float(value[0]), float(per_day[0]))
    return doses


def _args_caprini(e: dict[str, Any]) -> dict[str, Any]:
    surgery = _choice(e.get("Surgery Type", "none"), {
        "elective major lower extremity": "arthroplasty", "laparoscopic": "laparoscopic", "major": "major",
        "minor": "minor", "none": "none"}, "Surgery Type")
    mobility = _choice(e.get("Mobility", "normal"), {
        "normal": "normal", "on bed rest": "bed_rest", "confined to bed": "confined_72h"}, "Mobility")
    return {
        "age": _age(e), "surgery": surgery, "mobility": mobility, "bmi": _num(e, "Body Mass Index (BMI)") or 0.0,
        "recent_major_surgery": _flag(e, "Major Surgery in the last month"),
        "recent_chf": _flag(e, "Congestive Heart Failure in the last month"),
        "recent_sepsis": _flag(e, "Sepsis in the last month"),
        "recent_pneumonia": _flag(e, "Pneumonia in the last month"),
        "recent_plaster_cast": _flag(e, "Immobilizing plaster cast in the last month"),
        "recent_fracture_hip_pelvis_leg": _flag(e, "Hip, pelvis, or leg fracture in the last month"),
        "recent_stroke": _flag(e, "Stroke in the last month"),
        "recent_multiple_trauma": _flag(e, "Multiple trauma in the last month"),
        "recent_spinal_cord_injury": _flag(e, "Acute spinal cord injury causing paralysis in the last month"),
        "varicose_veins": _flag(e, "Varicose veins"), "swollen_legs": _flag(e, "Current swollen legs"),
        "central_venous_access": _flag(e, "Current central venous access"),
        "history_dvt_pe": _flag(e, "Previously documented Deep Vein Thrombosis", "Previously Documented Pulmonary Embolism"),
        "family_history_thrombosis": _flag(e, "Family history of thrombosis"),
        "factor_v_leiden": _flag(e, "Positive Factor V Leiden"),
        "prothrombin_20210a": _flag(e, "Positive prothrombin 20210A"),
        "homocysteine": _flag(e, "Elevated serum homocysteine"),
        "lupus_anticoagulant": _flag(e, "Positive lupus anticoagulant"),
        "anticardiolipin": _flag(e, "Elevated anticardiolipin antibody"),
        "hit": _flag(e, "Heparin-induced thrombocytopenia"),
        "other_thrombophilia": _flag(e, "Other congenital or acquired thrombophilia"),
        "inflammatory_bowel_disease": _flag(e, "History of inflammatory bowel disease"),
        "acute_mi": _flag(e, "Acute Myocardial infarction"),
        "copd": _flag(e, "Chronic Obstructive Pulmonary Disease"),
        "malignancy": _flag(e, "Present or previous malignancy"),
    }


def _args_charlson(e: dict[str, Any]) -> dict[str, Any]:
    liver = e.get("Liver disease severity", "none")
    liver = "none" if liver in (False, None) else _choice(liver, {
        "none": "none", "mild": "mild", "moderate": "moderate_severe", "severe": "moderate_severe"}, "liver disease")
    dm = e.get("Diabetes mellitus criteria for CCI rule", "none")
    dm = "none" if dm in (False, None) else _choice(dm, {
        "none": "none", "uncomplicated": "uncomplicated", "end-organ": "end_organ_damage"}, "diabetes")
    tumor = e.get("Solid tumor", "none")
    tumor = "none" if tumor in (False, None) else "localized" if tumor is True else _choice(tumor, {
        "none": "none", "localized": "localized", "metastatic": "metastatic"}, "solid tumor")
    ckd = e.get("Moderate to severe Chronic Kidney Disease", False)
    return {
        "age": _age(e), "myocardial_infarction": _flag(e, "Myocardial infarction"), "chf": _flag(e, "Congestive Heart Faliure"),
        "peripheral_vascular_disease": _flag(e, "Peripheral vascular disease"),
        "cerebrovascular_disease": _flag(e, "Cerebrovascular Accident", "Transient Ischemic Attacks History"),
        "dementia": _flag(e, "Dementia"), "copd": _flag(e, "Chronic Obstructive Pulmonary Disease"),
        "connective_tissue_disease": _flag(e, "Connective tissue disease"),
        "peptic_ulcer_disease": _flag(e, "Peptic ulcer disease"), "liver_disease": liver, "diabetes": dm,
        "hemiplegia": _flag(e, "Hemiplegia"), "moderate_severe_ckd": ckd is True or str(ckd).lower() in ("severe", "moderate"),
        "solid_tumor": tumor, "leukemia": _flag(e, "Leukemia"), "lymphoma": _flag(e, "Lymphoma"), "aids": _flag(e, "AIDS"),
    }


def _args_apache(e: dict[str, Any]) -> dict[str, Any]:
    sbp, dbp = _need(e, "Systolic Blood Pressure"), _need(e, "Diastolic Blood Pressure")
    surgery = str(e.get("Surgery Type", "")).strip().lower()
    admission = ("elective_postoperative" if surgery.startswith("elective")
                 else "emergency_postoperative" if surgery.startswith("emergency") else "nonoperative")
    return {
        "age": _age(e), "temperature_c": _need(e, "Temperature", units.celsius), "map_mmhg": (sbp + 2 * dbp) / 3,
        "heart_rate": _need(e, "Heart Rate or Pulse"), "respiratory_rate": _need(e, "respiratory rate"),
        "ph": _need(e, "pH"), "sodium": _need(e, "Sodium", units.sodium_mmol_l),
        "potassium": _need(e, "Potassium", units.electrolyte_mmol_l),
        "creatinine_mg_dl": _need(e, "creatinine", units.creatinine_mg_dl), "hematocrit": _need(e, "Hematocrit"),
        "wbc_10e3_ul": _need(e, "White blood cell count", units.per_ul) / 1000.0,
        "gcs": _num(e, "Glasgow Coma Score") or 15.0, "fio2": _fio2_fraction(e) or 0.21, "pao2": _num(e, _PAO2),
        "a_a_gradient": _num(e, "A-a gradient"), "acute_renal_failure": _flag(e, "Acute renal failure"),
        "chronic_health": _flag(e, "History of severe organ failure or immunocompromise"), "admission": admission,
    }


def _args_sofa(e: dict[str, Any]) -> dict[str, Any]:
    sbp, dbp = _num(e, "Systolic Blood Pressure"), _num(e, "Diastolic Blood Pressure")
    map_ = (sbp + 2 * dbp) / 3 if sbp is not None and dbp is not None else None
    if e.get("Hypotension") is True and (map_ is None or map_ >= 70):
        map_ = 69.0  # "hypotension" without pressures: MAP < 70 mm Hg, the criterion's definition
    platelets = _num(e, "Platelet count", units.per_ul)
    return {
        "pao2": _num(e, _PAO2), "fio2": _fio2_fraction(e),
        "ventilated": _flag(e, "On mechanical ventilation", "Continous positive airway pressure"),
        "platelets_10e3_ul": None if platelets is None else platelets / 1000.0,
        "gcs": _num(e, "Glasgow Coma Score") or 15.0, "bilirubin_mg_dl": _num(e, "Bilirubin", units.bilirubin_mg_dl),
        "map_mmhg": map_, "dopamine": _num(e, "DOPamine") or 0.0, "dobutamine": _num(e, "DOBUTamine") or 0.0,
        "epinephrine": _num(e, "EPINEPHrine") or 0.0, "norepinephrine": _num(e, "norEPINEPHrine") or 0.0,
        "creatinine_mg_dl": _num(e, "creatinine", units.creatinine_mg_dl), "urine_output_ml_day": _num(e, "Urine Output"),
    }


def _args_heart(e: dict[str, Any]) -> dict[str, Any]:
    history = _choice(e.get("Suspicion History", "Slightly suspicious"), {
        "slightly": "slightly", "moderately": "moderately", "highly": "highly"}, "history")
    ecg = _choice(e.get("Electrocardiogram Test", "Normal"), {
        "normal": "normal", "non-specific": "nonspecific", "significant": "st_deviation"}, "ECG")
    trop = _choice(e.get("Initial troponin", "less than or equal to normal limit"), {
        "less than": "normal", "between": "1-3x", "greater than": ">3x"}, "troponin")
    return {
        "history": history, "ecg": ecg, "age": _age(e), "troponin": trop, "hypertension": _flag(e, "Hypertension history"),
        "hypercholesterolemia": _flag(e, "hypercholesterolemia"),
        "diabetes": _flag(e, "Diabetes mellitus criteria for CCI rule"), "obesity": _flag(e, "obesity"),
        "smoking": _flag(e, "smoking"),
        "family_history": _flag(e, "parent or sibling with Cardiovascular disease before age 65"),
        "atherosclerotic_disease": _flag(e, "atherosclerotic disease", "Transient Ischemic Attacks History"),
    }


def _args_psi(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "age": _age(e), "sex": _sex(e), "nursing_home": _flag(e, "Nursing home resident"),
        "neoplastic_disease": _flag(e, "Neoplastic disease"), "liver_disease": _flag(e, "Liver disease severity"),
        "chf": _flag(e, "Congestive Heart Faliure"), "cerebrovascular_disease": _flag(e, "Cerebrovascular disease history"),
        "renal_disease": _flag(e, "Renal disease"), "altered_mental_status": _flag(e, "Altered mental status"),
        "respiratory_rate": _num(e, "respiratory rate"), "systolic": _num(e, "Systolic Blood Pressure"),
        "temperature_c": _num(e, "Temperature", units.celsius), "heart_rate": _num(e, "Heart Rate or Pulse"),
        "ph": _num(e, "pH"), "bun_mg_dl": _num(e, "Blood Urea Nitrogen (BUN)", units.bun_mg_dl),
        "sodium": _num(e, "Sodium", units.sodium_mmol_l), "glucose_mg_dl": _num(e, "Glucose", units.glucose_mg_dl),
        "hematocrit": _num(e, "Hematocrit"), "pao2": _num(e, _PAO2), "pleural_effusion": _flag(e, "Pleural effusion on x-ray"),
    }


def _encephalopathy(v: Any) -> str:
    s = str(v).lower()
    if "3-4" in s:
        return "grade_3_4"
    if "1-2" in s:
        return "grade_1_2"
    return "none"


ARGUMENTS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    2: lambda e: {"age": _age(e), "sex": _sex(e), "weight_kg": _need(e, "weight", units.kilograms),
                      "height_cm": _need(e, "height", units.centimetres),
                      "creatinine_mg_dl": _need(e, "creatinine", units.creatinine_mg_dl)},
    3: lambda e: {"age": _age(e), "sex": _sex(e), "creatinine_mg_dl": _need(e, "creatinine", units.creatinine_mg_dl)},
    4: lambda e: {"age": _age(e), "sex": _sex(e), "chf": _flag(e, "Congestive Heart Faliure"),
                      "hypertension": _flag(e, "Hypertension history"),
                      "stroke_tia_thromboembolism": _flag(e, "Stroke", "Transient Ischemic Attacks History",
                                                       "Thromboembolism history"),
                      "vascular_disease": _flag(e, "Vascular disease history"), "diabetes": _flag(e, "Diabetes history")},
    5: lambda e: {"systolic": _need(e, "Systolic Blood Pressure"), "diastolic": _need(e, "Diastolic Blood Pressure")},
    6: lambda e: {"weight_kg": _need(e, "weight", units.kilograms), "height_cm": _need(e, "height", units.centimetres)},
    7: lambda e: {"calcium_mg_dl": _need(e, "Calcium", units.calcium_mg_dl),
                      "albumin_g_dl": _need(e, "Albumin", units.albumin_g_dl)},
    8: lambda e: {"heart_rate": _num(e, "Heart Rate or Pulse") or 0.0,
                      "dvt_signs": _flag(e, "Clinical signs and symptoms of Deep Vein Thrombosis"),
                      "pe_most_likely": _flag(e, "Pulmonary Embolism is #1 diagnosis OR equally likely"),
                      "immobilization_or_surgery": _flag(e, "Immobilization for at least 3 days",
                                                      "Surgery in the previous 4 weeks"),
                      "previous_pe_or_dvt": _flag(e, "Previously Documented Pulmonary Embolism",
                                               "Previously documented Deep Vein Thrombosis"),
                      "hemoptysis": _flag(e, "Hemoptysis"),
                      "malignancy": _flag(e, "Malignancy with treatment within 6 months or palliative")},
    9: lambda e: {"age": _age(e), "sex": _sex(e), "creatinine_mg_dl": _need(e, "creatinine", units.creatinine_mg_dl),
                      "black": str(e.get("Race", "")).strip().lower() == "black"},
    10: lambda e: {"sex": _sex(e), "height_cm": _need(e, "height", units.centimetres)},
    11: lambda e: {"qt_ms": _need(e, "QT interval"), "heart_rate": _need(e, "Heart Rate or Pulse")},
    13: lambda e: {"last_menstrual_period": _date(e["Last menstrual date"]), "cycle_length": int(e.get("cycle length", 28))},
    15: lambda e: {"bilirubin_mg_dl": _need(e, "Bilirubin", units.bilirubin_mg_dl),
                       "albumin_g_dl": _need(e, "Albumin", units.albumin_g_dl),
                       "inr": _need(e, "international normalized ratio"),
                       "ascites": _choice(e.get("Ascites", "absent"), {"absent": "absent", "slight": "slight",
                                                                    "moderate": "moderate"}, "ascites"),
                       "encephalopathy": _encephalopathy(e.get("Encephalopathy", "none"))},
    16: lambda e: {"active_cancer": _flag(e, "Active cancer"),
                       "bedridden_or_major_surgery": _flag(e, "Bedridden recently >3 days or major surgery within 12 weeks",
                                                        "Major surgery within 12 weeks"),
                       "calf_swelling": _flag(e, "Calf swelling >3 centimeters compared to the other leg"),
                       "collateral_veins": _flag(e, "Collateral (nonvaricose) superficial veins present"),
                       "entire_leg_swollen": _flag(e, "Entire Leg Swollen"),
                       "localized_tenderness": _flag(e, "Localized tenderness along the deep venous system"),
                       "pitting_edema": _flag(e, "Pitting edema, confined to symptomatic leg"),
                       "paralysis_or_cast": _flag(e, "Paralysis, paresis, or recent plaster immobilization of the lower extremity"),
                       "previous_dvt": _flag(e, "Previously documented Deep Vein Thrombosis"),
                       "alternative_diagnosis_likely": _flag(e, "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely")},
    17: lambda e: {"high_risk_surgery": _flag(e, "Elevated-risk surgery"),
                       "ischemic_heart_disease": _flag(e, "History of ischemic heart disease"),
                       "heart_failure": _flag(e, "Congestive Heart Failure criteria for the Cardiac Risk Index rule"),
                       "cerebrovascular_disease": _flag(e, "History of cerebrovascular disease", "Cerebrovascular disease history"),
                       "insulin_treatment": _flag(e, "Pre-operative treatment with insulin"),
                       "creatinine_mg_dl": _num(e, "Pre-operative creatinine", units.creatinine_mg_dl) or 0.0},
    18: _args_heart,
    19: lambda e: {"age": _age(e), "ast": _need(e, "Aspartate aminotransferase"), "alt": _need(e, "Alanine aminotransferase"),
                       "platelets_10e9_l": _need(e, "Platelet count", units.per_ul) / 1000.0},
    20: lambda e: {"age": _age(e), "temperature_c": _num(e, "Temperature", units.celsius),
                       "cough_absent": _flag(e, "Cough Absent"),
                       "tender_anterior_nodes": _flag(e, "Tender/swollen anterior cervical lymph nodes"),
                       "tonsillar_exudate_or_swelling": _flag(e, "Exudate or swelling on tonsils")},
    21: lambda e: {
        "eye": _choice(e["Best eye response"], {"eyes open spontaneously": "spontaneous", "eye opening to verbal": "verbal",
                                             "eye opening to pain": "pain", "no eye": "none",
                                             "not testable": "not_testable"}, "eye"),
        "verbal": _choice(e["Best verbal response"], {"oriented": "oriented", "confused": "confused",
                                                   "inappropriate": "inappropriate", "incomprehensible": "incomprehensible",
                                                   "no verbal": "none", "not testable": "not_testable"}, "verbal"),
        "motor": _choice(e["Best motor response"], {"obeys": "obeys", "localizes": "localizes", "withdrawal": "withdraws",
                                                 "flexion": "flexion", "extension": "extension", "no motor": "none",
                                                 "not testable": "not_testable"}, "motor")},
    22: lambda e: {"weight_kg": _need(e, "weight", units.kilograms)},
    23: lambda e: {"creatinine_mg_dl": _need(e, "creatinine", units.creatinine_mg_dl),
                       "bilirubin_mg_dl": _need(e, "Bilirubin", units.bilirubin_mg_dl),
                       "inr": _need(e, "international normalized ratio"), "sodium": _need(e, "Sodium", units.sodium_mmol_l),
                       "dialysis_twice_or_cvvhd": _flag(e, "Dialysis at least twice in the past week",
                                                     "Continuous veno-venous hemodialysis for ≥24 hours in the past week")},
    24: lambda e: {"dose_mg": float(e["input steroid"][1]), "from_steroid": str(e["input steroid"][0]),
                       "to_steroid": str(e["target steroid"])},
    25: lambda e: {"age": _age(e), "hypertension": _flag(e, "Hypertension history"),
                       "renal_disease": _flag(e, "Renal disease criteria for the HAS-BLED rule"),
                       "liver_disease": _flag(e, "Liver disease criteria for the HAS-BLED rule"), "stroke": _flag(e, "Stroke"),
                       "prior_bleeding": _flag(e, "Prior major bleeding or predisposition to bleeding"),
                       "labile_inr": _flag(e, "Labile international normalized ratio"),
                       "bleeding_medication": _flag(e, "Medication usage predisposing to bleeding"),
                       "alcohol_drinks_per_week": float(e.get("Number of Alcoholic Drinks Per Week", 0) or 0)},
    26: lambda e: {"sodium": _need(e, "Sodium", units.sodium_mmol_l), "glucose_mg_dl": _need(e, "Glucose", units.glucose_mg_dl)},
    27: lambda e: {"bun_mg_dl": _need(e, "Blood Urea Nitrogen (BUN)", units.bun_mg_dl),
                       "hemoglobin_g_dl": _need(e, "Hemoglobin", units.hemoglobin_g_dl), "sex": _sex(e),
                       "systolic": _need(e, "Systolic Blood Pressure"), "heart_rate": _num(e, "Heart Rate or Pulse") or 0.0,
                       "melena": _flag(e, "Melena present"), "syncope": _flag(e, "Recent syncope"),
                       "hepatic_disease": _flag(e, "Hepatic disease history"),
                       "cardiac_failure": _flag(e, "Cardiac failure present")},
    28: _args_apache,
    29: _args_psi,
    30: lambda e: {"sodium": _need(e, "Sodium", units.sodium_mmol_l),
                       "bun_mg_dl": _need(e, "Blood Urea Nitrogen (BUN)", units.bun_mg_dl),
                       "glucose_mg_dl": _need(e, "Glucose", units.glucose_mg_dl)},
    31: lambda e: {"insulin_uiu_ml": _need(e, "Insulin"), "glucose_mg_dl": _need(e, "Glucose", units.glucose_mg_dl)},
    32: _args_charlson,
    33: lambda e: {"fever_past_24h": _flag(e, "Fever in past 24 hours"), "purulence": _flag(e, "Purulent tonsils"),
                       "attend_rapidly": _flag(e, "Symptom onset ≤3 days"),
                       "severely_inflamed_tonsils": _flag(e, "Severe tonsil inflammation"),
                       "no_cough_or_coryza": _flag(e, "Absence of cough or coryza")},
    36: _args_caprini,
    38: lambda e: {"age": _age(e), "sex": _sex(e), "weight_kg": _need(e, "weight", units.kilograms),
                       "sodium": _need(e, "Sodium", units.sodium_mmol_l)},
    39: lambda e: _lytes(e),
    40: lambda e: {"sodium": _need(e, "Sodium", units.sodium_mmol_l),
                       "creatinine_mg_dl": _need(e, "creatinine", units.creatinine_mg_dl),
                       "urine_sodium": _need(e, "Urine sodium", units.sodium_mmol_l),
                       "urine_creatinine_mg_dl": _need(e, "Urine creatinine", units.creatinine_mg_dl)},
    43: _args_sofa,
    44: lambda e: {"total_cholesterol_mg_dl": _need(e, "Total cholesterol", units.cholesterol_mg_dl),
                       "hdl_mg_dl": _need(e, "high-density lipoprotein cholesterol", units.cholesterol_mg_dl),
                       "triglycerides_mg_dl": _need(e, "Triglycerides", units.triglycerides_mg_dl)},
    45: lambda e: {"age": _age(e), "confusion": _flag(e, "Confusion"),
                       "bun_mg_dl": _num(e, "Blood Urea Nitrogen (BUN)", units.bun_mg_dl),
                       "respiratory_rate": _num(e, "respiratory rate"), "systolic": _num(e, "Systolic Blood Pressure"),
                       "diastolic": _num(e, "Diastolic Blood Pressure")},
    46: lambda e: {"age": _age(e), "sex": _sex(e),
                       "total_cholesterol_mg_dl": _need(e, "Total cholesterol", units.cholesterol_mg_dl),
                       "hdl_mg_dl": _need(e, "high-density lipoprotein cholesterol", units.cholesterol_mg_dl),
                       "systolic": _need(e, "Systolic Blood Pressure"),
                       "bp_treated": _flag(e, "Blood pressure being treated with medicines"), "smoker": _flag(e, "Smoker")},
    48: lambda e: {"age": _age(e), "heart_rate": _num(e, "Heart Rate or Pulse") or 0.0,
                       "o2_saturation": _num(e, "O₂ saturation percentage") or 100.0,
                       "unilateral_leg_swelling": _flag(e, "Unilateral Leg Swelling"), "hemoptysis": _flag(e, "Hemoptysis"),
                       "recent_surgery_or_trauma": _flag(e, "Recent surgery or trauma"),
                       "previous_pe_or_dvt": _flag(e, "Previously Documented Pulmonary Embolism",
                                                "Previously documented Deep Vein Thrombosis"),
                       "hormone_use": _flag(e, "Hormone use")},
    49: lambda e: {"doses": _mme_doses(e)},
    51: lambda e: {"temperature_c": _num(e, "Temperature", units.celsius), "heart_rate": _num(e, "Heart Rate or Pulse"),
                       "respiratory_rate": _num(e, "respiratory rate"), "paco2": _num(e, "PaCO₂"),
                       "wbc_per_ul": _num(e, "White blood cell count", units.per_ul)},
    56: lambda e: {"qt_ms": _need(e, "QT interval"), "heart_rate": _need(e, "Heart Rate or Pulse")},
    57: lambda e: {"qt_ms": _need(e, "QT interval"), "heart_rate": _need(e, "Heart Rate or Pulse")},
    58: lambda e: {"qt_ms": _need(e, "QT interval"), "heart_rate": _need(e, "Heart Rate or Pulse")},
    59: lambda e: {"qt_ms": _need(e, "QT interval"), "heart_rate": _need(e, "Heart Rate or Pulse")},
    60: lambda e: {"weight_kg": _need(e, "weight", units.kilograms), "height_cm": _need(e, "height", units.centimetres)},
    61: lambda e: {"target_bmi": _need(e, "Body Mass Index (BMI)"), "height_cm": _need(e, "height", units.centimetres)},
    62: lambda e: {"sex": _sex(e), "weight_kg": _need(e, "weight", units.kilograms),
                       "height_cm": _need(e, "height", units.centimetres)},
    63: lambda e: _lytes(e),
    64: lambda e: _lytes(e),
    65: lambda e: {**_lytes(e), "albumin_g_dl": _need(e, "Albumin", units.albumin_g_dl)},
    66: lambda e: {**_lytes(e), "albumin_g_dl": _need(e, "Albumin", units.albumin_g_dl)},
    67: lambda e: {**_lytes(e), "albumin_g_dl": _need(e, "Albumin", units.albumin_g_dl)},
    68: lambda e: {"last_menstrual_period": _date(e["Last menstrual date"])},
    69: lambda e: {"last_menstrual_period": _date(e["Last menstrual date"]), "current_date": _date(e["Current Date"])},
}


def arguments(calculator_id: int, entities: dict[str, Any]) -> dict[str, Any]:
    """The calculator's keyword arguments, read from a row's ``Relevant Entities``."""
    return ARGUMENTS[calculator_id](entities)


def recompute(row: Row) -> Any:
    """The row's answer recomputed with kernelgym's calculator (published formula)."""
    return row.calculator(**arguments(row.calculator_id, row.entities))


# ---------------------------------------------------------------- answers and agreement


def original_answer(row: Row) -> Any:
    """The v1.0 ground truth as a Python value: float, int, ISO date, or [weeks, days]."""
    calc = row.calculator
    if calc.output == "date":
        return _date(row.answer).isoformat()
    if calc.output == "weeks_days":
        weeks, days = ast.literal_eval(row.answer)
        return [int(str(weeks).split()[0]), int(str(days).split()[0])]
    value = float(row.answer)
    return int(value) if calc.output == "integer" and value.is_integer() else value


def as_answer(row: Row, value: Any) -> Any:
    """A recomputed value in the form stored as ground truth (rounded floats, ISO dates, lists)."""
    calc = row.calculator
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    if calc.output == "integer":
        f = float(value)
        return int(f) if f.is_integer() else round(f, 4)
    return round(float(value), 4)


def agrees(row: Row, value: Any) -> bool:
    """Would MedCalc-Bench v1.0 grade ``value`` (a recomputed answer) as correct for this row?"""
    calc = row.calculator
    if calc.output in ("date", "weeks_days"):
        return as_answer(row, value) == original_answer(row)
    lo, hi = float(row.lower), float(row.upper)
    v = float(value)
    if calc.output == "integer":
        return math.isclose(v, float(row.answer), abs_tol=1e-9)
    return min(lo, hi) - 1e-9 <= v <= max(lo, hi) + 1e-9


def original_grader(row: Row) -> Grader:
    """MedCalc-Bench's grading of a row: the [Lower Limit, Upper Limit] band, or an exact date."""
    calc = row.calculator
    if calc.output == "date":
        return Grader(rule="date")
    if calc.output == "weeks_days":
        return Grader(rule="list")
    lo, hi = float(row.lower), float(row.upper)
    return Grader(rule="range", lower=min(lo, hi), upper=max(lo, hi))


def corrected_grader(calc: Calculator) -> Grader:
    """Grading of recomputed answers: equation-based +/-5 %, rule-based exactly, dates exactly."""
    if calc.output == "decimal":
        return Grader(rule="numeric", rel_tol=0.05)
    if calc.output == "integer":
        return Grader(rule="numeric")
    if calc.output == "date":
        return Grader(rule="date")
    return Grader(rule="list")


ANSWER_FORMATS = {
    "decimal": "a number{unit}",
    "integer": "an integer score",
    "date": "a date (MM/DD/YYYY or YYYY-MM-DD)",
    "weeks_days": "a list [weeks, days], e.g. [4, 3] for 4 weeks and 3 days",
}


def answer_format(calc: Calculator) -> str:
    unit = f" in {calc.unit}" if calc.unit and calc.unit not in ("points", "criteria") else ""
    if calc.output == "decimal" and calc.unit == "points":
        return "a number (the score)"
    return ANSWER_FORMATS[calc.output].format(unit=unit)


# ---------------------------------------------------------------- departures


@dataclass(frozen=True)
class DocumentedDeparture:
    """A row whose corrected label departs from v1.0, as documented in the departures file."""

    row: int
    calculator_id: int
    v1: Any
    corrected: Any
    errata: tuple[str, ...]
    reproduced: bool


@cache
def load_departures(path: Path = DEPARTURES_FILE) -> tuple[dict[str, dict[str, Any]], dict[int, DocumentedDeparture]]:
    """(errata by id, departures by row number) from the documented departures file."""
    data = yaml.safe_load(path.read_text())
    errata = {e["id"]: e for e in data.get("errata", [])}
    rows = {
        int(d["row"]): DocumentedDeparture(row=int(d["row"]), calculator_id=int(d["calculator"]), v1=d["v1"],
                                           corrected=d["corrected"], errata=tuple(d["errata"]),
                                           reproduced=bool(d["reproduced"]))
        for d in data.get("departures", [])
    }
    return errata, rows


@dataclass(frozen=True)
class Comparison:
    row: Row
    value: Any
    agrees: bool
    error: str | None = None


def compare(rows: list[Row]) -> Iterator[Comparison]:
    """Recompute every row and compare with v1.0."""
    for row in rows:
        try:
            value = recompute(row)
        except Exception as exc:  # noqa: BLE001 - an entity the calculator cannot read is reported, not raised
            yield Comparison(row, None, False, f"{type(exc).__name__}: {exc}")
            continue
        yield Comparison(row, value, agrees(row, value))


# ---------------------------------------------------------------- writing the family


PROMPT = """\
The patient note below is also defined in the kernel as the string variable `note`.

Patient note:
{note}

Question: {question}"""


def _instance(row: Row, labels: Labels) -> dict[str, Any] | None:
    calc = row.calculator
    if labels == "original":
        answer, grader = original_answer(row), original_grader(row)
    else:
        try:
            answer = as_answer(row, recompute(row))
        except Exception:  # noqa: BLE001 - a row the calculators cannot read is skipped and counted
            return None
        grader = corrected_grader(calc)
    return {
        "category": calc.slug,
        "question": PROMPT.format(note=row.note.strip(), question=row.question.strip()),
        "answer": answer,
        "grader": grader.model_dump(exclude_defaults=True),
        "inputs": {"note": row.note},
        "split": "test",
        "answer_format": answer_format(calc),
        # Imported rows carry no formula-writing reference solution: submitting the stored label proves
        # only that the verifier accepts it. (The synthetic ``medcalc`` family has real ones.)
        "reference": [f"submit({json.dumps(answer)})"],
    }


SPEC_PROMPT = (
    "You have a Jupyter kernel with numpy, scipy and pandas. Answer the question about the patient, using "
    "code cells if you wish, then call submit(answer) with your final answer.\n\n{question}\n\n{answer_format}"
)


def build_family(csv_path: Path | str, out_dir: Path | str, labels: Labels = "original") -> tuple[Path, int, int]:
    """Write ``<out>/<family>.yaml`` and its JSONL; return (spec path, instances written, rows skipped).

    The family is ``medcalc-bench`` (``original``) or ``medcalc-bench-corrected``, so both label sets
    can live in one folder.
    """
    if labels not in ("original", "corrected"):
        raise ValueError(f"--labels must be original or corrected, not {labels!r}")
    rows = read_rows(csv_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    family = FAMILY if labels == "original" else f"{FAMILY}-corrected"
    jsonl = out / f"{family}.jsonl"
    n = skipped = 0
    with jsonl.open("w") as fh:
        for row in sorted(rows, key=lambda r: r.row_number):
            rec = _instance(row, labels)
            if rec is None:
                skipped += 1
                continue
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    grading = ("its original v1.0 answers, graded as the benchmark grades them (a number within [Lower Limit, "
               "Upper Limit], dates exactly)" if labels == "original" else
               "answers recomputed from Relevant Entities with kernelgym's calculators (published formulas; "
               "departures from v1.0 in docs/medcalc.md), equation-based answers within +/-5 %, rule-based "
               "scores exactly, dates exactly")
    spec = {
        "family": family,
        "description": (f"MedCalc-Bench v1.0 test set ({len(rows)} rows, 55 calculators) with {grading}. "
                        "Source: ncbi-nlp/MedCalc-Bench, CC-BY-SA 4.0."),
        "profile": "biomed",
        "prompt_template": SPEC_PROMPT,
        "instances": jsonl.name,
    }
    spec_path = out / f"{family}.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=110))
    return spec_path, n, skipped


def import_command(csv_path: Path | str, labels: str, out_dir: Path | str) -> str:
    """``kernelgym import medcalc-bench``: write the family and return a one-paragraph summary."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"no such file: {csv_path}")
    spec_path, n, skipped = build_family(csv_path, out_dir, labels)  # type: ignore[arg-type]
    family = spec_path.stem
    lines = [f"wrote {n} instances of family {family!r} to {spec_path.parent}"
             + (f" ({skipped} rows skipped: inputs the calculators cannot read)" if skipped else "")]
    if labels == "corrected":
        _, departures = load_departures()
        lines.append(f"{len(departures)} labels depart from v1.0; reasons in docs/medcalc.md")
    lines.append(f"run it with: kernelgym run --specs {spec_path.parent} --suite {family} --split test")
    return "\n".join(lines)
