"""Clinical calculators, implemented from their published formulas (host side).

One module per group of calculators; each function is typed, self-contained (only ``math`` and
``datetime``) and cites its source in its docstring. :data:`REGISTRY` maps MedCalc-Bench's 55
calculator ids to the functions, with the output type used for grading and the MedCalc-Bench
"Relevant Entities" keys each one reads.

MedCalc-Bench's own code and the ``medcalc-bench`` package were not used: an audit found that both
reproduce errors in the benchmark's v1.0 answers (``docs/medcalc.md``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kernelgym.calculators import (
    body,
    cardiology,
    chemistry,
    comorbidity,
    critical_care,
    gastro,
    infection,
    obstetrics,
    pharmacology,
    renal,
    thrombosis,
)

Output = Literal["decimal", "integer", "date", "weeks_days"]


@dataclass(frozen=True)
class Calculator:
    """One MedCalc-Bench calculator and the function that implements it."""

    id: int
    """MedCalc-Bench's ``Calculator ID``."""
    slug: str
    """kernelgym category name."""
    name: str
    """MedCalc-Bench's ``Calculator Name``."""
    func: Callable[..., Any]
    output: Output
    """How answers are graded: ``decimal`` within +/-5 %, ``integer`` exactly, dates exactly."""
    unit: str = ""
    entities: tuple[str, ...] = field(default=())
    """MedCalc-Bench ``Relevant Entities`` keys this calculator reads."""

    @property
    def kind(self) -> Literal["equation", "rule", "date"]:
        """MedCalc-Bench's split: equation-based (+/-5 %), rule-based (exact) or date (exact)."""
        return {"decimal": "equation", "integer": "rule", "date": "date", "weeks_days": "date"}[self.output]  # type: ignore[return-value]

    @property
    def source(self) -> str:
        """The formula's published source, from the function's docstring."""
        doc = inspect.getdoc(self.func) or ""
        start = doc.find("Source:")
        return " ".join(doc[start + len("Source:"):].split()) if start >= 0 else ""

    def params(self) -> dict[str, inspect.Parameter]:
        """The input schema: the function's parameters (name, annotation, default)."""
        return dict(inspect.signature(self.func).parameters)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)


_SEX = "sex"
_AGE = "age"
_QT = ("Heart Rate or Pulse", "QT interval")
_LYTES = ("Sodium", "Chloride", "Bicarbonate")

