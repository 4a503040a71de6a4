"""The ``ehr_quality`` task family: find records that contradict each other (EHRCon style).

EHRCon asks whether what a clinical note says agrees with the tables. Here the checks run across
tables: a lab dated after the patient's death, a diagnosis code of the other sex, an infusion
weight that contradicts the charted admission weight, a tablet recorded as given intravenously.
The synthetic data set carries such errors because its generator plants them on purpose
(:mod:`kernelgym.datasets.ehr.planted`, which never lets the simulation produce one by itself);
on real MIMIC-III the same rules find whatever real inconsistencies there are.

Every question states its rule exactly, and the ground truth is that rule applied to the data
(host side); answers are sets of row ids, codes or ICU stay ids (empty for a clean record: the
answer "none"), or counts, graded exactly. At most 15 % of a split's records are clean, so that the
constant answer "none" passes no more (issue 17).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kernelgym.datasets.ehr.planted import (
    ADMISSION_WEIGHT_ITEM,
    ORAL_FORMS,
    PARENTERAL_ROUTES,
    WEIGHT_TOLERANCE,
    sex_of_code,
)
from kernelgym.families.ehr import reference_cells
from kernelgym.families.ehr_data import Frames, frames, profile_data_dir
from kernelgym.grading import Grader
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "2"  # 2: at most 15 % clean records per split (issue 17)

SET = Grader(rule="set")
COUNT = Grader(rule="numeric", abs_tol=0.0)

_SEX_RULE = (
    "A code applies to females only if it is a pregnancy, childbirth or puerperium code (630-679, V22-V24, "
    "V27, V28), a disorder of the female genital organs (614-629), or a malignant neoplasm of the female breast "
    "(174) or of the uterus, cervix, ovary or other female genital organs (179-184); to males only if it is a "
    "malignant neoplasm of the prostate, testis or penis (185-187) or a disorder of the male genital organs "
    "(600-608). The numbers are the first three characters of the ICD-9 code as written in diagnoses_icd."
)
_LAB_RULE = "A result is dated after death when its charttime falls on a calendar day after patients.dod."
_WEIGHT_RULE = (
    f"An ICU stay's infusion weight is inconsistent when some inputevents_mv.patientweight of the stay differs "
    f"from the admission weight charted for the same ICU stay (chartevents itemid {ADMISSION_WEIGHT_ITEM}) by more "
    f"than {WEIGHT_TOLERANCE:.0%} of the charted weight; stays without a charted admission weight are not flagged."
)
_ROUTE_RULE = (
    f"An order is inconsistent when its dispensed form (form_unit_disp) is {' or '.join(ORAL_FORMS)} but its route "
    f"is one of {', '.join(PARENTERAL_ROUTES)}."
)
_SEX_CODE = "\n".join([
    "def sex_of_code(code):",
    "    code = str(code).strip().upper()",
    "    if code.startswith('V'):",
    "        return 'F' if code[:3] in ('V22', 'V23', 'V24', 'V27', 'V28') else None",
    "    if code.startswith('E') or len(code) < 3 or not code[:3].isdigit():",
    "        return None",
    "    n = int(code[:3])",
    "    if 630 <= n <= 679 or 614 <= n <= 629 or n == 174 or 179 <= n <= 184:",
    "        return 'F'",
    "    if 185 <= n <= 187 or 600 <= n <= 608:",
    "        return 'M'",
    "    return None",
])


@dataclass
class QualityContext:
    f: Frames
    root: Path
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


@contextlib.contextmanager
def open_context(data_dir: Path | str | None = None, *, profile: str | None = None) -> Iterator[QualityContext]:
    root = Path(data_dir) if data_dir is not None else profile_data_dir(profile or "ehr")
    yield QualityContext(f=frames(root), root=root)


# ---------------------------------------------------------------- the rules, host side


def labs_after_death(ctx: QualityContext) -> dict[int, list[int]]:
    """subject_id -> row_ids of lab results dated after the day of death (dead patients only)."""
    def build() -> dict[int, list[int]]:
        p = ctx.f.patients.dropna(subset=["dod"])[["subject_id", "dod"]]
        lab = ctx.f.table("labevents", ["row_id", "subject_id", "charttime"])
        lab = lab[lab["subject_id"].isin(set(p["subject_id"]))].merge(p, on="subject_id")
        bad = lab[lab["charttime"].dt.normalize() > lab["dod"].dt.normalize()]
        out = {int(s): [] for s in p["subject_id"]}
        for s, r in zip(bad["subject_id"], bad["row_id"]):
            out[int(s)].append(int(r))
        return {s: sorted(v) for s, v in sorted(out.items())}

    return ctx.memo("labs_after_death", build)


def sex_code_errors(ctx: QualityContext) -> dict[int, tuple[int, list[str]]]:
    """hadm_id -> (subject_id, codes that apply only to the other sex)."""
    def build() -> dict[int, tuple[int, list[str]]]:
        d = ctx.f.diagnoses.merge(ctx.f.patients[["subject_id", "gender"]], on="subject_id", how="left")
        sex = d["icd9_code"].map(sex_of_code)
        d = d.assign(bad=sex.notna() & d["gender"].isin(["M", "F"]) & (sex != d["gender"]))
        out: dict[int, tuple[int, list[str]]] = {}
        for h, g in d.groupby("hadm_id", sort=True):
            out[int(h)] = (int(g["subject_id"].iloc[0]), sorted(set(g.loc[g["bad"], "icd9_code"])))
        return out

    return ctx.memo("sex_codes", build)


def weight_errors(ctx: QualityContext) -> dict[int, list[int]]:
    """subject_id -> ICU stay ids whose infusion weight contradicts the charted admission weight
    (patients with at least one ICU stay that has infusions with a weight)."""
    def build() -> dict[int, list[int]]:
        ie = ctx.f.table("inputevents_mv", ["subject_id", "icustay_id", "patientweight"]).dropna(subset=["icustay_id"])
        import pyarrow.parquet as pq

        path = ctx.root / "chartevents.parquet"
        if path.is_file():
            ce = pq.read_table(path, columns=["icustay_id", "itemid", "valuenum"],
                               filters=[("itemid", "==", ADMISSION_WEIGHT_ITEM)]).to_pandas()
        else:
            ce = pd.DataFrame(columns=["icustay_id", "itemid", "valuenum"])
        ce = ce.dropna(subset=["icustay_id", "valuenum"])
        m = ie.dropna(subset=["patientweight"]).merge(ce[["icustay_id", "valuenum"]], on="icustay_id")
        bad = m[(m["patientweight"] - m["valuenum"]).abs() > WEIGHT_TOLERANCE * m["valuenum"]]
        out = {int(s): set() for s in ie.dropna(subset=["patientweight"])["subject_id"]}
        for s, i in zip(bad["subject_id"], bad["icustay_id"]):
            out[int(s)].add(int(i))
        return {s: sorted(v) for s, v in sorted(out.items())}

    return ctx.memo("weights", build)


def route_errors(ctx: QualityContext) -> dict[int, tuple[int, list[int]]]:
    """hadm_id -> (subject_id, row_ids of oral solid orders with a parenteral route), admissions with
    at least one oral solid order."""
    def build() -> dict[int, tuple[int, list[int]]]:
        rx = ctx.f.prescriptions
        oral = rx[rx["form_unit_disp"].isin(ORAL_FORMS)]
        out: dict[int, tuple[int, list[int]]] = {}
        for h, g in oral.groupby("hadm_id", sort=True):
            bad = g.loc[g["route"].isin(PARENTERAL_ROUTES), "row_id"]
            out[int(h)] = (int(g["subject_id"].iloc[0]), sorted(int(x) for x in bad))
        return out

    return ctx.memo("routes", build)


def _split_cached(ctx: QualityContext, key: str, items: list[Any], bad: Callable[[Any], bool]) -> tuple[list[Any], list[Any]]:
    return ctx.memo(("split", key), lambda: ([x for x in items if bad(x)], [x for x in items if not bad(x)]))


def _choose(ctx: QualityContext, rng: random.Random, key: str, items: list[Any], bad: Callable[[Any], bool]) -> Any:
    with_error, clean = _split_cached(ctx, key, items, bad)
    pool = with_error if with_error and (not clean or rng.random() < 0.5) else clean
    return pool[rng.randrange(len(pool))] if pool else None


# ---------------------------------------------------------------- categories


def gen_labs_after_death(ctx: QualityContext, rng: random.Random) -> Draft | None:
    found = labs_after_death(ctx)
    s = _choose(ctx, rng, "lab", list(found), lambda s: bool(found[s]))
    if s is None:
        return None
    q = rng.choice([
        "Which lab results of patient {s} are dated after the patient's recorded date of death? Give their labevents row_ids.",
        "Check the record of patient {s}: list the row_id of every labevents row charted after the day the patient died.",
        "Patient {s} has a recorded date of death. Which of their lab events (row_id) contradict it by being charted later?",
    ]).format(s=s) + " " + _LAB_RULE + " Answer an empty list if there are none."
    ref = reference_cells(
        """
        dod = patients.loc[patients['subject_id'] == subject_id, 'dod'].iloc[0]
        lab = labevents[labevents['subject_id'] == subject_id]
        late = lab[lab['charttime'].dt.normalize() > dod.normalize()]
        dod, late[['row_id', 'hadm_id', 'itemid', 'charttime', 'valuenum']]
        """,
        "submit(sorted(int(r) for r in late['row_id']))",
    )
    return Draft(question=q, inputs={"subject_id": s}, answer=found[s], reference=ref)


def gen_sex_specific_codes(ctx: QualityContext, rng: random.Random) -> Draft | None:
    found = sex_code_errors(ctx)
    h = _choose(ctx, rng, "sex", list(found), lambda h: bool(found[h][1]))
    if h is None:
        return None
    s, codes = found[h]
    q = rng.choice([
        "Which diagnosis codes of hospital admission {h} (patient {s}) contradict the patient's recorded sex?",
        "Check admission {h} of patient {s}: list the ICD-9 diagnosis codes that only apply to the other sex than patients.gender.",
        "Are any diagnoses of hospital stay {h} impossible for patient {s}'s sex? List those ICD-9 codes.",
    ]).format(s=s, h=h) + " " + _SEX_RULE + " Answer an empty list if there are none."
    ref = reference_cells(
        _SEX_CODE,
        """
        gender = patients.loc[patients['subject_id'] == subject_id, 'gender'].iloc[0]
        dx = diagnoses_icd[diagnoses_icd['hadm_id'] == hadm_id].copy()
        dx['sex'] = dx['icd9_code'].map(sex_of_code)
        gender, dx[dx['sex'].notna()]
        """,
        "submit(sorted(set(dx.loc[dx['sex'].notna() & (dx['sex'] != gender), 'icd9_code'].astype(str))))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=codes, reference=ref)


def gen_infusion_weight(ctx: QualityContext, rng: random.Random) -> Draft | None:
    found = weight_errors(ctx)
    s = _choose(ctx, rng, "weight", list(found), lambda s: bool(found[s]))
    if s is None:
        return None
    q = rng.choice([
        "Which ICU stays of patient {s} have infusion records whose patient weight contradicts the charted admission weight?",
        "Check patient {s}: in which ICU stays (icustay_id) does inputevents_mv.patientweight disagree with the admission weight in chartevents?",
        "For patient {s}, list the ICU stays where the weight used for infusions does not match the charted admission weight.",
    ]).format(s=s) + " " + _WEIGHT_RULE + " Answer a list of icustay_ids, empty if there are none."
    ref = reference_cells(
        f"""
        ie = inputevents_mv[(inputevents_mv['subject_id'] == subject_id)].dropna(subset=['patientweight'])
        charted = chartevents[(chartevents['subject_id'] == subject_id) & (chartevents['itemid'] == {ADMISSION_WEIGHT_ITEM})]
        charted = charted.dropna(subset=['icustay_id', 'valuenum'])[['icustay_id', 'valuenum']]
        m = ie.merge(charted, on='icustay_id')
        m.groupby('icustay_id')[['patientweight', 'valuenum']].agg(['min', 'max'])
        """,
        f"bad = m[(m['patientweight'] - m['valuenum']).abs() > {WEIGHT_TOLERANCE} * m['valuenum']]\n"
        "submit(sorted(set(int(i) for i in bad['icustay_id'])))",
    )
    return Draft(question=q, inputs={"subject_id": s}, answer=found[s], reference=ref)


def gen_route_form(ctx: QualityContext, rng: random.Random) -> Draft | None:
    found = route_errors(ctx)
    h = _choose(ctx, rng, "route", list(found), lambda h: bool(found[h][1]))
    if h is None:
        return None
    s, rows = found[h]
    q = rng.choice([
        "Which prescriptions of hospital admission {h} (patient {s}) give a tablet or capsule by a parenteral route? Give their row_ids.",
        "Check the medication orders of admission {h} of patient {s}: list the row_id of every order whose route contradicts its dispensed form.",
        "In hospital stay {h} of patient {s}, which prescription rows (row_id) record an oral solid form with an injection or infusion route?",
    ]).format(s=s, h=h) + " " + _ROUTE_RULE + " Answer an empty list if there are none."
    forms, routes = list(ORAL_FORMS), list(PARENTERAL_ROUTES)
    ref = reference_cells(
        f"""
        rx = prescriptions[prescriptions['hadm_id'] == hadm_id]
        bad = rx[rx['form_unit_disp'].isin({forms!r}) & rx['route'].isin({routes!r})]
        rx.groupby(['form_unit_disp', 'route']).size()
        """,
        "submit(sorted(int(r) for r in bad['row_id']))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=rows, reference=ref)


_AUDITS = {
    "lab": ("patients with at least one lab result dated after their date of death", _LAB_RULE),
    "sex": ("hospital admissions with at least one diagnosis code that contradicts the patient's sex", _SEX_RULE),
    "weight": ("ICU stays whose infusion weight contradicts the charted admission weight", _WEIGHT_RULE),
    "route": ("prescription rows that record a tablet or capsule with a parenteral route", _ROUTE_RULE),
}


def gen_audit_count(ctx: QualityContext, rng: random.Random) -> Draft | None:
    kind = rng.choice(sorted(_AUDITS))
    what, rule = _AUDITS[kind]
    if kind == "lab":
        n = sum(1 for v in labs_after_death(ctx).values() if v)
        ref_code = """
            p = patients.dropna(subset=['dod'])[['subject_id', 'dod']]
            lab = labevents[['subject_id', 'charttime']].merge(p, on='subject_id')
            bad = lab[lab['charttime'].dt.normalize() > lab['dod'].dt.normalize()]
            """
        final = "submit(int(bad['subject_id'].nunique()))"
    elif kind == "sex":
        n = sum(1 for _, codes in sex_code_errors(ctx).values() if codes)
        ref_code = _SEX_CODE + """
