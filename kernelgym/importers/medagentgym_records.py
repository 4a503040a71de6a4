"""MedAgentGym's task files read as records, what a converter gives back, and the import report's
entries (``kernelgym import medagentgym``; :mod:`kernelgym.importers.medagentgym` puts them together)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelgym.grading import Grader

FAMILY_PREFIX = "medagentgym"
REPORT_FILE = "medagentgym-import.json"
SPLIT_FILES = (("train_tasks.jsonl", "train"), ("train_tasks_all.jsonl", "train"), ("test_tasks.jsonl", "test"),
               ("valid_tasks.jsonl", "test"))
"""Task files and their kernelgym split. ``valid_tasks.jsonl`` is what MedAgentGym runs as its test set where a
data set has no ``test_tasks.jsonl``; ``train_tasks_all.jsonl`` is MedCalc-Bench's training file there (read only
when there is no ``train_tasks.jsonl``)."""


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


def _record_id(rec: Record) -> str | None:
    for key in ("id", "idx", "Row Number", "task_id", "Hospital admission"):
        if rec.data.get(key) not in (None, ""):
            return str(rec.data[key])
    return None


RUN_FILES: dict[str, dict[str, str]] = {
    "medcalcbench": {"test": "test_tasks.jsonl", "train": "train_tasks_all.jsonl"},
    "mimic_iii": {"test": "valid_tasks.jsonl", "train": "train_tasks.jsonl"},
    "eicu": {"test": "valid_tasks.jsonl", "train": "train_tasks.jsonl"},
}
"""The file each of MedAgentGym's modes (``test``, ``train``) reads, where it is not ``test_tasks.jsonl`` /
``train_tasks.jsonl`` (its ``ehr_gym/env/task/<data set>.py``). A record's index in that file is the
``idx`` of MedAgentGym's ``env.reset(idx)`` and of its ``rollout_indices.json``."""


def source_of(rec: Record) -> dict[str, Any]:
    """The record's provenance (:class:`kernelgym.tasks.instance.Source` as JSON): its file and line,
    its record id, and, when MedAgentGym runs that file in its ``train`` or ``test`` mode, the mode and
    the index it runs the record under (the 0-based line: MedAgentGym reads every line of the file)."""
    runs = RUN_FILES.get(rec.dataset, {"test": "test_tasks.jsonl", "train": "train_tasks.jsonl"})
    mode = rec.split if runs.get(rec.split) == rec.file else None
    return {"benchmark": FAMILY_PREFIX, "dataset": rec.dataset, "file": f"{rec.dataset}/{rec.file}", "line": rec.line,
            "split": mode, "index": rec.line - 1 if mode else None, "record_id": _record_id(rec)}
