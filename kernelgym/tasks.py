"""Task specs, task instances and the task store (host side only).

A *task spec* (``task_specs/*.yaml``) describes one family of tasks. Its instances either come from
a Python generator (a module exposing ``CATEGORIES`` and ``open_context``) or are listed in a JSONL
file beside the spec, each with its ground truth and grading rule, so that a family can be added
without writing Python.

Instances are generated deterministically from the spec, the seed and the data set, and cached in
the task store under ``$KERNELGYM_HOME/tasks``. The store holds ground truth: it lives on the host
side only and is never given to a kernel.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kernelgym.grading import Grader
from kernelgym.kernel.paths import kernelgym_home

Split = Literal["train", "test"]
VerifierName = Literal["answer", "function"]
"""``answer``: grade the value passed to ``submit()``. ``function``: call the agent's named function
on hidden inputs (``verifier_args``) and grade its outputs against the expected outputs."""
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

    def public(self) -> TaskInfo:
        """What an agent may see: everything but the ground truth and the reference solution."""
        return TaskInfo(
            id=self.id, family=self.family, category=self.category, split=self.split,
            profile=self.profile, prompt=self.prompt, inputs=self.inputs,
            answer_format=self.answer_format,
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


# ---------------------------------------------------------------- loading specs


def _fix_hint(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "add it"
    if kind == "extra_forbidden":
        return "remove it (unknown field)"
    return str(err.get("msg", "invalid value"))


def load_spec(path: Path | str) -> TaskSpec:
    """Read and validate one spec file; raises :class:`TaskSpecError` naming file and field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise TaskSpecError(path, "-", "file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        raise TaskSpecError(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise TaskSpecError(path, "-", "the file must be a YAML mapping (family:, profile:, ...)")
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "-"
        raise TaskSpecError(path, field, _fix_hint(err)) from None
    spec.source_path = str(path.resolve())
    if spec.generator is not None:
        try:
            module = importlib.import_module(spec.generator.module)
        except ImportError as exc:
            raise TaskSpecError(path, "generator.module", f"cannot import {spec.generator.module!r}: {exc}") from None
        known = getattr(module, "CATEGORIES", None)
        if not isinstance(known, dict):
            raise TaskSpecError(path, "generator.module", "the module has no CATEGORIES dict")
        for i, cat in enumerate(spec.categories or []):
            if cat.name not in known:
                raise TaskSpecError(
                    path, f"categories.{i}", f"unknown category {cat.name!r}; known: {', '.join(sorted(known))}"
                )
    else:
        assert spec.instances is not None
        if not (path.parent / spec.instances).is_file():
            raise TaskSpecError(path, "instances", f"file {spec.instances!r} not found next to the spec")
    return spec


def spec_dirs() -> list[Path]:
    """Folders searched for specs: ``$KERNELGYM_SPECS`` (``:``-separated), then the built-in ones."""
    import os

    dirs = [Path(p) for p in os.environ.get("KERNELGYM_SPECS", "").split(os.pathsep) if p]
    dirs.append(resource_dir("task_specs"))
    return dirs


def resource_dir(name: Literal["task_specs", "kernels"]) -> Path:
    """The project's ``task_specs/`` or ``kernels/`` folder (source checkout or installed wheel)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / name, here / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"kernelgym's {name}/ folder is missing from {here.parent}; reinstall kernelgym")


@cache
def _all_specs() -> dict[str, TaskSpec]:
    specs: dict[str, TaskSpec] = {}
    for d in spec_dirs():
        for p in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
            spec = load_spec(p)
            specs.setdefault(spec.family, spec)
    return specs


def families() -> dict[str, TaskSpec]:
    """Every known family, by name (data-set variants such as ``ehr-mimic3`` are not listed)."""
    return dict(_all_specs())


def variant_profile(profile: str, dataset: str) -> str | None:
    """The profile that runs ``profile``'s tasks on data set ``dataset`` (``ehr`` + ``mimic3`` ->
    ``ehr-mimic3``), or None when kernelgym ships no such profile."""
    candidate = f"{profile}-{dataset}"
    try:
        return candidate if (resource_dir("kernels") / candidate / "kernel.json").is_file() else None
    except FileNotFoundError:
        return None


def variant_name(family: str, dataset: str) -> str:
    """The family name of ``family`` run on data set ``dataset``: ``<family>-<dataset>``."""
    return f"{family}-{dataset}"


def get_spec(family: str) -> TaskSpec:
    """A family's spec; ``<family>-<dataset>`` is ``<family>`` generated on another data set (its
    profile ``<profile>-<dataset>``, e.g. ``ehr-mimic3`` for the imported MIMIC-III)."""
    specs = _all_specs()
    if family in specs:
        return specs[family]
    base, sep, dataset = family.rpartition("-")
    while sep:
        spec = specs.get(base)
        if spec is not None and spec.generator is not None:
            profile = variant_profile(spec.profile, dataset)
            if profile is not None:
                return spec.model_copy(update={"family": family, "profile": profile})
        head, sep, tail = base.rpartition("-")
        base, dataset = head, f"{tail}-{dataset}"
    raise KeyError(f"unknown task family {family!r}; known: {', '.join(sorted(specs)) or 'none'}")


# ---------------------------------------------------------------- generating instances


def _split_of(instance_id: str, test_fraction: float) -> Split:
    h = int(hashlib.sha256(instance_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_fraction else "train"


def _render_prompt(spec: TaskSpec, question: str, answer_format: str, inputs: dict[str, Any]) -> str:
    fmt = f"Answer format: {answer_format}." if answer_format else ""
    return spec.prompt_template.format(question=question, answer_format=fmt, inputs=inputs).strip()


def _generate(spec: TaskSpec, dataset_fingerprint: str | None) -> list[Instance]:
    assert spec.generator is not None
    module = importlib.import_module(spec.generator.module)
    cats: dict[str, Category] = module.CATEGORIES
    chosen = spec.categories or [CategoryOverride(name=n) for n in cats]
    out: list[Instance] = []
    with _open_generator_context(module, spec.profile) as ctx:
        for over in chosen:
            cat = cats[over.name]
            grader = over.grader or cat.grader
            n = over.per_category or spec.generator.per_category
            rng = random.Random(f"{spec.generator.seed}/{spec.family}/{cat.name}")
            seen: set[str] = set()
            attempts = stale = 0
            patience = spec.generator.patience
            while len(seen) < n and attempts < n * 20 and (patience is None or stale < patience):
                attempts += 1
                stale += 1
                draft = cat.generate(ctx, rng)
                if draft is None or draft.question in seen:
                    continue
                seen.add(draft.question)
                stale = 0
                iid = f"{spec.family}/{cat.name}/{len(seen) - 1:05d}"
                out.append(
                    Instance(
                        id=iid, family=spec.family, category=cat.name,
                        split=_split_of(iid, spec.generator.test_fraction), profile=spec.profile,
                        prompt=_render_prompt(spec, draft.question, cat.answer_format, draft.inputs),
                        inputs=draft.inputs, answer_format=cat.answer_format, grader=draft.grader or grader,
                        ground_truth=draft.answer, reference=draft.reference,
                        dataset_fingerprint=dataset_fingerprint,
                        verifier=draft.verifier or spec.verifier, verifier_args=draft.verifier_args,
                    )
                )
    return out


def _open_generator_context(module: Any, profile: str) -> contextlib.AbstractContextManager[Any]:
    """``module.open_context()``; with ``profile=`` when it takes one (a family that runs on several
    data sets opens the data of the profile it generates for)."""
    import inspect

    if "profile" in inspect.signature(module.open_context).parameters:
        return module.open_context(profile=profile)
    return module.open_context()


def _from_jsonl(spec: TaskSpec) -> list[Instance]:
    assert spec.instances is not None and spec.source_path is not None
    path = Path(spec.source_path).parent / spec.instances
    counters: dict[str, int] = {}
    out: list[Instance] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = JsonlInstance.model_validate_json(line)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "-"
            raise TaskSpecError(f"{path}:{lineno}", field, _fix_hint(err)) from None
        k = counters.get(rec.category, 0)
        counters[rec.category] = k + 1
        iid = f"{spec.family}/{rec.category}/{k:05d}"
        out.append(
            Instance(
                id=iid, family=spec.family, category=rec.category,
                split=rec.split or _split_of(iid, 0.5), profile=spec.profile,
                prompt=_render_prompt(spec, rec.question, rec.answer_format, rec.inputs),
                inputs=rec.inputs, answer_format=rec.answer_format, grader=rec.grader,
                ground_truth=rec.answer, reference=rec.reference,
                verifier=rec.verifier or spec.verifier, verifier_args=rec.verifier_args,
            )
        )
    return out


def _dataset_fingerprint(profile: str) -> str | None:
    from kernelgym.profiles import ensure_profile_data

    return ensure_profile_data(profile)


def _store_key(spec: TaskSpec, dataset_fp: str | None) -> str:
    blob = spec.model_dump_json() + (dataset_fp or "")
    if spec.instances and spec.source_path:
        blob += (Path(spec.source_path).parent / spec.instances).read_text()
    if spec.generator:
        module = importlib.import_module(spec.generator.module)
        blob += str(getattr(module, "GENERATOR_VERSION", ""))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def instances(family: str) -> list[Instance]:
    """All instances of a family, generated on first use and cached in the task store."""
    return list(_instances(family))


def store_path(family: str) -> Path:
    """The task store file of a family's instances (whether or not they are generated yet). Builds
    the family's data set if it is missing: the file name depends on the data's fingerprint."""
    spec = get_spec(family)
    return kernelgym_home() / "tasks" / family / f"{_store_key(spec, _dataset_fingerprint(spec.profile))}.jsonl"


@cache
def _instances(family: str) -> tuple[Instance, ...]:
    spec = get_spec(family)
    dataset_fp = _dataset_fingerprint(spec.profile)
    key = _store_key(spec, dataset_fp)
    store = kernelgym_home() / "tasks" / family / f"{key}.jsonl"
    if store.is_file():
        return tuple(Instance.model_validate_json(line) for line in store.read_text().splitlines() if line)
    items = _generate(spec, dataset_fp) if spec.generator else _from_jsonl(spec)
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_suffix(f".tmp{random.getrandbits(32)}")
    tmp.write_text("".join(i.model_dump_json() + "\n" for i in items))
    tmp.replace(store)
    return tuple(items)


T = TypeVar("T")


def generation_jobs() -> int:
    """How many families :func:`map_families` generates at a time: ``$KERNELGYM_JOBS``, default
    the number of CPUs this process may use."""
    import os

    env = os.environ.get("KERNELGYM_JOBS", "").strip()
    if env:
        return max(1, int(env))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def map_families(fn: Callable[[str], T], names: Sequence[str], *, jobs: int | None = None) -> list[T]:
    """``[fn(name) for name in names]`` (family names), with the families whose instances are not
    in the task store yet generated in parallel.

    ``fn`` gets a family name and typically calls :func:`instances`; it must be a module-level
    function (it is pickled) and should return something small (it is sent back). The families'
    data sets are built first, one at a time, in this process. Then, if at least two families
    must be generated and ``jobs`` (default :func:`generation_jobs`) is above 1, every ``fn(name)``
    runs in a pool of up to ``jobs`` fresh (spawned) processes, the families to generate first;
    otherwise all run here (also in a daemonic process, which may not start any). Generation is
    deterministic, so the stores are the same either way.
    """
    import multiprocessing

    names = list(names)
    missing = {n for n in names if not store_path(n).is_file()}  # also builds the data sets
    jobs = generation_jobs() if jobs is None else max(1, jobs)
    if jobs < 2 or len(missing) < 2 or multiprocessing.current_process().daemon:
        return [fn(n) for n in names]
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(range(len(names)), key=lambda i: names[i] not in missing)  # stable: missing first
    results: dict[int, T] = {}
    with ProcessPoolExecutor(max_workers=min(jobs, len(missing)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {i: pool.submit(_in_worker, fn, names[i]) for i in order}
        try:
            for i in order:
                results[i] = futures[i].result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [results[i] for i in range(len(names))]


def _in_worker(fn: Callable[[str], T], family: str) -> T:
    try:
        return fn(family)
    finally:
        _instances.cache_clear()  # a worker runs several families: keep one family's instances at most


def get_instance(task_id: str) -> Instance:
    """Look up one instance by id (``family/category/NNNNN``).

    Raises KeyError saying what is wrong with the id: its shape, an unknown category (with the
    closest names), or a number outside the category's range."""
    family = task_id.split("/", 1)[0]
    insts = _instances(family)
    for inst in insts:
        if inst.id == task_id:
            return inst
    raise KeyError(_unknown_task(task_id, family, insts))


