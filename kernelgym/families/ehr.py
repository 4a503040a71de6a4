"""The ``ehr`` task family: question answering over an EHR database in the MIMIC-III schema.

Host side only. Each category samples one patient, admission, ICU stay, lab, drug or population
with the ``random.Random`` it is given, computes the ground truth with DuckDB over the Parquet
files of the data set, and writes a reference solution (notebook cells) that recomputes the answer
inside the kernel from the preloaded DataFrames or ``sql()``; the reference never contains the answer.

Sampling is deterministic: every query that candidates are drawn from has a total ``ORDER BY``,
so the same data and the same generator state give the same drafts.

Ambiguous samples are rejected rather than asked: lab labels that name several itemids, first/last
values with a tie in ``charttime``, drugs given by several routes, doses that are not plain numbers,
ICU stays with charted error rows, and so on. Top-k questions state their tie-break.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from kernelgym.grading import Grader
from kernelgym.tasks import Category, Draft

GENERATOR_VERSION = "2"  # 2: answers balanced (issue 17), admission_count over groups of patients

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TRIES = 8  # samples tried inside one generate() call before giving up with None
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")

# Charted vital signs asked about (d_items labels; CareVue and MetaVision spell them differently).
VITAL_LABELS = (
    "Heart Rate",
    "Respiratory Rate",
    "O2 saturation pulseoxymetry",
    "SpO2",
    "Arterial BP [Systolic]",
    "Arterial Blood Pressure systolic",
    "Non Invasive Blood Pressure systolic",
    "Temperature Fahrenheit",
    "Temperature F",
)

NUMBER = Grader(rule="numeric", abs_tol=0.01, rel_tol=1e-4)
COUNT = Grader(rule="numeric", abs_tol=0.0)
DURATION = Grader(rule="numeric", abs_tol=0.01)
TEXT = Grader(rule="exact")
CODES = Grader(rule="set")
RANKED = Grader(rule="list")
WHEN = Grader(rule="datetime")
YESNO = Grader(rule="boolean")
MAYBE = Grader(rule="exact", abs_tol=0.01, rel_tol=1e-4)


# ---------------------------------------------------------------- context


@dataclass
class EhrContext:
    """A DuckDB connection with one view per table, plus memoised candidate lists."""

    con: duckdb.DuckDBPyConnection
    data_dir: Path
    tables: tuple[str, ...]
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(query, list(params)).fetchall()

    def cached(self, key: Any, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """``rows(query)``, computed once per context."""
        if key not in self._cache:
            self._cache[key] = self.rows(query, params)
        return self._cache[key]

    def memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def columns(self, table: str) -> set[str]:
        return self.memo(
            ("columns", table),
            lambda: {r[0].lower() for r in self.rows(f"DESCRIBE {table}")},
        )


@contextlib.contextmanager
def open_context(data_dir: Path | str | None = None, *, profile: str | None = None) -> Iterator[EhrContext]:
    """Open the EHR data set (default: the built ``ehr`` data set, building it if missing; with
    ``profile``, the data set of that profile, e.g. ``ehr-mimic3`` for the imported MIMIC-III)."""
    if data_dir is None:
        from kernelgym.families.ehr_data import profile_data_dir

        data_dir = profile_data_dir(profile or "ehr")
    root = Path(data_dir)
    files = sorted(p for p in root.glob("*.parquet") if _TABLE_NAME.match(p.stem.lower()))
    if not files:
        raise FileNotFoundError(f"no <table>.parquet files in {root}; build the EHR data set first")
    con = duckdb.connect()
    try:
        names = []
        for p in files:
            name = p.stem.lower()
            path = p.resolve().as_posix().replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
            names.append(name)
        yield EhrContext(con=con, data_dir=root, tables=tuple(names))
    finally:
        con.close()


# ---------------------------------------------------------------- helpers


def reference_cells(*cells: str) -> list[str]:
    return [textwrap.dedent(c).strip() for c in cells]


def round4(x: Any) -> float:
    return round(float(x), 4)


def _ts(x: dt.datetime) -> str:
    return x.strftime(TIME_FORMAT)


def _sq(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


Sampler = Callable[[EhrContext, random.Random], Draft | None]


def retry(fn: Sampler) -> Sampler:
    """Try a sampler a few times, so that one unlucky pick does not waste an attempt."""

    def wrapped(ctx: EhrContext, rng: random.Random) -> Draft | None:
        for _ in range(_TRIES):
            draft = fn(ctx, rng)
            if draft is not None:
                return draft
        return None

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return rng.choice(items) if items else None


_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth"]


class Admission(NamedTuple):
    hadm_id: int
    subject_id: int
    admittime: dt.datetime | None
    dischtime: dt.datetime | None
    deathtime: dt.datetime | None
    admission_type: str | None
    hospital_expire_flag: int | None


def _admissions(ctx: EhrContext) -> list[Admission]:
    rows = ctx.cached(
        "admissions",
        "SELECT hadm_id, subject_id, admittime, dischtime, deathtime, admission_type, "
        "hospital_expire_flag FROM admissions WHERE hadm_id IS NOT NULL AND subject_id IS NOT NULL "
        "ORDER BY hadm_id",
    )
    return [Admission(*r) for r in rows]


def _admission(ctx: EhrContext, hadm_id: int) -> Admission | None:
    by_id = ctx.memo("admission_by_id", lambda: {a.hadm_id: a for a in _admissions(ctx)})
    return by_id.get(hadm_id)


def _subject_admissions(ctx: EhrContext) -> dict[int, list[Admission]]:
    """subject_id -> admissions in time order (only subjects whose admission times are distinct)."""

    def build() -> dict[int, list[Admission]]:
        out: dict[int, list[Admission]] = {}
        for a in _admissions(ctx):
            out.setdefault(a.subject_id, []).append(a)
        good = {}
        for s, adms in sorted(out.items()):
            times = [a.admittime for a in adms]
            if None in times or len(set(times)) != len(times):
                continue
            good[s] = sorted(adms, key=lambda a: a.admittime)
        return good

    return ctx.memo("subject_admissions", build)


# ---------------------------------------------------------------- patient and admission facts


@retry
def gen_patient_gender(ctx: EhrContext, rng: random.Random) -> Draft | None:
    subjects = ctx.cached(
        "gender",
        "SELECT subject_id, gender FROM patients WHERE gender IN ('M', 'F') ORDER BY subject_id",
    )
    pick = _pick(rng, subjects)
    if pick is None:
        return None
    subject_id, gender = pick
    q = rng.choice([
        "What is the gender of patient {s}?",
        "Is patient {s} male or female?",
        "Which sex is recorded for the patient with subject_id {s}?",
        "Look up patient {s}: what gender does the patients table record?",
    ]).format(s=subject_id)
    ref = reference_cells(
        """
        row = patients.loc[patients['subject_id'] == subject_id]
        row
        """,
        "submit(str(row['gender'].iloc[0]))",
    )
    return Draft(question=q, inputs={"subject_id": int(subject_id)}, answer=str(gender), reference=ref)


def _age_years(born: dt.datetime, at: dt.datetime) -> int:
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


@retry
def gen_patient_age_at_admission(ctx: EhrContext, rng: random.Random) -> Draft | None:
    rows = ctx.cached(
        "age",
        "SELECT a.hadm_id, a.subject_id, p.dob, a.admittime FROM admissions a "
        "JOIN patients p ON p.subject_id = a.subject_id "
        "WHERE p.dob IS NOT NULL AND a.admittime IS NOT NULL ORDER BY a.hadm_id",
    )
    pick = _pick(rng, rows)
    if pick is None:
        return None
    hadm_id, subject_id, dob, admittime = pick
    age = _age_years(dob, admittime)
    if not 0 <= age < 90:  # MIMIC shifts the birth dates of patients over 89 by about 300 years
        return None
    q = rng.choice([
        "How old was patient {s} at the start of hospital admission {h}?",
        "What was the age of patient {s} when they were admitted for hospital stay {h}?",
        "Patient {s} was admitted as hospital admission {h}. How old were they at admission time?",
        "Give the age of patient {s} at admission {h}.",
    ]).format(s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        admitted = admissions.loc[admissions['hadm_id'] == hadm_id, 'admittime'].iloc[0]
        born = patients.loc[patients['subject_id'] == subject_id, 'dob'].iloc[0]
        admitted, born
        """,
        """
        age = admitted.year - born.year - ((admitted.month, admitted.day) < (born.month, born.day))
        submit(int(age))
        """,
    )
    return Draft(
        question=q, inputs={"subject_id": int(subject_id), "hadm_id": int(hadm_id)},
        answer=int(age), reference=ref,
    )


