"""The generator's working types: generated rows, patients, admissions, and small helpers.

Times inside the generator are integer minutes since 1970-01-01 (:data:`NULL_TIME` for null);
within an admission, hours since ``admittime`` (floats). Rows refer to admissions and ICU stays by
chunk-local indices (``adm``, ``stay``) that the writer maps to ``hadm_id`` / ``icustay_id``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .conditions import Condition
from .physiology import Trajectory

NULL_TIME = np.iinfo(np.int64).min
MIN_PER_DAY = 1440
MIN_PER_YEAR = 525960  # 365.25 days


@dataclass
class ChunkRows:
    """Rows of every table for a block of patients (chunk-local admission / stay indices)."""

    n_adm: int = 0
    n_stay: int = 0
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    arrays: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)

    def add_arrays(self, table: str, cols: dict[str, np.ndarray]) -> None:
        self.arrays.setdefault(table, []).append(cols)


# Field order of the tuples added with ChunkRows.add (the writer reads them in this order).
ROW_LAYOUT: dict[str, tuple[str, ...]] = {
    "patients": ("subject_id", "gender", "dob", "dod", "dod_hosp", "dod_ssn", "expire_flag"),
    "admissions": ("subject_id", "adm", "admittime", "dischtime", "deathtime", "admission_type",
                   "admission_location", "discharge_location", "insurance", "language",
                   "religion", "marital_status", "ethnicity", "edregtime", "edouttime",
                   "diagnosis", "hospital_expire_flag", "has_chartevents_data"),
    "icustays": ("subject_id", "adm", "stay", "dbsource", "first_careunit", "last_careunit",
                 "first_wardid", "last_wardid", "intime", "outtime", "los"),
    "transfers": ("subject_id", "adm", "stay", "dbsource", "eventtype", "prev_careunit",
                  "curr_careunit", "prev_wardid", "curr_wardid", "intime", "outtime", "los"),
    "diagnoses_icd": ("subject_id", "adm", "seq_num", "icd9_code"),
    "procedures_icd": ("subject_id", "adm", "seq_num", "icd9_code"),
    "prescriptions": ("subject_id", "adm", "stay", "startdate", "enddate", "drug_type", "drug",
                      "drug_name_poe", "drug_name_generic", "formulary_drug_cd", "gsn", "ndc",
                      "prod_strength", "dose_val_rx", "dose_unit_rx", "form_val_disp",
                      "form_unit_disp", "route"),
    "inputevents_mv": ("subject_id", "adm", "stay", "starttime", "endtime", "itemid", "amount",
                       "amountuom", "rate", "rateuom", "storetime", "cgid", "link_delta",
                       "ordercategoryname", "secondaryordercategoryname",
                       "ordercomponenttypedescription", "ordercategorydescription",
                       "patientweight", "totalamount", "totalamountuom", "isopenbag",
                       "continueinnextdept", "cancelreason", "statusdescription",
                       "originalamount", "originalrate"),
    "microbiologyevents": ("subject_id", "adm", "chartdate", "charttime", "spec_itemid",
                           "spec_type_desc", "org_itemid", "org_name", "isolate_num",
                           "ab_itemid", "ab_name", "dilution_text", "dilution_comparison",
                           "dilution_value", "interpretation"),
}


@dataclass
class Patient:
    index: int
    subject_id: int
    gender: str
    age0: float  # real age at the first admission (years)
    over89: bool
    comorbid: set[str]
    codes: dict[str, list[str]]  # comorbidity -> the ICD-9 codes this patient carries for it
    warfarin: bool
    weight: float
    height: float
    baseline: np.ndarray  # own normal values of the latent variables
    ethnicity: str
    language: str | None
    religion: str | None
    marital: str | None


@dataclass
class Segment:
    """A stretch of an admission in one place: an ICU stay or a floor ward."""

    icu: bool
    careunit: str | None
    wardid: int
    start: float  # hours since admittime
    end: float
    stay: int = -1  # chunk-local ICU stay index


@dataclass
class Admission:
    """What was decided for one admission (hours are relative to admittime)."""

    adm: int
    t0: int  # admittime, minutes since epoch
    age: float
    cond: Condition
    sev: float
    dies: bool
    disch_h: float
    segments: list[Segment]
    traj: Trajectory
    shock: tuple[float, float] | None  # vasopressor interval
    vent: tuple[float, float] | None  # mechanical ventilation interval
    aki: bool
    dialysis: list[float]
    transfusions: list[float]
    insulin_drip: tuple[float, float] | None
    heparin_drip: tuple[float, float] | None
    source: str | None  # infection source
    injury: tuple[str, str, str, bool, float] | None
    diagnosis_text: str
    primary: str  # primary ICD-9 code (refined from culture results for infections)
    tpa: bool
    abx: list[str] = field(default_factory=list)  # antibiotic drug keys
    lab_values: dict[int, np.ndarray] = field(default_factory=dict)  # itemid -> measured values
    low_k_days: set[int] = field(default_factory=set)
    low_mg_days: set[int] = field(default_factory=set)
    organisms: dict[str, str] = field(default_factory=dict)  # specimen -> organism

    def minutes(self, hours: float) -> int:
        return self.t0 + int(round(hours * 60))

    @property
    def icu_stays(self) -> list[Segment]:
        return [s for s in self.segments if s.icu]


@dataclass
class Ctx:
    """What the per-table generators share: the patient's random stream, the patient, the rows."""

    rng: np.random.Generator
    p: Patient
    out: ChunkRows


def pick(rng: np.random.Generator, options: Sequence[tuple[Any, float]]) -> Any:
    """One of ``(value, weight)`` options, chosen by weight."""
    weights = np.array([w for _, w in options], dtype=np.float64)
    return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def midnight(minutes: int) -> int:
    return int(minutes - minutes % MIN_PER_DAY)


def icu_end_at(segments: list[Segment], hour: float) -> float:
    """End of the ICU stay that contains ``hour`` (or ``hour`` itself when not in the ICU)."""
    for s in segments:
        if s.icu and s.start <= hour < s.end:
            return s.end
    return hour


def icu_start_at(segments: list[Segment], hour: float) -> float:
    """Start of the ICU stay that contains ``hour`` (or ``hour`` itself when not in the ICU)."""
    for s in segments:
        if s.icu and s.start <= hour <= s.end:
            return s.start
    return hour


def shift_of(minutes: np.ndarray) -> np.ndarray:
    """Index (0..5) of the 12-hour nursing shift (07:00 / 19:00 changes) in a 3-day rota."""
    return ((minutes - 7 * 60) // (12 * 60)) % 6
