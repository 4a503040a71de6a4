"""Task specs (``task_specs/*.yaml``): one family of tasks each, loaded and validated.

A *task spec* describes one family of tasks. Its instances either come from a Python generator (a
module exposing ``CATEGORIES`` and ``open_context``) or are listed in a JSONL file beside the spec,
each with its ground truth and grading rule, so that a family can be added without writing Python.
"""

from __future__ import annotations

import contextlib
import importlib
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kernelgym.grading import Grader, VerifierName
from kernelgym.tasks.instance import Source, Split

_NAME = r"^[a-z][a-z0-9_-]*$"


class TaskSpecError(ValueError):
    """A task spec file is malformed. ``str(err)`` is one line naming the file, the field and the fix."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{path}: field '{field}': {problem}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable: raised in a worker process, re-raised here
        return (type(self), (self.path, self.field, self.problem))


class Draft(BaseModel):
    """What a category generator returns for one instance, before ids and splits are assigned."""

    question: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    answer: Any
    reference: list[str] = Field(min_length=1, description="code cells that solve it; the last calls submit(...)")
    verifier: VerifierName | None = Field(default=None, description="None: the spec's verifier")
    verifier_args: dict[str, Any] = Field(
        default_factory=dict,
        description="hidden verifier inputs, e.g. {'name': 'gc_content', 'inputs': [[arg, ...], ...]}; "
        "they appear only in the verifier cell, which runs after the agent is done",
    )
    grader: Grader | None = Field(
        default=None, description="None: the category's grader (or the spec's override for it)"
    )


class Category(BaseModel):
    """One category of a generated family: a named template with its answer type and grader."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    description: str
    grader: Grader = Field(default_factory=Grader)
    answer_format: str = Field(default="", description="told to the agent, e.g. 'a number in mg/dL'")
    answer_values: int | None = Field(
        default=None, ge=2,
        description="the answer can only take this many values (a yes/no, a class label): a constant answer "
        "may then pass 1/k of the instances, and the bound on it is 1/k + 5 points instead of 20 % "
        "(``kernelgym tasks stats --baselines``); a ``boolean`` grader implies 2",
    )
    max_share: float | None = Field(
        default=None, gt=0, le=1,
        description="balance the answers: at most this share of a split's instances may have one answer "
        "(compared as the grader compares them); the generator's drafts over it are skipped, so the category "
        "may come out smaller than asked",
    )
    generate: Callable[[Any, random.Random], Draft | None] = Field(exclude=True)


class GeneratorFamily(Protocol):
    """What a generator module must expose."""

    CATEGORIES: dict[str, Category]

    def open_context(self) -> contextlib.AbstractContextManager[Any]: ...


class GeneratorSpec(BaseModel):
    """``generator:`` section of a spec: which module generates instances, and how many."""

    model_config = ConfigDict(extra="forbid")

    module: str = Field(description="importable module exposing CATEGORIES and open_context()")
    per_category: int = Field(default=20, ge=1, le=100_000)
    seed: int = 0
    test_fraction: float = Field(default=0.5, ge=0.0, le=1.0)
    patience: int | None = Field(
        default=None, ge=1,
        description="stop a category after this many attempts in a row without a new instance (a small "
        "data set has fewer distinct questions than per_category); default: try 20 x per_category times",
    )


