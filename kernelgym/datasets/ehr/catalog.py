"""Item catalogs with real MIMIC-III identifiers: lab tests, chart items, inputs, outputs and
microbiology specimens / organisms / antibiotics.

Item ids, labels, fluids, categories, LOINC codes and units are MIMIC-III's. Reference ranges are
typical adult ranges; ``labevents.flag`` is ``'abnormal'`` exactly when ``valuenum`` lies outside
the item's range (items without a range are never flagged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class LabItem:
    """A ``d_labitems`` row plus what the generator needs to produce its values."""

    itemid: int
    label: str
    fluid: str
    category: str
    loinc_code: str | None
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    decimals: int
    var: str  # the physiological variable it measures (see physiology.VARIABLES / DERIVED)
    noise: float  # measurement noise: relative (log scale) for log variables, else absolute
    low: float  # physiological clip range of the reported value
    high: float


_C, _H, _G = "Chemistry", "Hematology", "Blood Gas"

LAB_ITEMS: Final[tuple[LabItem, ...]] = (
    # chemistry
    LabItem(50912, "Creatinine", "Blood", _C, "2160-0", "mg/dL", 0.5, 1.2, 1, "creat", 0.04, 0.1, 25),
    LabItem(50971, "Potassium", "Blood", _C, "2823-3", "mEq/L", 3.3, 5.1, 1, "k", 0.15, 1.5, 9.5),
    LabItem(50983, "Sodium", "Blood", _C, "2951-2", "mEq/L", 133, 145, 0, "na", 1.5, 100, 180),
    LabItem(50902, "Chloride", "Blood", _C, "2075-0", "mEq/L", 96, 108, 0, "cl", 1.5, 70, 140),
    LabItem(50882, "Bicarbonate", "Blood", _C, "1963-8", "mEq/L", 22, 32, 0, "hco3", 1.2, 4, 50),
    LabItem(50868, "Anion Gap", "Blood", _C, "1863-0", "mEq/L", 8, 20, 0, "aniongap", 0.0, 2, 50),
    LabItem(51006, "Urea Nitrogen", "Blood", _C, "3094-0", "mg/dL", 6, 20, 0, "bun", 0.05, 2, 250),
    LabItem(50931, "Glucose", "Blood", _C, "2345-7", "mg/dL", 70, 100, 0, "glucose", 0.05, 20, 1500),
    LabItem(50893, "Calcium, Total", "Blood", _C, "2000-8", "mg/dL", 8.4, 10.3, 1, "ca", 0.2, 4, 16),
    LabItem(50960, "Magnesium", "Blood", _C, "2601-3", "mg/dL", 1.6, 2.6, 1, "mg", 0.12, 0.6, 6),
    LabItem(50970, "Phosphate", "Blood", _C, "2777-1", "mg/dL", 2.7, 4.5, 1, "phos", 0.25, 0.5, 15),
    LabItem(50885, "Bilirubin, Total", "Blood", _C, "1975-2", "mg/dL", 0.0, 1.5, 1, "tbili", 0.06, 0.1, 45),
    LabItem(50861, "Alanine Aminotransferase (ALT)", "Blood", _C, "1742-6", "IU/L", 0, 40, 0, "alt", 0.08, 3, 8000),
    LabItem(50878, "Asparate Aminotransferase (AST)", "Blood", _C, "1920-8", "IU/L", 0, 40, 0, "ast", 0.08, 5, 10000),
    LabItem(50863, "Alkaline Phosphatase", "Blood", _C, "6768-6", "IU/L", 40, 130, 0, "alp", 0.06, 15, 2000),
    LabItem(50862, "Albumin", "Blood", _C, "1751-7", "g/dL", 3.4, 4.8, 1, "albumin", 0.1, 1.0, 5.5),
    LabItem(50954, "Lactate Dehydrogenase (LD)", "Blood", _C, "2532-0", "IU/L", 94, 250, 0, "ldh", 0.08, 60, 10000),
    LabItem(50956, "Lipase", "Blood", _C, "3040-3", "IU/L", 0, 60, 0, "lipase", 0.1, 3, 20000),
    LabItem(50910, "Creatine Kinase (CK)", "Blood", _C, "2157-6", "IU/L", 25, 200, 0, "ck", 0.08, 10, 50000),
    LabItem(51003, "Troponin T", "Blood", _C, "6598-7", "ng/mL", 0.0, 0.01, 2, "trop", 0.08, 0.01, 25),
    LabItem(50963, "NTproBNP", "Blood", _C, "33762-6", "pg/mL", 0, 300, 0, "bnp", 0.08, 5, 70000),
    LabItem(50852, "% Hemoglobin A1c", "Blood", _C, "4548-4", "%", 4.0, 6.0, 1, "a1c", 0.1, 3.5, 18),
    LabItem(51009, "Vancomycin", "Blood", _C, "20578-1", "ug/mL", 10, 20, 1, "vanco", 0.1, 2, 80),
    # hematology
    LabItem(51301, "White Blood Cells", "Blood", _H, "804-5", "K/uL", 4.0, 11.0, 1, "wbc", 0.05, 0.1, 150),
    LabItem(51222, "Hemoglobin", "Blood", _H, "718-7", "g/dL", 12.0, 16.0, 1, "hgb", 0.2, 3.0, 21),
    LabItem(51221, "Hematocrit", "Blood", _H, "4544-3", "%", 36, 48, 1, "hct", 0.6, 9, 62),
    LabItem(51265, "Platelet Count", "Blood", _H, "777-3", "K/uL", 150, 440, 0, "plt", 0.05, 5, 1500),
    LabItem(51279, "Red Blood Cells", "Blood", _H, "789-8", "m/uL", 4.2, 6.1, 2, "rbc", 0.05, 1.0, 7.5),
    LabItem(51250, "MCV", "Blood", _H, "787-2", "fL", 82, 98, 0, "mcv", 0.8, 60, 125),
    LabItem(51248, "MCH", "Blood", _H, "785-6", "pg", 27, 32, 1, "mch", 0.3, 18, 42),
    LabItem(51249, "MCHC", "Blood", _H, "786-4", "%", 31, 35, 1, "mchc", 0.4, 26, 38),
    LabItem(51277, "RDW", "Blood", _H, "788-0", "%", 10.5, 15.5, 1, "rdw", 0.3, 10, 30),
    LabItem(51256, "Neutrophils", "Blood", _H, "761-7", "%", 50, 70, 1, "neut", 2.0, 10, 98),
    LabItem(51244, "Lymphocytes", "Blood", _H, "731-0", "%", 18, 42, 1, "lymph", 1.5, 0.5, 60),
    LabItem(51274, "PT", "Blood", _H, "5902-2", "sec", 10.4, 13.4, 1, "pt", 0.03, 9, 150),
    LabItem(51237, "INR(PT)", "Blood", _H, "5895-7", None, 0.9, 1.1, 1, "inr", 0.03, 0.8, 15),
    LabItem(51275, "PTT", "Blood", _H, "3173-2", "sec", 22.0, 35.0, 1, "ptt", 0.05, 18, 150),
    # blood gas
    LabItem(50813, "Lactate", "Blood", _G, "32693-4", "mmol/L", 0.5, 2.0, 1, "lactate", 0.06, 0.3, 25),
    LabItem(50820, "pH", "Blood", _G, "11558-4", "units", 7.35, 7.45, 2, "ph", 0.01, 6.7, 7.8),
    LabItem(50818, "pCO2", "Blood", _G, "11557-6", "mm Hg", 35, 45, 0, "pco2", 1.5, 12, 130),
    LabItem(50821, "pO2", "Blood", _G, "11556-8", "mm Hg", 85, 105, 0, "po2", 6.0, 25, 550),
    LabItem(50804, "Calculated Total CO2", "Blood", _G, "34728-6", "mEq/L", 21, 30, 0, "tco2", 0.8, 4, 55),
    LabItem(50802, "Base Excess", "Blood", _G, "11555-0", "mEq/L", None, None, 0, "be", 0.8, -30, 25),
)

LAB_BY_ID: Final[dict[int, LabItem]] = {item.itemid: item for item in LAB_ITEMS}

# Lab panels the generator orders (itemids in charting order).
PANELS: Final[dict[str, tuple[int, ...]]] = {
    "bmp": (50983, 50971, 50902, 50882, 50868, 51006, 50912, 50931),
    "lytes": (50893, 50960, 50970),
    "cbc": (51301, 51222, 51221, 51265, 51279, 51250, 51248, 51249, 51277),
    "diff": (51256, 51244),
    "coags": (51274, 51237, 51275),
    "lfts": (50861, 50878, 50863, 50885, 50862),
    "abg": (50820, 50818, 50821, 50804, 50802),
    "lactate": (50813,),
    "cardiac": (51003, 50910),
    "bnp": (50963,),
    "a1c": (50852,),
    "ldh": (50954,),
    "lipase": (50956,),
    "vanco": (51009,),
}


@dataclass(frozen=True)
class Item:
    """A ``d_items`` row (Metavision chart / input / output items, microbiology items)."""

    itemid: int
    label: str
    abbreviation: str | None
    linksto: str
    category: str
    unitname: str | None
    param_type: str | None
    dbsource: str = "metavision"


def _chart(itemid: int, label: str, abbr: str, category: str, unit: str | None,
           param_type: str = "Numeric") -> Item:
    return Item(itemid, label, abbr, "chartevents", category, unit, param_type)


_VS, _RESP, _NEURO = "Routine Vital Signs", "Respiratory", "Neurological"

CHART_ITEMS: Final[tuple[Item, ...]] = (
    _chart(220045, "Heart Rate", "HR", _VS, "bpm"),
    _chart(220048, "Heart Rhythm", "Heart Rhythm", _VS, None, "Text"),
    _chart(220179, "Non Invasive Blood Pressure systolic", "NBPs", _VS, "mmHg"),
    _chart(220180, "Non Invasive Blood Pressure diastolic", "NBPd", _VS, "mmHg"),
    _chart(220181, "Non Invasive Blood Pressure mean", "NBPm", _VS, "mmHg"),
    _chart(220050, "Arterial Blood Pressure systolic", "ABPs", _VS, "mmHg"),
    _chart(220051, "Arterial Blood Pressure diastolic", "ABPd", _VS, "mmHg"),
    _chart(220052, "Arterial Blood Pressure mean", "ABPm", _VS, "mmHg"),
    _chart(220074, "Central Venous Pressure", "CVP", "Hemodynamics", "mmHg"),
    _chart(220210, "Respiratory Rate", "RR", _RESP, "insp/min"),
    _chart(224690, "Respiratory Rate (Total)", "Respiratory Rate (Total)", _RESP, "insp/min"),
    _chart(220277, "O2 saturation pulseoxymetry", "SpO2", _RESP, "%"),
    _chart(223761, "Temperature Fahrenheit", "Temperature F", _VS, "?F"),
    _chart(220739, "GCS - Eye Opening", "Eye Opening", _NEURO, None, "Text"),
    _chart(223900, "GCS - Verbal Response", "Verbal Response", _NEURO, None, "Text"),
    _chart(223901, "GCS - Motor Response", "Motor Response", _NEURO, None, "Text"),
    _chart(223835, "Inspired O2 Fraction", "FiO2", _RESP, None),
    _chart(220339, "PEEP set", "PEEP set", _RESP, "cmH2O"),
    _chart(224685, "Tidal Volume (observed)", "Tidal Volume (observed)", _RESP, "mL"),
    _chart(225664, "Glucose finger stick", "Glucose finger stick", "Labs", None),
    _chart(226512, "Admission Weight (Kg)", "Admission Weight (Kg)", "General", "kg"),
    _chart(224639, "Daily Weight", "Daily Weight", "General", "kg"),
    _chart(226730, "Height (cm)", "Height (cm)", "General", "cm"),
)

# valueuom written to chartevents (MIMIC leaves it empty for text items and some numeric ones).
CHART_UOM: Final[dict[int, str | None]] = {
    220045: "bpm", 220179: "mmHg", 220180: "mmHg", 220181: "mmHg", 220050: "mmHg",
    220051: "mmHg", 220052: "mmHg", 220074: "mmHg", 220210: "insp/min", 224690: "insp/min", 220277: "%", 223761: "?F",
    223835: None, 220339: "cmH2O", 224685: "mL", 225664: None, 226512: "kg", 224639: "kg",
    226730: "cm", 220048: None, 220739: None, 223900: None, 223901: None,
}

# Text values of the text chart items, as MIMIC's Metavision charts them.
GCS_EYE: Final = ("No Response", "To Pain", "To Speech", "Spontaneously")  # scores 1..4
GCS_VERBAL: Final = ("No Response", "Incomprehensible sounds", "Inappropriate Words", "Confused", "Oriented")
GCS_VERBAL_ETT: Final = "No Response-ETT"
GCS_MOTOR: Final = ("No response", "Abnormal extension", "Abnormal Flexion", "Flex-withdraws",
                    "Localizes Pain", "Obeys Commands")
RHYTHMS: Final = ("SR (Sinus Rhythm)", "ST (Sinus Tachycardia)", "SB (Sinus Bradycardia)",
                  "AF (Atrial Fibrillation)")


@dataclass(frozen=True)
class InputItem:
    """An ``inputevents_mv`` item and how it is ordered."""

    itemid: int
    label: str
    abbreviation: str
    category: str
    unitname: str
    amountuom: str
    rateuom: str | None
    ordercategoryname: str
    ordercategorydescription: str
    secondary: str | None = None
    totalamount: float | None = None


_MED, _ABX, _FLU = "Medications", "Antibiotics", "Fluids/Intake"
_CRYS = "02-Fluids (Crystalloids)"

INPUT_ITEMS: Final[tuple[InputItem, ...]] = (
    InputItem(221906, "Norepinephrine", "Norepinephrine", _MED, "mg", "mg", "mcg/kg/min", "01-Drips", "Continuous Med", _CRYS, 250.0),
    InputItem(221749, "Phenylephrine", "Phenylephrine", _MED, "mg", "mg", "mcg/kg/min", "01-Drips", "Continuous Med", _CRYS, 250.0),
    InputItem(222168, "Propofol", "Propofol", _MED, "mg", "mg", "mcg/kg/min", "01-Drips", "Continuous Med", _CRYS, 100.0),
    InputItem(221744, "Fentanyl", "Fentanyl", _MED, "mg", "mg", "mcg/hour", "01-Drips", "Continuous Med", _CRYS, 100.0),
    InputItem(223258, "Insulin - Regular", "Insulin - Regular", _MED, "units", "units", "units/hour", "01-Drips", "Continuous Med", _CRYS, 100.0),
    InputItem(223262, "Insulin - Humalog", "Insulin - Humalog", _MED, "units", "units", None, "06-Insulin (Non IV)", "Drug Push"),
    InputItem(225152, "Heparin Sodium", "Heparin Sodium", _MED, "units", "units", "units/hour", "01-Drips", "Continuous Med", _CRYS, 250.0),
    InputItem(225975, "Heparin Sodium (Prophylaxis)", "Heparin Sodium (Prophylaxis)", _MED, "dose", "dose", None, "11-Prophylaxis (Non IV)", "Drug Push"),
    InputItem(225155, "Octreotide", "Octreotide", _MED, "mg", "mg", "mcg/hour", "01-Drips", "Continuous Med", _CRYS, 250.0),
    InputItem(225910, "Pantoprazole (Protonix)", "Pantoprazole (Protonix)", _MED, "dose", "dose", None, "10-Prophylaxis (IV)", "Drug Push", _CRYS, 50.0),
    InputItem(221794, "Furosemide (Lasix)", "Furosemide (Lasix)", _MED, "mg", "mg", None, "05-Med Bolus", "Drug Push"),
    InputItem(225974, "Metoprolol", "Metoprolol", _MED, "mg", "mg", None, "05-Med Bolus", "Drug Push"),
    InputItem(225166, "Potassium Chloride", "Potassium Chloride - KCL", _MED, "mEq", "mEq", None, "05-Med Bolus", "Drug Push"),
    InputItem(222011, "Magnesium Sulfate", "Magnesium Sulfate", _MED, "grams", "grams", None, "05-Med Bolus", "Drug Push"),
    InputItem(225158, "NaCl 0.9%", "NaCl 0.9%", _FLU, "mL", "ml", "mL/hour", _CRYS, "Continuous IV", "Additive (Crystalloid)"),
    InputItem(225828, "LR", "LR", _FLU, "mL", "ml", "mL/hour", _CRYS, "Continuous IV", "Additive (Crystalloid)"),
    InputItem(220949, "Dextrose 5%", "Dextrose 5%", _FLU, "mL", "ml", "mL/hour", _CRYS, "Continuous IV", "Additive (Crystalloid)"),
    InputItem(225168, "Packed Red Blood Cells", "PRBC's", "Blood Products/Colloids", "mL", "ml", "mL/hour", "07-Blood Products", "Continuous IV"),
    InputItem(225798, "Vancomycin", "Vancomycin", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 250.0),
    InputItem(225893, "Piperacillin/Tazobactam (Zosyn)", "Piperacillin/Tazobactam (Zosyn)", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 100.0),
    InputItem(225851, "Cefepime", "Cefepime", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 100.0),
    InputItem(225883, "Meropenem", "Meropenem", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 100.0),
    InputItem(225855, "Ceftriaxone", "Ceftriaxone", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 50.0),
    InputItem(225845, "Azithromycin", "Azithromycin", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 250.0),
    InputItem(225879, "Levofloxacin", "Levofloxacin", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 150.0),
    InputItem(225884, "Metronidazole", "Metronidazole", _ABX, "dose", "dose", None, "08-Antibiotics (IV)", "Drug Push", _CRYS, 100.0),
)

INPUT_BY_ID: Final[dict[int, InputItem]] = {item.itemid: item for item in INPUT_ITEMS}

OUTPUT_ITEMS: Final[tuple[Item, ...]] = (
    Item(226559, "Foley", "Foley", "outputevents", "Output", "mL", "Numeric"),
    Item(226560, "Void", "Void", "outputevents", "Output", "mL", "Numeric"),
    Item(226575, "Nasogastric", "Nasogastric", "outputevents", "Output", "mL", "Numeric"),
    Item(226579, "Stool", "Stool", "outputevents", "Output", "mL", "Numeric"),
    Item(226588, "Chest Tube #1", "Chest Tube #1", "outputevents", "Output", "mL", "Numeric"),
)

# Microbiology (MIMIC's hospital item ids for specimens 70xxx, organisms 80xxx, antibiotics 90xxx).
SPECIMENS: Final[dict[str, int]] = {
    "BLOOD CULTURE": 70012, "URINE": 70079, "SPUTUM": 70062, "MRSA SCREEN": 70091,
    "STOOL": 70064, "BRONCHOALVEOLAR LAVAGE": 70021, "CATHETER TIP-IV": 70023,
}
ORGANISMS: Final[dict[str, int]] = {
    "ESCHERICHIA COLI": 80002, "KLEBSIELLA PNEUMONIAE": 80004, "KLEBSIELLA OXYTOCA": 80005,
    "PROTEUS MIRABILIS": 80017, "STAPH AUREUS COAG +": 80023, "PSEUDOMONAS AERUGINOSA": 80026,
    "ENTEROCOCCUS SP.": 80053, "YEAST": 80075, "STREPTOCOCCUS PNEUMONIAE": 80076,
    "CLOSTRIDIUM DIFFICILE": 80139, "STAPHYLOCOCCUS, COAGULASE NEGATIVE": 80155,
    "POSITIVE FOR METHICILLIN RESISTANT STAPH AUREUS": 80293,
}
ANTIBIOTICS: Final[dict[str, int]] = {
    "PENICILLIN G": 90003, "AMPICILLIN": 90004, "CEFAZOLIN": 90005, "ERYTHROMYCIN": 90006,
    "CLINDAMYCIN": 90007, "TRIMETHOPRIM/SULFA": 90008, "NITROFURANTOIN": 90010,
    "TETRACYCLINE": 90011, "GENTAMICIN": 90012, "TOBRAMYCIN": 90013, "AMIKACIN": 90014,
    "VANCOMYCIN": 90015, "OXACILLIN": 90016, "CEFTAZIDIME": 90017, "CEFTRIAXONE": 90018,
    "CIPROFLOXACIN": 90019, "AMPICILLIN/SULBACTAM": 90022, "LEVOFLOXACIN": 90025,
    "PIPERACILLIN/TAZO": 90026, "RIFAMPIN": 90027, "CEFEPIME": 90028, "MEROPENEM": 90029,
    "LINEZOLID": 90031,
}
# MIC ladders (dilution values, ug/mL) used to write dilution_text for S / I / R results.
MIC: Final[dict[str, tuple[float, float, float]]] = {
    "PENICILLIN G": (0.06, 0.12, 2), "AMPICILLIN": (2, 16, 32), "CEFAZOLIN": (4, 8, 64),
    "ERYTHROMYCIN": (0.25, 1, 8), "CLINDAMYCIN": (0.25, 1, 8), "TRIMETHOPRIM/SULFA": (1, 2, 16),
    "NITROFURANTOIN": (16, 64, 512), "TETRACYCLINE": (1, 8, 16), "GENTAMICIN": (1, 8, 16),
    "TOBRAMYCIN": (1, 8, 16), "AMIKACIN": (2, 32, 64), "VANCOMYCIN": (1, 8, 32),
    "OXACILLIN": (0.25, 1, 4), "CEFTAZIDIME": (1, 16, 64), "CEFTRIAXONE": (1, 2, 64),
    "CIPROFLOXACIN": (0.25, 2, 4), "AMPICILLIN/SULBACTAM": (2, 16, 32), "LEVOFLOXACIN": (0.12, 4, 8),
    "PIPERACILLIN/TAZO": (4, 64, 128), "RIFAMPIN": (0.5, 2, 4), "CEFEPIME": (1, 16, 64),
    "MEROPENEM": (0.25, 2, 16), "LINEZOLID": (2, 4, 8),
}
# Antibiotic panel per organism with the probability of resistance.
SUSCEPTIBILITY: Final[dict[str, dict[str, float]]] = {
    "ESCHERICHIA COLI": {
        "AMPICILLIN": 0.5, "AMPICILLIN/SULBACTAM": 0.35, "CEFAZOLIN": 0.2, "CEFTRIAXONE": 0.12,
        "CEFTAZIDIME": 0.1, "CEFEPIME": 0.08, "CIPROFLOXACIN": 0.3, "GENTAMICIN": 0.1,
        "TOBRAMYCIN": 0.1, "MEROPENEM": 0.01, "PIPERACILLIN/TAZO": 0.06, "TRIMETHOPRIM/SULFA": 0.3,
        "NITROFURANTOIN": 0.04,
    },
    "KLEBSIELLA PNEUMONIAE": {
        "AMPICILLIN": 1.0, "AMPICILLIN/SULBACTAM": 0.2, "CEFAZOLIN": 0.15, "CEFTRIAXONE": 0.1,
        "CEFTAZIDIME": 0.1, "CEFEPIME": 0.08, "CIPROFLOXACIN": 0.1, "GENTAMICIN": 0.06,
        "TOBRAMYCIN": 0.08, "MEROPENEM": 0.03, "PIPERACILLIN/TAZO": 0.1, "TRIMETHOPRIM/SULFA": 0.15,
    },
    "KLEBSIELLA OXYTOCA": {
        "AMPICILLIN": 1.0, "CEFAZOLIN": 0.3, "CEFTRIAXONE": 0.05, "CEFEPIME": 0.03,
        "CIPROFLOXACIN": 0.05, "GENTAMICIN": 0.03, "MEROPENEM": 0.01, "TRIMETHOPRIM/SULFA": 0.1,
    },
    "PROTEUS MIRABILIS": {
        "AMPICILLIN": 0.2, "CEFAZOLIN": 0.1, "CEFTRIAXONE": 0.03, "CIPROFLOXACIN": 0.2,
        "GENTAMICIN": 0.08, "MEROPENEM": 0.01, "PIPERACILLIN/TAZO": 0.02, "TRIMETHOPRIM/SULFA": 0.25,
    },
    "PSEUDOMONAS AERUGINOSA": {
        "CEFTAZIDIME": 0.15, "CEFEPIME": 0.15, "CIPROFLOXACIN": 0.25, "GENTAMICIN": 0.15,
        "TOBRAMYCIN": 0.1, "AMIKACIN": 0.05, "MEROPENEM": 0.15, "PIPERACILLIN/TAZO": 0.15,
    },
    "STAPH AUREUS COAG +": {
        "OXACILLIN": 0.45, "VANCOMYCIN": 0.0, "CLINDAMYCIN": 0.35, "ERYTHROMYCIN": 0.55,
        "GENTAMICIN": 0.05, "LEVOFLOXACIN": 0.4, "TETRACYCLINE": 0.05, "TRIMETHOPRIM/SULFA": 0.03,
        "RIFAMPIN": 0.01, "PENICILLIN G": 0.9,
    },
    "STAPHYLOCOCCUS, COAGULASE NEGATIVE": {
        "OXACILLIN": 0.7, "VANCOMYCIN": 0.0, "CLINDAMYCIN": 0.4, "ERYTHROMYCIN": 0.6,
        "GENTAMICIN": 0.2, "LEVOFLOXACIN": 0.5, "TETRACYCLINE": 0.15, "TRIMETHOPRIM/SULFA": 0.4,
        "RIFAMPIN": 0.05, "PENICILLIN G": 0.95,
    },
    "ENTEROCOCCUS SP.": {
        "AMPICILLIN": 0.25, "VANCOMYCIN": 0.25, "NITROFURANTOIN": 0.05, "LINEZOLID": 0.02,
        "TETRACYCLINE": 0.6,
    },
    "STREPTOCOCCUS PNEUMONIAE": {
        "PENICILLIN G": 0.15, "CEFTRIAXONE": 0.03, "ERYTHROMYCIN": 0.35, "LEVOFLOXACIN": 0.02,
        "VANCOMYCIN": 0.0,
    },
}


def d_items() -> list[Item]:
    """Every ``d_items`` row the data set uses, chart items first, then inputs, outputs, micro."""
    rows: list[Item] = list(CHART_ITEMS)
    rows += [
        Item(i.itemid, i.label, i.abbreviation, "inputevents_mv", i.category, i.unitname, "Solution")
        for i in INPUT_ITEMS
    ]
    rows += list(OUTPUT_ITEMS)
    for mapping, category in ((SPECIMENS, "SPECIMEN"), (ORGANISMS, "ORGANISM"),
                              (ANTIBIOTICS, "ANTIBACTERIUM")):
        rows += [
            Item(itemid, label, None, "microbiologyevents", category, None, None, dbsource="hospital")
            for label, itemid in sorted(mapping.items(), key=lambda kv: kv[1])
        ]
    return rows
