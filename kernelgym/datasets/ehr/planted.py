"""Inconsistencies planted in the synthetic data on purpose, for data-quality tasks (EHRCon style).

The simulator writes a consistent record; after each patient is simulated, :func:`plant_errors`
edits a few of that patient's rows so that one table contradicts another, the way real charting
errors do:

- ``lab_after_death``: outpatient lab results (``hadm_id`` null, a copy of one of the patient's draws) dated on a day after the
  patient's date of death (``patients.dod``).
- ``sex_specific_code``: a diagnosis code that only applies to the other sex (pregnancy, uterus or
  ovary for a male patient; prostate or testis for a female one), contradicting ``patients.gender``.
- ``weight_in_pounds``: the ``patientweight`` of every infusion of an ICU stay entered in pounds,
  contradicting the admission weight charted in kilograms (``chartevents`` item 226512).
- ``oral_form_parenteral_route``: a tablet or capsule order (``form_unit_disp`` TAB / CAP)
  recorded with an intravenous, intramuscular or subcutaneous route.

The rules that detect them (:func:`sex_of_code`, :data:`ORAL_FORMS`, :data:`PARENTERAL_ROUTES`,
:data:`WEIGHT_TOLERANCE`) are the rules the ``ehr_quality`` family states in its questions and
grades with; the simulator itself never produces a row they flag. Planting uses a random stream
of its own per patient (never the patient's), so the rest of the data is byte-for-byte what it
would be without it, and a patient's planted errors depend only on the seed and the patient's index.
"""

from __future__ import annotations

import numpy as np

from .model import MIN_PER_DAY, NULL_TIME, ROW_LAYOUT, ChunkRows

PLANT_VERSION = 1
RATES = {  # probability per patient with a death date / per admission / per ICU stay / per admission
    "lab_after_death": 0.3, "sex_specific_code": 0.03, "weight_in_pounds": 0.05,
    "oral_form_parenteral_route": 0.05,
}
WEIGHT_TOLERANCE = 0.10  # relative difference between infusion and charted weight that is an error
ADMISSION_WEIGHT_ITEM = 226512
ORAL_FORMS = ("TAB", "CAP")
PARENTERAL_ROUTES = ("IV", "IV DRIP", "IV BOLUS", "IM", "SC", "SUBCUT")
LB_PER_KG = 2.20462

# codes the planter writes (leaf ICD-9 codes present in d_icd_diagnoses)
_FEMALE_CODES = ("V222", "6271", "2189", "1749", "6202", "6262")
_MALE_CODES = ("185", "6039", "6071", "1869")


def sex_of_code(code: str) -> str | None:
    """``'F'`` / ``'M'`` for an ICD-9 diagnosis code that applies to one sex only, else None.

    Female: pregnancy, childbirth and puerperium (630-679, V22-V24, V27, V28), disorders of the
    female genital organs (614-629), malignant neoplasms of the female breast (174) and of the
    uterus, cervix, ovary and other female genital organs (179-184). Male: malignant neoplasms of
    the prostate, testis and penis (185-187) and disorders of the male genital organs (600-608).
    """
    code = str(code).strip().upper()
    if code.startswith("V"):
        return "F" if code[:3] in ("V22", "V23", "V24", "V27", "V28") else None
    if code.startswith("E") or len(code) < 3 or not code[:3].isdigit():
        return None
    n = int(code[:3])
    if 630 <= n <= 679 or 614 <= n <= 629 or n == 174 or 179 <= n <= 184:
        return "F"
    if 185 <= n <= 187 or 600 <= n <= 608:
        return "M"
    return None


def planting_rng(seed: int, index: int) -> np.random.Generator:
    """The planter's own random stream for patient ``index`` (independent of the simulation's)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index, 0x51A7))))


Mark = tuple[dict[str, int], dict[str, int]]


def mark(out: ChunkRows) -> Mark:
    """Where the next patient's rows will start, in every table."""
    return ({t: len(r) for t, r in out.rows.items()}, {t: len(a) for t, a in out.arrays.items()})


def plant_errors(out: ChunkRows, seed: int, index: int, start: Mark) -> None:
    """Edit the rows patient ``index`` just added (after ``start``) to plant its errors."""
    rng = planting_rng(seed, index)
    rows0, arrays0 = start
    u = rng.random(4)  # one draw per kind, whatever applies, so the stream never shifts
    patient = out.rows["patients"][-1]
    subject_id, gender, dod = patient[0], patient[1], patient[3]

    # an outpatient lab panel dated after the date of death (a copy of one of the patient's draws)
    labs = out.arrays.get("labevents", [])[arrays0.get("labevents", 0):]
    if dod != NULL_TIME and labs and u[0] < RATES["lab_after_death"]:
        part = labs[int(rng.integers(len(labs)))]
        times = np.unique(part["charttime"])
        draw = part["charttime"] == times[int(rng.integers(times.size))]
        n = int(draw.sum())
        when = int(dod) + int(rng.integers(1, 60)) * MIN_PER_DAY + int(rng.integers(8 * 60, 17 * 60))
        out.add_arrays("labevents", {
            "subject_id": np.full(n, subject_id, dtype=np.int64), "adm": np.full(n, -1, dtype=np.int64),
            "itemid": part["itemid"][draw].astype(np.int64), "charttime": np.full(n, when, dtype=np.int64),
            "valuenum": part["valuenum"][draw].astype(np.float64),
        })

    # a diagnosis code of the other sex
    dx = out.rows.get("diagnoses_icd", [])[rows0.get("diagnoses_icd", 0):]
    adms = sorted({r[1] for r in dx})
    if adms and u[1] < RATES["sex_specific_code"] * len(adms):
        adm = adms[int(rng.integers(len(adms)))]
        codes = _MALE_CODES if gender == "F" else _FEMALE_CODES
        seq = max(r[2] for r in dx if r[1] == adm) + 1
        out.add("diagnoses_icd", (subject_id, adm, seq, codes[int(rng.integers(len(codes)))]))

    # infusion weights of one ICU stay entered in pounds
    ie_rows = out.rows.get("inputevents_mv", [])
    first_ie = rows0.get("inputevents_mv", 0)
    stays = sorted({r[2] for r in ie_rows[first_ie:]})
    if stays and u[2] < RATES["weight_in_pounds"] * len(stays):
        stay = stays[int(rng.integers(len(stays)))]
        w = ROW_LAYOUT["inputevents_mv"].index("patientweight")
        for k in range(first_ie, len(ie_rows)):
            row = ie_rows[k]
            if row[2] == stay and row[w] is not None:
                ie_rows[k] = (*row[:w], round(row[w] * LB_PER_KG, 1), *row[w + 1:])

    # a tablet order recorded as given intravenously
    rx_rows = out.rows.get("prescriptions", [])
    first_rx = rows0.get("prescriptions", 0)
    form = ROW_LAYOUT["prescriptions"].index("form_unit_disp")
    route = ROW_LAYOUT["prescriptions"].index("route")
    oral = [k for k in range(first_rx, len(rx_rows)) if rx_rows[k][form] in ORAL_FORMS]
    rx_adms = sorted({rx_rows[k][1] for k in oral})
    if oral and u[3] < RATES["oral_form_parenteral_route"] * len(rx_adms):
        k = oral[int(rng.integers(len(oral)))]
        row = rx_rows[k]
        rx_rows[k] = (*row[:route], PARENTERAL_ROUTES[int(rng.integers(3))], *row[route + 1:])
