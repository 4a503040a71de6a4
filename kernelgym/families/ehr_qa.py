"""The ``ehr_qa`` task family: more EHR question answering, in the style of EHRSQL and MIMICSQL.

It extends the ``ehr`` family (same kernel profile, same data) with templates over every part of the
MIMIC-III schema: demographics and administrative facts, diagnoses and procedures by code and title,
lab statistics and changes, charted vitals, prescriptions, ICU inputs and outputs, microbiology
specimens, organisms and susceptibilities, ICU stays and transfers; time windows relative to the
admission or to a stated "current time"; yes/no existence questions; top-k lists; cohort counts
with several conditions; and questions the database cannot answer.

Host side only. Each category draws a row of a precomputed aggregate (:mod:`.ehr_data`), so
generation is fast; the ground truth is the aggregate's value, computed from the data set's
tables, and the reference solution (notebook cells) recomputes it in the kernel from the preloaded
DataFrames or ``sql()``. Samples whose answer would be ambiguous (ties at a first / last time,
several units, charted error rows, labels naming several items) are rejected rather than asked.
Every category states its answer rule in ``answer_format``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kernelgym.families.ehr import reference_cells, retry, round4
from kernelgym.families.ehr_data import Frames, frames, profile_data_dir, ts
from kernelgym.grading import Grader
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "2"  # 2: answers balanced (issue 17), counts over groups of patients

NUMBER = Grader(rule="numeric", abs_tol=0.01, rel_tol=1e-4)
COUNT = Grader(rule="numeric", abs_tol=0.0)
DURATION = Grader(rule="numeric", abs_tol=0.01)
TEXT = Grader(rule="exact")
SET = Grader(rule="set")
RANKED = Grader(rule="list")
WHEN = Grader(rule="datetime")
DAY = Grader(rule="date")
YESNO = Grader(rule="boolean")
MAYBE = Grader(rule="exact", abs_tol=0.01, rel_tol=1e-4)


# ---------------------------------------------------------------- context


@dataclass
class QaContext:
    """The data set's :class:`Frames` plus memoised candidate lists for the generators."""

    f: Frames
    root: Path
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


@contextlib.contextmanager
def open_context(data_dir: Path | str | None = None, *, profile: str | None = None) -> Iterator[QaContext]:
    """Open the EHR data set (default: the ``ehr`` profile's; ``profile``: that profile's)."""
    root = Path(data_dir) if data_dir is not None else profile_data_dir(profile or "ehr")
    yield QaContext(f=frames(root), root=root)


Sampler = Callable[[QaContext, random.Random], Draft | None]


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[rng.randrange(len(items))] if len(items) else None


def _rows(df: pd.DataFrame) -> list[Any]:
    return list(df.itertuples(index=False))


def _sets(df: pd.DataFrame, key: str, column: str) -> list[tuple[int, int, list[str]]]:
    """``[(subject_id, key value, sorted distinct values of column)]`` per key, in key order."""
    df = df.dropna(subset=[column])
    g = df.groupby(key, sort=True).agg(s=("subject_id", "first"), v=(column, lambda x: sorted(set(x.astype(str)))))
    return [(int(s), int(k), v) for k, s, v in zip(g.index, g["s"], g["v"])]


def _q(rng: random.Random, templates: Sequence[str], **kw: Any) -> str:
    return rng.choice(list(templates)).format(**kw)


def _unit(unit: Any) -> str:
    return f" (unit: {unit})" if isinstance(unit, str) and unit and "?" not in unit else ""


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NaT or (not isinstance(x, str) and pd.isna(x))


def _i(x: Any) -> int:
    return int(x)


# ---------------------------------------------------------------- A. demographics and admissions


def _admission_text(column: str, what: str, templates: list[str], example: str) -> Sampler:
    @retry
    def gen(ctx: QaContext, rng: random.Random) -> Draft | None:
        rows = ctx.memo(("adm_text", column), lambda: _rows(
            ctx.f.admissions.loc[ctx.f.admissions[column].notna() & (ctx.f.admissions[column].astype(str).str.strip() != ""),
                                 ["subject_id", "hadm_id", column]]))
        pick = _pick(rng, rows)
        if pick is None:
            return None
        s, h, value = _i(pick[0]), _i(pick[1]), str(pick[2])
        q = _q(rng, templates, s=s, h=h)
        ref = reference_cells(
            f"""
            adm = admissions.loc[admissions['hadm_id'] == hadm_id]
            adm[['subject_id', 'hadm_id', 'admittime', '{column}']]
            """,
            f"submit(str(adm['{column}'].iloc[0]))",
        )
        return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=value, reference=ref)

    gen.__name__ = f"gen_{column}"
    gen.__doc__ = f"The {what} recorded for a hospital admission, e.g. {example}."
    return gen


gen_admission_ethnicity = _admission_text("ethnicity", "ethnicity", [
    "What ethnicity was recorded for patient {s} at hospital admission {h}?",
    "During admission {h}, which ethnicity did the record list for patient {s}?",
    "Look up hospital admission {h} of patient {s}: what is the recorded ethnicity?",
    "What is the ethnicity of patient {s} according to admission {h}?",
], "WHITE")
gen_admission_insurance = _admission_text("insurance", "insurance", [
    "What insurance did patient {s} have during hospital admission {h}?",
    "Which insurance type is recorded for admission {h} of patient {s}?",
    "Patient {s} was admitted as hospital admission {h}. What was their insurance?",
    "How was hospital stay {h} of patient {s} insured (insurance type)?",
], "Medicare")
gen_admission_marital_status = _admission_text("marital_status", "marital status", [
    "What was the marital status of patient {s} at hospital admission {h}?",
    "Which marital status is recorded for patient {s} in admission {h}?",
    "At the time of admission {h}, what marital status did patient {s} have?",
], "MARRIED")
gen_admission_language = _admission_text("language", "language", [
    "What language does patient {s} speak, according to hospital admission {h}?",
    "Which language was recorded for patient {s} at admission {h}?",
    "In hospital admission {h}, what is patient {s}'s recorded language?",
], "ENGL")
gen_admission_location = _admission_text("admission_location", "admission location", [
    "Where was patient {s} admitted from for hospital admission {h} (admission location)?",
    "What was the admission location of hospital admission {h} of patient {s}?",
    "Patient {s}, admission {h}: which admission location is recorded?",
    "From which location did patient {s} come to the hospital for admission {h}?",
], "EMERGENCY ROOM ADMIT")
gen_discharge_location = _admission_text("discharge_location", "discharge location", [
    "Where was patient {s} discharged to at the end of hospital admission {h}?",
    "What was the discharge location of admission {h} of patient {s}?",
    "Patient {s} left the hospital after admission {h}. What discharge location was recorded?",
    "Which discharge location is recorded for hospital stay {h} (patient {s})?",
], "HOME HEALTH CARE")
gen_admission_diagnosis_text = _admission_text("diagnosis", "admitting diagnosis (free text)", [
    "What was the admitting diagnosis of patient {s} for hospital admission {h}?",
    "Which diagnosis text was recorded when patient {s} was admitted (admission {h})?",
    "What preliminary diagnosis is written in the admissions record of stay {h} of patient {s}?",
], "SEPSIS")