@retry
def gen_admission_count(ctx: EhrContext, rng: random.Random) -> Draft | None:
    rows = ctx.cached(
        "admission_count",
        "SELECT p.subject_id, count(DISTINCT a.hadm_id) FROM patients p "
        "LEFT JOIN admissions a ON a.subject_id = p.subject_id GROUP BY p.subject_id ORDER BY p.subject_id",
    )
    if len(rows) < 2:
        return None
    # a group of patients: one patient's count is nearly always 1 or 2, which a constant answer would pass
    group = sorted(rng.sample(rows, rng.randint(2, min(8, len(rows)))))
    ids = [int(r[0]) for r in group]
    n = sum(int(r[1]) for r in group)
    listed = str(ids)  # as the input subject_ids shows it
    q = rng.choice([
        "How many hospital admissions do the patients {p} have in total?",
        "How many times in total were the patients {p} admitted to the hospital?",
        "Count the hospital stays recorded for the patients {p} together.",
        "What is the number of distinct hospital admissions of the patients {p}, summed over them?",
    ]).format(p=listed)
    ref = reference_cells(
        """
        ids = ", ".join(str(int(s)) for s in subject_ids)
        df = sql(f"SELECT COUNT(DISTINCT hadm_id) AS n FROM admissions WHERE subject_id IN ({ids})")
        df
        """,
        "submit(int(df['n'].iloc[0]))",
    )
    return Draft(question=q, inputs={"subject_ids": ids}, answer=n, reference=ref)


@retry
def gen_admission_type(ctx: EhrContext, rng: random.Random) -> Draft | None:
    pick = _pick(rng, [a for a in _admissions(ctx) if a.admission_type])
    if pick is None:
        return None
    q = rng.choice([
        "What was the admission type of hospital admission {h} of patient {s}?",
        "Was patient {s}'s hospital admission {h} an emergency, elective, urgent or newborn admission?",
        "What type of admission was hadm_id {h} (patient {s})?",
        "Patient {s} was admitted to the hospital as admission {h}. What was the admission type?",
    ]).format(s=pick.subject_id, h=pick.hadm_id)
    ref = reference_cells(
        """
        adm = admissions.loc[admissions['hadm_id'] == hadm_id]
        adm[['subject_id', 'hadm_id', 'admittime', 'admission_type']]
        """,
        "submit(str(adm['admission_type'].iloc[0]))",
    )
    return Draft(
        question=q, inputs={"subject_id": pick.subject_id, "hadm_id": pick.hadm_id},
        answer=pick.admission_type, reference=ref,
    )


@retry
def gen_admission_time(ctx: EhrContext, rng: random.Random) -> Draft | None:
    by_subject = _subject_admissions(ctx)
    subject_id = _pick(rng, sorted(by_subject))
    if subject_id is None:
        return None
    adms = by_subject[subject_id]
    last = len(adms) > 1 and rng.random() < 0.5
    when = adms[-1].admittime if last else adms[0].admittime
    if last:
        q = rng.choice([
            "When was patient {s} most recently admitted to the hospital?",
            "What is the admission time of the last hospital admission of patient {s}?",
            "Give the date and time of patient {s}'s latest hospital admission.",
        ])
        agg = "MAX"
    else:
        q = rng.choice([
            "When was patient {s} first admitted to the hospital?",
            "What is the admission time of the first hospital admission of patient {s}?",
            "Give the date and time of patient {s}'s earliest hospital admission.",
        ])
        agg = "MIN"
    ref = reference_cells(
        f"""
        df = sql(f"SELECT {agg}(admittime) AS t FROM admissions WHERE subject_id = {{subject_id}}")
        df
        """,
        "submit(df['t'].iloc[0].strftime('%Y-%m-%d %H:%M:%S'))",
    )
    return Draft(
        question=q.format(s=subject_id), inputs={"subject_id": int(subject_id)},
        answer=_ts(when), reference=ref,
    )


@retry
def gen_hospital_length_of_stay(ctx: EhrContext, rng: random.Random) -> Draft | None:
    pick = _pick(rng, [a for a in _admissions(ctx) if a.admittime and a.dischtime])
    if pick is None:
        return None
    days = (pick.dischtime - pick.admittime).total_seconds() / 86400
    if days < 0:
        return None
    q = rng.choice([
        "How many days did hospital admission {h} of patient {s} last, from admission to discharge?",
        "What was the length of stay, in days, of patient {s}'s hospital admission {h}?",
        "Compute the hospital length of stay in days (discharge time minus admission time) "
        "of admission {h} (patient {s}).",
        "For how many days was patient {s} in hospital during admission {h}?",
    ]).format(s=pick.subject_id, h=pick.hadm_id)
    ref = reference_cells(
        """
        adm = admissions.loc[admissions['hadm_id'] == hadm_id].iloc[0]
        adm['admittime'], adm['dischtime']
        """,
        "submit((adm['dischtime'] - adm['admittime']).total_seconds() / 86400)",
    )
    return Draft(
        question=q, inputs={"subject_id": pick.subject_id, "hadm_id": pick.hadm_id},
        answer=round4(days), reference=ref,
    )


@retry
def gen_died_in_hospital(ctx: EhrContext, rng: random.Random) -> Draft | None:
    # only admissions where the flag and the death time agree, so either reading gives the answer
    usable = [
        a for a in _admissions(ctx)
        if a.hospital_expire_flag in (0, 1) and (a.hospital_expire_flag == 1) == (a.deathtime is not None)
    ]
    died = [a for a in usable if a.hospital_expire_flag == 1]
    pick = _pick(rng, died if died and rng.random() < 0.5 else usable)
    if pick is None:
        return None
    q = rng.choice([
        "Did patient {s} die in the hospital during admission {h}?",
        "Was hospital admission {h} of patient {s} fatal (death in hospital)?",
        "Did hospital stay {h} of patient {s} end with the patient's death?",
        "Was patient {s} recorded as having died in hospital during admission {h}?",
    ]).format(s=pick.subject_id, h=pick.hadm_id)
    ref = reference_cells(
        """
        flag = sql(f"SELECT hospital_expire_flag, deathtime FROM admissions WHERE hadm_id = {hadm_id}")
        flag
        """,
        "submit(bool(int(flag['hospital_expire_flag'].iloc[0]) == 1))",
    )
    return Draft(
        question=q, inputs={"subject_id": pick.subject_id, "hadm_id": pick.hadm_id},
        answer=pick.hospital_expire_flag == 1, reference=ref,
    )