def _unknown_task(task_id: str, family: str, insts: tuple[Instance, ...]) -> str:
    import difflib

    parts = task_id.split("/")
    listing = f"`kernelgym tasks stats --suite {family} --categories` lists the categories and their counts"
    if len(parts) != 3:
        return f"no task {task_id!r}: task ids are family/category/NNNNN, e.g. {insts[0].id if insts else family + '/cat/00000'}"
    counts = Counter(i.category for i in insts)
    category = parts[1]
    if category not in counts:
        close = difflib.get_close_matches(category, list(counts), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return f"no task {task_id!r}: family {family!r} has no category {category!r}; {hint}{listing}"
    return (f"no task {task_id!r}: category {family}/{category} has instances 00000 to "
            f"{counts[category] - 1:05d}")


def select(
    suite: str,
    *,
    split: Split | None = None,
    limit: int | None = None,
    per_category: int | None = None,
    categories: list[str] | None = None,
    dataset: str | None = None,
) -> list[Instance]:
    """Pick instances of a suite (a family name, ``all``, or comma-separated names).

    Order is deterministic and interleaves categories, so ``--limit`` gives a balanced sample.
    ``dataset`` (e.g. ``mimic3``) runs every family of the suite on that data set instead
    (the ``<family>-<dataset>`` variants); with ``all``, the families that have such a variant.
    """
    names = sorted(families()) if suite == "all" else [s.strip() for s in suite.split(",") if s.strip()]
    if dataset:
        if suite == "all":
            names = [n for n in names if variant_profile(get_spec(n).profile, dataset)]
        names = [variant_name(n, dataset) for n in names]
        for n in names:
            get_spec(n)  # a clear KeyError for a family without that data set
    pool: list[Instance] = []
    for name in names:
        pool.extend(_instances(name))
    if split:
        pool = [i for i in pool if i.split == split]
    if categories:
        pool = [i for i in pool if i.category in categories]
    by_cat: dict[str, list[Instance]] = {}
    for inst in pool:
        by_cat.setdefault(f"{inst.family}/{inst.category}", []).append(inst)
    if per_category is not None:
        by_cat = {k: v[:per_category] for k, v in by_cat.items()}
    out: list[Instance] = []
    queues = [iter(v) for _, v in sorted(by_cat.items())]
    while queues:
        nxt = []
        for q in queues:
            item = next(q, None)
            if item is not None:
                out.append(item)
                nxt.append(q)
        queues = nxt
    return out[:limit] if limit is not None else out


def iter_specs_errors(paths: list[Path]) -> Iterator[TaskSpecError]:
    """Validate spec files, yielding one error per bad file (for ``kernelgym tasks check``)."""
    for p in paths:
        try:
            spec = load_spec(p)
            if spec.instances:
                _from_jsonl(spec)
        except TaskSpecError as err:
            yield err


def slug(task_id: str) -> str:
    """A file-name-safe form of a task id: ``ehr/first_lab/00001`` -> ``ehr__first_lab__00001``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "__", task_id)


def dump_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