dx = diagnoses_icd.merge(patients[['subject_id', 'gender']], on='subject_id')
dx['sex'] = dx['icd9_code'].map(sex_of_code)
bad = dx[dx['sex'].notna() & dx['gender'].isin(['M', 'F']) & (dx['sex'] != dx['gender'])]
"""
        final = "submit(int(bad['hadm_id'].nunique()))"
    elif kind == "weight":
        n = sum(len(v) for v in weight_errors(ctx).values())
        ref_code = f"""
            charted = sql("SELECT icustay_id, valuenum FROM chartevents WHERE itemid = {ADMISSION_WEIGHT_ITEM} AND icustay_id IS NOT NULL AND valuenum IS NOT NULL")
            m = inputevents_mv.dropna(subset=['patientweight']).merge(charted, on='icustay_id')
            bad = m[(m['patientweight'] - m['valuenum']).abs() > {WEIGHT_TOLERANCE} * m['valuenum']]
            """
        final = "submit(int(bad['icustay_id'].nunique()))"
    else:
        n = sum(len(rows) for _, rows in route_errors(ctx).values())
        ref_code = f"""
            bad = prescriptions[prescriptions['form_unit_disp'].isin({list(ORAL_FORMS)!r}) & prescriptions['route'].isin({list(PARENTERAL_ROUTES)!r})]
            """
        final = "submit(int(len(bad)))"
    q = rng.choice([
        "Audit the whole database: how many {w} are there?",
        "Data-quality check over all records: count the {w}.",
        "How many {w} does the database contain?",
    ]).format(w=what) + " " + rule
    return Draft(question=q, inputs={}, answer=int(n), reference=reference_cells(ref_code, final))


_TABLE: list[tuple[str, str, Grader, str, Callable[[QualityContext, random.Random], Draft | None]]] = [
    ("quality_labs_after_death", "Lab results dated after the patient's death.", SET,
     "a list of labevents row_ids (integers), empty if there are none; order does not matter", gen_labs_after_death),
    ("quality_sex_specific_codes", "Diagnosis codes that contradict the patient's sex.", SET,
     "a list of ICD-9 codes as strings, empty if there are none; order does not matter", gen_sex_specific_codes),
    ("quality_infusion_weight", "ICU stays whose infusion weight contradicts the charted admission weight.", SET,
     "a list of icustay_ids (integers), empty if there are none; order does not matter", gen_infusion_weight),
    ("quality_route_form", "Tablet or capsule orders recorded with a parenteral route.", SET,
     "a list of prescriptions row_ids (integers), empty if there are none; order does not matter", gen_route_form),
    ("quality_audit_count", "How many records of the whole database break one consistency rule.", COUNT,
     "an integer count", gen_audit_count),
]

# Balanced answers (issue 17): a clean record ("none", the empty list) may be at most 15 % of a split,
# or the constant answer [] would pass half of the instances.
_MAX_SHARE = {name: 0.15 for name, *_ in _TABLE if name != "quality_audit_count"}

CATEGORIES: dict[str, Category] = {
    name: Category(name=name, description=desc, grader=grader, answer_format=fmt, generate=fn,
                   max_share=_MAX_SHARE.get(name))
    for name, desc, grader, fmt, fn in _TABLE
}
