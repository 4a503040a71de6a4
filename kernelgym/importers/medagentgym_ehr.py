"""EHR records of MedAgentGym (MIMIC-III EHRSQL, TREQS, eICU, EHRCon): each record's SQL query re-run on
the imported MIMIC-III (:class:`Database`) so that only answers the data give are graded."""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from kernelgym.grading import Grader
from kernelgym.importers.medagentgym_records import NotGradable, Record, _instance, _need, slug

SQL_TIMEOUT = 60.0
SQLITE_MAX_ROWS = 5_000_000


# ---------------------------------------------------------------- EHR databases (MIMIC-III)


def _num_key(x: float) -> str:
    if math.isnan(x):
        return "nan"
    text = f"{round(x, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def value_key(v: Any) -> str:
    """A database value or a recorded answer, normalised for comparison (numbers by value, text
    case-folded, times as ``YYYY-MM-DD HH:MM:SS``, booleans as 1/0)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return _num_key(float(v))
    if isinstance(v, (int, float, Decimal)):
        return _num_key(float(v))
    if isinstance(v, dt.datetime):
        return v.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    s = str(v).strip()
    low = s.casefold()
    if low in ("true", "false"):
        return "1" if low == "true" else "0"
    if low in ("none", "null", "nan"):
        return "none"
    try:
        return _num_key(float(s))
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(s).replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
    except ValueError:
        return low


def plain(v: Any) -> Any:
    """A database value as a JSON value (the ground truth's form)."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return str(v)


def _flatten(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        out: list[Any] = []
        for item in x:
            out.extend(_flatten(item))
        return out
    return [x]


_RELATIVE_TIME = re.compile(r"\bcurrent_(?:time|date|timestamp)\b|\bnow\s*\(|'now'", re.IGNORECASE)
_CONDITION = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*=\s*('(?:[^']|'')*'|\"[^\"]*\"|-?\d+(?:\.\d+)?)(?![\w.])")


class Database:
    """The imported MIMIC-III (its Parquet files): run a record's SQL query with DuckDB, and with
    SQLite when DuckDB fails or disagrees (EHRSQL and TREQS write SQLite SQL)."""

    def __init__(self, root: Path, timeout: float = SQL_TIMEOUT) -> None:
        import duckdb

        self.root = root
        self.timeout = timeout
        self.tables = {p.stem: p for p in sorted(root.glob("*.parquet"))}
        self._duck = duckdb.connect(":memory:")
        for name, path in self.tables.items():
            self._duck.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path.as_posix()}')")
        self._lite: Any = None
        self._loaded: set[str] = set()

    def close(self) -> None:
        self._duck.close()
        if self._lite is not None:
            self._lite.close()

    def _with_timeout(self, con: Any, fn: Callable[[], Any]) -> Any:
        timer = threading.Timer(self.timeout, con.interrupt)
        timer.start()
        try:
            return fn()
        finally:
            timer.cancel()

    def duckdb(self, query: str) -> list[tuple[Any, ...]]:
        return self._with_timeout(self._duck, lambda: self._duck.execute(query).fetchall())

    def sqlite(self, query: str) -> list[tuple[Any, ...]]:
        import sqlite3

        if self._lite is None:
            self._lite = sqlite3.connect(":memory:", check_same_thread=False)
        for name in self.tables:
            if name in self._loaded or not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", query, re.IGNORECASE):
                continue
            rows = self._duck.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            if rows > SQLITE_MAX_ROWS:
                raise RuntimeError(f"table {name} has {rows:,} rows, too many to check this SQLite query")
            df = self._duck.execute(f"SELECT * FROM {name}").df()
            for col in df.columns:  # SQLite keeps times as text, as MIMIC's SQLite exports do
                if str(df[col].dtype).startswith("datetime64"):
                    df[col] = df[col].dt.strftime("%Y-%m-%d %H:%M:%S").where(df[col].notna(), None)
            df.to_sql(name, self._lite, index=False)
            self._loaded.add(name)
        return self._with_timeout(self._lite, lambda: self._lite.execute(query).fetchall())

    def missing_premise(self, query: str) -> str | None:
        """The first ``table.column = literal`` condition of ``query`` that no row of the table meets
        (a patient, drug or lab test the database does not have), or None."""
        for table, column, literal in _CONDITION.findall(query):
            name = table.lower()
            if name not in self.tables:
                continue
            if literal.startswith('"'):
                literal = "'" + literal[1:-1].replace("'", "''") + "'"
            try:
                hit = self._duck.execute(f"SELECT 1 FROM {name} WHERE {column} = {literal} LIMIT 1").fetchone()
            except Exception:  # noqa: BLE001 - a condition DuckDB cannot read is not checked
                continue
            if hit is None:
                return f"{table}.{column} = {literal}"
        return None

    def admissions(self) -> set[int]:
        if "admissions" not in self.tables:
            return set()
        return {int(r[0]) for r in self._duck.execute("SELECT DISTINCT hadm_id FROM admissions").fetchall()
                if r[0] is not None}