@retry
def gen_days_between_admissions(ctx: EhrContext, rng: random.Random) -> Draft | None:
    by_subject = _subject_admissions(ctx)
    subject_id = _pick(rng, [s for s, adms in by_subject.items() if len(adms) > 1])
    if subject_id is None:
        return None
    adms = by_subject[subject_id]
    i = rng.randrange(min(len(adms) - 1, len(_ORDINALS) - 1))
    a, b = adms[i], adms[i + 1]
    from_discharge = rng.random() < 0.5
    start = a.dischtime if from_discharge else a.admittime
    if start is None or b.admittime is None:
        return None
    days = (b.admittime - start).total_seconds() / 86400
    first, second = _ORDINALS[i], _ORDINALS[i + 1]
    if from_discharge:
        q = rng.choice([
            "How many days passed between patient {s}'s discharge from their {a} hospital admission "
            "and the start of their {b} admission?",
            "Patient {s} was readmitted to the hospital. How many days after the discharge of the {a} "
            "admission did the {b} admission begin?",
        ])
        col = "dischtime"
    else:
        q = rng.choice([
            "How many days passed between the admission times of patient {s}'s {a} and {b} hospital admissions?",
            "How many days after the start of their {a} hospital admission was patient {s} admitted for the {b} time?",
        ])
        col = "admittime"
    ref = reference_cells(
        """
        adm = admissions[admissions['subject_id'] == subject_id].sort_values('admittime').reset_index(drop=True)
        adm[['hadm_id', 'admittime', 'dischtime']]
        """,
        f"""
        earlier, later = adm.iloc[{i}], adm.iloc[{i + 1}]  # the {first} and {second} admissions
        submit((later['admittime'] - earlier['{col}']).total_seconds() / 86400)
        """,
    )
    return Draft(
        question=q.format(s=subject_id, a=first, b=second), inputs={"subject_id": int(subject_id)},
        answer=round4(days), reference=ref,
    )


# ---------------------------------------------------------------- labs


_UNIQUE_LABS = (
    "WITH ul AS (SELECT itemid, label FROM d_labitems WHERE label IN "
    "(SELECT label FROM d_labitems WHERE label IS NOT NULL GROUP BY label HAVING count(*) = 1))"
)


class LabRow(NamedTuple):
    charttime: dt.datetime | None
    valuenum: float | None
    valueuom: str | None
    flag: str | None


@dataclass(frozen=True)
class LabSeries:
    """All events of one lab item during one admission, in time order."""

    itemid: int
    label: str
    rows: tuple[LabRow, ...]

    @property
    def timed(self) -> bool:
        return all(r.charttime is not None for r in self.rows)

    @property
    def numeric(self) -> bool:
        return self.timed and all(r.valuenum is not None for r in self.rows)

    @property
    def unit(self) -> str | None:
        units = {r.valueuom for r in self.rows if r.valueuom}
        return units.pop() if len(units) == 1 else None

    def end_is_unique(self, last: bool) -> bool:
        """No tie at the first (last) charttime with a different value."""
        t = self.rows[-1 if last else 0].charttime
        return len({r.valuenum for r in self.rows if r.charttime == t}) == 1


def _lab_admissions(ctx: EhrContext) -> list[tuple[int, int]]:
    return ctx.cached(
        "lab_admissions",
        f"{_UNIQUE_LABS} SELECT DISTINCT l.hadm_id, a.subject_id FROM labevents l "
        "JOIN ul ON ul.itemid = l.itemid JOIN admissions a ON a.hadm_id = l.hadm_id ORDER BY 1, 2",
    )


# a labevents table up to this many rows is read in one query (not one query per admission)
BULK_LAB_ROWS = 2_000_000


def _series_of(rows: Sequence[tuple[Any, ...]]) -> list[LabSeries]:
    """LabSeries from (itemid, label, charttime, valuenum, valueuom, flag) rows in query order."""
    series: dict[int, tuple[str, list[LabRow]]] = {}
    for itemid, label, *rest in rows:
        series.setdefault(itemid, (label, []))[1].append(LabRow(*rest))
    return [LabSeries(i, lab, tuple(rs)) for i, (lab, rs) in sorted(series.items())]


def _all_admission_labs(ctx: EhrContext) -> Callable[[Any], list[tuple[Any, ...]]] | None:
    """A function hadm_id -> that admission's lab rows (as ``rows()`` would return them), from one
    query over the whole labevents table; None if the table is large."""
    def build() -> Callable[[Any], list[tuple[Any, ...]]] | None:
        import numpy as np

        if ctx.rows("SELECT count(*) FROM labevents")[0][0] > BULK_LAB_ROWS:
            return None
        table = ctx.con.sql(
            f"{_UNIQUE_LABS} SELECT l.hadm_id, l.itemid, ul.label, l.charttime, l.valuenum, l.valueuom, l.flag "
            "FROM labevents l JOIN ul ON ul.itemid = l.itemid WHERE l.hadm_id IS NOT NULL "
            "ORDER BY l.hadm_id, l.itemid, l.charttime NULLS LAST, l.valuenum NULLS LAST, l.valueuom, l.flag"
        ).to_arrow_table()
        hadm = table.column("hadm_id").to_numpy()
        rest = table.drop_columns(["hadm_id"])

        def rows_of(hadm_id: Any) -> list[tuple[Any, ...]]:
            lo, hi = np.searchsorted(hadm, hadm_id, "left"), np.searchsorted(hadm, hadm_id, "right")
            part = rest.slice(int(lo), int(hi - lo))
            return list(zip(*(col.to_pylist() for col in part.columns)))

        return rows_of

    return ctx.memo("all_admission_labs", build)


def _admission_labs(ctx: EhrContext, hadm_id: int) -> list[LabSeries]:
    rows_of = _all_admission_labs(ctx)

    def build() -> list[LabSeries]:
        if rows_of is not None:
            return _series_of(rows_of(hadm_id))
        rows = ctx.rows(
            f"{_UNIQUE_LABS} SELECT l.itemid, ul.label, l.charttime, l.valuenum, l.valueuom, l.flag "
            "FROM labevents l JOIN ul ON ul.itemid = l.itemid WHERE l.hadm_id = ? "
            "ORDER BY l.itemid, l.charttime NULLS LAST, l.valuenum NULLS LAST, l.valueuom, l.flag",
            [hadm_id],
        )
        return _series_of(rows)

    return ctx.memo(("admission_labs", hadm_id), build)


def _sample_lab(
    ctx: EhrContext, rng: random.Random, ok: Callable[[LabSeries], bool]
) -> tuple[int, int, LabSeries] | None:
    pick = _pick(rng, _lab_admissions(ctx))
    if pick is None:
        return None
    hadm_id, subject_id = pick
    series = _pick(rng, [s for s in _admission_labs(ctx, hadm_id) if ok(s)])
    return None if series is None else (int(hadm_id), int(subject_id), series)


def _unit_phrase(unit: str | None) -> str:
    # some exports lose non-ASCII units ('?F' for degrees Fahrenheit): better no unit than a garbled one
    return f" (unit: {unit})" if unit and "?" not in unit else ""


def _lab_inputs(subject_id: int, hadm_id: int, series: LabSeries) -> dict[str, Any]:
    return {"subject_id": subject_id, "hadm_id": hadm_id, "lab_label": series.label}