@retry
def gen_discharge_time(ctx: QaContext, rng: random.Random) -> Draft | None:
    rows = ctx.memo("disch", lambda: _rows(ctx.f.admissions.loc[ctx.f.admissions["dischtime"].notna(),
                                                                ["subject_id", "hadm_id", "dischtime"]]))
    pick = _pick(rng, rows)
    if pick is None:
        return None
    s, h = _i(pick[0]), _i(pick[1])
    q = _q(rng, [
        "When was patient {s} discharged from hospital admission {h}?",
        "What is the discharge time of admission {h} of patient {s}?",
        "Give the date and time at which hospital stay {h} of patient {s} ended.",
        "At what time did patient {s} leave the hospital after admission {h}?",
    ], s=s, h=h)
    ref = reference_cells(
        """
        adm = admissions.loc[admissions['hadm_id'] == hadm_id, ['admittime', 'dischtime']]
        adm
        """,
        "submit(adm['dischtime'].iloc[0].strftime('%Y-%m-%d %H:%M:%S'))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=ts(pick[2]), reference=ref)


@retry
def gen_patient_date_of_birth(ctx: QaContext, rng: random.Random) -> Draft | None:
    rows = ctx.memo("dob", lambda: _rows(ctx.f.patients.loc[ctx.f.patients["dob"].notna(), ["subject_id", "dob"]]))
    pick = _pick(rng, rows)
    if pick is None:
        return None
    s = _i(pick[0])
    q = _q(rng, [
        "What is the date of birth of patient {s}?",
        "When was patient {s} born, according to the patients table?",
        "Give the recorded birth date of the patient with subject_id {s}.",
    ], s=s)
    ref = reference_cells(
        """
        row = patients.loc[patients['subject_id'] == subject_id, ['subject_id', 'dob']]
        row
        """,
        "submit(row['dob'].iloc[0].strftime('%Y-%m-%d'))",
    )
    return Draft(question=q, inputs={"subject_id": s}, answer=pd.Timestamp(pick[1]).strftime("%Y-%m-%d"), reference=ref)


@retry
def gen_patient_date_of_death(ctx: QaContext, rng: random.Random) -> Draft | None:
    p = ctx.f.patients
    dead = ctx.memo("dod_dead", lambda: _rows(p.loc[p["dod"].notna(), ["subject_id", "dod"]]))
    alive = ctx.memo("dod_alive", lambda: _rows(p.loc[p["dod"].isna(), ["subject_id", "dod"]]))
    pick = _pick(rng, dead if dead and (not alive or rng.random() < 0.6) else alive)
    if pick is None:
        return None
    s = _i(pick[0])
    answer = None if _missing(pick[1]) else pd.Timestamp(pick[1]).strftime("%Y-%m-%d")
    q = _q(rng, [
        "What is the date of death of patient {s}?",
        "When did patient {s} die? Answer None if no death is recorded.",
        "Give the recorded date of death (patients.dod) of patient {s}, or None if the patient is not known to have died.",
    ], s=s)
    ref = reference_cells(
        """
        row = patients.loc[patients['subject_id'] == subject_id, ['subject_id', 'dod', 'expire_flag']]
        row
        """,
        "dod = row['dod'].iloc[0]\nsubmit(None if pd.isna(dod) else dod.strftime('%Y-%m-%d'))",
    )
    return Draft(question=q, inputs={"subject_id": s}, answer=answer, reference=ref)


@retry
def gen_admissions_in_year(ctx: QaContext, rng: random.Random) -> Draft | None:
    years = ctx.memo("admit_years", lambda: sorted({int(y) for y in ctx.f.admissions["admittime"].dropna().dt.year}))
    if not years:
        return None
    year = rng.randint(years[0], years[-1])
    n = int((ctx.f.admissions["admittime"].dt.year == year).sum())
    q = _q(rng, [
        "How many hospital admissions (of all patients) began in the year {y}?",
        "Count the hospital admissions whose admission time falls in {y}, over all patients.",
        "In {y}, how many hospital admissions were there in the whole database (by admission time)?",
    ], y=year)
    ref = reference_cells(
        """
        in_year = admissions[admissions['admittime'].dt.year == year]
        in_year[['subject_id', 'hadm_id', 'admittime']].head()
        """,
        "submit(int(len(in_year)))",
    )
    return Draft(question=q, inputs={"year": int(year)}, answer=n, reference=ref)


@retry
def gen_longest_admission(ctx: QaContext, rng: random.Random) -> Draft | None:
    by_subject = ctx.f.subject_admissions

    def build() -> list[tuple[int, int]]:
        out = []
        for s, adms in by_subject.items():
            if len(adms) < 2 or any(_missing(a.dischtime) for a in adms):
                continue
            los = [(a.dischtime - a.admittime, a.hadm_id) for a in adms]
            los.sort(reverse=True)
            if los[0][0] != los[1][0]:
                out.append((s, int(los[0][1])))
        return out

    pick = _pick(rng, ctx.memo("longest", build))
    if pick is None:
        return None
    s, h = pick
    q = _q(rng, [
        "Which hospital admission of patient {s} was the longest (discharge time minus admission time)? Give its hadm_id.",
        "Patient {s} was admitted several times. What is the hadm_id of their longest hospital stay?",
        "Among the hospital admissions of patient {s}, which one lasted longest? Answer with the hadm_id.",
    ], s=s)
    ref = reference_cells(
        """
        adm = admissions[admissions['subject_id'] == subject_id].copy()
        adm['los'] = adm['dischtime'] - adm['admittime']
        adm[['hadm_id', 'admittime', 'dischtime', 'los']]
        """,
        "submit(int(adm.sort_values('los', ascending=False)['hadm_id'].iloc[0]))",
    )
    return Draft(question=q, inputs={"subject_id": int(s)}, answer=h, reference=ref)


# ---------------------------------------------------------------- B. diagnoses and procedures


def _codes_used(ctx: QaContext, kind: str) -> list[str]:
    df = ctx.f.diagnoses if kind == "dx" else ctx.f.procedures
    d = ctx.f.d_dx if kind == "dx" else ctx.f.d_px
    return ctx.memo(("codes_used", kind), lambda: sorted(c for c in set(df["icd9_code"]) if c in d))


def _code_title(kind: str) -> Sampler:
    table = "d_icd_diagnoses" if kind == "dx" else "d_icd_procedures"
    word = "diagnosis" if kind == "dx" else "procedure"

    @retry
    def gen(ctx: QaContext, rng: random.Random) -> Draft | None:
        code = _pick(rng, _codes_used(ctx, kind))
        if code is None:
            return None
        d = ctx.f.d_dx if kind == "dx" else ctx.f.d_px
        short = rng.random() < 0.4
        title = d[code][0 if short else 1]
        if _missing(title):
            return None
        col = "short_title" if short else "long_title"
        q = _q(rng, [
            "What is the {w} of ICD-9 {k} code {c}?",
            "Which {w} does the ICD-9 {k} code {c} have in the dictionary table?",
            "Look up ICD-9 {k} code {c}: what is its {w}?",
        ], w="short title" if short else "long title (full description)", k=word, c=code)
        ref = reference_cells(
            f"""
            row = {table}[{table}['icd9_code'] == icd9_code]
            row
            """,
            f"submit(str(row['{col}'].iloc[0]))",
        )
        return Draft(question=q, inputs={"icd9_code": code}, answer=str(title), reference=ref)

    gen.__name__ = f"gen_{word}_title"
    return gen


gen_diagnosis_title = _code_title("dx")
gen_procedure_title = _code_title("px")


@retry
def gen_primary_diagnosis(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, str]]:
        d = ctx.f.diagnoses
        first = d[d["seq_num"] == 1]
        counts = first.groupby("hadm_id").size()
        first = first[first["hadm_id"].map(counts) == 1]
        return [(int(s), int(h), str(c)) for s, h, c in zip(first["subject_id"], first["hadm_id"], first["icd9_code"])]

    pick = _pick(rng, ctx.memo("primary_dx", build))
    if pick is None:
        return None
    s, h, code = pick
    q = _q(rng, [
        "What was the primary diagnosis (seq_num 1) of hospital admission {h} of patient {s}? Give its ICD-9 code.",
        "Which ICD-9 code is listed first (sequence number 1) among the diagnoses of admission {h} (patient {s})?",
        "Patient {s}, admission {h}: what is the ICD-9 code of the principal diagnosis (seq_num = 1)?",
    ], s=s, h=h)
    ref = reference_cells(
        """
        dx = diagnoses_icd[diagnoses_icd['hadm_id'] == hadm_id].sort_values('seq_num')
        dx[['seq_num', 'icd9_code']].head()
        """,
        "submit(str(dx.loc[dx['seq_num'] == 1, 'icd9_code'].iloc[0]))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=code, reference=ref)


@retry
def gen_diagnosis_titles_of_admission(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, list[str]]]:
        d = ctx.f.diagnoses
        titles = d["icd9_code"].map(lambda c: ctx.f.d_dx.get(c, (None, None))[1])
        d = d.assign(title=titles)
        bad = set(d.loc[d["title"].isna(), "hadm_id"])
        return _sets(d[~d["hadm_id"].isin(bad)], "hadm_id", "title")

    pick = _pick(rng, ctx.memo("dx_titles", build))
    if pick is None:
        return None
    s, h, titles = pick
    q = _q(rng, [
        "What diagnoses did patient {s} receive during hospital admission {h}? List their ICD-9 long titles.",
        "List the long titles of all ICD-9 diagnoses recorded for admission {h} of patient {s}.",
        "Give the full descriptions (long titles) of the diagnosis codes of hospital stay {h} (patient {s}).",
    ], s=s, h=h)
    ref = reference_cells(
        """
        dx = diagnoses_icd[diagnoses_icd['hadm_id'] == hadm_id].merge(d_icd_diagnoses, on='icd9_code', how='left')
        dx[['seq_num', 'icd9_code', 'long_title']]
        """,
        "submit(sorted(set(dx['long_title'].dropna())))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=titles, reference=ref)


def _common_dx_titles(ctx: QaContext) -> list[tuple[str, str]]:
    """(code, long title) of diagnosis codes used in at least 3 admissions, titles unique."""
    def build() -> list[tuple[str, str]]:
        d = ctx.f.diagnoses
        n = d.groupby("icd9_code")["hadm_id"].nunique()
        out = []
        for code, k in n.items():
            title = ctx.f.d_dx.get(code, (None, None))[1]
            if k >= 3 and title and title in ctx.f.unique_dx_titles:
                out.append((code, title))
        return sorted(out)

    return ctx.memo("common_dx_titles", build)


@retry
def gen_has_diagnosis(ctx: QaContext, rng: random.Random) -> Draft | None:
    by_subject = ctx.memo("dx_by_subject", lambda: ctx.f.diagnoses.groupby("subject_id")["icd9_code"].apply(set).to_dict())
    subjects = ctx.memo("dx_subjects", lambda: sorted(by_subject))
    s = _pick(rng, subjects)
    common = _common_dx_titles(ctx)
    if s is None or not common:
        return None
    have = [(c, t) for c, t in common if c in by_subject[s]]
    lack = [(c, t) for c, t in common if c not in by_subject[s]]
    want = bool(have) and (not lack or rng.random() < 0.5)
    code, title = _pick(rng, have if want else lack)
    q = _q(rng, [
        'Has patient {s} ever been diagnosed with "{t}"?',
        'Does any hospital admission of patient {s} carry the diagnosis "{t}" (ICD-9 long title)?',
        'Was patient {s} ever coded with the diagnosis "{t}"?',
    ], s=int(s), t=title)
    ref = reference_cells(
        """
        codes = d_icd_diagnoses.loc[d_icd_diagnoses['long_title'] == diagnosis_title, 'icd9_code']
        dx = diagnoses_icd[(diagnoses_icd['subject_id'] == subject_id) & diagnoses_icd['icd9_code'].isin(codes)]
        dx
        """,
        "submit(bool(len(dx) > 0))",
    )
    return Draft(question=q, inputs={"subject_id": int(s), "diagnosis_title": title}, answer=want, reference=ref)


@retry
def gen_patients_with_diagnosis(ctx: QaContext, rng: random.Random) -> Draft | None:
    pick = _pick(rng, _common_dx_titles(ctx))
    if pick is None:
        return None
    code, title = pick
    counts = ctx.memo("dx_patients", lambda: ctx.f.diagnoses.groupby("icd9_code")["subject_id"].nunique().to_dict())
    q = _q(rng, [
        'How many patients have been diagnosed with "{t}"?',
        'Count the distinct patients with at least one admission coded "{t}".',
        'What is the number of patients whose diagnoses include "{t}" (ICD-9 long title)?',
    ], t=title)
    ref = reference_cells(
        """
        codes = d_icd_diagnoses.loc[d_icd_diagnoses['long_title'] == diagnosis_title, 'icd9_code']
        dx = diagnoses_icd[diagnoses_icd['icd9_code'].isin(codes)]
        dx['subject_id'].nunique()
        """,
        "submit(int(dx['subject_id'].nunique()))",
    )
    return Draft(question=q, inputs={"diagnosis_title": title}, answer=int(counts[code]), reference=ref)


@retry
def gen_procedure_count_for_patient(ctx: QaContext, rng: random.Random) -> Draft | None:
    ids = _patient_group(ctx, rng)
    if not ids:
        return None
    n = int(ctx.f.procedures["subject_id"].isin(ids).sum())
    q = _q(rng, [
        "How many procedures were recorded for the patients {p} in total? Count procedures_icd entries across all admissions.",
        "Count the procedures_icd records of the patients {p} together, over all of their hospital admissions.",
        "In how many procedures_icd rows do the patients {p} appear?",
    ], p=_listed(ids))
    ref = reference_cells(
        """
        px = procedures_icd[procedures_icd['subject_id'].isin(subject_ids)]
        px[['subject_id', 'hadm_id', 'icd9_code']]
        """,
        "submit(int(len(px)))",
    )
    return Draft(question=q, inputs={"subject_ids": ids}, answer=n, reference=ref)


# ---------------------------------------------------------------- populations (top-k, cohorts)


@dataclass(frozen=True)
class Population:
    """A subset of admissions, in words and as kernel code assigning ``adm``."""

    phrase: str
    inputs: dict[str, Any]
    code: str
    hadm_ids: frozenset[int]


def _populations(ctx: QaContext) -> list[Population]:
    def build() -> list[Population]:
        a = ctx.f.admissions.merge(ctx.f.patients[["subject_id", "gender"]], on="subject_id", how="left")
        pops = [Population("all hospital admissions", {}, "adm = admissions", frozenset(a["hadm_id"]))]
        for g in ("F", "M"):
            ids = frozenset(a.loc[a["gender"] == g, "hadm_id"])
            if len(ids) >= 5:
                pops.append(Population(
                    f"admissions of {'female' if g == 'F' else 'male'} patients (gender '{g}')", {"gender": g},
                    "adm = admissions.merge(patients[['subject_id', 'gender']], on='subject_id')\n"
                    "adm = adm[adm['gender'] == gender]", ids))
        for col, words in (("admission_type", "{v} admissions"), ("insurance", "admissions of patients with {v} insurance")):
            for v, k in sorted(a[col].dropna().value_counts().items()):
                if k >= 5:
                    pops.append(Population(words.format(v=v), {col: v}, f"adm = admissions[admissions['{col}'] == {col}]",
                                           frozenset(a.loc[a[col] == v, "hadm_id"])))
        died = frozenset(a.loc[a["hospital_expire_flag"] == 1, "hadm_id"])
        if len(died) >= 5:
            pops.append(Population("admissions in which the patient died in hospital", {},
                                   "adm = admissions[admissions['hospital_expire_flag'] == 1]", died))
        return pops

    return ctx.memo("populations", build)


def _top_k(ctx: QaContext, rng: random.Random, key: str, frame: Callable[[], pd.DataFrame], column: str) -> tuple[Population, int, list[str]] | None:
    pop = _pick(rng, _populations(ctx))
    k = rng.randint(3, 8)

    def compute() -> list[tuple[str, int]]:
        df = ctx.memo(("topk_pairs", key), lambda: frame()[["hadm_id", column]].drop_duplicates())
        df = df[df["hadm_id"].isin(pop.hadm_ids)]
        n = df.groupby(column).size().reset_index(name="n")
        n[column] = n[column].astype(str)
        n = n.sort_values(["n", column], ascending=[False, True])
        return list(zip(n[column], n["n"]))

    ranked = ctx.memo(("topk", key, pop.phrase), compute)
    if len(ranked) <= k or ranked[k - 1][1] < 2:
        return None
    return pop, k, [r[0] for r in ranked[:k]]


_TIE = (" Count each admission at most once per item, order from most to least frequent, and break ties "
        "by {what} in ascending order (plain character order).")


@retry
def gen_top_procedures(ctx: QaContext, rng: random.Random) -> Draft | None:
    got = _top_k(ctx, rng, "px", lambda: ctx.f.procedures, "icd9_code")
    if got is None:
        return None
    pop, k, answer = got
    q = _q(rng, [
        "What are the {k} most frequent ICD-9 procedure codes among {p}?",
        "Among {p}, which {k} procedures (ICD-9 codes) were performed in the most admissions?",
        "List the top {k} procedure codes of {p}, most frequent first.",
    ], k=k, p=pop.phrase) + _TIE.format(what="ICD-9 code")
    ref = reference_cells(
        pop.code,
        """
        px = procedures_icd[procedures_icd['hadm_id'].isin(adm['hadm_id'])].dropna(subset=['icd9_code'])
        counts = px.groupby('icd9_code')['hadm_id'].nunique().reset_index(name='n')
        counts = counts.sort_values(['n', 'icd9_code'], ascending=[False, True])
        counts.head(k)
        """,
        "submit([str(c) for c in counts['icd9_code'].head(k)])",
    )
    return Draft(question=q, inputs={"k": k, **pop.inputs}, answer=answer, reference=ref)


@retry
def gen_top_labs(ctx: QaContext, rng: random.Random) -> Draft | None:
    got = _top_k(ctx, rng, "lab", lambda: ctx.f.lab_stats, "label")
    if got is None:
        return None
    pop, k, answer = got
    q = _q(rng, [
        "Which {k} lab tests were measured in the largest number of {p}?",
        "Among {p}, what are the {k} most commonly ordered lab tests (d_labitems labels)?",
        "List the top {k} lab tests by number of admissions in which they were measured, among {p}.",
    ], k=k, p=pop.phrase) + _TIE.format(what="label") + " Consider only lab tests whose label names a single itemid."
    ref = reference_cells(
        pop.code,
        """
        counts_per_label = d_labitems['label'].value_counts()
        unique_items = d_labitems[d_labitems['label'].map(counts_per_label) == 1][['itemid', 'label']]
        lab = labevents[labevents['hadm_id'].isin(adm['hadm_id'])].merge(unique_items, on='itemid')
        counts = lab.groupby('label')['hadm_id'].nunique().reset_index(name='n')
        counts = counts.sort_values(['n', 'label'], ascending=[False, True])
        counts.head(k)
        """,
        "submit([str(x) for x in counts['label'].head(k)])",
    )
    return Draft(question=q, inputs={"k": k, **pop.inputs}, answer=answer, reference=ref)


@retry
def gen_top_organisms(ctx: QaContext, rng: random.Random) -> Draft | None:
    got = _top_k(ctx, rng, "org", lambda: ctx.f.micro.dropna(subset=["org_name"]), "org_name")
    if got is None:
        return None
    pop, k, answer = got
    q = _q(rng, [
        "Which {k} organisms were isolated in microbiology cultures of the largest number of {p}?",
        "Among {p}, what are the {k} most frequently grown organisms (org_name)?",
        "List the top {k} organisms found in microbiology tests of {p}, most frequent first.",
    ], k=k, p=pop.phrase) + _TIE.format(what="organism name")
    ref = reference_cells(
        pop.code,
        """
        micro = microbiologyevents[microbiologyevents['hadm_id'].isin(adm['hadm_id'])].dropna(subset=['org_name'])
        counts = micro.groupby('org_name')['hadm_id'].nunique().reset_index(name='n')
        counts = counts.sort_values(['n', 'org_name'], ascending=[False, True])
        counts.head(k)
        """,
        "submit([str(x) for x in counts['org_name'].head(k)])",
    )
    return Draft(question=q, inputs={"k": k, **pop.inputs}, answer=answer, reference=ref)


# ---------------------------------------------------------------- C. labs


_LAB_SELECT = """
itemids = d_labitems.loc[d_labitems['label'] == lab_label, 'itemid']
rows = labevents[(labevents['hadm_id'] == hadm_id) & labevents['itemid'].isin(itemids)].sort_values('charttime')
rows[['charttime', 'valuenum', 'valueuom', 'flag']]
"""


def _stat_pick(ctx: QaContext, rng: random.Random, name: str, st: pd.DataFrame, key: str,
               ok: Callable[[pd.DataFrame], pd.Series]) -> Any:
    """A random row of stats table ``name`` among those where ``ok`` holds (rows built once)."""
    if not len(st):
        return None
    rows = ctx.memo(("all_rows", name), lambda: _rows(st))
    idx = ctx.memo(("pick", name, key), lambda: np.flatnonzero(ok(st).to_numpy(dtype=bool)))
    return rows[int(idx[rng.randrange(len(idx))])] if len(idx) else None


def _lab_pick(ctx: QaContext, rng: random.Random, key: str, ok: Callable[[pd.DataFrame], pd.Series]) -> Any:
    return _stat_pick(ctx, rng, "lab", ctx.f.lab_stats, key, ok)


def _lab_inputs(r: Any) -> dict[str, Any]:
    return {"subject_id": _i(r.subject_id), "hadm_id": _i(r.hadm_id), "lab_label": str(r.label)}


def _lab_stat(stat: str, words: list[str], templates: list[str]) -> Sampler:
    col = {"min": "vmin", "mean": "vmean"}[stat]

    @retry
    def gen(ctx: QaContext, rng: random.Random) -> Draft | None:
        r = _lab_pick(ctx, rng, f"numeric_{stat}", lambda st: st["numeric"] & ((st["n"] >= 2) if stat == "mean" else True))
        if r is None:
            return None
        unit = r.unit if r.n_units == 1 else None
        q = _q(rng, templates, w=rng.choice(words), lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id)) + _unit(unit)
        ref = reference_cells(_LAB_SELECT, f"submit(float(rows['valuenum'].{stat}()))")
        return Draft(question=q, inputs=_lab_inputs(r), answer=round4(getattr(r, col)), reference=ref)

    gen.__name__ = f"gen_{stat}_lab_value"
    return gen