def _mimic3_root(mimic3_dir: Path | str | None) -> tuple[Path | None, str | None]:
    """The imported MIMIC-III folder and its fingerprint, or (None, None) when none is imported."""
    from kernelgym.importers.mimic3 import default_dir, load_manifest

    root = Path(mimic3_dir) if mimic3_dir is not None else default_dir()
    if not (root / "manifest.json").is_file():
        return None, None
    return root, load_manifest(root).fingerprint


EHR_PROMPT = (
    "The kernel holds the hospital's EHR database (MIMIC-III): every table as a pandas DataFrame under its "
    "lower-case name, and sql(query) for DuckDB SQL over the same tables. Answer the question from the data, "
    "using code cells, then call submit(answer) with your final answer.\n\nQuestion: {question}\n\n{answer_format}"
)
EHR_FORMAT = ("a list of the values the question asks for (one value may be given alone; order and duplicates are "
              "ignored): numbers as numbers, times as 'YYYY-MM-DD HH:MM:SS', None if the data hold no answer")


def _ehr_category(rec: Record, dataset: str) -> str:
    tag = rec.data.get("q_tag") or rec.data.get("tag") or rec.data.get("template")
    if tag and dataset != "treqs":
        return slug(re.sub(r"[{}]", "", str(tag)))
    query = str(rec.data.get("query") or "").lower()
    for agg in ("count", "min", "max", "avg", "sum"):
        if re.search(rf"\b{agg}\s*\(", query):
            return agg
    return "lookup"


def convert_ehr(rec: Record, dataset: str, db: Database | None) -> dict[str, Any]:
    if dataset == "eicu":
        raise NotGradable("no_eicu_dataset",
                          "kernelgym has no eICU data set (`kernelgym data import` supports mimic3 only), so the answer "
                          "cannot be checked on the data the agent would query")
    question = rec.data.get("template") if dataset == "mimic_iii" else rec.data.get("question")
    question = question or rec.data.get("question")
    (answer,) = _need(rec, "answer")
    if not question:
        raise NotGradable("malformed_record", "no question")
    if db is None:
        raise NotGradable("no_mimic3", "no imported MIMIC-III: run `kernelgym data import mimic3 PATH` first")
    recorded = [a for a in _flatten(answer)]
    query = str(rec.data.get("query") or "").strip()
    category = _ehr_category(rec, dataset)
    if rec.data.get("is_impossible") is True or query.lower() in ("", "nan", "null", "none"):
        if rec.data.get("is_impossible") is True and not [a for a in recorded if value_key(a) != "none"]:
            return _instance(category, str(question), None, Grader(rule="set"), rec.split, answer_format=EHR_FORMAT,
                             reference=["submit(None)"])
        raise NotGradable("no_query", "no SQL query to check the recorded answer with")
    if _RELATIVE_TIME.search(query):
        raise NotGradable("relative_time",
                          "the question is relative to the current time (this year, last month, ...), which EHRSQL fixes "
                          "at 2105-12-31 23:59:00 and neither the data nor the question state")
    want = {value_key(a) for a in recorded}
    results: dict[str, list[Any]] = {}
    tried: list[str] = []
    for engine in ("duckdb", "sqlite"):
        try:
            rows = db.duckdb(query) if engine == "duckdb" else db.sqlite(query)
        except Exception as exc:  # noqa: BLE001 - a failing query is a reason, not a crash
            tried.append(f"{engine}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
            continue
        results[engine] = [v for row in rows for v in row]
    if not results:
        raise NotGradable("sql_failed", "the record's query fails on the imported database (" + "; ".join(tried) + ")")
    keys = {engine: {value_key(v) for v in values} for engine, values in results.items()}
    if len(keys) == 2 and keys["duckdb"] != keys["sqlite"] and not (keys["duckdb"] | keys["sqlite"]) <= {"none"}:
        raise NotGradable("engine_dependent_query",
                          f"the record's query gives {sorted(keys['sqlite'])[:5]} in SQLite and {sorted(keys['duckdb'])[:5]} "
                          "in DuckDB (integer division, a date format one of them does not know, ...): what it asks "
                          "depends on the SQL engine")
    engine, values = next(iter(results.items()))
    got = keys[engine]
    if not (got == want or (got <= {"none"} and want <= {"none"})):
        raise NotGradable("sql_result_differs",
                          f"the record's query gives {sorted(got)[:5]}{' ...' if len(got) > 5 else ''} on the imported "
                          f"database, not the recorded {sorted(want)[:5]}"
                          + (f" ({'; '.join(tried)})" if tried else ""))
    missing = db.missing_premise(query)
    if missing:
        raise NotGradable("premise_not_in_database",
                          f"the question is about something the imported database does not have ({missing}): "
                          "its recorded answer is a premise that fails, not a fact the agent can find")
    truth: list[Any] = []
    seen: set[str] = set()
    for v in values:
        if value_key(v) not in seen and value_key(v) != "none":
            seen.add(value_key(v))
            truth.append(plain(v))
    gt = truth or None  # no row, or only NULLs (an aggregate over nothing): the data hold no answer
    if engine == "duckdb":  # the kernel's sql() is DuckDB over the same files
        reference = [f"rows = sql({query!r})\nsubmit([v for row in rows.itertuples(index=False) for v in row] or None)"]
    else:
        reference = [f"submit({gt!r})"]
    return _instance(category, str(question), gt, Grader(rule="set"), rec.split, answer_format=EHR_FORMAT,
                     reference=reference)


# ---------------------------------------------------------------- EHRCon


EHRCON_PROMPT = (
    "The kernel holds the hospital's EHR database (MIMIC-III): every table as a pandas DataFrame under its "
    "lower-case name, and sql(query) for DuckDB SQL over the same tables. The admission's clinical notes are "
    "in the variable `notes` (a list of dicts: row_id, chartdate, charttime, category, description, text).\n\n"
    "{question}\n\n{answer_format}"
)


def _read_notes(path: Path) -> dict[int, list[dict[str, Any]]]:
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip().lower() for c in df.columns]
    if "hadm_id" not in df.columns or "text" not in df.columns:
        raise ValueError(f"{path} has no HADM_ID / TEXT columns")
    notes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    keep = [c for c in ("row_id", "chartdate", "charttime", "category", "description", "text") if c in df.columns]
    for rec in df.to_dict("records"):
        try:
            hadm = int(float(rec["hadm_id"]))
        except ValueError:
            continue
        notes[hadm].append({k: rec[k] for k in keep})
    return dict(notes)