def _first_or_last_lab(ctx: EhrContext, rng: random.Random, last: bool) -> Draft | None:
    got = _sample_lab(ctx, rng, lambda s: s.numeric and s.end_is_unique(last))
    if got is None:
        return None
    hadm_id, subject_id, series = got
    value = series.rows[-1 if last else 0].valuenum
    word = rng.choice(["last", "final", "most recent"] if last else ["first", "earliest", "initial"])
    q = rng.choice([
        'What was the {w} "{lab}" value of patient {s} during hospital admission {h}?',
        'During admission {h}, what was patient {s}\'s {w} recorded "{lab}" lab result?',
        'Give the {w} measurement of the lab test "{lab}" for patient {s} in hospital stay {h}.',
        'Patient {s} had "{lab}" measured during admission {h}. What was the {w} value?',
    ]).format(w=word, lab=series.label, s=subject_id, h=hadm_id) + _unit_phrase(series.unit)
    if last:
        ref = reference_cells(
            """
            label = lab_label.replace("'", "''")
            df = sql(f'''
                SELECT l.charttime, l.valuenum, l.valueuom
                FROM labevents l JOIN d_labitems d ON d.itemid = l.itemid
                WHERE l.hadm_id = {hadm_id} AND d.label = '{label}'
                ORDER BY l.charttime DESC
            ''')
            df.head()
            """,
            "submit(float(df['valuenum'].iloc[0]))",
        )
    else:
        ref = reference_cells(
            """
            itemids = d_labitems.loc[d_labitems['label'] == lab_label, 'itemid']
            rows = labevents[(labevents['hadm_id'] == hadm_id) & labevents['itemid'].isin(itemids)]
            rows = rows.sort_values('charttime')
            rows[['charttime', 'valuenum', 'valueuom']].head()
            """,
            "submit(float(rows['valuenum'].iloc[0]))",
        )
    return Draft(
        question=q, inputs=_lab_inputs(subject_id, hadm_id, series), answer=round4(value), reference=ref,
    )


@retry
def gen_first_lab_value(ctx: EhrContext, rng: random.Random) -> Draft | None:
    return _first_or_last_lab(ctx, rng, last=False)


@retry
def gen_last_lab_value(ctx: EhrContext, rng: random.Random) -> Draft | None:
    return _first_or_last_lab(ctx, rng, last=True)


@retry
def gen_max_lab_value(ctx: EhrContext, rng: random.Random) -> Draft | None:
    got = _sample_lab(ctx, rng, lambda s: s.numeric)
    if got is None:
        return None
    hadm_id, subject_id, series = got
    value = max(r.valuenum for r in series.rows)
    q = rng.choice([
        'What was the maximum "{lab}" value of patient {s} during hospital admission {h}?',
        'What was patient {s}\'s highest "{lab}" result during admission {h}?',
        'During hospital stay {h}, what was the peak value of the lab test "{lab}" for patient {s}?',
        'Find the largest "{lab}" measurement recorded for patient {s} in admission {h}.',
    ]).format(lab=series.label, s=subject_id, h=hadm_id) + _unit_phrase(series.unit)
    ref = reference_cells(
        """
        label = lab_label.replace("'", "''")
        df = sql(f'''
            SELECT MAX(l.valuenum) AS peak, COUNT(*) AS n
            FROM labevents l JOIN d_labitems d ON d.itemid = l.itemid
            WHERE l.hadm_id = {hadm_id} AND d.label = '{label}'
        ''')
        df
        """,
        "submit(float(df['peak'].iloc[0]))",
    )
    return Draft(
        question=q, inputs=_lab_inputs(subject_id, hadm_id, series), answer=round4(value), reference=ref,
    )


@retry
def gen_lab_count_abnormal(ctx: EhrContext, rng: random.Random) -> Draft | None:
    def abnormal(s: LabSeries) -> int:
        return sum(r.flag == "abnormal" for r in s.rows)

    # mostly series with at least one abnormal result; sometimes any series (the answer may be 0)
    want_abnormal = rng.random() < 0.75
    got = _sample_lab(ctx, rng, (lambda s: abnormal(s) > 0) if want_abnormal else (lambda s: True))
    if got is None:
        return None
    hadm_id, subject_id, series = got
    q = rng.choice([
        'How many "{lab}" results of patient {s} were flagged abnormal during hospital admission {h}?',
        'During admission {h}, how many times was patient {s}\'s "{lab}" lab result abnormal (flag = abnormal)?',
        'Count the abnormal-flagged "{lab}" measurements of patient {s} in hospital stay {h}.',
        'Patient {s}, admission {h}: how many "{lab}" tests came back flagged as abnormal?',
    ]).format(lab=series.label, s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        itemids = d_labitems.loc[d_labitems['label'] == lab_label, 'itemid']
        rows = labevents[(labevents['hadm_id'] == hadm_id) & labevents['itemid'].isin(itemids)]
        rows['flag'].value_counts(dropna=False)
        """,
        "submit(int((rows['flag'] == 'abnormal').sum()))",
    )
    return Draft(
        question=q, inputs=_lab_inputs(subject_id, hadm_id, series), answer=abnormal(series),
        reference=ref,
    )


@retry
def gen_hours_to_first_lab(ctx: EhrContext, rng: random.Random) -> Draft | None:
    got = _sample_lab(ctx, rng, lambda s: s.timed and any(r.valuenum is not None for r in s.rows))
    if got is None:
        return None
    hadm_id, subject_id, series = got
    adm = _admission(ctx, hadm_id)
    if adm is None or adm.admittime is None:
        return None
    first = series.rows[0].charttime
    if first < adm.admittime:  # drawn in the emergency department before admission: skip
        return None
    hours = (first - adm.admittime).total_seconds() / 3600
    q = rng.choice([
        'How many hours after the start of hospital admission {h} was "{lab}" first measured for patient {s}?',
        'How long, in hours, after being admitted (admission {h}) did patient {s} get their first "{lab}" lab test?',
        'Patient {s} was admitted as admission {h}. How many hours passed between the admission time '
        'and the first "{lab}" result?',
    ]).format(lab=series.label, s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        admitted = admissions.loc[admissions['hadm_id'] == hadm_id, 'admittime'].iloc[0]
        itemids = d_labitems.loc[d_labitems['label'] == lab_label, 'itemid']
        rows = labevents[(labevents['hadm_id'] == hadm_id) & labevents['itemid'].isin(itemids)]
        first = rows['charttime'].min()
        admitted, first
        """,
        "submit((first - admitted).total_seconds() / 3600)",
    )
    return Draft(
        question=q, inputs=_lab_inputs(subject_id, hadm_id, series), answer=round4(hours), reference=ref,
    )


# ---------------------------------------------------------------- diagnoses and procedures


def _codes_of_admission(
    ctx: EhrContext, rng: random.Random, table: str
) -> tuple[int, int, list[str]] | None:
    if not ctx.has(table, "admissions"):
        return None
    adms = ctx.cached(
        ("coded_admissions", table),
        f"SELECT DISTINCT t.hadm_id, a.subject_id FROM {table} t JOIN admissions a ON a.hadm_id = t.hadm_id "
        "WHERE t.icd9_code IS NOT NULL ORDER BY 1, 2",
    )
    pick = _pick(rng, adms)
    if pick is None:
        return None
    hadm_id, subject_id = pick
    codes = [r[0] for r in ctx.rows(
        f"SELECT DISTINCT CAST(icd9_code AS VARCHAR) FROM {table} "
        "WHERE hadm_id = ? AND icd9_code IS NOT NULL ORDER BY 1",
        [hadm_id],
    )]
    return int(hadm_id), int(subject_id), codes