gen_min_lab_value = _lab_stat("min", ["lowest", "minimum", "smallest"], [
    'What was the {w} "{lab}" value of patient {s} during hospital admission {h}?',
    'During admission {h}, what was patient {s}\'s {w} "{lab}" result?',
    'Find the {w} "{lab}" measurement of patient {s} in hospital stay {h}.',
])
gen_mean_lab_value = _lab_stat("mean", ["average", "mean"], [
    'What was the {w} "{lab}" value of patient {s} during hospital admission {h}?',
    'Compute the {w} of all "{lab}" results of patient {s} in admission {h}.',
    'During hospital stay {h}, what was the {w} "{lab}" of patient {s}?',
])


@retry
def gen_lab_test_count(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _lab_pick(ctx, rng, "any", lambda st: st["n"] >= 1)
    if r is None:
        return None
    q = _q(rng, [
        'How many "{lab}" results does patient {s} have in hospital admission {h}?',
        'How many times was "{lab}" measured for patient {s} during admission {h}?',
        'Count the "{lab}" lab events of patient {s} in hospital stay {h}.',
    ], lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id))
    ref = reference_cells(_LAB_SELECT, "submit(int(len(rows)))")
    return Draft(question=q, inputs=_lab_inputs(r), answer=int(r.n), reference=ref)


@retry
def gen_lab_value_change(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _lab_pick(ctx, rng, "change", lambda st: st["numeric"] & (st["n_times"] >= 2) & (st["first_distinct"] == 1)
                  & (st["last_distinct"] == 1))
    if r is None:
        return None
    change = float(r.last_val) - float(r.first_val)
    unit = r.unit if r.n_units == 1 else None
    q = _q(rng, [
        'How much did patient {s}\'s "{lab}" change from the first to the last measurement of hospital admission {h}? '
        'Give last minus first.',
        'During admission {h}, what is the difference between the last and the first "{lab}" value of patient {s} (last minus first)?',
        'Compute the change in "{lab}" over hospital stay {h} of patient {s}: the last value minus the first value.',
    ], lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id)) + _unit(unit)
    ref = reference_cells(_LAB_SELECT, "submit(float(rows['valuenum'].iloc[-1] - rows['valuenum'].iloc[0]))")
    return Draft(question=q, inputs=_lab_inputs(r), answer=round4(change), reference=ref)


def _lab_rows(ctx: QaContext, r: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    sl = ctx.f.lab_groups.rows((int(r.hadm_id), int(r.itemid)))
    if sl is None:
        return None
    lab = ctx.f.labs
    return (lab["charttime"].to_numpy()[sl], lab["valuenum"].to_numpy(dtype=float, na_value=np.nan)[sl],
            lab["flag"].to_numpy()[sl])


@retry
def gen_lab_first_day_max(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _lab_pick(ctx, rng, "numeric", lambda st: st["numeric"])
    if r is None:
        return None
    adm = ctx.f.adm_by_id.get(int(r.hadm_id))
    got = _lab_rows(ctx, r)
    if adm is None or got is None or _missing(adm.admittime):
        return None
    t, v, _ = got
    start = np.datetime64(pd.Timestamp(adm.admittime))
    hours = rng.choice([12, 24, 48])
    inside = (t >= start) & (t < start + np.timedelta64(hours, "h"))
    if not inside.any():
        return None
    q = _q(rng, [
        'What was the highest "{lab}" of patient {s} within the first {n} hours of hospital admission {h}?',
        'In the first {n} hours after admission {h} began, what was patient {s}\'s maximum "{lab}" value?',
        'Considering only results charted in the first {n} hours of hospital stay {h}, what was the peak "{lab}" of patient {s}?',
    ], lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id), n=hours) + (
        f" Count results charted from the admission time up to, but not including, admission time + {hours} hours.")
    ref = reference_cells(
        "admitted = admissions.loc[admissions['hadm_id'] == hadm_id, 'admittime'].iloc[0]\n" + _LAB_SELECT,
        f"window = rows[(rows['charttime'] >= admitted) & (rows['charttime'] < admitted + pd.Timedelta(hours={hours}))]\n"
        "submit(float(window['valuenum'].max()))",
    )
    return Draft(question=q, inputs={**_lab_inputs(r), "hours": hours}, answer=round4(np.nanmax(v[inside])), reference=ref)


@retry
def gen_lab_abnormal_any(ctx: QaContext, rng: random.Random) -> Draft | None:
    want = rng.random() < 0.5
    r = _lab_pick(ctx, rng, f"abn_{want}", (lambda st: st["n_abn"] > 0) if want else (lambda st: st["n_abn"] == 0))
    if r is None:
        return None
    q = _q(rng, [
        'Did patient {s} have any "{lab}" result flagged abnormal during hospital admission {h}?',
        'Was any "{lab}" value of patient {s} marked abnormal (labevents.flag) in admission {h}?',
        'During hospital stay {h}, was patient {s}\'s "{lab}" ever flagged as abnormal?',
    ], lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id))
    ref = reference_cells(_LAB_SELECT, "submit(bool((rows['flag'] == 'abnormal').any()))")
    return Draft(question=q, inputs=_lab_inputs(r), answer=bool(r.n_abn > 0), reference=ref)


