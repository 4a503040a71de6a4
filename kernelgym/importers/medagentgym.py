"""Import MedAgentGym's task files as kernelgym task families (``kernelgym import medagentgym DATA_DIR``).

MedAgentGym (Xu et al. 2025, arXiv 2506.04405) keeps one folder per data set, each with
``train_tasks.jsonl`` and ``test_tasks.jsonl`` (some use ``valid_tasks.jsonl``, which MedAgentGym
runs as its test split; here too). Each present data set becomes the family
``medagentgym-<name>`` (``_`` -> ``-``), written as ``<family>.yaml`` plus ``<family>.jsonl`` for
``kernelgym run --specs OUT``, with a grading rule that is right where MedAgentGym's is not:

=============  ==========  ====================================  =====================================
data set       profile     categories                            graded as
=============  ==========  ====================================  =====================================
medcalcbench   biomed      the calculator                        within [Lower Limit, Upper Limit];
                                                                 dates as dates (MedAgentGym accepts
                                                                 any positive number)
npowerai       biomed      test type x size|power                sizes exactly, power within +/-0.01
biocoder       biomed      function | method                     what the context program prints with
                                                                 the agent's function inserted, against
                                                                 the reference program's output
                                                                 (MedAgentGym passes any program that
                                                                 prints what a failing reference printed)
mimic_iii      ehr-mimic3  the EHRSQL question template          the answer list as a normalised set,
treqs          ehr-mimic3  the query's aggregate                 checked on the user's imported database
eicu           -           -                                     (MedAgentGym: substring of the output,
                                                                 which a failed run can contain)
ehrcon         ehr-mimic3  inconsistency                         ``Has error`` exactly (a boolean)
=============  ==========  ====================================  =====================================

Records that cannot be graded soundly are left out and listed, with the reason, in
``medagentgym-import.json`` next to the families; nothing is graded loosely. Among them:

- MedCalc: an unknown calculator, a ground truth outside its own limits, or a label that departs from
  the calculator's published formula (recomputed from ``Relevant Entities`` with
  :mod:`kernelgym.calculators`, as ``kernelgym import medcalc-bench --labels corrected`` does).
- N-PowerAI: a target other than size/power, a size that is not a whole number, a power outside [0, 1].
- BioCoder: a reference program that fails here, prints nothing, prints something else on a second
  run, or prints the same whatever the solution (the context defines or never calls the function).
- EHR: the record's SQL query, run on the imported database (``kernelgym data import mimic3``),
  fails or does not give the recorded answer; eICU records always (kernelgym has no eICU import).
- EHRCon: no annotated notes for the admission (``ehrcon/clinical_notes.csv``), an admission that is
  not in the imported MIMIC-III, ``Has error`` contradicting ``Number of inconsistencies``.
- Any data set: the same question recorded with different answers.

Host side only: ground truth, reference programs and queries never enter a kernel.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import re
import textwrap
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from kernelgym.calculators import REGISTRY
from kernelgym.grading import Grader
from kernelgym.importers import medcalc_bench as mb
from kernelgym.kernel import medagentgym as kmag

FAMILY_PREFIX = "medagentgym"
REPORT_FILE = "medagentgym-import.json"
SPLIT_FILES = (("train_tasks.jsonl", "train"), ("train_tasks_all.jsonl", "train"), ("test_tasks.jsonl", "test"),
               ("valid_tasks.jsonl", "test"))
"""Task files and their kernelgym split. ``valid_tasks.jsonl`` is what MedAgentGym runs as its test set where a
data set has no ``test_tasks.jsonl``; ``train_tasks_all.jsonl`` is MedCalc-Bench's training file there (read only
when there is no ``train_tasks.jsonl``)."""
DATASETS = ("medcalcbench", "npowerai", "biocoder", "mimic_iii", "eicu", "treqs", "ehrcon")
UNSUPPORTED = {
    "biodsbench": "not imported: its tasks need the BioDSBench data files and an output checker per task",
    "ehrshot": "not imported: EHRSHOT needs its own credentialed data set, which kernelgym cannot import",
    "medagentbench": "not imported: MedAgentBench grades calls to a FHIR server, which kernelgym does not run",
    "mimic_extract": "not imported: MIMIC-Extract needs its preprocessed HDF5 files",
    "ehr_seqsql": "not imported: EHR-SeqSQL's multi-turn questions have no single-answer schema here",
}
BIOCODER_MAX_SECONDS = 2.0
"""Reference programs slower than this are left out: the verifier allows 5 s per program."""
SQL_TIMEOUT = 60.0
SQLITE_MAX_ROWS = 5_000_000
SUBMIT_DONE = "define the function, then call submit('done'); graded by the program's output"


def family_name(dataset: str) -> str:
    return f"{FAMILY_PREFIX}-{dataset.replace('_', '-')}"


def slug(text: str, limit: int = 60) -> str:
    """A category name (``^[a-z][a-z0-9_-]*$``) from free text."""
    s = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:limit].rstrip("_")
    if not s:
        return "other"
    return s if s[0].isalpha() else f"c_{s}"


# ---------------------------------------------------------------- records and the report


@dataclass(frozen=True)
class Record:
    """One line of a MedAgentGym task file."""

    dataset: str
    file: str
    line: int
    split: str
    data: dict[str, Any]


@dataclass
class LeftOut:
    """A record that is not imported, and why."""

    dataset: str
    file: str
    line: int
    reason: str
    detail: str
    record_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "file": self.file, "line": self.line, "id": self.record_id,
                "reason": self.reason, "detail": self.detail}


class NotGradable(Exception):
    """Raised by a converter: the record is left out with ``reason`` (a short code) and ``detail``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass
class DatasetResult:
    name: str
    family: str | None = None
    profile: str | None = None
    files: dict[str, int] = field(default_factory=dict)
    imported: int = 0
    left_out: list[LeftOut] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    """Imported records with something to know (e.g. MedAgentGym's own expected output was an error)."""
    spec_path: Path | None = None
    note: str = ""

    @property
    def records(self) -> int:
        return sum(self.files.values())

    def summary(self) -> dict[str, Any]:
        return {
            "family": self.family, "profile": self.profile, "files": self.files, "records": self.records,
            "imported": self.imported, "left_out": len(self.left_out),
            "reasons": dict(Counter(x.reason for x in self.left_out).most_common()), "note": self.note,
            "notes": self.notes,
            "spec": str(self.spec_path) if self.spec_path else None,
        }


def read_records(folder: Path, dataset: str) -> tuple[list[Record], list[LeftOut], dict[str, int]]:
    """Every record of a data set folder's task files, in file order (train, test, valid)."""
    records: list[Record] = []
    bad: list[LeftOut] = []
    counts: dict[str, int] = {}
    for name, split in SPLIT_FILES:
        path = folder / name
        if not path.is_file() or (name == "train_tasks_all.jsonl" and (folder / "train_tasks.jsonl").is_file()):
            continue
        n = 0
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            n += 1
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                bad.append(LeftOut(dataset, name, lineno, "malformed_record", f"not a JSON object: {exc}"))
                continue
            records.append(Record(dataset, name, lineno, split, data))
        counts[name] = n
    return records, bad, counts


def _need(rec: Record, *keys: str) -> list[Any]:
    missing = [k for k in keys if k not in rec.data]
    if missing:
        raise NotGradable("malformed_record", f"missing field(s) {', '.join(map(repr, missing))}")
    return [rec.data[k] for k in keys]