def convert_ehrcon(rec: Record, notes: dict[int, list[dict[str, Any]]] | None, admissions: set[int] | None) -> dict[str, Any]:
    hadm_raw, entity, n_errors, has_error = _need(rec, "Hospital admission", "Medical entity", "Number of inconsistencies",
                                                  "Has error")
    try:
        hadm = int(float(hadm_raw))
    except (TypeError, ValueError):
        raise NotGradable("malformed_record", f"Hospital admission {hadm_raw!r} is not an id") from None
    if not isinstance(has_error, bool):
        if str(has_error).strip().lower() in ("true", "false"):
            has_error = str(has_error).strip().lower() == "true"
        else:
            raise NotGradable("malformed_answer", f"Has error {has_error!r} is not a boolean")
    try:
        n = int(float(n_errors))
    except (TypeError, ValueError):
        n = None
    if n is not None and (n > 0) != has_error:
        raise NotGradable("inconsistent_label", f"Has error is {has_error} but Number of inconsistencies is {n}")
    if notes is None:
        raise NotGradable("no_clinical_notes",
                          "no ehrcon/clinical_notes.csv: EHRCon labels one annotated note per admission, which MIMIC-III's "
                          "NOTEEVENTS (every note of the admission) does not identify")
    if hadm not in notes:
        raise NotGradable("no_clinical_notes", f"no clinical note for admission {hadm} in ehrcon/clinical_notes.csv")
    if admissions is None:
        raise NotGradable("no_mimic3", "no imported MIMIC-III: run `kernelgym data import mimic3 PATH` first")
    if hadm not in admissions:
        raise NotGradable("admission_not_in_database", f"admission {hadm} is not in the imported MIMIC-III")
    question = (f"For the hospital admission {hadm} (hadm_id) and the medical entity {str(entity)!r}, is there any "
                "inconsistency between the database and the admission's clinical note?")
    return _instance("inconsistency", question, has_error, Grader(rule="boolean"), rec.split,
                     answer_format="True or False (True: the note and the database disagree about the entity)",
                     inputs={"hadm_id": hadm, "entity": str(entity), "notes": notes[hadm]})