@retry
def gen_lab_last_before_time(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _lab_pick(ctx, rng, "cur", lambda st: st["numeric"] & (st["n_times"] >= 2))
    got = None if r is None else _lab_rows(ctx, r)
    if got is None:
        return None
    t, v, _ = got
    times = np.unique(t)
    j = rng.randrange(len(times) - 1)
    lo, hi = pd.Timestamp(times[j]), pd.Timestamp(times[j + 1])
    gap = int((hi - lo).total_seconds() // 60)
    if gap < 2:
        return None
    now = (lo + pd.Timedelta(minutes=rng.randrange(1, gap))).floor("min")
    if not lo < now < hi:
        return None
    at_lo = v[t == times[j]]
    if len(set(at_lo.tolist())) != 1:
        return None
    q = _q(rng, [
        'Assume the current time is {now}. What is the most recent "{lab}" value of patient {s} in hospital admission {h}?',
        'It is now {now}. What was the latest "{lab}" result of patient {s} (admission {h}) charted so far?',
        'Current time: {now}. Patient {s} is in hospital admission {h}. What was their last "{lab}" before now?',
    ], now=ts(now), lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id))
    ref = reference_cells(
        _LAB_SELECT,
        "now = pd.Timestamp(current_time)\nsubmit(float(rows.loc[rows['charttime'] <= now, 'valuenum'].iloc[-1]))",
    )
    return Draft(question=q, inputs={**_lab_inputs(r), "current_time": ts(now)}, answer=round4(at_lo[0]), reference=ref)


@retry
def gen_lab_time_of_max(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _lab_pick(ctx, rng, "tmax", lambda st: st["numeric"] & (st["n"] >= 2))
    got = None if r is None else _lab_rows(ctx, r)
    if got is None:
        return None
    t, v, _ = got
    at = t[v == np.nanmax(v)]
    if len(at) != 1:
        return None
    q = _q(rng, [
        'When was the highest "{lab}" value of patient {s} measured during hospital admission {h}?',
        'At what time was patient {s}\'s peak "{lab}" result of admission {h} charted?',
        'Give the charttime of the maximum "{lab}" of patient {s} in hospital stay {h}.',
    ], lab=r.label, s=_i(r.subject_id), h=_i(r.hadm_id))
    ref = reference_cells(_LAB_SELECT, "top = rows.loc[rows['valuenum'].idxmax()]\nsubmit(top['charttime'].strftime('%Y-%m-%d %H:%M:%S'))")
    return Draft(question=q, inputs=_lab_inputs(r), answer=ts(at[0]), reference=ref)


@retry
def gen_cohort_count_lab_threshold(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[str, int, list[float]]]:
        st = ctx.f.lab_stats
        if st.empty:
            return []
        out = []
        for (item, label), g in st[st["n_num"] > 0].groupby(["itemid", "label"]):
            if g["hadm_id"].nunique() >= 20 and g["n_units"].max() <= 1:
                q = np.nanquantile(g["vmax"].to_numpy(dtype=float), [0.25, 0.5, 0.75, 0.9])
                out.append((str(label), int(item), [float(x) for x in q]))
        return sorted(out)

    pick = _pick(rng, ctx.memo("lab_thresholds", build))
    if pick is None:
        return None
    label, item, qs = pick
    above = rng.random() < 0.6
    thr = float(np.round(rng.choice(qs), 1))

    def extremes() -> dict[int, tuple[np.ndarray, np.ndarray]]:
        st = ctx.f.lab_stats
        return {int(i): (np.sort(g["vmax"].dropna().to_numpy(dtype=float)), np.sort(g["vmin"].dropna().to_numpy(dtype=float)))
                for i, g in st.groupby("itemid")}

    highs, lows = ctx.memo("lab_extremes", extremes)[item]
    n = int(len(highs) - np.searchsorted(highs, thr, side="right")) if above else int(np.searchsorted(lows, thr, side="left"))
    q = _q(rng, [
        'How many hospital admissions had at least one "{lab}" value {rel} {x}?',
        'Count the admissions in which some "{lab}" result was {rel} {x}.',
        'In how many hospital admissions was "{lab}" ever {rel} {x}?',
    ], lab=label, rel="above" if above else "below", x=thr) + " Count distinct admissions (hadm_id); the comparison is strict."
    ref = reference_cells(
        """
        itemids = d_labitems.loc[d_labitems['label'] == lab_label, 'itemid']
        lab = labevents[labevents['itemid'].isin(itemids) & labevents['hadm_id'].notna()]
        lab['valuenum'].describe()
        """,
        f"hit = lab[lab['valuenum'] {'>' if above else '<'} threshold]\nsubmit(int(hit['hadm_id'].nunique()))",
    )
    return Draft(question=q, inputs={"lab_label": label, "threshold": thr}, answer=n, reference=ref)


# ---------------------------------------------------------------- D. vitals (chartevents)


_VITAL_SELECT = """
itemids = d_items.loc[d_items['label'] == vital_label, 'itemid']
rows = chartevents[(chartevents['icustay_id'] == icustay_id) & chartevents['itemid'].isin(itemids)]
rows = rows.sort_values('charttime')
rows[['charttime', 'itemid', 'valuenum', 'valueuom']]
"""


def _vital_pick(ctx: QaContext, rng: random.Random, key: str, ok: Callable[[pd.DataFrame], pd.Series]) -> Any:
    return _stat_pick(ctx, rng, "vital", ctx.f.vital_stats, key, lambda st: st["clean"] & ok(st))


def _vital_inputs(r: Any) -> dict[str, Any]:
    return {"subject_id": _i(r.subject_id), "icustay_id": _i(r.icustay_id), "vital_label": str(r.label)}


def _vital_rows(ctx: QaContext, r: Any) -> tuple[np.ndarray, np.ndarray] | None:
    sl = ctx.f.vital_groups.rows((int(r.icustay_id), str(r.label)))
    if sl is None:
        return None
    ce = ctx.f.vitals
    return ce["charttime"].to_numpy()[sl], ce["valuenum"].to_numpy(dtype=float, na_value=np.nan)[sl]


@retry
def gen_vital_mean(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _vital_pick(ctx, rng, "mean", lambda st: st["n"] >= 2)
    if r is None:
        return None
    q = _q(rng, [
        'What was the average "{v}" of patient {s} during ICU stay {i}?',
        'Compute the mean charted "{v}" over ICU stay {i} of patient {s}.',
        'During ICU stay {i}, what was patient {s}\'s mean "{v}"?',
    ], v=r.label, s=_i(r.subject_id), i=_i(r.icustay_id)) + _unit(r.unit if r.n_units == 1 else None)
    ref = reference_cells(_VITAL_SELECT, "submit(float(rows['valuenum'].mean()))")
    return Draft(question=q, inputs=_vital_inputs(r), answer=round4(r.vmean), reference=ref)


@retry
def gen_vital_last(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _vital_pick(ctx, rng, "last", lambda st: st["last_distinct"] == 1)
    if r is None:
        return None
    q = _q(rng, [
        'What was the last "{v}" charted for patient {s} in ICU stay {i}?',
        'Give the final recorded "{v}" of ICU stay {i} (patient {s}).',
        'What was patient {s}\'s most recent "{v}" value at the end of ICU stay {i}?',
    ], v=r.label, s=_i(r.subject_id), i=_i(r.icustay_id)) + _unit(r.unit if r.n_units == 1 else None)
    ref = reference_cells(_VITAL_SELECT, "submit(float(rows['valuenum'].iloc[-1]))")
    return Draft(question=q, inputs=_vital_inputs(r), answer=round4(r.last_val), reference=ref)


def _icu_intime(ctx: QaContext) -> dict[int, Any]:
    return ctx.memo("icu_intime", lambda: dict(zip(ctx.f.icustays["icustay_id"].astype(int), ctx.f.icustays["intime"])))


@retry
def gen_vital_window_extreme(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _vital_pick(ctx, rng, "any", lambda st: st["n"] >= 1)
    if r is None:
        return None
    intime = _icu_intime(ctx).get(int(r.icustay_id))
    got = _vital_rows(ctx, r)
    if got is None or _missing(intime):
        return None
    t, v = got
    hours = rng.choice([4, 6, 12, 24])
    start = np.datetime64(pd.Timestamp(intime))
    inside = (t >= start) & (t <= start + np.timedelta64(hours, "h"))
    if not inside.any():
        return None
    high = rng.random() < 0.5
    value = np.nanmax(v[inside]) if high else np.nanmin(v[inside])
    q = _q(rng, [
        'What was the {w} "{v}" of patient {s} in the first {n} hours of ICU stay {i}?',
        'Within {n} hours of the start of ICU stay {i}, what was the {w} "{v}" charted for patient {s}?',
        'Considering the first {n} hours after ICU admission (stay {i}, patient {s}), what was the {w} "{v}"?',
    ], w="highest" if high else "lowest", v=r.label, s=_i(r.subject_id), i=_i(r.icustay_id), n=hours) + (
        f" Count values charted from the ICU intime up to and including intime + {hours} hours.")
    ref = reference_cells(
        "intime = icustays.loc[icustays['icustay_id'] == icustay_id, 'intime'].iloc[0]\n" + _VITAL_SELECT,
        f"window = rows[(rows['charttime'] >= intime) & (rows['charttime'] <= intime + pd.Timedelta(hours={hours}))]\n"
        f"submit(float(window['valuenum'].{'max' if high else 'min'}()))",
    )
    return Draft(question=q, inputs={**_vital_inputs(r), "hours": hours}, answer=round4(value), reference=ref)


_VITAL_LIMITS = {  # label -> (comparison, threshold, words)
    "Heart Rate": [(">", 100, "above 100 (tachycardia)"), ("<", 60, "below 60 (bradycardia)")],
    "Respiratory Rate": [(">", 24, "above 24")],
    "O2 saturation pulseoxymetry": [("<", 92, "below 92")],
    "SpO2": [("<", 92, "below 92")],
    "Arterial Blood Pressure systolic": [("<", 90, "below 90")],
    "Arterial BP [Systolic]": [("<", 90, "below 90")],
    "Non Invasive Blood Pressure systolic": [("<", 90, "below 90"), (">", 160, "above 160")],
    "Arterial Blood Pressure mean": [("<", 65, "below 65")],
    "Non Invasive Blood Pressure mean": [("<", 65, "below 65")],
    "Temperature Fahrenheit": [(">", 100.4, "above 100.4")],
    "Temperature F": [(">", 100.4, "above 100.4")],
}


@retry
def gen_vital_count_abnormal(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _vital_pick(ctx, rng, "limits", lambda st: st["label"].isin(list(_VITAL_LIMITS)))
    got = None if r is None else _vital_rows(ctx, r)
    if got is None:
        return None
    _, v = got
    op, thr, words = rng.choice(_VITAL_LIMITS[r.label])
    n = int((v > thr).sum() if op == ">" else (v < thr).sum())
    if n == 0 and rng.random() < 0.7:
        return None
    q = _q(rng, [
        'How many times was "{v}" {w} during ICU stay {i} of patient {s}?',
        'Count the charted "{v}" values {w} in ICU stay {i} (patient {s}).',
        'During ICU stay {i}, how many "{v}" measurements of patient {s} were {w}?',
    ], v=r.label, w=words, s=_i(r.subject_id), i=_i(r.icustay_id)) + " The comparison is strict."
    ref = reference_cells(_VITAL_SELECT, f"submit(int((rows['valuenum'] {op} threshold).sum()))")
    return Draft(question=q, inputs={**_vital_inputs(r), "threshold": thr}, answer=n, reference=ref)


@retry
def gen_vital_exceeded_before_time(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _vital_pick(ctx, rng, "limits2", lambda st: st["label"].isin(list(_VITAL_LIMITS)) & (st["n"] >= 3))
    got = None if r is None else _vital_rows(ctx, r)
    if got is None:
        return None
    t, v = got
    op, thr, words = rng.choice(_VITAL_LIMITS[r.label])
    j = rng.randrange(1, len(t))
    now = pd.Timestamp(t[j]) - pd.Timedelta(minutes=1)
    before = t <= np.datetime64(now)
    if not before.any():
        return None
    hit = bool((v[before] > thr).any() if op == ">" else (v[before] < thr).any())
    q = _q(rng, [
        'Assume the current time is {now}. During ICU stay {i} so far, has patient {s}\'s "{v}" been {w}?',
        'It is now {now}. Up to now, was any "{v}" of patient {s} in ICU stay {i} {w}?',
        'Current time: {now}. Has patient {s} (ICU stay {i}) had a "{v}" {w} yet?',
    ], now=ts(now), v=r.label, w=words, s=_i(r.subject_id), i=_i(r.icustay_id)) + " The comparison is strict."
    ref = reference_cells(
        _VITAL_SELECT,
        f"so_far = rows[rows['charttime'] <= pd.Timestamp(current_time)]\nsubmit(bool((so_far['valuenum'] {op} threshold).any()))",
    )
    return Draft(question=q, inputs={**_vital_inputs(r), "threshold": thr, "current_time": ts(now)}, answer=hit, reference=ref)


# ---------------------------------------------------------------- E. prescriptions


_RX_SELECT = """
rx = prescriptions[(prescriptions['hadm_id'] == hadm_id) & (prescriptions['drug'] == drug)]
rx[['startdate', 'enddate', 'drug', 'dose_val_rx', 'dose_unit_rx', 'route']]
"""


def _rx_pick(ctx: QaContext, rng: random.Random, key: str, ok: Callable[[pd.DataFrame], pd.Series]) -> Any:
    return _stat_pick(ctx, rng, "rx", ctx.f.rx_stats, key, ok)


@retry
def gen_drugs_of_admission(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, list[str]]]:
        return _sets(ctx.f.prescriptions, "hadm_id", "drug")

    pick = _pick(rng, ctx.memo("drugs_of_adm", build))
    if pick is None:
        return None
    s, h, drugs = pick
    q = _q(rng, [
        "Which drugs were prescribed to patient {s} during hospital admission {h}?",
        "List the distinct drug names (prescriptions.drug) ordered for admission {h} of patient {s}.",
        "What medications did patient {s} receive prescriptions for in hospital stay {h}?",
    ], s=s, h=h)
    ref = reference_cells(
        """
        rx = prescriptions[prescriptions['hadm_id'] == hadm_id]
        rx[['startdate', 'drug', 'route']].head(20)
        """,
        "submit(sorted(set(rx['drug'].dropna().astype(str))))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=drugs, reference=ref)


@retry
def gen_drug_first_start(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _rx_pick(ctx, rng, "start", lambda st: st["n_start"] == st["n"])
    if r is None:
        return None
    q = _q(rng, [
        'On what date was "{d}" first prescribed to patient {s} during hospital admission {h}?',
        'When did the first prescription of "{d}" start in admission {h} of patient {s}? Give the date.',
        'Patient {s}, admission {h}: what is the earliest start date of a "{d}" order?',
    ], d=r.drug, s=_i(r.subject_id), h=_i(r.hadm_id))
    ref = reference_cells(_RX_SELECT, "submit(rx['startdate'].min().strftime('%Y-%m-%d'))")
    return Draft(question=q, inputs={"subject_id": _i(r.subject_id), "hadm_id": _i(r.hadm_id), "drug": str(r.drug)},
                 answer=pd.Timestamp(r.t_first).strftime("%Y-%m-%d"), reference=ref)


@retry
def gen_drug_order_count(ctx: QaContext, rng: random.Random) -> Draft | None:
    counts = ctx.memo("rx_drug_rows", lambda: sorted(
        (str(d), int(k)) for d, k in ctx.f.prescriptions.groupby("drug").size().items()))
    pick = _pick(rng, counts)
    if pick is None:
        return None
    drug, n = pick
    q = _q(rng, [
        'How many prescriptions of "{d}" were written in total, over all patients and admissions?',
        'Count the "{d}" orders in the prescriptions table (all admissions).',
        'How many times was "{d}" prescribed in the whole database?',
    ], d=drug) + " Count rows of the prescriptions table."
    ref = reference_cells("rx = prescriptions[prescriptions['drug'] == drug]\nrx[['subject_id', 'hadm_id', 'startdate', 'drug']].head()",
                          "submit(int(len(rx)))")
    return Draft(question=q, inputs={"drug": drug}, answer=n, reference=ref)


@retry
def gen_drug_ever_prescribed(ctx: QaContext, rng: random.Random) -> Draft | None:
    rx = ctx.f.prescriptions
    by_subject = ctx.memo("rx_by_subject", lambda: rx.groupby("subject_id")["drug"].apply(lambda s: set(s.astype(str))).to_dict())
    common = ctx.memo("rx_common", lambda: sorted(str(d) for d, k in rx.groupby("drug")["hadm_id"].nunique().items() if k >= 3))
    subjects = ctx.memo("rx_subjects", lambda: sorted(int(s) for s in ctx.f.patients["subject_id"]))
    s = _pick(rng, subjects)
    if s is None or not common:
        return None
    given = by_subject.get(s, set())
    have = [d for d in common if d in given]
    lack = [d for d in common if d not in given]
    want = bool(have) and (not lack or rng.random() < 0.5)
    drug = _pick(rng, have if want else lack)
    q = _q(rng, [
        'Has patient {s} ever been prescribed "{d}"?',
        'Was "{d}" prescribed to patient {s} in any hospital admission?',
        'Does patient {s} have any prescription of "{d}" on record?',
    ], s=s, d=drug)
    ref = reference_cells(
        """
        rx = prescriptions[(prescriptions['subject_id'] == subject_id) & (prescriptions['drug'] == drug)]
        rx[['hadm_id', 'startdate', 'drug']]
        """,
        "submit(bool(len(rx) > 0))",
    )
    return Draft(question=q, inputs={"subject_id": s, "drug": drug}, answer=want, reference=ref)


@retry
def gen_drugs_started_first_day(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, list[str]]]:
        rx = ctx.f.prescriptions.dropna(subset=["startdate"])
        adm = ctx.f.admissions.set_index("hadm_id")["admittime"]
        day0 = rx["hadm_id"].map(adm).dt.normalize()
        return _sets(rx[rx["startdate"].dt.normalize() == day0], "hadm_id", "drug")

    pick = _pick(rng, ctx.memo("rx_day0", build))
    if pick is None:
        return None
    s, h, drugs = pick
    q = _q(rng, [
        "Which drugs were started on the day patient {s} was admitted (hospital admission {h})?",
        "List the drugs whose prescriptions in admission {h} of patient {s} start on the calendar day of the admission time.",
        "What drugs were newly ordered for patient {s} on the first day (the admission date) of hospital stay {h}?",
    ], s=s, h=h)
    ref = reference_cells(
        """
        day0 = admissions.loc[admissions['hadm_id'] == hadm_id, 'admittime'].iloc[0].normalize()
        rx = prescriptions[(prescriptions['hadm_id'] == hadm_id)]
        rx = rx[rx['startdate'].dt.normalize() == day0]
        rx[['startdate', 'drug']]
        """,
        "submit(sorted(set(rx['drug'].dropna().astype(str))))",
    )
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=drugs, reference=ref)


@retry
def gen_cohort_count_diagnosis_drug(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[str, str, int]]:
        dx = ctx.f.diagnoses[["subject_id", "hadm_id", "icd9_code"]]
        titles = dict(_common_dx_titles(ctx))
        dx = dx[dx["icd9_code"].isin(list(titles))]
        rx = ctx.f.prescriptions[["hadm_id", "drug"]].drop_duplicates()
        both = dx.merge(rx, on="hadm_id")
        n = both.groupby(["icd9_code", "drug"])["subject_id"].nunique()
        return [(titles[c], str(d), int(k)) for (c, d), k in n.items() if k >= 2]

    pick = _pick(rng, ctx.memo("dx_rx_pairs", build))
    if pick is None:
        return None
    title, drug, n = pick
    q = _q(rng, [
        'How many patients were diagnosed with "{t}" and prescribed "{d}" during the same hospital admission?',
        'Count the distinct patients with an admission coded "{t}" in which "{d}" was also prescribed.',
        'In how many patients did an admission carry the diagnosis "{t}" together with a "{d}" prescription?',
    ], t=title, d=drug)
    ref = reference_cells(
        """
        codes = d_icd_diagnoses.loc[d_icd_diagnoses['long_title'] == diagnosis_title, 'icd9_code']
        dx = diagnoses_icd[diagnoses_icd['icd9_code'].isin(codes)][['subject_id', 'hadm_id']]
        rx = prescriptions[prescriptions['drug'] == drug][['hadm_id']].drop_duplicates()
        both = dx.merge(rx, on='hadm_id')
        both.head()
        """,
        "submit(int(both['subject_id'].nunique()))",
    )
    return Draft(question=q, inputs={"diagnosis_title": title, "drug": drug}, answer=n, reference=ref)


# ---------------------------------------------------------------- F. inputs and outputs


def _io_pick(ctx: QaContext, rng: random.Random, kind: str, key: str, ok: Callable[[pd.DataFrame], pd.Series]) -> Any:
    st = ctx.f.input_stats if kind == "in" else ctx.f.output_stats
    return _stat_pick(ctx, rng, kind, st, key, ok)


def _io_inputs(r: Any) -> dict[str, Any]:
    return {"subject_id": _i(r.subject_id), "icustay_id": _i(r.icustay_id), "item_label": str(r.label)}


_IN_SELECT = """
itemids = d_items.loc[(d_items['label'] == item_label) & (d_items['linksto'] == 'inputevents_mv'), 'itemid']
rows = inputevents_mv[(inputevents_mv['icustay_id'] == icustay_id) & inputevents_mv['itemid'].isin(itemids)]
rows = rows.sort_values('starttime')
rows[['starttime', 'endtime', 'amount', 'amountuom', 'rate', 'rateuom', 'statusdescription']]
"""
_OUT_SELECT = """
itemids = d_items.loc[(d_items['label'] == item_label) & (d_items['linksto'] == 'outputevents'), 'itemid']
rows = outputevents[(outputevents['icustay_id'] == icustay_id) & outputevents['itemid'].isin(itemids)]
rows = rows.sort_values('charttime')
rows[['charttime', 'value', 'valueuom']]
"""


@retry
def gen_input_total_amount(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _io_pick(ctx, rng, "in", "total", lambda st: (st["n_units"] == 1) & (st["n_amount"] == st["n"]) & (st["n_ok"] == st["n"]))
    if r is None:
        return None
    q = _q(rng, [
        'What total amount of "{x}" did patient {s} receive during ICU stay {i}?',
        'Sum the amounts of all "{x}" input events of ICU stay {i} (patient {s}).',
        'How much "{x}" was given to patient {s} in ICU stay {i}, in total?',
    ], x=r.label, s=_i(r.subject_id), i=_i(r.icustay_id)) + f" Answer in {r.unit} (inputevents_mv.amount)."
    ref = reference_cells(_IN_SELECT, "submit(float(rows['amount'].sum()))")
    return Draft(question=q, inputs=_io_inputs(r), answer=round4(r.total), reference=ref)


@retry
def gen_input_first_time(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _io_pick(ctx, rng, "in", "first", lambda st: st["n_start"] == st["n"])
    if r is None:
        return None
    q = _q(rng, [
        'When was "{x}" first started for patient {s} in ICU stay {i}?',
        'What is the start time of the first "{x}" input event of ICU stay {i} (patient {s})?',
        'During ICU stay {i}, at what time did patient {s} first receive "{x}"?',
    ], x=r.label, s=_i(r.subject_id), i=_i(r.icustay_id))
    ref = reference_cells(_IN_SELECT, "submit(rows['starttime'].min().strftime('%Y-%m-%d %H:%M:%S'))")
    return Draft(question=q, inputs=_io_inputs(r), answer=ts(r.t_first), reference=ref)


@retry
def gen_input_items_of_stay(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, list[str]]]:
        ie = ctx.f.table("inputevents_mv", ["subject_id", "icustay_id", "itemid"]).dropna()
        ie = ie.assign(label=ie["itemid"].astype(int).map(ctx.f.item_labels))
        bad = set(ie.loc[ie["label"].isna(), "icustay_id"])
        return _sets(ie[~ie["icustay_id"].isin(bad)], "icustay_id", "label")

    pick = _pick(rng, ctx.memo("input_items", build))
    if pick is None:
        return None
    s, i, labels = pick
    q = _q(rng, [
        "Which input items (d_items labels) were given to patient {s} during ICU stay {i}?",
        "List the distinct fluids and medications charted in inputevents_mv for ICU stay {i} of patient {s}, by d_items label.",
        "What did patient {s} receive as inputs in ICU stay {i}? Give the item labels.",
    ], s=s, i=i)
    ref = reference_cells(
        """
        ie = inputevents_mv[inputevents_mv['icustay_id'] == icustay_id].merge(d_items[['itemid', 'label']], on='itemid', how='left')
        ie[['starttime', 'label', 'amount', 'amountuom']].head(20)
        """,
        "submit(sorted(set(ie['label'].dropna().astype(str))))",
    )
    return Draft(question=q, inputs={"subject_id": s, "icustay_id": i}, answer=labels, reference=ref)


@retry
def gen_output_total(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _io_pick(ctx, rng, "out", "total", lambda st: (st["n_units"] <= 1) & (st["n_value"] == st["n"]))
    if r is None:
        return None
    q = _q(rng, [
        'What was the total "{x}" output of patient {s} during ICU stay {i}?',
        'Sum all "{x}" output events charted in ICU stay {i} (patient {s}).',
        'How much "{x}" output was recorded for patient {s} in ICU stay {i}, in total?',
    ], x=r.label, s=_i(r.subject_id), i=_i(r.icustay_id)) + " Answer in mL (outputevents.value)."
    ref = reference_cells(_OUT_SELECT, "submit(float(rows['value'].sum()))")
    return Draft(question=q, inputs=_io_inputs(r), answer=round4(r.total), reference=ref)


@retry
def gen_output_first_day(ctx: QaContext, rng: random.Random) -> Draft | None:
    r = _io_pick(ctx, rng, "out", "day", lambda st: (st["n_units"] <= 1) & (st["n_value"] == st["n"]) & (st["n_time"] == st["n"]))
    if r is None:
        return None
    intime = _icu_intime(ctx).get(int(r.icustay_id))
    if _missing(intime):
        return None
    oe = ctx.f.outputs
    key = ("out_groups",)
    groups = ctx.memo(key, lambda: ctx_groups(oe, ["icustay_id", "label"]))
    sl = groups.rows((int(r.icustay_id), str(r.label)))
    if sl is None:
        return None
    t = oe["charttime"].to_numpy()[sl]
    v = oe["value"].to_numpy(dtype=float, na_value=np.nan)[sl]
    hours = rng.choice([8, 12, 24])
    start = np.datetime64(pd.Timestamp(intime))
    inside = (t >= start) & (t < start + np.timedelta64(hours, "h"))
    if not inside.any():
        return None
    q = _q(rng, [
        'What was the total "{x}" output of patient {s} in the first {n} hours of ICU stay {i}?',
        'Sum the "{x}" output charted during the first {n} hours after the start of ICU stay {i} (patient {s}).',
        'How much "{x}" output did patient {s} have within {n} hours of ICU admission (stay {i})?',
    ], x=r.label, s=_i(r.subject_id), i=_i(r.icustay_id), n=hours) + (
        f" Count events charted from the ICU intime up to, but not including, intime + {hours} hours; answer in mL.")
    ref = reference_cells(
        "intime = icustays.loc[icustays['icustay_id'] == icustay_id, 'intime'].iloc[0]\n" + _OUT_SELECT,
        f"window = rows[(rows['charttime'] >= intime) & (rows['charttime'] < intime + pd.Timedelta(hours={hours}))]\n"
        "submit(float(window['value'].sum()))",
    )
    return Draft(question=q, inputs={**_io_inputs(r), "hours": hours}, answer=round4(np.nansum(v[inside])), reference=ref)


def ctx_groups(df: pd.DataFrame, keys: list[str]) -> Any:
    from kernelgym.families.ehr_data import Groups

    return Groups.of(df, keys)


# ---------------------------------------------------------------- G. microbiology


@dataclass(frozen=True)
class _Spec:
    timed: bool  # every row of the specimen type has a charttime
    first: Any  # earliest charttime
    grew: bool  # some row names an organism


def _micro_by_admission(ctx: QaContext) -> list[tuple[int, int, dict[str, _Spec]]]:
    """(subject, hadm, {specimen type: summary}) for every admission with microbiology rows."""
    def build() -> list[tuple[int, int, dict[str, _Spec]]]:
        m = ctx.f.micro.dropna(subset=["spec_type_desc"])
        g = m.groupby(["hadm_id", "spec_type_desc"], sort=True).agg(
            subject_id=("subject_id", "first"), n=("spec_type_desc", "size"), n_time=("charttime", "count"),
            first=("charttime", "min"), n_org=("org_name", "count"))
        out: dict[int, tuple[int, dict[str, _Spec]]] = {}
        for (h, spec), r in zip(g.index, g.itertuples(index=False)):
            out.setdefault(int(h), (int(r.subject_id), {}))[1][str(spec)] = _Spec(r.n_time == r.n, r.first, r.n_org > 0)
        return [(s, h, specs) for h, (s, specs) in sorted(out.items())]

    return ctx.memo("micro_by_adm", build)


_MICRO_SELECT = """
micro = microbiologyevents[microbiologyevents['hadm_id'] == hadm_id]
micro[['chartdate', 'charttime', 'spec_type_desc', 'org_name', 'ab_name', 'interpretation']].head(30)
"""


@retry
def gen_micro_specimens(ctx: QaContext, rng: random.Random) -> Draft | None:
    pick = _pick(rng, _micro_by_admission(ctx))
    if pick is None:
        return None
    s, h, g = pick
    specs = sorted(g)
    q = _q(rng, [
        "Which specimen types were sent for microbiology testing for patient {s} during hospital admission {h}?",
        "List the distinct microbiology specimen types (spec_type_desc) of admission {h} (patient {s}).",
        "What kinds of specimens were cultured for patient {s} in hospital stay {h}?",
    ], s=s, h=h)
    ref = reference_cells(_MICRO_SELECT, "submit(sorted(set(micro['spec_type_desc'].dropna().astype(str))))")
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=specs, reference=ref)


@retry
def gen_micro_first_specimen_time(ctx: QaContext, rng: random.Random) -> Draft | None:
    pick = _pick(rng, _micro_by_admission(ctx))
    if pick is None:
        return None
    s, h, g = pick
    spec = _pick(rng, sorted(g))
    if spec is None or not g[spec].timed:
        return None
    q = _q(rng, [
        'When was the first "{x}" specimen of patient {s} taken during hospital admission {h}?',
        'What is the charttime of the earliest "{x}" microbiology specimen of admission {h} (patient {s})?',
        'During hospital stay {h}, at what time was patient {s}\'s first "{x}" collected?',
    ], x=spec, s=s, h=h)
    ref = reference_cells(_MICRO_SELECT, "rows = micro[micro['spec_type_desc'] == specimen]\n"
                                "submit(rows['charttime'].min().strftime('%Y-%m-%d %H:%M:%S'))")
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h, "specimen": spec},
                 answer=ts(g[spec].first), reference=ref)


@retry
def gen_micro_resistant_antibiotics(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, str, list[str]]]:
        m = ctx.f.micro
        r = m[(m["interpretation"] == "R") & m["org_name"].notna() & m["ab_name"].notna()]
        sets = r.groupby(["hadm_id", "org_name"], sort=True).agg(
            s=("subject_id", "first"), v=("ab_name", lambda x: sorted(set(x.astype(str)))))
        return [(int(r.s), int(h), str(o), r.v) for (h, o), r in zip(sets.index, sets.itertuples(index=False))]

    pick = _pick(rng, ctx.memo("micro_r", build))
    if pick is None:
        return None
    s, h, org, abx = pick
    q = _q(rng, [
        'To which antibiotics was the "{o}" isolated from patient {s} resistant during hospital admission {h}?',
        'List the antibiotics with interpretation R (resistant) for organism "{o}" in admission {h} (patient {s}).',
        'In hospital stay {h} of patient {s}, which antibiotics did "{o}" resist in susceptibility testing?',
    ], o=org, s=s, h=h)
    ref = reference_cells(_MICRO_SELECT, "r = micro[(micro['org_name'] == organism) & (micro['interpretation'] == 'R')]\n"
                                "submit(sorted(set(r['ab_name'].dropna().astype(str))))")
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h, "organism": org}, answer=abx, reference=ref)


@retry
def gen_micro_culture_positive(ctx: QaContext, rng: random.Random) -> Draft | None:
    pick = _pick(rng, _micro_by_admission(ctx))
    if pick is None:
        return None
    s, h, g = pick
    spec = _pick(rng, sorted(g))
    if spec is None:
        return None
    grew = g[spec].grew
    q = _q(rng, [
        'Did any "{x}" of patient {s} grow an organism during hospital admission {h}?',
        'Was a "{x}" of admission {h} (patient {s}) positive, i.e. with an organism named?',
        'In hospital stay {h}, did patient {s} have a positive "{x}" (org_name not empty)?',
    ], x=spec, s=s, h=h)
    ref = reference_cells(_MICRO_SELECT, "rows = micro[micro['spec_type_desc'] == specimen]\nsubmit(bool(rows['org_name'].notna().any()))")
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h, "specimen": spec}, answer=grew, reference=ref)