@retry
def gen_diagnoses_of_admission(ctx: EhrContext, rng: random.Random) -> Draft | None:
    got = _codes_of_admission(ctx, rng, "diagnoses_icd")
    if got is None:
        return None
    hadm_id, subject_id, codes = got
    q = rng.choice([
        "Which ICD-9 diagnosis codes were recorded for patient {s} during hospital admission {h}?",
        "List every ICD-9 diagnosis code of hospital admission {h} (patient {s}).",
        "What were patient {s}'s diagnoses (as ICD-9 codes) in admission {h}?",
        "Give all diagnosis codes billed for patient {s}'s hospital stay {h}.",
    ]).format(s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        dx = diagnoses_icd[diagnoses_icd['hadm_id'] == hadm_id]
        dx.sort_values('seq_num')[['seq_num', 'icd9_code']]
        """,
        "submit(sorted(set(dx['icd9_code'].dropna().astype(str))))",
    )
    return Draft(question=q, inputs={"subject_id": subject_id, "hadm_id": hadm_id}, answer=codes, reference=ref)


@retry
def gen_procedures_of_admission(ctx: EhrContext, rng: random.Random) -> Draft | None:
    got = _codes_of_admission(ctx, rng, "procedures_icd")
    if got is None:
        return None
    hadm_id, subject_id, codes = got
    q = rng.choice([
        "Which ICD-9 procedure codes were recorded for patient {s} during hospital admission {h}?",
        "List the ICD-9 codes of all procedures performed in hospital admission {h} (patient {s}).",
        "What procedures (as ICD-9 procedure codes) did patient {s} undergo during admission {h}?",
    ]).format(s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        df = sql(f"SELECT DISTINCT icd9_code FROM procedures_icd WHERE hadm_id = {hadm_id} ORDER BY 1")
        df
        """,
        "submit([str(c) for c in df['icd9_code'].dropna()])",
    )
    return Draft(question=q, inputs={"subject_id": subject_id, "hadm_id": hadm_id}, answer=codes, reference=ref)


# ---------------------------------------------------------------- population top-k


@dataclass(frozen=True)
class Population:
    """A subset of admissions, said in words, in SQL and in pandas."""

    phrase: str
    inputs: dict[str, Any]
    sql_where: str  # over admissions a JOIN patients p, with the input values filled in
    sql_code: str  # kernel code assigning `cond` from the input variables
    pandas_code: str  # kernel code assigning `adm` (a subset of admissions)


def _populations(ctx: EhrContext) -> list[Population]:
    def build() -> list[Population]:
        pops = [Population("all hospital admissions", {}, "TRUE", 'cond = "TRUE"', "adm = admissions")]
        genders = ctx.rows(
            "SELECT p.gender, count(*) FROM admissions a JOIN patients p ON p.subject_id = a.subject_id "
            "WHERE p.gender IN ('M', 'F') GROUP BY 1 HAVING count(*) >= 5 ORDER BY 1"
        )
        for g, _ in genders:
            pops.append(Population(
                f"admissions of {'female' if g == 'F' else 'male'} patients (gender '{g}')", {"gender": g},
                f"p.gender = {_sq(g)}", """cond = f"p.gender = '{gender}'\"""",
                "adm = admissions.merge(patients[['subject_id', 'gender']], on='subject_id')\n"
                "adm = adm[adm['gender'] == gender]",
            ))
        wording = {"admission_type": "{v} admissions", "insurance": "admissions of patients with {v} insurance"}
        for col, words in wording.items():
            values = ctx.rows(
                f"SELECT {col}, count(*) FROM admissions WHERE {col} IS NOT NULL "
                "GROUP BY 1 HAVING count(*) >= 5 ORDER BY 1"
            )
            for v, _ in values:
                pops.append(Population(
                    words.format(v=v), {col: v}, f"a.{col} = {_sq(v)}",
                    f"""cond = f"a.{col} = '{{{col}}}'\"""",
                    f"adm = admissions[admissions['{col}'] == {col}]",
                ))
        died = ctx.rows("SELECT count(*) FROM admissions WHERE hospital_expire_flag = 1")[0][0]
        if died >= 5:
            pops.append(Population(
                "admissions in which the patient died in hospital", {},
                "a.hospital_expire_flag = 1", 'cond = "a.hospital_expire_flag = 1"',
                "adm = admissions[admissions['hospital_expire_flag'] == 1]",
            ))
        return pops

    return ctx.memo("populations", build)


@retry
def gen_top_diagnoses(ctx: EhrContext, rng: random.Random) -> Draft | None:
    pop = _pick(rng, _populations(ctx))
    if pop is None:
        return None
    k = rng.randint(3, 8)
    rows = ctx.rows(
        "SELECT CAST(d.icd9_code AS VARCHAR) AS code, COUNT(DISTINCT d.hadm_id) AS n FROM diagnoses_icd d "
        "JOIN admissions a ON a.hadm_id = d.hadm_id JOIN patients p ON p.subject_id = a.subject_id "
        f"WHERE d.icd9_code IS NOT NULL AND ({pop.sql_where}) GROUP BY 1 ORDER BY n DESC, code ASC LIMIT ?",
        [k],
    )
    if len(rows) < k or rows[-1][1] < 2:
        return None
    q = rng.choice([
        "What are the {k} most frequent ICD-9 diagnosis codes among {pop}?",
        "Among {pop}, which {k} ICD-9 diagnosis codes occur in the most admissions?",
        "List the top {k} diagnoses (ICD-9 codes) of {pop}, most frequent first.",
    ]).format(k=k, pop=pop.phrase) + (
        " Count each admission at most once per code, order from most to least frequent, "
        "and break ties by ICD-9 code in ascending (alphabetical) order."
    )
    ref = reference_cells(
        pop.sql_code,
        """
        df = sql(f'''
            SELECT d.icd9_code, COUNT(DISTINCT d.hadm_id) AS n
            FROM diagnoses_icd d
            JOIN admissions a ON a.hadm_id = d.hadm_id
            JOIN patients p ON p.subject_id = a.subject_id
            WHERE d.icd9_code IS NOT NULL AND ({cond})
            GROUP BY d.icd9_code
            ORDER BY n DESC, d.icd9_code ASC
            LIMIT {k}
        ''')
        df
        """,
        "submit([str(c) for c in df['icd9_code']])",
    )
    return Draft(question=q, inputs={"k": k, **pop.inputs}, answer=[r[0] for r in rows], reference=ref)


@retry
def gen_top_drugs(ctx: EhrContext, rng: random.Random) -> Draft | None:
    pop = _pick(rng, _populations(ctx))
    if pop is None:
        return None
    k = rng.randint(3, 8)
    rows = ctx.rows(
        "SELECT r.drug, COUNT(DISTINCT r.hadm_id) AS n FROM prescriptions r "
        "JOIN admissions a ON a.hadm_id = r.hadm_id JOIN patients p ON p.subject_id = a.subject_id "
        f"WHERE r.drug IS NOT NULL AND ({pop.sql_where}) GROUP BY 1 ORDER BY n DESC, r.drug ASC LIMIT ?",
        [k],
    )
    if len(rows) < k or rows[-1][1] < 2:
        return None
    q = rng.choice([
        "What are the {k} most frequently prescribed drugs among {pop}?",
        "Among {pop}, which {k} drugs were prescribed in the largest number of admissions?",
        "Across {pop}, list the top {k} most commonly prescribed drugs, most frequent first.",
    ]).format(k=k, pop=pop.phrase) + (
        " Count the number of distinct admissions in which each drug (prescriptions.drug) was prescribed, "
        "order from most to least frequent, and break ties by drug name in ascending order "
        "(plain character order, case-sensitive)."
    )
    ref = reference_cells(
        pop.pandas_code,
        """
        rx = prescriptions[prescriptions['hadm_id'].isin(adm['hadm_id'])].dropna(subset=['drug'])
        counts = rx.groupby('drug')['hadm_id'].nunique().reset_index(name='n')
        counts = counts.sort_values(['n', 'drug'], ascending=[False, True])
        counts.head(k)
        """,
        "submit([str(d) for d in counts['drug'].head(k)])",
    )
    return Draft(question=q, inputs={"k": k, **pop.inputs}, answer=[r[0] for r in rows], reference=ref)


# ---------------------------------------------------------------- prescriptions


class RxRow(NamedTuple):
    drug: str
    route: str | None
    dose_val_rx: str | None
    dose_unit_rx: str | None


def _rx_admissions(ctx: EhrContext) -> list[tuple[int, int]]:
    return ctx.cached(
        "rx_admissions",
        "SELECT DISTINCT r.hadm_id, a.subject_id FROM prescriptions r JOIN admissions a ON a.hadm_id = r.hadm_id "
        "WHERE r.drug IS NOT NULL ORDER BY 1, 2",
    )