class CategoryOverride(BaseModel):
    """A category listed in a spec; optionally overriding its grader or count."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    grader: Grader | None = None
    per_category: int | None = Field(default=None, ge=1)


class TaskSpec(BaseModel):
    """One family of tasks, as written in ``task_specs/<family>.yaml``."""

    model_config = ConfigDict(extra="forbid")

    family: str = Field(pattern=_NAME)
    description: str
    profile: str = Field(pattern=_NAME)
    prompt_template: str = Field(
        default="{question}\n\n{answer_format}",
        description="wraps each question; fields: {question}, {answer_format}, {inputs}",
    )
    verifier: VerifierName = "answer"
    generator: GeneratorSpec | None = None
    instances: str | None = Field(default=None, description="JSONL file of instances, relative to the spec")
    categories: list[CategoryOverride] | None = None
    source_path: str | None = Field(default=None, exclude=True)

    @field_validator("categories", mode="before")
    @classmethod
    def _names_to_overrides(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"name": x} if isinstance(x, str) else x for x in v]
        return v

    @model_validator(mode="after")
    def _one_source(self) -> TaskSpec:
        if (self.generator is None) == (self.instances is None):
            raise ValueError("give exactly one of 'generator' or 'instances'")
        return self


class JsonlInstance(BaseModel):
    """One line of a spec's ``instances:`` JSONL file."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(pattern=_NAME)
    question: str
    answer: Any
    grader: Grader = Field(default_factory=Grader)
    inputs: dict[str, Any] = Field(default_factory=dict)
    split: Split | None = None
    answer_format: str = ""
    reference: list[str] = Field(default_factory=list)
    verifier: VerifierName | None = None
    verifier_args: dict[str, Any] = Field(default_factory=dict)
    source: Source | None = None
    """An imported record's place in its source benchmark (:class:`kernelgym.tasks.instance.Source`)."""


# ---------------------------------------------------------------- loading specs


def fix_hint(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "add it"
    if kind == "extra_forbidden":
        return "remove it (unknown field)"
    return str(err.get("msg", "invalid value"))


def load_spec(path: Path | str) -> TaskSpec:
    """Read and validate one spec file; raises :class:`TaskSpecError` naming file and field (the first
    problem; :func:`spec_errors` lists them all)."""
    spec, errors = spec_errors(path)
    if errors:
        raise errors[0]
    assert spec is not None
    return spec


def _known_profiles() -> list[str]:
    from kernelgym._package import resource_dir

    try:
        return sorted(p.parent.name for p in resource_dir("kernels").glob("*/kernel.json"))
    except FileNotFoundError:
        return []


def spec_errors(path: Path | str) -> tuple[TaskSpec | None, list[TaskSpecError]]:
    """Read and validate one spec file: the spec (None when it is not valid) and **every** problem
    found, one :class:`TaskSpecError` each (a field, an unknown profile, module or category)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return None, [TaskSpecError(path, "-", "file not found")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        return None, [TaskSpecError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(raw, dict):
        return None, [TaskSpecError(path, "-", "the file must be a YAML mapping (family:, profile:, ...)")]
    errors: list[TaskSpecError] = []
    spec: TaskSpec | None = None
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "-"
            errors.append(TaskSpecError(path, field, fix_hint(err)))
    profile = raw.get("profile")
    known_profiles = _known_profiles()
    if isinstance(profile, str) and known_profiles and profile not in known_profiles:
        errors.append(TaskSpecError(path, "profile", f"unknown profile {profile!r}; known: {', '.join(known_profiles)}"))
    if spec is None:
        return None, errors
    spec.source_path = str(path.resolve())
    if spec.generator is not None:
        try:
            module = importlib.import_module(spec.generator.module)
        except ImportError as exc:
            errors.append(TaskSpecError(path, "generator.module", f"cannot import {spec.generator.module!r}: {exc}"))
            return None, errors
        known = getattr(module, "CATEGORIES", None)
        if not isinstance(known, dict):
            errors.append(TaskSpecError(path, "generator.module", "the module has no CATEGORIES dict"))
            return None, errors
        for i, cat in enumerate(spec.categories or []):
            if cat.name not in known:
                errors.append(TaskSpecError(
                    path, f"categories.{i}", f"unknown category {cat.name!r}; known: {', '.join(sorted(known))}"
                ))
    else:
        assert spec.instances is not None
        if not (path.parent / spec.instances).is_file():
            errors.append(TaskSpecError(path, "instances", f"file {spec.instances!r} not found next to the spec"))
    return (None if errors else spec), errors
