"""Task instances: one concrete task (host side: ground truth and reference included) and the part
an agent may see."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kernelgym.grading import Grade, Grader, VerifierName, grade_evidence
from kernelgym.grading.evidence import NO_EVIDENCE

Split = Literal["train", "test"]


class Source(BaseModel):
    """Where an imported instance comes from, in the source benchmark's own terms, so that results can
    be matched with the source's (e.g. MedAgentGym's task indices and ``rollout_indices.json``)."""

    model_config = ConfigDict(extra="forbid")

    benchmark: str = Field(description="the source benchmark, e.g. ``medagentgym``")
    dataset: str = Field(description="its data set, as the source names it (``biocoder``, ``mimic_iii``)")
    file: str = Field(description="the task file, relative to the source's data folder (``biocoder/test_tasks.jsonl``)")
    line: int = Field(ge=1, description="the record's line in that file (1-based)")
    split: str | None = Field(default=None, description="the source's split (mode) that runs the file: train or test")
    index: int | None = Field(
        default=None, ge=0,
        description="the record's index as the source runs it (MedAgentGym: the 0-based line of the file its "
                    "``split`` mode reads, the ``idx`` of ``env.reset(idx)`` and of ``rollout_indices.json``); "
                    "None when the source does not run this file")
    record_id: str | None = Field(default=None, description="the record's own id field, if it has one (not always unique)")

    def label(self) -> str:
        """``dataset:split:index`` (the selector that picks it), or ``file:line`` without an index."""
        if self.split is not None and self.index is not None:
            return f"{self.dataset}:{self.split}:{self.index}"
        return f"{self.file}:{self.line}"


class Instance(BaseModel):
    """One concrete task. ``ground_truth`` and ``reference`` stay on the host side."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*/\d{5}$")
    family: str
    category: str
    split: Split
    profile: str
    prompt: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    answer_format: str = ""
    grader: Grader = Field(default_factory=Grader)
    ground_truth: Any = None
    reference: list[str] = Field(default_factory=list)
    dataset_fingerprint: str | None = None
    verifier: VerifierName = "answer"
    verifier_args: dict[str, Any] = Field(default_factory=dict, description="hidden inputs of the verifier")
    source: Source | None = Field(default=None, description="an imported instance's record in its source benchmark")

    def public(self) -> TaskInfo:
        """What an agent may see: everything but the ground truth and the reference solution."""
        return TaskInfo(
            id=self.id, family=self.family, category=self.category, split=self.split,
            profile=self.profile, prompt=self.prompt, inputs=self.inputs,
            answer_format=self.answer_format,
        )

    def verdict(self, evidence: Sequence[dict[str, Any]], *, no_evidence: str = NO_EVIDENCE) -> tuple[Any, Grade]:
        """The answer and grade of a verifier's ``evidence`` for this instance
        (:func:`kernelgym.grading.grade_evidence` with this instance's verifier, truth and grader)."""
        return grade_evidence(
            evidence, verifier=self.verifier, truth=self.ground_truth, grader=self.grader, no_evidence=no_evidence
        )


class TaskInfo(BaseModel):
    """The agent-visible part of an instance."""

    id: str
    family: str
    category: str
    split: Split
    profile: str
    prompt: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    answer_format: str = ""


def slug(task_id: str) -> str:
    """A file-name-safe form of a task id: ``ehr/first_lab/00001`` -> ``ehr__first_lab__00001``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "__", task_id)