def _admission_drugs(ctx: EhrContext, hadm_id: int) -> dict[str, list[RxRow]]:
    def build() -> dict[str, list[RxRow]]:
        rows = ctx.rows(
            "SELECT drug, route, CAST(dose_val_rx AS VARCHAR), dose_unit_rx FROM prescriptions "
            "WHERE hadm_id = ? AND drug IS NOT NULL "
            "ORDER BY drug, route NULLS LAST, dose_val_rx NULLS LAST, dose_unit_rx NULLS LAST",
            [hadm_id],
        )
        out: dict[str, list[RxRow]] = {}
        for r in rows:
            out.setdefault(r[0], []).append(RxRow(*r))
        return out

    return ctx.memo(("admission_drugs", hadm_id), build)


def _single_route(rows: list[RxRow]) -> str | None:
    routes = {r.route for r in rows}
    return routes.pop() if len(routes) == 1 and None not in routes else None


def _sample_drug(
    ctx: EhrContext, rng: random.Random, ok: Callable[[list[RxRow]], bool]
) -> tuple[int, int, str, list[RxRow]] | None:
    pick = _pick(rng, _rx_admissions(ctx))
    if pick is None:
        return None
    hadm_id, subject_id = pick
    drugs = _admission_drugs(ctx, hadm_id)
    drug = _pick(rng, [d for d, rows in drugs.items() if ok(rows)])
    return None if drug is None else (int(hadm_id), int(subject_id), drug, drugs[drug])


_ROUTE_QUESTIONS = [
    'By which route was "{d}" given to patient {s} during hospital admission {h}?',
    'What was the route of administration of "{d}" prescribed to patient {s} in admission {h}?',
    'During admission {h}, how was patient {s}\'s "{d}" administered (route)?',
    'Patient {s} was prescribed "{d}" during hospital stay {h}. Through what route?',
]


def _route_reference() -> list[str]:
    return reference_cells(
        """
        rx = prescriptions[(prescriptions['hadm_id'] == hadm_id) & (prescriptions['drug'] == drug)]
        rx[['startdate', 'drug', 'dose_val_rx', 'dose_unit_rx', 'route']]
        """,
        "submit(str(rx['route'].iloc[0]) if len(rx) else None)",
    )


@retry
def gen_drug_route(ctx: EhrContext, rng: random.Random) -> Draft | None:
    got = _sample_drug(ctx, rng, lambda rows: _single_route(rows) is not None)
    if got is None:
        return None
    hadm_id, subject_id, drug, rows = got
    q = rng.choice(_ROUTE_QUESTIONS).format(d=drug, s=subject_id, h=hadm_id)
    return Draft(
        question=q, inputs={"subject_id": subject_id, "hadm_id": hadm_id, "drug": drug},
        answer=_single_route(rows), reference=_route_reference(),
    )


def _dose_unit(rows: list[RxRow]) -> str | None:
    if not all(r.dose_val_rx and _PLAIN_NUMBER.match(r.dose_val_rx.strip()) for r in rows):
        return None
    units = {r.dose_unit_rx for r in rows}
    return units.pop() if len(units) == 1 and None not in units else None


@retry
def gen_drug_total_dose(ctx: EhrContext, rng: random.Random) -> Draft | None:
    got = _sample_drug(ctx, rng, lambda rows: _dose_unit(rows) is not None)
    if got is None:
        return None
    hadm_id, subject_id, drug, rows = got
    unit = _dose_unit(rows)
    total = sum(float(r.dose_val_rx) for r in rows)  # type: ignore[arg-type]
    q = rng.choice([
        'What was the total dose of "{d}" prescribed to patient {s} during hospital admission {h}?',
        'Summed over all of its prescription orders, how much "{d}" was prescribed for patient {s} in admission {h}?',
        'During hospital stay {h}, what total dose of "{d}" was ordered for patient {s}?',
    ]).format(d=drug, s=subject_id, h=hadm_id) + (
        f" Add up the prescribed dose (dose_val_rx) of every order; answer in {unit}."
    )
    ref = reference_cells(
        """
        name = drug.replace("'", "''")
        df = sql(f'''
            SELECT startdate, dose_val_rx, dose_unit_rx FROM prescriptions
            WHERE hadm_id = {hadm_id} AND drug = '{name}'
        ''')
        df
        """,
        "submit(float(pd.to_numeric(df['dose_val_rx']).sum()))",
    )
    return Draft(
        question=q, inputs={"subject_id": subject_id, "hadm_id": hadm_id, "drug": drug},
        answer=round4(total), reference=["import pandas as pd", *ref],
    )


# ---------------------------------------------------------------- ICU


class IcuStay(NamedTuple):
    icustay_id: int
    subject_id: int
    hadm_id: int
    los: float | None
    first_careunit: str | None


def _icustays(ctx: EhrContext) -> list[IcuStay]:
    rows = ctx.cached(
        "icustays",
        "SELECT icustay_id, subject_id, hadm_id, los, first_careunit FROM icustays "
        "WHERE icustay_id IS NOT NULL ORDER BY icustay_id",
    )
    return [IcuStay(*r) for r in rows]


def _stays_per_admission(ctx: EhrContext) -> dict[int, int]:
    def build() -> dict[int, int]:
        out: dict[int, int] = {}
        for s in _icustays(ctx):
            out[s.hadm_id] = out.get(s.hadm_id, 0) + 1
        return out

    return ctx.memo("stays_per_admission", build)


@retry
def gen_icu_length_of_stay(ctx: EhrContext, rng: random.Random) -> Draft | None:
    stay = _pick(rng, [s for s in _icustays(ctx) if s.los is not None and s.los >= 0])
    if stay is None:
        return None
    by_admission = _stays_per_admission(ctx).get(stay.hadm_id) == 1 and rng.random() < 0.5
    if by_admission:
        q = rng.choice([
            "How many days did patient {s} spend in the ICU during hospital admission {h}?",
            "What was the ICU length of stay, in days, of patient {s} in admission {h}?",
        ]).format(s=stay.subject_id, h=stay.hadm_id)
        inputs = {"subject_id": stay.subject_id, "hadm_id": stay.hadm_id}
        where = "icustays['hadm_id'] == hadm_id"
    else:
        q = rng.choice([
            "How many days did ICU stay {i} of patient {s} last?",
            "What was the length of ICU stay {i} (patient {s}) in days?",
            "For how long, in days, was patient {s} in the ICU during ICU stay {i}?",
        ]).format(s=stay.subject_id, i=stay.icustay_id)
        inputs = {"subject_id": stay.subject_id, "icustay_id": stay.icustay_id}
        where = "icustays['icustay_id'] == icustay_id"
    ref = reference_cells(
        f"""
        stay = icustays.loc[{where}]
        stay[['icustay_id', 'intime', 'outtime', 'los']]
        """,
        "submit(float(stay['los'].iloc[0]))",
    )
    return Draft(question=q, inputs=inputs, answer=round4(stay.los), reference=ref)


@retry
def gen_icu_first_careunit(ctx: EhrContext, rng: random.Random) -> Draft | None:
    stay = _pick(rng, [s for s in _icustays(ctx) if s.first_careunit])
    if stay is None:
        return None
    q = rng.choice([
        "In which care unit did ICU stay {i} of patient {s} begin?",
        "What was the first care unit of patient {s}'s ICU stay {i}?",
        "Patient {s} had ICU stay {i}. Which ICU were they first admitted to?",
    ]).format(s=stay.subject_id, i=stay.icustay_id)
    ref = reference_cells(
        """
        df = sql(f"SELECT first_careunit, last_careunit, intime FROM icustays WHERE icustay_id = {icustay_id}")
        df
        """,
        "submit(str(df['first_careunit'].iloc[0]))",
    )
    return Draft(
        question=q, inputs={"subject_id": stay.subject_id, "icustay_id": stay.icustay_id},
        answer=stay.first_careunit, reference=ref,
    )