# ---------------------------------------------------------------- H. ICU stays and transfers


@retry
def gen_icu_stay_count(ctx: QaContext, rng: random.Random) -> Draft | None:
    ids = _patient_group(ctx, rng)
    if not ids:
        return None
    stays = ctx.f.icustays
    n = int(stays["subject_id"].isin(ids).sum())
    q = _q(rng, [
        "How many ICU stays (icustays rows) do the patients {p} have in total, over all of their hospital admissions?",
        "Count the ICU stays of the patients {p} together (all admissions).",
        "How many times in total were the patients {p} admitted to an ICU (rows of icustays)?",
    ], p=_listed(ids))
    ref = reference_cells("stays = icustays[icustays['subject_id'].isin(subject_ids)]\nstays[['subject_id', 'icustay_id', 'intime']]",
                          "submit(int(len(stays)))")
    return Draft(question=q, inputs={"subject_ids": ids}, answer=n, reference=ref)


def _patient_group(ctx: QaContext, rng: random.Random, low: int = 2, high: int = 12) -> list[int]:
    """A few distinct patients, sorted: counts summed over them spread over many values (one
    patient's counts are nearly always 1, which a constant answer would pass)."""
    subjects = ctx.memo("subjects_sorted_all", lambda: sorted(int(x) for x in ctx.f.patients["subject_id"]))
    if len(subjects) < low:
        return []
    return sorted(rng.sample(subjects, rng.randint(low, min(high, len(subjects)))))


