"""Clinical knowledge the generator draws from: admission conditions, complications, comorbidities.

Every ICD-9 code here is a real CMS v32 leaf code (the tests check them against
``d_icd_diagnoses``). Effects are ``(variable, amplitude, peak hour, rise hours, tau hours)``; for
log variables the amplitude is a log ratio (``LN(3)`` triples the value). Amplitudes scale with the
admission's severity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

INF: Final = math.inf


def LN(x: float) -> float:  # noqa: N802 - reads like the math in the tables below
    return math.log(x)


Eff = tuple[str, float, float, float, float]  # var, amp, peak, rise, tau


@dataclass(frozen=True)
class Condition:
    """A primary reason for admission."""

    key: str
    weight: float
    diagnosis: tuple[str, ...]  # admissions.diagnosis texts (as admitting clinicians wrote them)
    primary: tuple[tuple[str, float], ...]  # ICD-9 codes with weights
    effects: tuple[Eff, ...]
    secondary: tuple[tuple[str, float], ...] = ()  # ICD-9 codes with probabilities
    admission_type: str = "EMERGENCY"
    careunits: tuple[tuple[str, float], ...] = (("MICU", 1.0),)
    mortality: float = 0.08
    icu_los: float = 2.0  # median days in the ICU
    ward_los: float = 3.0  # median days on the floor after the ICU
    p_vent: float = 0.1
    p_shock: float = 0.05
    p_aki: float = 0.1
    transfusions: float = 0.0  # expected PRBC units at severity 1
    infection: tuple[tuple[str, float], ...] = ()  # infection source -> probability
    drugs: tuple[str, ...] = ()  # prescriptions every such admission gets
    optional_drugs: tuple[tuple[str, float], ...] = ()
    panels: tuple[str, ...] = ()  # extra lab panels on admission
    daily_panels: tuple[str, ...] = ()
    procedures: tuple[tuple[str, float], ...] = ()
    age_shift: float = 0.0  # patients with this condition are this much younger/older
    requires: str | None = None  # comorbidity the condition implies


CONDITIONS: Final[tuple[Condition, ...]] = (
    Condition(
        "sepsis", 14, ("SEPSIS", "SEPSIS", "SEPSIS", "UROSEPSIS", "FEVER", "HYPOTENSION"),
        primary=(("0389", 1.0),),  # refined from the blood culture organism
        effects=(
            ("wbc", LN(2.1), 0, 18, 60), ("neut", 14, 0, 18, 60), ("lactate", LN(2.4), 0, 12, 20),
            ("temp", 1.5, 4, 12, 40), ("hr", 22, 4, 12, 40), ("sbp", -18, 4, 12, 36),
            ("dbp", -11, 4, 12, 36), ("rr", 6, 4, 12, 40), ("spo2", -1.5, 4, 12, 40),
            ("plt", -LN(1.7), 48, 36, 120), ("hco3", -4, 0, 12, 30), ("glucose", LN(1.25), 0, 12, 36),
            ("albumin", -0.6, 24, 24, 400), ("creat", LN(1.3), 24, 24, 48), ("bun", LN(1.35), 24, 24, 72),
            ("inr", LN(1.18), 24, 24, 72), ("tbili", LN(1.4), 24, 24, 72), ("ptt", LN(1.1), 24, 24, 72),
            ("cvp", -3, 0, 12, 24),
        ),
        secondary=(),
        careunits=(("MICU", 0.85), ("SICU", 0.15)),
        mortality=0.19, icu_los=3.0, ward_los=4.0, p_vent=0.35, p_shock=0.5, p_aki=0.35,
        infection=(("urine", 0.4), ("lung", 0.35), ("skin", 0.1), ("unknown", 0.15)),
        drugs=("vancomycin", "heparin_sc", "acetaminophen", "ns_bolus", "docusate", "ns_flush"),
        optional_drugs=(("pantoprazole_iv", 0.5), ("senna", 0.4), ("ondansetron", 0.3)),
        panels=("lfts", "lactate", "diff"), daily_panels=("lfts",),
        procedures=(("3893", 0.45),),
    ),
    Condition(
        "pneumonia", 10, ("PNEUMONIA", "PNEUMONIA", "RESPIRATORY DISTRESS", "SHORTNESS OF BREATH", "HYPOXIA"),
        primary=(("486", 0.75), ("5070", 0.25)),  # refined from the sputum organism
        effects=(
            ("wbc", LN(1.7), 0, 18, 72), ("neut", 12, 0, 18, 72), ("temp", 1.2, 4, 12, 48),
            ("rr", 7, 4, 12, 60), ("spo2", -5, 6, 12, 72), ("po2", -22, 6, 12, 72),
            ("hr", 14, 4, 12, 48), ("lactate", LN(1.3), 0, 12, 24), ("sbp", -5, 4, 12, 48),
        ),
        secondary=(("79902", 0.3),),
        mortality=0.1, icu_los=2.5, ward_los=4.0, p_vent=0.3, p_shock=0.15, p_aki=0.15,
        infection=(("lung", 1.0),),
        drugs=("heparin_sc", "acetaminophen", "albuterol_neb", "ns_flush"),
        optional_drugs=(("ipratropium_neb", 0.4), ("docusate", 0.5)),
        panels=("diff", "lactate"),
    ),
    Condition(
        "chf", 10, ("CONGESTIVE HEART FAILURE", "CHF EXACERBATION", "SHORTNESS OF BREATH", "PULMONARY EDEMA"),
        primary=(("42823", 0.3), ("42833", 0.25), ("42843", 0.1), ("4280", 0.35)),
        effects=(
            ("bnp", LN(5), 0, 24, 120), ("spo2", -5, 0, 12, 36), ("rr", 6, 0, 12, 36),
            ("hr", 12, 0, 12, 36), ("sbp", 12, 0, 12, 24), ("bun", LN(1.4), 24, 24, 96),
            ("creat", LN(1.25), 36, 36, 96), ("na", -3, 24, 24, 96), ("po2", -20, 0, 12, 36),
            ("trop", LN(3), 12, 12, 36), ("k", -0.25, 48, 36, 72), ("hco3", 2, 72, 48, 96),
            ("cvp", 6, 0, 12, 48),
        ),
        secondary=(("4280", 1.0),),
        careunits=(("CCU", 0.6), ("MICU", 0.4)),
        mortality=0.06, icu_los=2.0, ward_los=3.5, p_vent=0.12, p_shock=0.06, p_aki=0.25,
        drugs=("furosemide_iv", "metoprolol_po", "aspirin81", "heparin_sc", "kcl_po"),
        optional_drugs=(("lisinopril", 0.6), ("atorvastatin_low", 0.6), ("furosemide_po", 0.6), ("docusate", 0.4)),
        panels=("cardiac", "bnp"),
        procedures=(("8872", 0.35),),
        requires="chf",
    ),
    Condition(
        "aki", 6, ("ACUTE RENAL FAILURE", "RENAL FAILURE", "HYPERKALEMIA", "ACUTE KIDNEY INJURY"),
        primary=(("5849", 0.75), ("5845", 0.25)),
        effects=(("k", 0.5, 0, 12, 48), ("hco3", -3, 0, 12, 48), ("phos", 1.2, 0, 12, 72)),
        secondary=(("27651", 0.4),),
        mortality=0.1, icu_los=2.5, ward_los=4.0, p_vent=0.08, p_shock=0.08, p_aki=1.0,
        drugs=("ns_bolus", "heparin_sc", "acetaminophen"),
        optional_drugs=(("bicarb", 0.3), ("calcium_gluc", 0.2), ("docusate", 0.3)),
        age_shift=4,
    ),
    Condition(
        "dka", 5, ("DIABETIC KETOACIDOSIS", "DIABETIC KETOACIDOSIS", "DKA", "HYPERGLYCEMIA"),
        primary=(("25013", 0.45), ("25011", 0.25), ("25012", 0.15), ("25010", 0.15)),
        effects=(
            ("glucose", LN(4.5), 0, 12, 10), ("hco3", -13, 0, 12, 12), ("k", 1.0, 0, 12, 8),
            ("k", -0.8, 16, 8, 24), ("na", -4, 0, 12, 24), ("bun", LN(1.7), 0, 12, 36),
            ("creat", LN(1.5), 0, 12, 36), ("wbc", LN(1.6), 0, 12, 24), ("hr", 20, 0, 12, 24),
            ("rr", 8, 0, 12, 12), ("lactate", LN(1.4), 0, 12, 12), ("phos", -0.8, 18, 12, 36),
            ("cvp", -3, 0, 12, 12),
        ),
        secondary=(("27651", 0.6),),
        mortality=0.02, icu_los=1.5, ward_los=2.0, p_vent=0.02, p_shock=0.03, p_aki=0.2,
        drugs=("insulin_drip", "insulin_ss", "insulin_glargine", "ns_bolus", "kcl_iv", "d5w"),
        optional_drugs=(("heparin_sc", 0.7), ("ondansetron", 0.4)),
        panels=("a1c",),
        age_shift=-25, requires="dm",
    ),
    Condition(
        "gi_bleed", 8, ("GASTROINTESTINAL BLEED", "UPPER GI BLEED", "LOWER GI BLEED", "GI BLEED", "MELENA"),
        primary=(("5789", 0.35), ("5780", 0.15), ("5781", 0.2), ("53100", 0.15), ("53240", 0.1), ("5693", 0.05)),
        effects=(
            ("hgb", -3.2, 18, 24, 600), ("bun", LN(2.0), 12, 12, 36), ("hr", 18, 0, 12, 24),
            ("sbp", -14, 0, 12, 24), ("dbp", -8, 0, 12, 24), ("lactate", LN(1.3), 0, 12, 12),
            ("cvp", -4, 0, 12, 24),
        ),
        secondary=(("2851", 0.75),),
        mortality=0.06, icu_los=1.5, ward_los=3.0, p_vent=0.06, p_shock=0.1, p_aki=0.1,
        transfusions=2.5,
        drugs=("pantoprazole_iv", "ns_bolus", "ns_flush"),
        optional_drugs=(("ondansetron", 0.4), ("pantoprazole_po", 0.6), ("docusate", 0.3)),
        panels=("coags",),
        procedures=(("4513", 0.6), ("4443", 0.2), ("4516", 0.2), ("4523", 0.25)),
    ),
    Condition(
        "copd", 6, ("COPD EXACERBATION", "SHORTNESS OF BREATH", "RESPIRATORY FAILURE", "DYSPNEA"),
        primary=(("49121", 0.75), ("49122", 0.25)),
        effects=(
            ("pco2x", 16, 0, 12, 48), ("hco3", 3, 24, 24, 200), ("spo2", -6, 0, 12, 48),
            ("rr", 8, 0, 12, 48), ("hr", 14, 0, 12, 36), ("po2", -20, 0, 12, 48),
            ("wbc", LN(1.35), 24, 24, 72), ("glucose", LN(1.35), 36, 24, 72),
        ),
        secondary=(("3051", 0.35),),
        mortality=0.05, icu_los=2.0, ward_los=3.0, p_vent=0.25, p_shock=0.04, p_aki=0.05,
        drugs=("methylpred", "prednisone", "albuterol_neb", "ipratropium_neb", "heparin_sc"),
        optional_drugs=(("docusate", 0.3),),
        procedures=(("9390", 0.3),),
        age_shift=5, requires="copd",
    ),
    Condition(
        "mi", 8, ("ST ELEVATION MYOCARDIAL INFARCTION\\CATH", "CHEST PAIN", "NSTEMI", "ACUTE MYOCARDIAL INFARCTION", "CHEST PAIN\\CATH"),
        primary=(("41071", 0.55), ("41041", 0.2), ("41011", 0.15), ("41091", 0.1)),
        effects=(
            ("trop", LN(120), 12, 10, 40), ("ck", LN(6), 14, 12, 30), ("ldh", LN(2), 48, 36, 72),
            ("hr", 10, 0, 12, 24), ("sbp", -6, 0, 12, 24), ("wbc", LN(1.3), 12, 12, 48),
            ("glucose", LN(1.2), 0, 12, 24), ("bnp", LN(3), 24, 24, 120),
        ),
        secondary=(("41401", 0.9),),
        careunits=(("CCU", 0.9), ("MICU", 0.1)),
        mortality=0.07, icu_los=2.0, ward_los=2.5, p_vent=0.08, p_shock=0.1, p_aki=0.1,
        drugs=("aspirin325", "clopidogrel", "atorvastatin", "metoprolol_po", "heparin_drip"),
        optional_drugs=(("lisinopril", 0.6), ("morphine", 0.3), ("docusate", 0.4)),
        panels=("cardiac", "bnp", "coags"),
        procedures=(("3722", 0.8), ("8856", 0.8), ("0066", 0.6), ("3607", 0.55), ("0045", 0.35),
                    ("0040", 0.45), ("8872", 0.5)),
    ),
    Condition(
        "stroke", 6, ("STROKE", "STROKE/TIA", "CEREBROVASCULAR ACCIDENT", "INTRACRANIAL HEMORRHAGE", "ALTERED MENTAL STATUS"),
        primary=(("43491", 0.5), ("43411", 0.22), ("431", 0.2), ("430", 0.08)),
        effects=(
            ("gcs", -4.5, 6, 12, 200), ("sbp", 28, 0, 12, 36), ("dbp", 12, 0, 12, 36),
            ("glucose", LN(1.15), 0, 12, 48), ("temp", 0.3, 48, 24, 48), ("hr", -4, 0, 12, 48),
        ),
        secondary=(("34290", 0.4), ("7843", 0.3), ("78720", 0.3)),
        careunits=(("SICU", 0.5), ("MICU", 0.5)),
        mortality=0.12, icu_los=2.5, ward_los=4.0, p_vent=0.2, p_shock=0.03, p_aki=0.05,
        drugs=("atorvastatin", "acetaminophen", "docusate"),
        panels=("coags", "a1c"),
        procedures=(("8703", 0.3), ("4311", 0.1)),
        age_shift=6,
    ),
    Condition(
        "cirrhosis", 5, ("CIRRHOSIS", "HEPATIC ENCEPHALOPATHY", "ASCITES", "LIVER FAILURE", "ALCOHOLIC HEPATITIS"),
        primary=(("5712", 0.45), ("5715", 0.25), ("5722", 0.2), ("5711", 0.1)),
        effects=(
            ("tbili", LN(2.5), 24, 24, 200), ("inr", LN(1.3), 24, 24, 200), ("gcs", -3, 0, 12, 48),
            ("na", -3, 24, 24, 96), ("creat", LN(1.2), 24, 24, 96), ("albumin", -0.4, 24, 24, 200),
            ("ast", LN(1.5), 0, 12, 72), ("alt", LN(1.3), 0, 12, 72),
        ),
        secondary=(("78959", 0.6), ("5723", 0.5), ("4561", 0.3)),
        mortality=0.15, icu_los=2.0, ward_los=5.0, p_vent=0.12, p_shock=0.1, p_aki=0.3,
        transfusions=0.5,
        drugs=("lactulose", "rifaximin", "thiamine", "folic_acid", "pantoprazole_po"),
        optional_drugs=(("spironolactone", 0.5), ("furosemide_po", 0.5), ("octreotide", 0.15)),
        panels=("coags", "lfts"), daily_panels=("coags", "lfts"),
        procedures=(("5491", 0.5), ("4233", 0.1)),
        age_shift=-8, requires="cirrhosis",
    ),
    Condition(
        "trauma", 6, ("S/P FALL", "MOTOR VEHICLE ACCIDENT", "SUBDURAL HEMATOMA", "HIP FRACTURE", "TRAUMA"),
        primary=(("85221", 1.0),),  # set by the injury (see INJURIES)
        effects=(
            ("hgb", -2.2, 6, 6, 400), ("hr", 18, 0, 6, 24), ("lactate", LN(1.6), 0, 6, 12),
            ("ck", LN(5), 24, 24, 48), ("wbc", LN(1.4), 0, 12, 36), ("sbp", -8, 0, 6, 24),
        ),
        careunits=(("TSICU", 0.8), ("SICU", 0.2)),
        mortality=0.07, icu_los=2.5, ward_los=4.0, p_vent=0.3, p_shock=0.1, p_aki=0.08,
        transfusions=0.8,
        drugs=("morphine", "oxycodone", "acetaminophen", "docusate", "senna"),
        panels=("coags", "lactate"),
        age_shift=2,
    ),
    Condition(
        "cabg", 7, ("CORONARY ARTERY DISEASE\\CORONARY ARTERY BYPASS GRAFT /SDA",
                    "CORONARY ARTERY DISEASE\\CORONARY ARTERY BYPASS GRAFT/SDA"),
        primary=(("41401", 1.0),),
        effects=(
            ("hgb", -3.0, 8, 6, 500), ("wbc", LN(1.7), 24, 18, 48), ("temp", 0.6, 18, 12, 24),
            ("ck", LN(4), 12, 8, 24), ("trop", LN(60), 8, 6, 24), ("plt", -LN(1.4), 36, 30, 96),
            ("glucose", LN(1.4), 6, 6, 24), ("lactate", LN(1.8), 4, 4, 8), ("hr", 8, 6, 6, 48),
        ),
        secondary=(("2851", 0.5), ("4111", 0.2), ("42731", 0.25)),
        admission_type="ELECTIVE",
        careunits=(("CSRU", 1.0),),
        mortality=0.02, icu_los=1.6, ward_los=4.0, p_vent=1.0, p_shock=0.05, p_aki=0.08,
        transfusions=0.7,
        drugs=("aspirin81", "metoprolol_po", "atorvastatin", "furosemide_iv", "kcl_iv", "morphine",
               "oxycodone", "acetaminophen", "docusate", "insulin_ss", "heparin_sc"),
        panels=("coags", "abg"),
        procedures=(("3961", 1.0), ("3615", 0.85), ("8872", 0.3)),
        age_shift=2, requires="cad",
    ),
    Condition(
        "hip", 2, ("OSTEOARTHRITIS\\TOTAL HIP REPLACEMENT /SDA", "HIP OSTEOARTHRITIS/SDA"),
        primary=(("71515", 1.0),),
        effects=(("hgb", -2.2, 8, 6, 500), ("wbc", LN(1.3), 24, 18, 48), ("temp", 0.4, 18, 12, 24)),
        secondary=(("2851", 0.4),),
        admission_type="ELECTIVE",
        careunits=(("SICU", 1.0),),
        mortality=0.004, icu_los=1.0, ward_los=3.0, p_vent=0.02, p_shock=0.01, p_aki=0.03,
        transfusions=0.4,
        drugs=("oxycodone", "acetaminophen", "docusate", "senna", "heparin_sc", "ondansetron"),
        procedures=(("8151", 1.0),),
        age_shift=3,
    ),
    Condition(
        "pancreatitis", 3, ("PANCREATITIS", "ACUTE PANCREATITIS", "ABDOMINAL PAIN"),
        primary=(("5770", 1.0),),
        effects=(
            ("lipase", LN(25), 0, 12, 36), ("wbc", LN(1.6), 0, 12, 48), ("glucose", LN(1.3), 0, 12, 48),
            ("ca", -0.9, 48, 36, 96), ("hr", 15, 0, 12, 36), ("bun", LN(1.4), 12, 12, 48),
            ("hgb", 1.0, 0, 12, 24), ("lactate", LN(1.3), 0, 12, 24), ("temp", 0.8, 12, 12, 48),
        ),
        secondary=(("30390", 0.4),),
        mortality=0.04, icu_los=2.0, ward_los=4.0, p_vent=0.08, p_shock=0.08, p_aki=0.15,
        drugs=("lr", "morphine", "ondansetron", "heparin_sc", "pantoprazole_iv"),
        panels=("lipase", "lfts"), daily_panels=("lipase",),
        age_shift=-10,
    ),
)

CONDITION_BY_KEY: Final[dict[str, Condition]] = {c.key: c for c in CONDITIONS}

# Trauma injuries: (admission diagnosis text, ICD-9 injury code, external-cause code, head injury)
INJURIES: Final[tuple[tuple[str, str, str, bool, float], ...]] = (
    ("SUBDURAL HEMATOMA", "85221", "E8889", True, 0.35),
    ("HIP FRACTURE", "82021", "E8889", False, 0.3),
    ("MOTOR VEHICLE ACCIDENT", "80703", "E8120", False, 0.2),
    ("S/P FALL", "8600", "E8490", False, 0.15),
)

# Complications: effects at severity 1, relative to the complication's onset hour.
SHOCK: Final[tuple[Eff, ...]] = (
    ("sbp", -28, 2, 6, 30), ("dbp", -16, 2, 6, 30), ("hr", 15, 2, 6, 30),
    ("lactate", LN(1.8), 2, 6, 20), ("creat", LN(1.2), 24, 24, 48), ("hco3", -3, 2, 6, 30),
)
AKI: Final[tuple[Eff, ...]] = (
    ("creat", LN(2.6), 48, 36, 80), ("bun", LN(2.2), 60, 48, 90), ("k", 0.7, 48, 36, 60),
    ("hco3", -3, 48, 36, 72), ("phos", 1.4, 48, 36, 80), ("mg", 0.2, 48, 36, 80),
    ("vanco", LN(1.8), 48, 36, 80),
)
RESP_FAILURE: Final[tuple[Eff, ...]] = (  # at intubation; ventilation then corrects it
    ("spo2", -4, 0, 4, 24), ("pco2x", 5, 0, 4, 12), ("rr", 6, 0, 4, 24),
)
# Every admission: hemodilution and phlebotomy lower hemoglobin; acute illness lowers albumin.
HOSPITAL: Final[tuple[Eff, ...]] = (
    ("hgb", -1.4, 96, 96, INF), ("albumin", -0.35, 48, 48, 400), ("plt", -LN(1.12), 72, 72, 200),
)
TERMINAL: Final[tuple[Eff, ...]] = (  # peak at the time of death; rise = length of the decline
    ("sbp", -38, 0, 0, INF), ("dbp", -22, 0, 0, INF), ("hr", 22, 0, 0, INF), ("rr", 8, 0, 0, INF),
    ("spo2", -12, 0, 0, INF), ("lactate", LN(4), 0, 0, INF), ("hco3", -8, 0, 0, INF),
    ("gcs", -6, 0, 0, INF), ("creat", LN(1.6), 0, 0, INF), ("k", 0.7, 0, 0, INF),
    ("inr", LN(1.4), 0, 0, INF), ("temp", -0.4, 0, 0, INF),
)


@dataclass(frozen=True)
class Comorbidity:
    """A chronic condition: its codes, prevalence, baseline shifts, home drugs."""

    key: str
    codes: tuple[tuple[str, float], ...]
    prevalence: float  # at age 65
    age_slope: float  # change of log-odds per decade of age
    baseline: tuple[tuple[str, float], ...] = ()  # additive (log ratio for log variables)
    drugs: tuple[str, ...] = ()
    condition_weights: dict[str, float] = field(default_factory=dict)
    extra_codes: tuple[tuple[str, float], ...] = ()  # related codes a patient may also carry
    sex: str | None = None  # only this sex gets it


COMORBIDITIES: Final[tuple[Comorbidity, ...]] = (
    Comorbidity("htn", (("4019", 1.0),), 0.45, 0.5, (("sbp", 12), ("dbp", 5)), ("amlodipine",)),
    Comorbidity("dm", (("25000", 1.0),), 0.25, 0.2, (("glucose", LN(1.5)), ("a1c", 2.0)),
                ("insulin_ss",), {"dka": 6.0}),
    Comorbidity("hld", (("2724", 0.8), ("2720", 0.2)), 0.3, 0.3, (), ("atorvastatin_low",)),
    Comorbidity("cad", (("41401", 1.0),), 0.22, 0.5, (), ("aspirin81", "atorvastatin_low"),
                {"mi": 2.5, "cabg": 3.0}, (("412", 0.35), ("V4581", 0.25), ("V5866", 0.4))),
    Comorbidity("afib", (("42731", 1.0),), 0.15, 0.7, (), ("metoprolol_po",), {"stroke": 1.6}),
    Comorbidity("chf", (("4280", 1.0),), 0.13, 0.6, (("bnp", LN(4)), ("hco3", 1)),
                ("furosemide_po",), {"chf": 4.0}),
    Comorbidity("ckd", (("5859", 0.6), ("5853", 0.4)), 0.11, 0.5,
                (("creat", LN(2.0)), ("bun", LN(1.8)), ("hgb", -1.2), ("k", 0.3), ("phos", 0.6),
                 ("hco3", -2)), (), {"aki": 2.5}, (("40390", 0.5),)),
    Comorbidity("copd", (("496", 1.0),), 0.11, 0.4, (("pco2x", 4), ("hco3", 2), ("spo2", -2)),
                ("albuterol_neb",), {"copd": 6.0, "pneumonia": 1.5}),
    Comorbidity("hypothyroid", (("2449", 1.0),), 0.09, 0.3, (), ("levothyroxine",)),
    Comorbidity("depression", (("311", 1.0),), 0.09, -0.1, (), ("sertraline",)),
    Comorbidity("cirrhosis", (("5715", 0.5), ("5712", 0.5)), 0.035, -0.1,
                (("tbili", LN(3)), ("inr", LN(1.4)), ("albumin", -1.0), ("plt", -LN(2.2)),
                 ("ast", LN(2.2)), ("alt", LN(1.3)), ("na", -3), ("hgb", -1.5), ("ptt", LN(1.2))),
                ("lactulose",), {"cirrhosis": 14.0, "gi_bleed": 3.0}),
    Comorbidity("anemia", (("2859", 1.0),), 0.09, 0.3, (("hgb", -1.5),)),
    Comorbidity("obesity", (("27800", 1.0),), 0.1, -0.2),
    Comorbidity("tobacco", (("3051", 0.5), ("V1582", 0.5)), 0.25, -0.2, (), (), {"copd": 1.5}),
    Comorbidity("gerd", (("53081", 1.0),), 0.11, 0.1, (), ("pantoprazole_po",)),
    Comorbidity("dementia", (("29410", 0.6), ("3310", 0.4)), 0.03, 1.1),
    Comorbidity("osteoporosis", (("73300", 1.0),), 0.08, 0.8, sex="F"),
    Comorbidity("bph", (("60000", 1.0),), 0.12, 0.9, sex="M"),
    Comorbidity("gout", (("2749", 1.0),), 0.04, 0.3),
    Comorbidity("osa", (("32723", 1.0),), 0.05, 0.0),
)

COMORBIDITY_BY_KEY: Final[dict[str, Comorbidity]] = {c.key: c for c in COMORBIDITIES}

# Codes added from what the admission's labs actually show (code, lab item, test, threshold).
LAB_DIAGNOSES: Final[tuple[tuple[str, int, str, float], ...]] = (
    ("2767", 50971, "max>", 5.5),  # Hyperpotassemia
    ("2768", 50971, "min<", 3.0),  # Hypopotassemia
    ("2761", 50983, "min<", 130.0),  # Hyposmolality and/or hyponatremia
    ("2760", 50983, "max>", 148.0),  # Hyperosmolality and/or hypernatremia
    ("2762", 50882, "min<", 16.0),  # Acidosis
    ("2875", 51265, "min<", 100.0),  # Thrombocytopenia, unspecified
    ("27541", 50893, "min<", 7.6),  # Hypocalcemia
    ("2752", 50960, "min<", 1.5),  # Disorders of magnesium metabolism
    ("2753", 50970, "min<", 2.0),  # Disorders of phosphorus metabolism
    ("2869", 51237, "max>", 1.8),  # Other and unspecified coagulation defects
    ("2859", 51222, "min<", 8.5),  # Anemia, unspecified
)

# Codes any admission may carry: (code, base probability, extra probability by admission trait).
INCIDENTAL: Final[tuple[tuple[str, float, dict[str, float]], ...]] = (
    ("56400", 0.07, {}),  # Constipation
    ("2930", 0.03, {"vent": 0.15, "old": 0.08}),  # Delirium
    ("2639", 0.03, {"long": 0.08}),  # Malnutrition
    ("5180", 0.02, {"vent": 0.12}),  # Pulmonary collapse (atelectasis)
    ("5119", 0.04, {"chf": 0.2}),  # Pleural effusion
    ("70703", 0.01, {"long": 0.06}),  # Pressure ulcer, lower back
    ("78820", 0.02, {"old": 0.03}),  # Retention of urine
)

# Organism-specific primary codes for septicemia / pneumonia.
SEPTICEMIA_CODE: Final[dict[str, str]] = {
    "ESCHERICHIA COLI": "03842", "STREPTOCOCCUS PNEUMONIAE": "0382",
    "STAPH AUREUS COAG +": "03811", "MRSA": "03812", "PSEUDOMONAS AERUGINOSA": "03843",
    "KLEBSIELLA PNEUMONIAE": "03849",
}
PNEUMONIA_CODE: Final[dict[str, str]] = {
    "STREPTOCOCCUS PNEUMONIAE": "481", "KLEBSIELLA PNEUMONIAE": "4820",
    "PSEUDOMONAS AERUGINOSA": "4821", "STAPH AUREUS COAG +": "48241", "MRSA": "48242",
}
INFECTION_SOURCE_CODE: Final[dict[str, str]] = {"urine": "5990", "lung": "486", "skin": "6826"}


def all_codes() -> set[str]:
    """Every ICD-9 diagnosis code the generator can write (for the tests)."""
    codes: set[str] = set()
    for c in CONDITIONS:
        codes |= {code for code, _ in c.primary} | {code for code, _ in c.secondary}
    for m in COMORBIDITIES:
        codes |= {code for code, _ in m.codes}
    codes |= {i[1] for i in INJURIES} | {i[2] for i in INJURIES}
    codes |= {c for c, *_ in LAB_DIAGNOSES} | {c for c, *_ in INCIDENTAL}
    for m in COMORBIDITIES:
        codes |= {code for code, _ in m.extra_codes}
    codes |= set(SEPTICEMIA_CODE.values()) | set(PNEUMONIA_CODE.values())
    codes |= set(INFECTION_SOURCE_CODE.values()) | set(EXTRA_CODES.values())
    return codes


# Other codes the generator writes, by role.
EXTRA_CODES: Final[dict[str, str]] = {
    "sepsis": "99591", "severe_sepsis": "99592", "septic_shock": "78552", "shock": "78559",
    "resp_failure": "51881", "aki": "5849", "dnr": "V4986", "palliative": "V667",
    "anticoagulant": "V5861", "insulin": "V5867", "cardiac_arrest": "4275",
    "alcohol": "30390", "hepatorenal": "5724", "encephalopathy": "5722",
}