def _vital_candidates(ctx: EhrContext) -> list[tuple[Any, ...]]:
    if not ctx.has("chartevents", "d_items", "icustays"):
        return []
    errors = "sum(CASE WHEN c.error = 1 THEN 1 ELSE 0 END)" if "error" in ctx.columns("chartevents") else "0"
    labels = ", ".join(_sq(v) for v in VITAL_LABELS)
    return ctx.cached(
        "vital_candidates",
        f"SELECT c.icustay_id, i.subject_id, d.label, count(c.valuenum) AS n, {errors} AS errors, "
        "count(DISTINCT c.valueuom) AS units, min(c.valueuom) AS unit "
        "FROM chartevents c JOIN d_items d ON d.itemid = c.itemid "
        "JOIN icustays i ON i.icustay_id = c.icustay_id "
        f"WHERE d.label IN ({labels}) GROUP BY c.icustay_id, i.subject_id, d.label "
        "HAVING count(c.valuenum) > 0 ORDER BY c.icustay_id, d.label",
    )


@retry
def gen_vital_sign_extreme(ctx: EhrContext, rng: random.Random) -> Draft | None:
    # ICU stays with charted error rows are left out: the answer must not depend on filtering them
    pick = _pick(rng, [r for r in _vital_candidates(ctx) if r[4] == 0])
    if pick is None:
        return None
    icustay_id, subject_id, label, _, _, units, unit = pick
    highest = rng.random() < 0.5
    value = ctx.rows(
        f"SELECT {'max' if highest else 'min'}(c.valuenum) FROM chartevents c "
        "JOIN d_items d ON d.itemid = c.itemid WHERE c.icustay_id = ? AND d.label = ?",
        [icustay_id, label],
    )[0][0]
    if value is None:
        return None
    word = rng.choice(["highest", "maximum"] if highest else ["lowest", "minimum"])
    q = rng.choice([
        'What was the {w} "{v}" charted for patient {s} during ICU stay {i}?',
        'During ICU stay {i}, what was patient {s}\'s {w} recorded value of "{v}"?',
        'Find the {w} "{v}" measurement in the chart of ICU stay {i} (patient {s}).',
    ]).format(w=word, v=label, s=subject_id, i=icustay_id)
    if units == 1:
        q += _unit_phrase(unit)
    ref = reference_cells(
        """
        itemids = d_items.loc[d_items['label'] == vital_label, 'itemid']
        in_stay = (chartevents['icustay_id'] == icustay_id) & chartevents['itemid'].isin(itemids)
        values = chartevents.loc[in_stay, 'valuenum']
        values.describe()
        """,
        f"submit(float(values.{'max' if highest else 'min'}()))",
    )
    return Draft(
        question=q,
        inputs={"subject_id": int(subject_id), "icustay_id": int(icustay_id), "vital_label": label},
        answer=round4(value), reference=ref,
    )


# ---------------------------------------------------------------- microbiology