def _listed(ids: Sequence[int]) -> str:
    """The group as the input ``subject_ids`` shows it, e.g. ``[10006, 10011]``."""
    return str(list(ids))


@retry
def gen_icu_last_careunit(ctx: QaContext, rng: random.Random) -> Draft | None:
    rows = ctx.memo("last_cu", lambda: _rows(ctx.f.icustays.loc[ctx.f.icustays["last_careunit"].notna(),
                                                                ["subject_id", "icustay_id", "last_careunit"]]))
    pick = _pick(rng, rows)
    if pick is None:
        return None
    s, i = _i(pick[0]), _i(pick[1])
    q = _q(rng, [
        "In which care unit did ICU stay {i} of patient {s} end?",
        "What was the last care unit of patient {s}'s ICU stay {i}?",
        "Patient {s} had ICU stay {i}. From which ICU were they finally transferred out?",
    ], s=s, i=i)
    ref = reference_cells("stay = icustays[icustays['icustay_id'] == icustay_id]\nstay[['first_careunit', 'last_careunit', 'intime', 'outtime']]",
                 "submit(str(stay['last_careunit'].iloc[0]))")
    return Draft(question=q, inputs={"subject_id": s, "icustay_id": i}, answer=str(pick[2]), reference=ref)


@retry
def gen_careunits_of_admission(ctx: QaContext, rng: random.Random) -> Draft | None:
    # a few patients together: one admission's units are nearly always one unit, most often MICU
    ids = _patient_group(ctx, rng, 2, 4)
    t = ctx.f.transfers
    units = sorted(set(t.loc[t["subject_id"].isin(ids), "curr_careunit"].dropna().astype(str)))
    if not units:
        return None
    q = _q(rng, [
        "Which care units did the patients {p} stay in, over all of their hospital admissions, according to the transfers table?",
        "List the distinct care units (transfers.curr_careunit) of the patients {p} together.",
        "Through which care units did the patients {p} pass in their hospital stays (transfers.curr_careunit)?",
    ], p=_listed(ids))
    ref = reference_cells("t = transfers[transfers['subject_id'].isin(subject_ids)].sort_values('intime')\n"
                          "t[['subject_id', 'eventtype', 'prev_careunit', 'curr_careunit', 'intime']]",
                          "submit(sorted(set(t['curr_careunit'].dropna().astype(str))))")
    return Draft(question=q, inputs={"subject_ids": ids}, answer=units, reference=ref)