_ALL = [
    Calculator(2, "cockcroft_gault", "Creatinine Clearance (Cockcroft-Gault Equation)", renal.cockcroft_gault,
               "decimal", "mL/min", (_AGE, _SEX, "weight", "height", "creatinine")),
    Calculator(3, "ckd_epi_2021", "CKD-EPI Equations for Glomerular Filtration Rate", renal.ckd_epi_2021,
               "decimal", "mL/min/1.73 m²", (_AGE, _SEX, "creatinine")),
    Calculator(4, "cha2ds2_vasc", "CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", cardiology.cha2ds2_vasc,
               "integer", "points", (_AGE, _SEX, "Congestive Heart Faliure", "Hypertension history", "Stroke",
                                     "Transient Ischemic Attacks History", "Thromboembolism history",
                                     "Vascular disease history", "Diabetes history")),
    Calculator(5, "mean_arterial_pressure", "Mean Arterial Pressure (MAP)", cardiology.mean_arterial_pressure,
               "decimal", "mm Hg", ("Systolic Blood Pressure", "Diastolic Blood Pressure")),
    Calculator(6, "bmi", "Body Mass Index (BMI)", body.bmi, "decimal", "kg/m²", ("weight", "height")),
    Calculator(7, "calcium_correction", "Calcium Correction for Hypoalbuminemia", chemistry.corrected_calcium,
               "decimal", "mg/dL", ("Calcium", "Albumin")),
    Calculator(8, "wells_pe", "Wells' Criteria for Pulmonary Embolism", thrombosis.wells_pe, "decimal", "points",
               ("Heart Rate or Pulse", "Clinical signs and symptoms of Deep Vein Thrombosis",
                "Pulmonary Embolism is #1 diagnosis OR equally likely", "Immobilization for at least 3 days",
                "Surgery in the previous 4 weeks", "Previously Documented Pulmonary Embolism",
                "Previously documented Deep Vein Thrombosis", "Hemoptysis",
                "Malignancy with treatment within 6 months or palliative")),
    Calculator(9, "mdrd_gfr", "MDRD GFR Equation", renal.mdrd, "decimal", "mL/min/1.73 m²",
               (_AGE, _SEX, "creatinine", "Race")),
    Calculator(10, "ideal_body_weight", "Ideal Body Weight", body.ideal_body_weight, "decimal", "kg", (_SEX, "height")),
    Calculator(11, "qtc_bazett", "QTc Bazett Calculator", cardiology.qtc_bazett, "decimal", "msec", _QT),
    Calculator(13, "due_date", "Estimated Due Date", obstetrics.due_date, "date", "",
               ("Last menstrual date", "cycle length")),
    Calculator(15, "child_pugh", "Child-Pugh Score for Cirrhosis Mortality", gastro.child_pugh, "integer", "points",
               ("Bilirubin", "Albumin", "international normalized ratio", "Ascites", "Encephalopathy")),
    Calculator(16, "wells_dvt", "Wells' Criteria for DVT", thrombosis.wells_dvt, "integer", "points",
               ("Active cancer", "Bedridden recently >3 days or major surgery within 12 weeks",
                "Major surgery within 12 weeks", "Calf swelling >3 centimeters compared to the other leg",
                "Collateral (nonvaricose) superficial veins present", "Entire Leg Swollen",
                "Localized tenderness along the deep venous system", "Pitting edema, confined to symptomatic leg",
                "Paralysis, paresis, or recent plaster immobilization of the lower extremity",
                "Previously documented Deep Vein Thrombosis",
                "Alternative diagnosis to Deep Vein Thrombosis as likely or more likely")),
    Calculator(17, "rcri", "Revised Cardiac Risk Index for Pre-Operative Risk", cardiology.rcri, "integer", "points",
               ("Elevated-risk surgery", "History of ischemic heart disease",
                "Congestive Heart Failure criteria for the Cardiac Risk Index rule",
                "History of cerebrovascular disease", "Cerebrovascular disease history",
                "Pre-operative treatment with insulin", "Pre-operative creatinine")),
    Calculator(18, "heart_score", "HEART Score for Major Cardiac Events", cardiology.heart_score, "integer", "points",
               ("Suspicion History", "Electrocardiogram Test", _AGE, "Initial troponin", "Hypertension history",
                "hypercholesterolemia", "Diabetes mellitus criteria for CCI rule", "obesity", "smoking",
                "parent or sibling with Cardiovascular disease before age 65", "atherosclerotic disease",
                "Transient Ischemic Attacks History")),
    Calculator(19, "fib4", "Fibrosis-4 (FIB-4) Index for Liver Fibrosis", gastro.fib4, "decimal", "",
               (_AGE, "Aspartate aminotransferase", "Alanine aminotransferase", "Platelet count")),
    Calculator(20, "centor", "Centor Score (Modified/McIsaac) for Strep Pharyngitis", infection.centor_mcisaac,
               "integer", "points", (_AGE, "Temperature", "Cough Absent", "Tender/swollen anterior cervical lymph nodes",
                                     "Exudate or swelling on tonsils")),
    Calculator(21, "gcs", "Glasgow Coma Score (GCS)", critical_care.gcs, "integer", "points",
               ("Best eye response", "Best verbal response", "Best motor response")),
    Calculator(22, "maintenance_fluids", "Maintenance Fluids Calculations", body.maintenance_fluids, "decimal",
               "mL/hr", ("weight",)),
    Calculator(23, "meld_na", "MELD Na (UNOS/OPTN)", gastro.meld_na, "decimal", "points",
               ("creatinine", "Bilirubin", "international normalized ratio", "Sodium",
                "Dialysis at least twice in the past week",
                "Continuous veno-venous hemodialysis for ≥24 hours in the past week")),
    Calculator(24, "steroid_conversion", "Steroid Conversion Calculator", pharmacology.steroid_conversion, "decimal",
               "mg", ("input steroid", "target steroid")),
    Calculator(25, "has_bled", "HAS-BLED Score for Major Bleeding Risk", cardiology.has_bled, "integer", "points",
               (_AGE, "Hypertension history", "Renal disease criteria for the HAS-BLED rule",
                "Liver disease criteria for the HAS-BLED rule", "Stroke",
                "Prior major bleeding or predisposition to bleeding", "Labile international normalized ratio",
                "Medication usage predisposing to bleeding", "Number of Alcoholic Drinks Per Week")),
    Calculator(26, "sodium_correction", "Sodium Correction for Hyperglycemia", chemistry.corrected_sodium, "decimal",
               "mEq/L", ("Sodium", "Glucose")),
    Calculator(27, "glasgow_blatchford", "Glasgow-Blatchford Bleeding Score (GBS)", gastro.glasgow_blatchford,
               "integer", "points", ("Blood Urea Nitrogen (BUN)", "Hemoglobin", _SEX, "Systolic Blood Pressure",
                                     "Heart Rate or Pulse", "Melena present", "Recent syncope",
                                     "Hepatic disease history", "Cardiac failure present")),
    Calculator(28, "apache_ii", "APACHE II Score", critical_care.apache_ii, "integer", "points",
               (_AGE, "Temperature", "Systolic Blood Pressure", "Diastolic Blood Pressure", "Heart Rate or Pulse",
                "respiratory rate", "pH", "Sodium", "Potassium", "creatinine", "Hematocrit",
                "White blood cell count", "Glasgow Coma Score", "FiO₂",
                "Partial pressure of oxygen (PaO₂) for Apache II", "A-a gradient", "Acute renal failure",
                "History of severe organ failure or immunocompromise", "Surgery Type")),
    Calculator(29, "psi", "PSI Score: Pneumonia Severity Index for CAP", infection.psi, "integer", "points",
               (_AGE, _SEX, "Nursing home resident", "Neoplastic disease", "Liver disease severity",
                "Congestive Heart Faliure", "Cerebrovascular disease history", "Renal disease",
                "Altered mental status", "respiratory rate", "Systolic Blood Pressure", "Temperature",
                "Heart Rate or Pulse", "pH", "Blood Urea Nitrogen (BUN)", "Sodium", "Glucose", "Hematocrit",
                "Partial pressure of oxygen (PaO₂) for Apache II", "Pleural effusion on x-ray")),
    Calculator(30, "serum_osmolality", "Serum Osmolality", chemistry.serum_osmolality, "decimal", "mOsm/kg",
               ("Sodium", "Blood Urea Nitrogen (BUN)", "Glucose")),
    Calculator(31, "homa_ir", "HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)", chemistry.homa_ir,
               "decimal", "", ("Insulin", "Glucose")),
    Calculator(32, "charlson", "Charlson Comorbidity Index (CCI)", comorbidity.charlson, "integer", "points",
               (_AGE, "Myocardial infarction", "Congestive Heart Faliure", "Peripheral vascular disease",
                "Cerebrovascular Accident", "Transient Ischemic Attacks History", "Dementia",
                "Chronic Obstructive Pulmonary Disease", "Connective tissue disease", "Peptic ulcer disease",
                "Liver disease severity", "Diabetes mellitus criteria for CCI rule", "Hemiplegia",
                "Moderate to severe Chronic Kidney Disease", "Solid tumor", "Leukemia", "Lymphoma", "AIDS")),
    Calculator(33, "feverpain", "FeverPAIN Score for Strep Pharyngitis", infection.feverpain, "integer", "points",
               ("Fever in past 24 hours", "Purulent tonsils", "Symptom onset ≤3 days", "Severe tonsil inflammation",
                "Absence of cough or coryza")),
    Calculator(36, "caprini", "Caprini Score for Venous Thromboembolism (2005)", thrombosis.caprini, "integer",
               "points", (_AGE, _SEX, "Surgery Type", "Mobility", "Body Mass Index (BMI)",
                          "Major Surgery in the last month", "Congestive Heart Failure in the last month",
                          "Sepsis in the last month", "Pneumonia in the last month",
                          "Immobilizing plaster cast in the last month", "Hip, pelvis, or leg fracture in the last month",
                          "Stroke in the last month", "Multiple trauma in the last month",
                          "Acute spinal cord injury causing paralysis in the last month", "Varicose veins",
                          "Current swollen legs", "Current central venous access",
                          "Previously documented Deep Vein Thrombosis", "Previously Documented Pulmonary Embolism",
                          "Family history of thrombosis", "Positive Factor V Leiden", "Positive prothrombin 20210A",
                          "Elevated serum homocysteine", "Positive lupus anticoagulant",
                          "Elevated anticardiolipin antibody", "Heparin-induced thrombocytopenia",
                          "Other congenital or acquired thrombophilia", "History of inflammatory bowel disease",
                          "Acute Myocardial infarction", "Chronic Obstructive Pulmonary Disease",
                          "Present or previous malignancy")),
    Calculator(38, "free_water_deficit", "Free Water Deficit", renal.free_water_deficit, "decimal", "L",
               (_AGE, _SEX, "weight", "Sodium")),
    Calculator(39, "anion_gap", "Anion Gap", chemistry.anion_gap, "decimal", "mEq/L", _LYTES),
    Calculator(40, "fena", "Fractional Excretion of Sodium (FENa)", renal.fena, "decimal", "%",
               ("Sodium", "creatinine", "Urine sodium", "Urine creatinine")),
    Calculator(43, "sofa", "Sequential Organ Failure Assessment (SOFA) Score", critical_care.sofa, "integer",
               "points", ("Partial pressure of oxygen (PaO₂) for Apache II", "FiO₂", "On mechanical ventilation",
                          "Continous positive airway pressure", "Platelet count", "Glasgow Coma Score", "Bilirubin",
                          "Systolic Blood Pressure", "Diastolic Blood Pressure", "Hypotension", "DOPamine",
                          "DOBUTamine", "EPINEPHrine", "norEPINEPHrine", "creatinine", "Urine Output")),
    Calculator(44, "ldl", "LDL Calculated", chemistry.ldl_friedewald, "decimal", "mg/dL",
               ("Total cholesterol", "high-density lipoprotein cholesterol", "Triglycerides")),
    Calculator(45, "curb65", "CURB-65 Score for Pneumonia Severity", infection.curb65, "integer", "points",
               (_AGE, "Confusion", "Blood Urea Nitrogen (BUN)", "respiratory rate", "Systolic Blood Pressure",
                "Diastolic Blood Pressure")),
    Calculator(46, "framingham_chd", "Framingham Risk Score for Hard Coronary Heart Disease",
               cardiology.framingham_hard_chd, "decimal", "%",
               (_AGE, _SEX, "Total cholesterol", "high-density lipoprotein cholesterol", "Systolic Blood Pressure",
                "Blood pressure being treated with medicines", "Smoker")),
    Calculator(48, "perc", "PERC Rule for Pulmonary Embolism", thrombosis.perc, "integer", "criteria",
               (_AGE, "Heart Rate or Pulse", "O₂ saturation percentage", "Unilateral Leg Swelling", "Hemoptysis",
                "Recent surgery or trauma", "Previously Documented Pulmonary Embolism",
                "Previously documented Deep Vein Thrombosis", "Hormone use")),
    Calculator(49, "mme", "Morphine Milligram Equivalents (MME) Calculator", pharmacology.morphine_mme, "decimal",
               "MME/day", tuple(f"{drug} Dose{per}" for drug in (
                   "Codeine", "FentaNYL buccal", "FentANYL patch", "HYDROcodone", "HYDROmorphone", "Methadone",
                   "Morphine", "OxyCODONE", "OxyMORphone", "Tapentadol", "TraMADol") for per in ("", " Per Day"))),
    Calculator(51, "sirs", "SIRS Criteria", critical_care.sirs, "integer", "criteria",
               ("Temperature", "Heart Rate or Pulse", "respiratory rate", "PaCO₂", "White blood cell count")),
    Calculator(56, "qtc_fridericia", "QTc Fridericia Calculator", cardiology.qtc_fridericia, "decimal", "msec", _QT),
    Calculator(57, "qtc_framingham", "QTc Framingham Calculator", cardiology.qtc_framingham, "decimal", "msec", _QT),
    Calculator(58, "qtc_hodges", "QTc Hodges Calculator", cardiology.qtc_hodges, "decimal", "msec", _QT),
    Calculator(59, "qtc_rautaharju", "QTc Rautaharju Calculator", cardiology.qtc_rautaharju, "decimal", "msec", _QT),
    Calculator(60, "body_surface_area", "Body Surface Area Calculator", body.body_surface_area, "decimal", "m²",
               ("weight", "height")),
    Calculator(61, "target_weight", "Target weight", body.target_weight, "decimal", "kg",
               ("Body Mass Index (BMI)", "height")),
    Calculator(62, "adjusted_body_weight", "Adjusted Body Weight", body.adjusted_body_weight, "decimal", "kg",
               (_SEX, "weight", "height")),
    Calculator(63, "delta_gap", "Delta Gap", chemistry.delta_gap, "decimal", "mEq/L", _LYTES),
    Calculator(64, "delta_ratio", "Delta Ratio", chemistry.delta_ratio, "decimal", "", _LYTES),
    Calculator(65, "albumin_corrected_anion_gap", "Albumin Corrected Anion Gap", chemistry.albumin_corrected_anion_gap,
               "decimal", "mEq/L", _LYTES + ("Albumin",)),
    Calculator(66, "albumin_corrected_delta_gap", "Albumin Corrected Delta Gap", chemistry.albumin_corrected_delta_gap,
               "decimal", "mEq/L", _LYTES + ("Albumin",)),
    Calculator(67, "albumin_corrected_delta_ratio", "Albumin Corrected Delta Ratio",
               chemistry.albumin_corrected_delta_ratio, "decimal", "", _LYTES + ("Albumin",)),
    Calculator(68, "conception_date", "Estimated of Conception", obstetrics.conception_date, "date", "",
               ("Last menstrual date",)),
    Calculator(69, "gestational_age", "Estimated Gestational Age", obstetrics.gestational_age, "weeks_days", "",
               ("Last menstrual date", "Current Date")),
]

REGISTRY: dict[int, Calculator] = {c.id: c for c in _ALL}
"""MedCalc-Bench calculator id -> calculator."""

BY_SLUG: dict[str, Calculator] = {c.slug: c for c in _ALL}
BY_NAME: dict[str, Calculator] = {c.name: c for c in _ALL}


def get(key: int | str) -> Calculator:
    """Look a calculator up by MedCalc-Bench id, kernelgym slug or MedCalc-Bench name."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return REGISTRY[int(key)]
    if key in BY_SLUG:
        return BY_SLUG[key]
    return BY_NAME[key]


__all__ = ["BY_NAME", "BY_SLUG", "REGISTRY", "Calculator", "get"]