@retry
def gen_microbiology_organisms(ctx: EhrContext, rng: random.Random) -> Draft | None:
    if not ctx.has("microbiologyevents", "admissions"):
        return None
    adms = ctx.cached(
        "micro_admissions",
        "SELECT DISTINCT m.hadm_id, a.subject_id FROM microbiologyevents m "
        "JOIN admissions a ON a.hadm_id = m.hadm_id WHERE m.org_name IS NOT NULL ORDER BY 1, 2",
    )
    pick = _pick(rng, adms)
    if pick is None:
        return None
    hadm_id, subject_id = pick
    orgs = [r[0] for r in ctx.rows(
        "SELECT DISTINCT org_name FROM microbiologyevents WHERE hadm_id = ? AND org_name IS NOT NULL ORDER BY 1",
        [hadm_id],
    )]
    q = rng.choice([
        "Which organisms grew in the microbiology cultures of patient {s} during hospital admission {h}?",
        "List the distinct organisms identified by microbiology tests in admission {h} (patient {s}).",
        "What organisms were found in patient {s}'s microbiology specimens during hospital stay {h}?",
    ]).format(s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        micro = microbiologyevents[microbiologyevents['hadm_id'] == hadm_id]
        micro[['charttime', 'spec_type_desc', 'org_name']].drop_duplicates()
        """,
        "submit(sorted(set(micro['org_name'].dropna().astype(str))))",
    )
    return Draft(
        question=q, inputs={"subject_id": int(subject_id), "hadm_id": int(hadm_id)}, answer=orgs,
        reference=ref,
    )


# ---------------------------------------------------------------- maybe unanswerable


def _common_lab_labels(ctx: EhrContext) -> list[str]:
    return [r[0] for r in ctx.cached(
        "common_lab_labels",
        f"{_UNIQUE_LABS} SELECT ul.label FROM labevents l JOIN ul ON ul.itemid = l.itemid "
        "WHERE l.hadm_id IS NOT NULL GROUP BY ul.label HAVING count(DISTINCT l.hadm_id) >= 3 ORDER BY 1",
    )]


def _common_drugs(ctx: EhrContext) -> list[str]:
    return [r[0] for r in ctx.cached(
        "common_drugs",
        "SELECT drug FROM prescriptions WHERE drug IS NOT NULL AND hadm_id IS NOT NULL "
        "GROUP BY drug HAVING count(DISTINCT hadm_id) >= 3 ORDER BY 1",
    )]


def _maybe_lab(ctx: EhrContext, rng: random.Random, present: bool) -> Draft | None:
    if present:
        got = _sample_lab(ctx, rng, lambda s: s.numeric and s.end_is_unique(False))
        if got is None:
            return None
        hadm_id, subject_id, series = got
        label, answer = series.label, round4(series.rows[0].valuenum)
    else:
        pick = _pick(rng, _lab_admissions(ctx))
        if pick is None:
            return None
        hadm_id, subject_id = int(pick[0]), int(pick[1])
        measured = {s.label for s in _admission_labs(ctx, hadm_id)}
        label = _pick(rng, [lab for lab in _common_lab_labels(ctx) if lab not in measured])
        if label is None:
            return None
        answer = None
    q = rng.choice([
        'What was the first "{lab}" value of patient {s} during hospital admission {h}?',
        'During admission {h}, what was patient {s}\'s earliest "{lab}" lab result?',
    ]).format(lab=label, s=subject_id, h=hadm_id)
    ref = reference_cells(
        """
        itemids = d_labitems.loc[d_labitems['label'] == lab_label, 'itemid']
        rows = labevents[(labevents['hadm_id'] == hadm_id) & labevents['itemid'].isin(itemids)]
        rows = rows.sort_values('charttime')
        rows[['charttime', 'valuenum', 'valueuom']].head()
        """,
        "submit(float(rows['valuenum'].iloc[0]) if len(rows) else None)",
    )
    return Draft(
        question=q, inputs={"subject_id": subject_id, "hadm_id": hadm_id, "lab_label": label},
        answer=answer, reference=ref,
    )


def _maybe_route(ctx: EhrContext, rng: random.Random, present: bool) -> Draft | None:
    if present:
        got = _sample_drug(ctx, rng, lambda rows: _single_route(rows) is not None)
        if got is None:
            return None
        hadm_id, subject_id, drug, rows = got
        answer = _single_route(rows)
    else:
        pick = _pick(rng, _rx_admissions(ctx))
        if pick is None:
            return None
        hadm_id, subject_id = int(pick[0]), int(pick[1])
        given = _admission_drugs(ctx, hadm_id)
        drug = _pick(rng, [d for d in _common_drugs(ctx) if d not in given])
        if drug is None:
            return None
        answer = None
    q = rng.choice(_ROUTE_QUESTIONS).format(d=drug, s=subject_id, h=hadm_id)
    return Draft(
        question=q, inputs={"subject_id": subject_id, "hadm_id": hadm_id, "drug": drug},
        answer=answer, reference=_route_reference(),
    )


def _maybe_icu(ctx: EhrContext, rng: random.Random, present: bool) -> Draft | None:
    counts = _stays_per_admission(ctx)
    if present:
        stays = {s.hadm_id: s for s in _icustays(ctx) if counts.get(s.hadm_id) == 1 and s.los is not None}
        pick = _pick(rng, [_admission(ctx, h) for h in sorted(stays) if _admission(ctx, h)])
        answer = None if pick is None else round4(stays[pick.hadm_id].los)
    else:
        pick = _pick(rng, [a for a in _admissions(ctx) if a.hadm_id not in counts])
        answer = None
    if pick is None:
        return None
    q = rng.choice([
        "How many days did patient {s} spend in the ICU during hospital admission {h}?",
        "What was the ICU length of stay, in days, of patient {s} in admission {h}?",
    ]).format(s=pick.subject_id, h=pick.hadm_id)
    ref = reference_cells(
        """
        stay = icustays.loc[icustays['hadm_id'] == hadm_id]
        stay[['icustay_id', 'intime', 'outtime', 'los']]
        """,
        "submit(float(stay['los'].iloc[0]) if len(stay) else None)",
    )
    return Draft(
        question=q, inputs={"subject_id": pick.subject_id, "hadm_id": pick.hadm_id}, answer=answer,
        reference=ref,
    )


@retry
def gen_maybe_unanswerable(ctx: EhrContext, rng: random.Random) -> Draft | None:
    kind = rng.choice([_maybe_lab, _maybe_route, _maybe_icu])
    present = rng.random() < 0.5
    return kind(ctx, rng, present)


# ---------------------------------------------------------------- registry


_LAB_NUMBER = "a number: the lab's numeric value (labevents.valuenum) in its recorded unit"
_UNORDERED = "; order does not matter"

# name, description, grader, answer format, sampler
_TABLE: list[tuple[str, str, Grader, str, Sampler]] = [
    ("patient_gender", "The recorded gender of a patient.",
     TEXT, "the gender code as recorded in the patients table: M or F", gen_patient_gender),
    ("patient_age_at_admission", "A patient's age in completed years when a hospital admission began.",
     COUNT, "an integer: age in completed years (birthdays passed) at the admission time",
     gen_patient_age_at_admission),
    ("admission_count", "How many hospital admissions a patient has.",
     COUNT, "an integer count", gen_admission_count),
    ("admission_type", "The admission type of a hospital admission.",
     TEXT, "the admission type as recorded, e.g. EMERGENCY, ELECTIVE, URGENT or NEWBORN", gen_admission_type),
    ("admission_time", "When a patient was first (or most recently) admitted.",
     WHEN, "a date and time as 'YYYY-MM-DD HH:MM:SS'", gen_admission_time),
    ("hospital_length_of_stay", "Days from admission to discharge of a hospital admission.",
     DURATION, "a number of days (fractional, e.g. 3.25)", gen_hospital_length_of_stay),
    ("died_in_hospital", "Whether a patient died during a hospital admission.",
     YESNO, "true or false", gen_died_in_hospital),
    ("days_between_admissions", "Days between consecutive hospital admissions of a patient.",
     DURATION, "a number of days (fractional, e.g. 41.5)", gen_days_between_admissions),
    ("first_lab_value", "The first value of a lab test during a hospital admission.",
     NUMBER, _LAB_NUMBER, gen_first_lab_value),
    ("last_lab_value", "The last value of a lab test during a hospital admission.",
     NUMBER, _LAB_NUMBER, gen_last_lab_value),
    ("max_lab_value", "The highest value of a lab test during a hospital admission.",
     NUMBER, _LAB_NUMBER, gen_max_lab_value),
    ("lab_count_abnormal", "How many results of a lab test were flagged abnormal in an admission.",
     COUNT, "an integer count", gen_lab_count_abnormal),
    ("hours_to_first_lab", "Hours from hospital admission to the first result of a lab test.",
     DURATION, "a number of hours (fractional, e.g. 5.75)", gen_hours_to_first_lab),
    ("diagnoses_of_admission", "All ICD-9 diagnosis codes of a hospital admission.",
     CODES, "a list of ICD-9 diagnosis codes as strings, as written in diagnoses_icd (e.g. ['4019', 'V4581'])"
     + _UNORDERED, gen_diagnoses_of_admission),
    ("procedures_of_admission", "All ICD-9 procedure codes of a hospital admission.",
     CODES, "a list of ICD-9 procedure codes as strings, as written in procedures_icd (e.g. ['3893', '9604'])"
     + _UNORDERED, gen_procedures_of_admission),
    ("top_diagnoses", "The k most frequent diagnosis codes in a population of admissions.",
     RANKED, "a list of ICD-9 codes as strings, most frequent first", gen_top_diagnoses),
    ("top_drugs", "The k most frequently prescribed drugs in a population of admissions.",
     RANKED, "a list of drug names exactly as written in prescriptions.drug, most frequent first", gen_top_drugs),
    ("drug_route", "The route by which a drug was given during a hospital admission.",
     TEXT, "the route as recorded in prescriptions.route, e.g. PO, IV or SC", gen_drug_route),
    ("drug_total_dose", "The total prescribed dose of a drug during a hospital admission.",
     NUMBER, "a number in the dose unit named in the question", gen_drug_total_dose),
    ("icu_length_of_stay", "The length of an ICU stay in days.",
     DURATION, "a number of days (fractional, e.g. 2.4167)", gen_icu_length_of_stay),
    ("icu_first_careunit", "The care unit in which an ICU stay began.",
     TEXT, "the care unit as recorded, e.g. MICU, SICU, CCU, CSRU or TSICU", gen_icu_first_careunit),
    ("vital_sign_extreme", "The highest or lowest charted value of a vital sign during an ICU stay.",
     NUMBER, "a number: the charted numeric value (chartevents.valuenum)", gen_vital_sign_extreme),
    ("microbiology_organisms", "The organisms grown in the microbiology cultures of an admission.",
     CODES, "a list of organism names exactly as written in microbiologyevents.org_name" + _UNORDERED,
     gen_microbiology_organisms),
    ("maybe_unanswerable",
     "A lab value, drug route or ICU length of stay that the record may not contain "
     "(some are absent; then the answer is None).",
     MAYBE, "the value asked for (a number or a string), or None if the record does not contain it",
     gen_maybe_unanswerable),
]

# Balanced answers (issue 17: a constant answer passes at most 20 % of a split, or 1/k + 5 points when
# the answer can only take k values): at most ``max_share`` of a split may have one answer.
_BALANCE: dict[str, dict[str, Any]] = {
    **{name: {"max_share": 0.15} for name in (
        "admission_count", "lab_count_abnormal", "microbiology_organisms", "maybe_unanswerable", "drug_route")},
    **{name: {"max_share": 0.5} for name, _, grader, _, _ in _TABLE if grader.rule == "boolean"},
    "admission_type": {"answer_values": 3, "max_share": 0.34},  # EMERGENCY, ELECTIVE, URGENT (no newborns here)
    "icu_first_careunit": {"answer_values": 5, "max_share": 0.22},  # MICU, SICU, CCU, CSRU, TSICU
    "patient_gender": {"answer_values": 2, "max_share": 0.5},
}

CATEGORIES: dict[str, Category] = {
    name: Category(name=name, description=desc, grader=grader, answer_format=fmt, generate=fn, **_BALANCE.get(name, {}))
    for name, desc, grader, fmt, fn in _TABLE
}