@retry
def gen_transfer_count(ctx: QaContext, rng: random.Random) -> Draft | None:
    ids = _patient_group(ctx, rng)
    if not ids:
        return None
    t = ctx.f.transfers
    n = int(((t["eventtype"] == "transfer") & t["subject_id"].isin(ids)).sum())
    q = _q(rng, [
        "How many transfers (eventtype 'transfer') do the patients {p} have in total, over all of their hospital admissions?",
        "Count the transfer events (transfers table, eventtype = 'transfer') of the patients {p} together.",
        "How many times in total were the patients {p} transferred between units or wards (eventtype 'transfer')?",
    ], p=_listed(ids))
    ref = reference_cells("t = transfers[transfers['subject_id'].isin(subject_ids)]\nt[['subject_id', 'eventtype', 'curr_careunit', 'intime']]",
                          "submit(int((t['eventtype'] == 'transfer').sum()))")
    return Draft(question=q, inputs={"subject_ids": ids}, answer=n, reference=ref)


@retry
def gen_hours_to_icu(ctx: QaContext, rng: random.Random) -> Draft | None:
    def build() -> list[tuple[int, int, float]]:
        i = ctx.f.icustays.dropna(subset=["intime"])
        first = i.groupby("hadm_id")["intime"].min()
        out = []
        for h, t in first.items():
            a = ctx.f.adm_by_id.get(int(h))
            if a is None or _missing(a.admittime):
                continue
            hours = (pd.Timestamp(t) - pd.Timestamp(a.admittime)).total_seconds() / 3600
            if hours >= 0:
                out.append((int(a.subject_id), int(h), hours))
        return out

    pick = _pick(rng, ctx.memo("hours_to_icu", build))
    if pick is None:
        return None
    s, h, hours = pick
    q = _q(rng, [
        "How many hours after hospital admission {h} began was patient {s} first admitted to an ICU?",
        "Patient {s} was admitted to the hospital (admission {h}). How many hours passed until their first ICU intime?",
        "Compute the time in hours from the admission time of hospital stay {h} to the start of its first ICU stay (patient {s}).",
    ], s=s, h=h)
    ref = reference_cells("admitted = admissions.loc[admissions['hadm_id'] == hadm_id, 'admittime'].iloc[0]\n"
                 "first_icu = icustays.loc[icustays['hadm_id'] == hadm_id, 'intime'].min()\nadmitted, first_icu",
                 "submit((first_icu - admitted).total_seconds() / 3600)")
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h}, answer=round4(hours), reference=ref)


@retry
def gen_hours_since_admission(ctx: QaContext, rng: random.Random) -> Draft | None:
    rows = ctx.memo("adm_times", lambda: _rows(ctx.f.admissions.loc[
        ctx.f.admissions["admittime"].notna() & ctx.f.admissions["dischtime"].notna(),
        ["subject_id", "hadm_id", "admittime", "dischtime"]]))
    pick = _pick(rng, rows)
    if pick is None:
        return None
    s, h, t0, t1 = _i(pick[0]), _i(pick[1]), pd.Timestamp(pick[2]), pd.Timestamp(pick[3])
    span = int((t1 - t0).total_seconds() // 60)
    if span < 60:
        return None
    now = t0 + pd.Timedelta(minutes=rng.randrange(30, span))
    hours = (now - t0).total_seconds() / 3600
    q = _q(rng, [
        "Assume the current time is {now}. Patient {s} is in hospital admission {h}. How many hours ago were they admitted?",
        "It is now {now}. How many hours have passed since patient {s} was admitted to the hospital (admission {h})?",
        "Current time: {now}. For how many hours has hospital admission {h} of patient {s} been going on?",
    ], now=ts(now), s=s, h=h)
    ref = reference_cells("admitted = admissions.loc[admissions['hadm_id'] == hadm_id, 'admittime'].iloc[0]\nadmitted",
                 "submit((pd.Timestamp(current_time) - admitted).total_seconds() / 3600)")
    return Draft(question=q, inputs={"subject_id": s, "hadm_id": h, "current_time": ts(now)}, answer=round4(hours), reference=ref)


# ---------------------------------------------------------------- I. cohort counts


@dataclass(frozen=True)
class _Cond:
    words: str
    code: str  # a boolean expression over the merged frame `a`
    mask: Callable[[pd.DataFrame], pd.Series]


def _cohort_frame(ctx: QaContext) -> pd.DataFrame:
    def build() -> pd.DataFrame:
        a = ctx.f.admissions.merge(ctx.f.patients[["subject_id", "gender", "dob"]], on="subject_id", how="left")
        born, at = a["dob"], a["admittime"]
        before = (at.dt.month < born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day < born.dt.day))
        a["age"] = at.dt.year - born.dt.year - before.astype(int)
        a["los_days"] = (a["dischtime"] - a["admittime"]).dt.total_seconds() / 86400
        a["icu"] = a["hadm_id"].isin(set(ctx.f.icustays["hadm_id"]))
        return a

    return ctx.memo("cohort_frame", build)


def _conditions(ctx: QaContext, rng: random.Random) -> list[_Cond]:
    a = _cohort_frame(ctx)
    out = []
    g = rng.choice(["F", "M"])
    out.append(_Cond(f"{'female' if g == 'F' else 'male'} (gender '{g}')", f"(a['gender'] == '{g}')",
                     lambda d, g=g: d["gender"] == g))
    age = rng.choice([40, 50, 60, 65, 70, 80])
    older = rng.random() < 0.5
    out.append(_Cond(f"aged {'at least' if older else 'under'} {age} at admission",
                     f"(a['age'] {'>=' if older else '<'} {age})",
                     lambda d, age=age, older=older: d["age"] >= age if older else d["age"] < age))
    types = ctx.memo("cohort_types", lambda: sorted(a["admission_type"].dropna().unique()))
    if types:
        t = rng.choice(types)
        out.append(_Cond(f"admitted as {t}", f"(a['admission_type'] == {t!r})", lambda d, t=t: d["admission_type"] == t))
    ins = ctx.memo("cohort_insurance", lambda: sorted(a["insurance"].dropna().unique()))
    if ins:
        i = rng.choice(ins)
        out.append(_Cond(f"insured by {i}", f"(a['insurance'] == {i!r})", lambda d, i=i: d["insurance"] == i))
    died = rng.random() < 0.5
    out.append(_Cond("who died in hospital" if died else "discharged alive",
                     f"(a['hospital_expire_flag'] == {1 if died else 0})",
                     lambda d, died=died: d["hospital_expire_flag"] == (1 if died else 0)))
    days = rng.choice([3, 5, 7, 10, 14])
    out.append(_Cond(f"with a hospital stay longer than {days} days", f"(a['los_days'] > {days})",
                     lambda d, days=days: d["los_days"] > days))
    icu = rng.random() < 0.7
    out.append(_Cond("with an ICU stay" if icu else "without any ICU stay",
                     f"({'' if icu else '~'}a['hadm_id'].isin(icustays['hadm_id']))",
                     lambda d, icu=icu: d["icu"] if icu else ~d["icu"]))
    return out


@retry
def gen_cohort_count_admissions(ctx: QaContext, rng: random.Random) -> Draft | None:
    a = _cohort_frame(ctx)
    conds = _conditions(ctx, rng)
    chosen = rng.sample(conds, rng.choice([2, 3]))
    chosen.sort(key=lambda c: conds.index(c))
    mask = np.ones(len(a), dtype=bool)
    for c in chosen:
        mask &= c.mask(a).fillna(False).to_numpy(dtype=bool)
    patients = rng.random() < 0.5
    n = int(a.loc[mask, "subject_id"].nunique() if patients else mask.sum())
    what = "distinct patients" if patients else "hospital admissions"
    words = "; ".join(c.words for c in chosen)
    q = _q(rng, [
        "How many {w} are there whose admission matches all of: {c}?",
        "Count the {w} with an admission that is: {c}.",
        "Among all hospital admissions, how many {w} satisfy every one of these conditions: {c}?",
    ], w=what, c=words) + (
        " Age is in completed years at the admission time (from patients.dob); the length of stay is dischtime minus "
        "admittime; all conditions apply to the same admission.")
    expr = " & ".join(c.code for c in chosen)
    ref = reference_cells(
        """
        a = admissions.merge(patients[['subject_id', 'gender', 'dob']], on='subject_id', how='left')
        born, at = a['dob'], a['admittime']
        before = (at.dt.month < born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day < born.dt.day))
        a['age'] = at.dt.year - born.dt.year - before.astype(int)
        a['los_days'] = (a['dischtime'] - a['admittime']).dt.total_seconds() / 86400
        """,
        f"hit = a[{expr}]\nhit[['subject_id', 'hadm_id', 'admittime']].head()",
        "submit(int(hit['subject_id'].nunique()))" if patients else "submit(int(len(hit)))",
    )
    return Draft(question=q, inputs={}, answer=n, reference=ref)


# ---------------------------------------------------------------- J. unanswerable


_UNANSWERABLE = [
    ("What is the blood type of patient {s}?", "blood type"),
    ("What is the ABO blood group and Rh factor recorded for patient {s}?", "blood group"),
    ("Which allergies are documented for patient {s}?", "allergies"),
    ("What is the home address (zip code) of patient {s}?", "home address"),
    ("What was the name of the attending physician of patient {s}'s hospital admission {h}?", "physician name"),
    ("What did the discharge summary of hospital admission {h} of patient {s} say about the follow-up plan?",
     "discharge summary"),
    ("How many cigarette pack-years has patient {s} smoked?", "pack-years"),
    ("What is the occupation of patient {s}?", "occupation"),
    ("What was the hospital bill (total charges) of admission {h} of patient {s}?", "charges"),
    ("What is the phone number of patient {s}'s emergency contact?", "contact"),
]


@retry
def gen_unanswerable_question(ctx: QaContext, rng: random.Random) -> Draft | None:
    rows = ctx.memo("adm_rows", lambda: _rows(ctx.f.admissions[["subject_id", "hadm_id"]]))
    pick = _pick(rng, rows)
    if pick is None:
        return None
    s, h = _i(pick[0]), _i(pick[1])
    a = ctx.f.adm_by_id[h]
    if rng.random() < 0.5:
        template, _ = rng.choice(_UNANSWERABLE)
        q = template.format(s=s, h=h)
        inputs: dict[str, Any] = {"subject_id": s} | ({"hadm_id": h} if "{h}" in template else {})
        ref = reference_cells(
            """
            # the schema has no such information: look for a plausible column anyway
            hits = {name: [c for c in df.columns if any(w in c for w in ('blood', 'allerg', 'address', 'zip', 'phone', 'note', 'charge', 'occupation', 'smok', 'physician', 'summary'))]
                    for name, df in globals().items() if isinstance(df, pd.DataFrame) and not name.startswith('_')}
            {k: v for k, v in hits.items() if v}
            """,
            "submit(None)",
        )
        return Draft(question=q, inputs=inputs, answer=None, reference=ref)
    column, template = rng.choice([
        ("religion", "What religion is recorded for patient {s} at hospital admission {h}?"),
        ("marital_status", "What was the marital status of patient {s} at hospital admission {h}?"),
        ("insurance", "What insurance did patient {s} have in hospital admission {h}?"),
        ("admission_location", "Where was patient {s} admitted from in hospital admission {h}?"),
    ])
    value = getattr(a, column)
    if _missing(value) or not str(value).strip():
        return None
    ref = reference_cells(
        f"adm = admissions.loc[admissions['hadm_id'] == hadm_id, ['subject_id', 'hadm_id', '{column}']]\nadm",
        f"v = adm['{column}'].iloc[0]\nsubmit(None if pd.isna(v) else str(v))",
    )
    return Draft(question=template.format(s=s, h=h), inputs={"subject_id": s, "hadm_id": h}, answer=str(value), reference=ref)