def _instance(
    category: str, question: str, answer: Any, grader: Grader, split: str, *, answer_format: str = "",
    inputs: dict[str, Any] | None = None, reference: list[str] | None = None, verifier: str | None = None,
    verifier_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A line of the family's JSONL (:class:`kernelgym.tasks.JsonlInstance`)."""
    out: dict[str, Any] = {
        "category": category, "question": question, "answer": answer,
        "grader": grader.model_dump(exclude_defaults=True), "split": split, "answer_format": answer_format,
        "inputs": inputs or {}, "reference": reference or [f"submit({answer!r})"],
    }
    if verifier:
        out["verifier"] = verifier
        out["verifier_args"] = verifier_args or {}
    return out


# ---------------------------------------------------------------- MedCalc-Bench


MEDCALC_PROMPT = mb.SPEC_PROMPT


def _calculation_methods(folder: Path) -> dict[str, str]:
    """``Calculator`` -> ``Short Summary`` from ``calculation_method.jsonl`` (shown to the agent, as
    MedAgentGym does), when the file is there."""
    path = folder / "calculation_method.jsonl"
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
                out.setdefault(str(item["Calculator"]), str(item["Short Summary"]))
            except (ValueError, KeyError, TypeError):
                continue
    return out


def _medcalc_row(rec: Record) -> mb.Row:
    calc_id, name, note, question, answer, lower, upper = _need(
        rec, "Calculator ID", "Calculator Name", "Patient Note", "Question", "Ground Truth Answer",
        "Lower Limit", "Upper Limit")
    number = rec.data.get("Row Number", 0)
    try:
        calc_id = int(float(calc_id))
    except (TypeError, ValueError):
        raise NotGradable("malformed_record", f"Calculator ID {calc_id!r} is not a number") from None
    if calc_id not in REGISTRY:
        raise NotGradable("unknown_calculator", f"calculator {calc_id} ({name}) is not one of MedCalc-Bench's 55")
    raw_entities = rec.data.get("Relevant Entities")
    entities: dict[str, Any] = {}
    if isinstance(raw_entities, dict):
        entities = raw_entities
    elif isinstance(raw_entities, str) and raw_entities.strip():
        try:
            parsed = ast.literal_eval(raw_entities)
            entities = parsed if isinstance(parsed, dict) else {}
        except (ValueError, SyntaxError):
            entities = {}
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    return mb.Row(
        row_number=_int_or_zero(number), calculator_id=calc_id,
        calculator_name=str(name), output_type=str(rec.data.get("Output Type", "")), note_id=str(rec.data.get("Note ID", "")),
        note=str(note), question=str(question), entities=entities, answer=str(answer), lower=str(lower),
        upper=str(upper), explanation=str(rec.data.get("Ground Truth Explanation", "")),
    )


def _int_or_zero(x: Any) -> int:
    try:
        return int(float(x))
    except (TypeError, ValueError):
        return 0


def convert_medcalc(rec: Record, methods: dict[str, str]) -> dict[str, Any]:
    row = _medcalc_row(rec)
    calc = row.calculator
    try:
        answer, grader = mb.original_answer(row), mb.original_grader(row)
    except (ValueError, SyntaxError, TypeError, IndexError) as exc:
        raise NotGradable("malformed_answer", f"cannot read the answer {row.answer!r} or its limits: {exc}") from None
    if grader.rule == "range":
        assert grader.lower is not None and grader.upper is not None
        if not all(math.isfinite(x) for x in (grader.lower, grader.upper, float(answer))):
            raise NotGradable("malformed_answer", "the answer or a limit is not a finite number")
        if not grader.lower - 1e-9 <= float(answer) <= grader.upper + 1e-9:
            raise NotGradable("answer_outside_limits",
                              f"the recorded answer {answer} lies outside its own limits [{grader.lower}, {grader.upper}]")
    if row.entities:
        try:
            value = mb.recompute(row)
        except Exception:  # noqa: BLE001 - entities the calculator cannot read: the label is not audited
            value = None
        if value is not None and not mb.agrees(row, value):
            raise NotGradable("label_departs_from_formula",
                              f"the published formula gives {mb.as_answer(row, value)!r} from the record's Relevant "
                              f"Entities, not {answer!r} (see docs/medcalc.md)")
    question = mb.PROMPT.format(note=row.note.strip(), question=row.question.strip())
    method = methods.get(row.calculator_name)
    if method:
        question += f"\n\nInstructions to calculate: {method.strip()}"
    return _instance(calc.slug, question, answer, grader, rec.split, answer_format=mb.answer_format(calc),
                     inputs={"note": row.note})


# ---------------------------------------------------------------- N-PowerAI


NPOWER_PROMPT = (
    "You have a Jupyter kernel with numpy, scipy and statsmodels (statsmodels.stats.power). Answer the "
    "statistical question, using code cells, then call submit(answer) with your final answer.\n\n"
    "{question}\n\n{answer_format}"
)
SIZE = Grader(rule="numeric", abs_tol=0.0)
POWER = Grader(rule="numeric", abs_tol=0.01)


def convert_npowerai(rec: Record) -> dict[str, Any]:
    task_type, target, question, answer = _need(rec, "task_type", "estimate_target", "question", "answer")
    target = str(target).strip().lower()
    if target not in ("size", "power"):
        raise NotGradable("unsupported_target", f"estimate_target {target!r} is neither 'size' nor 'power'")
    if isinstance(answer, list):
        if len(answer) != 1:
            raise NotGradable("malformed_answer", f"{len(answer)} answers in one record")
        answer = answer[0]
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise NotGradable("not_a_number", f"the answer {answer!r} is not a number") from None
    if not math.isfinite(value):
        raise NotGradable("not_a_number", f"the answer {answer!r} is not a finite number")
    category = f"{slug(task_type, 50)}_{target}"
    if target == "size":
        if value != int(value) or value < 1:
            raise NotGradable("not_a_whole_number",
                              f"the sample size {answer!r} is not a positive whole number: it cannot be graded exactly")
        return _instance(category, str(question).strip(), int(value), SIZE, rec.split,
                         answer_format="an integer: the sample size (graded exactly)")
    if not 0.0 <= value <= 1.0:
        raise NotGradable("power_out_of_range", f"the power {answer!r} is not between 0 and 1")
    return _instance(category, str(question).strip(), value, POWER, rec.split,
                     answer_format="a number between 0 and 1: the power (graded within +/-0.01)")


# ---------------------------------------------------------------- BioCoder


BIOCODER_PROMPT = (
    "You are an expert in writing bioinformatics code. You have a Jupyter kernel with numpy, scipy, pandas, "
    "scikit-learn and Biopython.\n\n{question}\n\n{answer_format}"
)
_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")


def _function_name(signature: str, solution: str) -> str:
    names = _DEF.findall(signature or "")
    if not names:
        try:
            tree = ast.parse(solution or "")
        except SyntaxError:
            tree = None
        names = [n.name for n in (tree.body if tree else []) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not names:
        raise NotGradable("bad_signature", f"no function name in the signature {signature!r}")
    return names[0]


_UNSEEDED = re.compile(r"\b(?:random|np\.random|numpy\.random)\.(?:random|randint|randrange|choice|choices|sample|"
                       r"shuffle|uniform|gauss|normal|rand|randn|permutation|binomial|poisson)\s*\(")
_SEEDED = re.compile(r"\bseed\s*\(|default_rng\s*\(\s*\w|RandomState\s*\(\s*\w")


def _marker_line(context: str) -> str | None:
    for line in context.split("\n"):
        if kmag.MARKER in line:
            return line
    return None


class BioCoderChecker:
    """Runs a record's programs: the reference (three times, in two processes), the record's ``code``,
    and the context with a do-nothing function, to decide whether its output can grade a solution."""

    def __init__(self, timeout: float = 30.0) -> None:
        from kernelgym.importers.medagentgym_programs import ProgramRunner

        self.first = ProgramRunner(hash_seed=0, timeout=timeout)
        self.second = ProgramRunner(hash_seed=12345, timeout=timeout)

    def close(self) -> None:
        self.first.close()
        self.second.close()

    def expected_output(self, name: str, context: str, solution: str, code: str) -> tuple[dict[str, str], str | None]:
        """The reference output, and a note when the record's own ``code`` fails where the context with
        the solution runs; raises :class:`NotGradable`."""
        program = kmag.insert_solution(context, solution)
        ref = self.first.run(program)
        if not ref.ok or ref.evidence is None:
            raise NotGradable("reference_failed", f"the reference program fails here: {ref.error}")
        out = ref.evidence
        if not out["stdout"] and out["sha256"] == kmag.output_evidence("")["sha256"]:
            raise NotGradable("reference_prints_nothing",
                              "the reference program prints nothing: any program that prints nothing would pass")
        if ref.seconds > BIOCODER_MAX_SECONDS:
            raise NotGradable("reference_too_slow",
                              f"the reference program takes {ref.seconds:.1f} s; the verifier allows 5 s")
        if _UNSEEDED.search(program) and not _SEEDED.search(program):
            raise NotGradable("nondeterministic_reference",
                              "the reference program draws random numbers without setting a seed")
        for runner in (self.second, self.first):
            again = runner.run(program)
            if not again.ok or again.evidence != out:
                raise NotGradable("nondeterministic_reference",
                                  "the reference program prints something else on another run (random state or hash order)")
        stub = kmag.insert_solution(context, f"def {name}(*args, **kwargs):\n    return None")
        wrong = self.first.run(stub)
        if wrong.ok and wrong.evidence == out:
            raise NotGradable("output_independent_of_solution",
                              "the context prints the same with a function that does nothing (it defines the function "
                              "itself or never calls it): its output cannot grade a solution")
        note = None
        if code and code.strip() and code.strip() != program.strip():
            given = self.first.run(code)
            if given.ok and given.evidence != out:
                raise NotGradable("reference_mismatch",
                                  "the record's reference program (`code`) and its context with its solution print "
                                  "different outputs")
            if not given.ok:  # e.g. a method pasted into its class without indentation
                note = (f"the record's `code` fails ({given.error}); MedAgentGym's expected output is that error "
                        "message. Graded by the context with the solution inserted at the marker's indentation")
        return out, note


def convert_biocoder(rec: Record, checker: BioCoderChecker, notes: list[str]) -> dict[str, Any]:
    problem, solution, context = _need(rec, "problem", "solution", "context")
    signature = str(rec.data.get("signature") or "")
    code = str(rec.data.get("code") or "")
    context, solution = str(context), str(solution)
    line = _marker_line(context)
    if line is None:
        raise NotGradable("no_marker", f"the context has no {kmag.MARKER} marker")
    name = _function_name(signature, solution)
    if name not in _DEF.findall(solution):
        raise NotGradable("bad_signature", f"the reference solution does not define {name!r}")
    expected, note = checker.expected_output(name, context, solution, code)
    if note:
        notes.append(note)
    kind = "method" if line != line.lstrip() or re.search(r"\(\s*self\b", signature) else "function"
    # the reference defines the function as an agent would: a top-level function after the context's code
    # above the marker (its imports, helpers and decorators: a decorator runs when the function is defined)
    prelude = context.split(kmag.MARKER, 1)[0].rstrip() if line == line.lstrip() else ""
    reference = ([prelude] if prelude.strip() else []) + [solution, "submit('done')"]
    question = (
        f"{str(problem).strip()}\n\nWrite a Python function with this signature:\n\n{textwrap.indent(signature or name, '    ')}\n\n"
        f"Define it in a code cell of this kernel. After you finish, its source is inserted at {kmag.MARKER} in the "
        "context program below (also in the variable `context`), the program is run, and what it prints must equal "
        "what it prints with the reference solution. Only the function's source is inserted: put any helper inside it "
        "(it can use the context's imports and functions; a decorator from the context must be defined in the kernel "
        "before you define the function). "
        "You can run that check yourself (it shows what the program prints, not whether it is right): "
        f"`from kernelgym.kernel.medagentgym import run_program; print(run_program({name!r}, context)['stdout'])`."
        "\n\nThe context code around the function:\n\n"
        f"```python\n{context}\n```"
    )
    return _instance(
        kind, question, [expected], Grader(rule="list", case_sensitive=True), rec.split, answer_format=SUBMIT_DONE,
        inputs={"context": context}, reference=reference, verifier="function",
        verifier_args={"name": "kernelgym.kernel.medagentgym:run_program", "inputs": [[name, context]]},
    )


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


# ---------------------------------------------------------------- putting it together


SPEC_TEXT = {
    "medcalcbench": ("MedCalc-Bench", "biomed", MEDCALC_PROMPT,
                     "graded within [Lower Limit, Upper Limit] (dates as dates); labels that depart from the "
                     "published formula are left out"),
    "npowerai": ("N-PowerAI", "biomed", NPOWER_PROMPT, "sample sizes graded exactly, power within +/-0.01"),
    "biocoder": ("BioCoder", "biomed", BIOCODER_PROMPT,
                 "graded by what the context program prints with the agent's function inserted, against the "
                 "reference program's output (checked here: deterministic, non-empty, dependent on the solution)"),
    "mimic_iii": ("MIMIC-III (EHRSQL)", "ehr-mimic3", EHR_PROMPT,
                  "answers graded as normalised sets; each record's query reproduced its answer on the imported MIMIC-III"),
    "treqs": ("TREQS", "ehr-mimic3", EHR_PROMPT,
              "answers graded as normalised sets; each record's query reproduced its answer on the imported MIMIC-III"),
    "eicu": ("eICU (EHRSQL)", "ehr-mimic3", EHR_PROMPT, "not gradable: kernelgym has no eICU data set"),
    "ehrcon": ("EHRCon", "ehr-mimic3", EHRCON_PROMPT,
               "Has error graded exactly (a boolean), with the admission's annotated notes in `notes`"),
}


@dataclass
class ImportReport:
    source: str
    out_dir: str
    datasets: dict[str, DatasetResult]
    unsupported: dict[str, str]
    mimic3: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "out": self.out_dir, "mimic3": self.mimic3,
            "datasets": {k: v.summary() for k, v in self.datasets.items()}, "unsupported": self.unsupported,
            "left_out": [x.as_dict() for v in self.datasets.values() for x in v.left_out],
        }


def _drop_conflicts(items: list[tuple[Record, dict[str, Any]]], dataset: str) -> tuple[list[tuple[Record, dict[str, Any]]], list[LeftOut]]:
    """The same question (and task inputs) recorded with different answers cannot be graded."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (_, inst) in enumerate(items):
        groups[json.dumps([inst["question"], inst["inputs"]], sort_keys=True, default=str)].append(i)
    bad: set[int] = set()
    left: list[LeftOut] = []
    for idx in groups.values():
        answers = {json.dumps([items[i][1]["answer"], items[i][1]["grader"]], sort_keys=True, default=str) for i in idx}
        if len(answers) < 2:
            continue
        bad.update(idx)
        for i in idx:
            rec = items[i][0]
            others = ", ".join(f"{items[j][0].file}:{items[j][0].line}" for j in idx if j != i)
            left.append(LeftOut(dataset, rec.file, rec.line, "conflicting_duplicates",
                                f"the same question is recorded with another answer at {others}", _record_id(rec)))
    return [x for i, x in enumerate(items) if i not in bad], left


def _record_id(rec: Record) -> str | None:
    for key in ("id", "idx", "Row Number", "task_id", "Hospital admission"):
        if rec.data.get(key) not in (None, ""):
            return str(rec.data[key])
    return None


def _write_family(out: Path, dataset: str, items: list[dict[str, Any]], records: int, note: str,
                  mimic3_fp: str | None) -> Path:
    family = family_name(dataset)
    title, profile, prompt, grading = SPEC_TEXT[dataset]
    jsonl = out / f"{family}.jsonl"
    jsonl.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    description = (f"MedAgentGym's {title} tasks ({len(items)} of {records} records imported; the others are listed "
                   f"with their reasons in {REPORT_FILE}): {grading}.")
    if profile == "ehr-mimic3" and mimic3_fp:
        description += f" Checked against the imported MIMIC-III with fingerprint {mimic3_fp}."
    if note:
        description += f" {note}"
    spec = {"family": family, "description": description, "profile": profile, "prompt_template": prompt,
            "instances": jsonl.name}
    path = out / f"{family}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    return path


def import_medagentgym(
    data_dir: Path | str, out_dir: Path | str, *, only: Iterable[str] | None = None,
    mimic3_dir: Path | str | None = None, progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Convert every present data set of MedAgentGym's ``data_dir`` into a family in ``out_dir``.

    ``only``: data set folder names (``medcalcbench``, ``npowerai``, ...). ``mimic3_dir``: the imported
    MIMIC-III to check EHR answers against (default: the ``mimic3`` data set). Writes one spec and
    JSONL per family with at least one gradable record, and ``medagentgym-import.json``.
    """
    src = Path(data_dir).expanduser()
    if not src.is_dir():
        raise FileNotFoundError(f"{src} is not a folder: give MedAgentGym's data folder (with medcalcbench/, npowerai/, ...)")
    wanted = None if only is None else [o.strip() for o in only if o.strip()]
    for name in wanted or []:
        if name not in DATASETS and name not in UNSUPPORTED:
            raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    present = [p.name for p in sorted(src.iterdir()) if p.is_dir() and any((p / f).is_file() for f, _ in SPLIT_FILES)]
    if not present:
        raise FileNotFoundError(f"{src} has no data set folders with train_tasks.jsonl / test_tasks.jsonl / valid_tasks.jsonl")
    chosen = [n for n in present if wanted is None or n in wanted]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)

    mimic_root, mimic_fp = _mimic3_root(mimic3_dir)
    db: Database | None = None
    checker: BioCoderChecker | None = None
    results: dict[str, DatasetResult] = {}
    unsupported = {n: UNSUPPORTED.get(n, "not a MedAgentGym data set kernelgym knows") for n in chosen if n not in DATASETS}
    try:
        for name in [n for n in DATASETS if n in chosen]:
            records, left, counts = read_records(src / name, name)
            res = DatasetResult(name=name, files=counts, left_out=left)
            rec_notes: list[str] = []
            results[name] = res
            say(f"{name}: {len(records)} records")
            convert: Callable[[Record], dict[str, Any]]
            if name == "medcalcbench":
                methods = _calculation_methods(src / name)
                convert = lambda r: convert_medcalc(r, methods)  # noqa: E731
            elif name == "npowerai":
                convert = convert_npowerai
            elif name == "biocoder":
                if checker is None:
                    checker = BioCoderChecker()
                chk = checker
                convert = lambda r: convert_biocoder(r, chk, rec_notes)  # noqa: E731
            elif name in ("mimic_iii", "treqs", "eicu"):
                if db is None and mimic_root is not None and name != "eicu":
                    db = Database(mimic_root)
                database = db
                convert = lambda r, _n=name: convert_ehr(r, _n, database)  # noqa: E731
            else:  # ehrcon
                notes_path = src / name / "clinical_notes.csv"
                notes = _read_notes(notes_path) if notes_path.is_file() else None
                if db is None and mimic_root is not None:
                    db = Database(mimic_root)
                admissions = db.admissions() if db is not None else None
                convert = lambda r: convert_ehrcon(r, notes, admissions)  # noqa: E731
            items: list[tuple[Record, dict[str, Any]]] = []
            for rec in records:
                rec_notes.clear()
                try:
                    items.append((rec, convert(rec)))
                except NotGradable as why:
                    res.left_out.append(LeftOut(name, rec.file, rec.line, why.reason, why.detail, _record_id(rec)))
                    continue
                res.notes += [{"file": rec.file, "line": rec.line, "id": _record_id(rec), "note": n} for n in rec_notes]
            items, conflicts = _drop_conflicts(items, name)
            res.left_out.extend(conflicts)
            res.left_out.sort(key=lambda x: ([f for f, _ in SPLIT_FILES].index(x.file), x.line))
            res.imported = len(items)
            res.family, res.profile = family_name(name), SPEC_TEXT[name][1]
            if items:
                res.spec_path = _write_family(out, name, [i for _, i in items], res.records, res.note, mimic_fp)
            else:
                res.note = "no gradable record: no family written"
                for stale in (out / f"{res.family}.yaml", out / f"{res.family}.jsonl"):
                    stale.unlink(missing_ok=True)
    finally:
        if db is not None:
            db.close()
        if checker is not None:
            checker.close()
    report = ImportReport(
        source=str(src.resolve()), out_dir=str(out.resolve()), datasets=results, unsupported=unsupported,
        mimic3={"dir": str(mimic_root), "fingerprint": mimic_fp} if mimic_root else None,
    )
    data = report.as_dict()
    previous = out / REPORT_FILE
    if previous.is_file():  # an import of some data sets keeps what the report says of the others
        try:
            old = json.loads(previous.read_text(encoding="utf-8"))
            kept = {k: v for k, v in old.get("datasets", {}).items() if k not in results}
            data["datasets"] = {**kept, **data["datasets"]}
            data["unsupported"] = {**{k: v for k, v in old.get("unsupported", {}).items() if k not in chosen},
                                   **data["unsupported"]}
            data["left_out"] = [x for x in old.get("left_out", []) if x.get("dataset") in kept] + data["left_out"]
        except (ValueError, AttributeError):
            pass
    previous.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def import_command(data_dir: Path | str, out_dir: Path | str, only: str | None = None) -> str:
    """``kernelgym import medagentgym``: import and return a summary (one line per data set)."""
    names = [x for x in only.split(",")] if only else None
    report = import_medagentgym(data_dir, out_dir, only=names)
    lines = []
    for name, res in report.datasets.items():
        reasons = ", ".join(f"{k} {v}" for k, v in Counter(x.reason for x in res.left_out).most_common())
        where = f"family {res.family!r}" if res.spec_path else "no family written"
        lines.append(f"{name}: {res.imported} of {res.records} records imported ({where})"
                     + (f"; left out: {reasons}" if reasons else ""))
    for name, why in report.unsupported.items():
        lines.append(f"{name}: {why}")
    lines.append(f"report: {Path(report.out_dir) / REPORT_FILE}")
    families = [r.family for r in report.datasets.values() if r.spec_path]
    if families:
        lines.append(f"run them with: kernelgym run --specs {out_dir} --suite {','.join(families)} --split test")
    return "\n".join(lines)
