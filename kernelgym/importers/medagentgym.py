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
npowerai       biomed      test type x size|power                sizes exactly, power within +/-1 %
                                                                 of the true power (N-PowerAI's rule)
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
  run, or prints the same with a function that solves nothing (:data:`kernelgym.grading.DUMMIES`:
  a constant, the first input handed back, raising).
- EHR: the record's SQL query, run on the imported database (``kernelgym data import mimic3``),
  fails or does not give the recorded answer; eICU records always (kernelgym has no eICU import).
- EHRCon: no annotated notes for the admission (``ehrcon/clinical_notes.csv``), an admission that is
  not in the imported MIMIC-III, ``Has error`` contradicting ``Number of inconsistencies``.
- Any data set: the same question recorded with different answers.

Every instance keeps its record's provenance (``source``: file, line, record id, and MedAgentGym's
mode and index for the record, :func:`~kernelgym.importers.medagentgym_records.source_of`), which
``kernelgym run --source-ids`` selects by. A chosen folder that gives no family gets a line in the
report (``unsupported``). Host side only: ground truth, reference programs and queries never enter a
kernel.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kernelgym.calculators import REGISTRY
from kernelgym.grading import Grader
from kernelgym.importers import medcalc_bench as mb
from kernelgym.importers.medagentgym_biocoder import BIOCODER_PROMPT, BioCoderChecker, convert_biocoder
from kernelgym.importers.medagentgym_ehr import (
    EHR_PROMPT,
    EHRCON_PROMPT,
    Database,
    _mimic3_root,
    _read_notes,
    convert_ehr,
    convert_ehrcon,
)
from kernelgym.importers.medagentgym_records import (
    FAMILY_PREFIX,
    REPORT_FILE,
    SPLIT_FILES,
    DatasetResult,
    LeftOut,
    NotGradable,
    Record,
    _instance,
    _need,
    _record_id,
    family_name,
    read_records,
    slug,
    source_of,
)

__all__ = [
    "DATASETS", "FAMILY_PREFIX", "REPORT_FILE", "SPLIT_FILES", "UNSUPPORTED", "DatasetResult", "ImportReport",
    "LeftOut", "NotGradable", "Record", "family_name", "import_command", "import_medagentgym", "read_records", "slug",
]

DATASETS = ("medcalcbench", "npowerai", "biocoder", "mimic_iii", "eicu", "treqs", "ehrcon")
UNSUPPORTED = {
    "biodsbench": "not imported: its tasks need the BioDSBench data files and an output checker per task",
    "ehrshot": "not imported: EHRSHOT needs its own credentialed data set, which kernelgym cannot import",
    "medagentbench": "not imported: MedAgentBench grades calls to a FHIR server, which kernelgym does not run",
    "mimic_extract": "not imported: MIMIC-Extract needs its preprocessed HDF5 files",
    "ehr_seqsql": "not imported: EHR-SeqSQL's multi-turn questions have no single-answer schema here",
}


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
POWER = Grader(rule="numeric", rel_tol=0.01)
"""N-PowerAI's own rule for a power (MedAgentGym's ``npowerai.py``: strictly between 0.99 and 1.01 times
the true power; here the bounds are included). Each source keeps its own tolerance: MedCalc-Bench's
[Lower Limit, Upper Limit], N-PowerAI's 1 % relative band, never one rule for all."""


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
                     answer_format="a number between 0 and 1: the power (graded within +/-1 % of the true power)")


# ---------------------------------------------------------------- putting it together


SPEC_TEXT = {
    "medcalcbench": ("MedCalc-Bench", "biomed", MEDCALC_PROMPT,
                     "graded within [Lower Limit, Upper Limit] (dates as dates); labels that depart from the "
                     "published formula are left out"),
    "npowerai": ("N-PowerAI", "biomed", NPOWER_PROMPT,
                 "sample sizes graded exactly, power within +/-1 % of the true power (N-PowerAI's rule)"),
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


def _not_imported(src: Path, folders: list[str], present: list[str], wanted: list[str] | None) -> dict[str, str]:
    """One line for every chosen folder that gives no family for a reason of its own, so that none is
    passed over in silence: a data set kernelgym does not import (with or without task files: EHRSHOT
    keeps its tasks in ``task.jsonl``), a known data set without task files, and a ``--only`` name that
    has no folder."""
    out: dict[str, str] = {}
    task_files = "/".join(f for f, _ in SPLIT_FILES)
    for name in folders:
        if wanted is not None and name not in wanted:
            continue
        if name in present and name in DATASETS:
            continue
        files = sorted(p.name for p in (src / name).iterdir() if p.is_file())
        more = " ..." if len(files) > 5 else ""
        listing = f"; the folder holds {', '.join(files[:5])}{more}" if files else "; the folder is empty"
        if name not in DATASETS:
            why = UNSUPPORTED.get(name, "not a MedAgentGym data set kernelgym knows")
            out[name] = why + ("" if name in present else listing)
        else:
            out[name] = f"nothing imported: no task file ({task_files}){listing}"
    for name in wanted or []:
        if name not in folders:
            out[name] = f"nothing imported: {src} has no folder {name!r}"
    return out


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
    folders = [p.name for p in sorted(src.iterdir()) if p.is_dir() and not p.name.startswith((".", "_"))]
    present = [n for n in folders if any((src / n / f).is_file() for f, _ in SPLIT_FILES)]
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
    unsupported = _not_imported(src, folders, present, wanted)
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
                    items.append((rec, {**convert(rec), "source": source_of(rec)}))
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
            data["unsupported"] = {**{k: v for k, v in old.get("unsupported", {}).items()
                                      if k not in chosen and k not in unsupported},
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