# ---------------------------------------------------------------- registry


_ADM = "the value exactly as recorded in the admissions table"
_ORDERLESS = "; order does not matter"
_DATE = "a date as 'YYYY-MM-DD'"
_WHEN = "a date and time as 'YYYY-MM-DD HH:MM:SS'"

# name, description, grader, answer format, sampler
_TABLE: list[tuple[str, str, Grader, str, Sampler]] = [
    ("admission_ethnicity", "The ethnicity recorded at a hospital admission.", TEXT, _ADM + ", e.g. WHITE", gen_admission_ethnicity),
    ("admission_insurance", "The insurance of a hospital admission.", TEXT, _ADM + ", e.g. Medicare", gen_admission_insurance),
    ("admission_marital_status", "The marital status recorded at a hospital admission.", TEXT, _ADM + ", e.g. MARRIED",
     gen_admission_marital_status),
    ("admission_language", "The language recorded at a hospital admission.", TEXT, _ADM + ", e.g. ENGL", gen_admission_language),
    ("admission_location", "Where a patient was admitted from.", TEXT, _ADM + ", e.g. EMERGENCY ROOM ADMIT", gen_admission_location),
    ("discharge_location", "Where a patient was discharged to.", TEXT, _ADM + ", e.g. HOME HEALTH CARE", gen_discharge_location),
    ("admission_diagnosis_text", "The free-text admitting diagnosis of a hospital admission.", TEXT, _ADM + ", e.g. SEPSIS",
     gen_admission_diagnosis_text),
    ("discharge_time", "When a hospital admission ended.", WHEN, _WHEN, gen_discharge_time),
    ("patient_date_of_birth", "A patient's recorded date of birth (shifted, as in MIMIC).", DAY, _DATE, gen_patient_date_of_birth),
    ("patient_date_of_death", "A patient's date of death, or None if none is recorded.", DAY, _DATE + ", or None if no death is recorded",
     gen_patient_date_of_death),
    ("admissions_in_year", "How many hospital admissions (of all patients) began in a given year.", COUNT, "an integer count",
     gen_admissions_in_year),
    ("longest_admission", "Which admission of a patient lasted longest.", COUNT, "the hadm_id, an integer", gen_longest_admission),
    ("diagnosis_title", "The short or long title of an ICD-9 diagnosis code.", TEXT, "the title exactly as in d_icd_diagnoses",
     gen_diagnosis_title),
    ("procedure_title", "The short or long title of an ICD-9 procedure code.", TEXT, "the title exactly as in d_icd_procedures",
     gen_procedure_title),
    ("primary_diagnosis", "The ICD-9 code of an admission's first-listed diagnosis.", TEXT,
     "an ICD-9 code as a string, as written in diagnoses_icd (e.g. '0389')", gen_primary_diagnosis),
    ("diagnosis_titles_of_admission", "The long titles of all diagnoses of an admission.", SET,
     "a list of long titles exactly as in d_icd_diagnoses" + _ORDERLESS, gen_diagnosis_titles_of_admission),
    ("has_diagnosis", "Whether a patient was ever coded with a diagnosis (by title).", YESNO, "true or false", gen_has_diagnosis),
    ("patients_with_diagnosis", "How many patients carry a diagnosis (by title).", COUNT, "an integer count of distinct patients",
     gen_patients_with_diagnosis),
    ("procedure_count_for_patient", "How many procedures were recorded for a group of patients.", COUNT, "an integer count",
     gen_procedure_count_for_patient),
    ("top_procedures", "The k most frequent procedure codes in a population of admissions.", RANKED,
     "a list of ICD-9 procedure codes as strings, most frequent first", gen_top_procedures),
    ("top_labs", "The k lab tests measured in the most admissions of a population.", RANKED,
     "a list of lab labels exactly as in d_labitems, most frequent first", gen_top_labs),
    ("top_organisms", "The k organisms grown in the most admissions of a population.", RANKED,
     "a list of organism names exactly as in microbiologyevents.org_name, most frequent first", gen_top_organisms),
    ("min_lab_value", "The lowest value of a lab test during an admission.", NUMBER,
     "a number: the lab's numeric value (labevents.valuenum)", gen_min_lab_value),
    ("mean_lab_value", "The mean value of a lab test during an admission.", NUMBER,
     "a number: the mean of labevents.valuenum", gen_mean_lab_value),
    ("lab_test_count", "How many results of a lab test an admission has.", COUNT, "an integer count", gen_lab_test_count),
    ("lab_value_change", "The last minus the first value of a lab test in an admission.", NUMBER,
     "a number (negative when the value fell)", gen_lab_value_change),
    ("lab_first_hours_max", "The highest value of a lab test within the first hours of an admission.", NUMBER,
     "a number: the lab's numeric value (labevents.valuenum)", gen_lab_first_day_max),
    ("lab_abnormal_any", "Whether any result of a lab test was flagged abnormal in an admission.", YESNO, "true or false",
     gen_lab_abnormal_any),
    ("lab_last_before_time", "The most recent value of a lab test before a stated current time.", NUMBER,
     "a number: the lab's numeric value (labevents.valuenum)", gen_lab_last_before_time),
    ("lab_time_of_max", "When the highest value of a lab test in an admission was measured.", WHEN, _WHEN, gen_lab_time_of_max),
    ("cohort_count_lab_threshold", "How many admissions had a lab value above or below a threshold.", COUNT,
     "an integer count of distinct admissions", gen_cohort_count_lab_threshold),
    ("vital_mean", "The mean of a charted vital sign over an ICU stay.", NUMBER,
     "a number: the mean of chartevents.valuenum", gen_vital_mean),
    ("vital_last", "The last charted value of a vital sign in an ICU stay.", NUMBER,
     "a number: the charted numeric value (chartevents.valuenum)", gen_vital_last),
    ("vital_window_extreme", "The highest or lowest vital sign within the first hours of an ICU stay.", NUMBER,
     "a number: the charted numeric value (chartevents.valuenum)", gen_vital_window_extreme),
    ("vital_count_abnormal", "How many charted values of a vital sign crossed a threshold in an ICU stay.", COUNT,
     "an integer count", gen_vital_count_abnormal),
    ("vital_exceeded_before_time", "Whether a vital sign crossed a threshold before a stated current time.", YESNO,
     "true or false", gen_vital_exceeded_before_time),
    ("drugs_of_admission", "The distinct drugs prescribed in an admission.", SET,
     "a list of drug names exactly as in prescriptions.drug" + _ORDERLESS, gen_drugs_of_admission),
    ("drug_first_start", "The date a drug was first prescribed in an admission.", DAY, _DATE, gen_drug_first_start),
    ("drug_order_count", "How many prescriptions of a drug the database holds.", COUNT, "an integer count", gen_drug_order_count),
    ("drug_ever_prescribed", "Whether a patient was ever prescribed a drug.", YESNO, "true or false", gen_drug_ever_prescribed),
    ("drugs_started_first_day", "The drugs started on the calendar day of admission.", SET,
     "a list of drug names exactly as in prescriptions.drug" + _ORDERLESS, gen_drugs_started_first_day),
    ("cohort_count_diagnosis_drug", "How many patients had a diagnosis and a drug in the same admission.", COUNT,
     "an integer count of distinct patients", gen_cohort_count_diagnosis_drug),
    ("input_total_amount", "The total amount of an ICU input item over a stay.", NUMBER,
     "a number in the unit named in the question", gen_input_total_amount),
    ("input_first_time", "When an ICU input item was first started in a stay.", WHEN, _WHEN, gen_input_first_time),
    ("input_items_of_stay", "The distinct input items given in an ICU stay.", SET,
     "a list of d_items labels" + _ORDERLESS, gen_input_items_of_stay),
    ("output_total", "The total volume of an output item over an ICU stay.", NUMBER, "a number in mL", gen_output_total),
    ("output_first_hours", "The total volume of an output item in the first hours of an ICU stay.", NUMBER, "a number in mL",
     gen_output_first_day),
    ("micro_specimens", "The specimen types sent to microbiology in an admission.", SET,
     "a list of specimen types exactly as in microbiologyevents.spec_type_desc" + _ORDERLESS, gen_micro_specimens),
    ("micro_first_specimen_time", "When the first specimen of a type was taken in an admission.", WHEN, _WHEN,
     gen_micro_first_specimen_time),
    ("micro_resistant_antibiotics", "The antibiotics an organism was resistant to in an admission.", SET,
     "a list of antibiotic names exactly as in microbiologyevents.ab_name" + _ORDERLESS, gen_micro_resistant_antibiotics),
    ("micro_culture_positive", "Whether a specimen type grew an organism in an admission.", YESNO, "true or false",
     gen_micro_culture_positive),
    ("icu_stay_count", "How many ICU stays a group of patients had.", COUNT, "an integer count (0 if none)", gen_icu_stay_count),
    ("icu_last_careunit", "The care unit in which an ICU stay ended.", TEXT,
     "the care unit as recorded, e.g. MICU, SICU, CCU, CSRU or TSICU", gen_icu_last_careunit),
    ("careunits_of_admission", "The distinct care units of a group of patients' transfers.", SET,
     "a list of care unit names as in transfers.curr_careunit" + _ORDERLESS, gen_careunits_of_admission),
    ("transfer_count", "How many transfer events a group of patients had.", COUNT, "an integer count", gen_transfer_count),
    ("hours_to_icu", "Hours from hospital admission to the first ICU stay.", DURATION, "a number of hours (fractional)",
     gen_hours_to_icu),
    ("hours_since_admission", "Hours since admission at a stated current time.", DURATION, "a number of hours (fractional)",
     gen_hours_since_admission),
    ("cohort_count_admissions", "How many admissions or patients meet several conditions at once.", COUNT, "an integer count",
     gen_cohort_count_admissions),
    ("unanswerable_question",
     "A question about the patient that the database may not answer (some cannot be answered: then None).",
     MAYBE, "the value asked for, or None if the database does not contain it", gen_unanswerable_question),
]

# Balanced answers (issue 17: a constant answer passes at most 20 % of a split, or 1/k + 5 points when
# the answer can only take k values): at most ``max_share`` of a split may have one answer (the
# generator's other drafts are skipped). ``answer_values``: the size of a closed vocabulary.
_BALANCE: dict[str, dict[str, Any]] = {
    **{name: {"max_share": 0.15} for name in (
        "admission_ethnicity", "admission_language",
        "discharge_location", "careunits_of_admission", "micro_specimens", "patient_date_of_death",
        "vital_count_abnormal", "unanswerable_question", "admissions_in_year", "icu_stay_count", "transfer_count",
        "procedure_count_for_patient", "drug_order_count")},
    **{name: {"max_share": 0.5} for name, _, grader, _, _ in _TABLE if grader.rule == "boolean"},
    "admission_insurance": {"answer_values": 5, "max_share": 0.22},  # Medicare, Private, Medicaid, Government, Self Pay
    "icu_last_careunit": {"answer_values": 5, "max_share": 0.22},  # MICU, SICU, CCU, CSRU, TSICU
    # the values the data set's column holds (MIMIC-III has a few more, rarely used)
    "admission_location": {"answer_values": 5, "max_share": 0.21},
    "admission_marital_status": {"answer_values": 6, "max_share": 0.2},
}

CATEGORIES: dict[str, Category] = {
    name: Category(name=name, description=desc, grader=grader, answer_format=fmt, generate=fn, **_BALANCE.get(name, {}))
    for name, desc, grader, fmt, fn in _TABLE
}
