"""What ``kernelgym grade`` records: one :class:`GradeRecord` per notebook (a line of ``grades.jsonl``), its options and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

GRADES = "grades.jsonl"








NO_VERIFIER_STOPS = ("kernel_died", "timeout_killed", "kernel_start_failed")
"""Episodes that end this way had no kernel left to run a verifier in: none was recorded."""


class GradeError(ValueError):
    """A notebook cannot be graded at all (unreadable, invalid, no or unknown task id)."""


class GradeRecord(BaseModel):
    """One line of ``grades.jsonl``."""

    task_id: str | None
    notebook: str
    graded_notebook: str | None = None
    passed: bool = False
    score: float = 0.0
    answer: Any = None
    expected: Any = None
    explanation: str = ""
    reproducible: bool | None = Field(
        default=None, description="replayed answer == recorded answer; None if the notebook recorded none"
    )
    recorded_answer: Any = None
    claimed_passed: bool | None = None
    tampered: bool = False
    tamper_reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    diverged_cells: list[int] = Field(
        default_factory=list, description="code cells whose replayed outputs differ from the recorded ones"
    )
    kind: str | None = Field(default=None, description="episode | starter | notebook")
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class GradeOptions:
    """How notebooks are graded."""

    concurrency: int = 2
    timeout: float = 600.0
    """Wall-clock seconds per notebook (kernel start included); past it the kernel is killed."""
    cell_timeout: float | None = None
    """Seconds before a cell is interrupted (default: the notebook timeout)."""
    start_timeout: float = 120.0
    progress: bool = True
