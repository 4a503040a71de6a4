"""The task store: instances generated from specs (host side only).

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
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from kernelgym.grading import Grader
from kernelgym.grading.rules import answer_class
from kernelgym.kernel.paths import kernelgym_home
from kernelgym.tasks.instance import Instance, Split
from kernelgym.tasks.registry import _all_specs, get_spec
from kernelgym.tasks.spec import (
    Category,
    CategoryOverride,
    JsonlInstance,
    TaskSpec,
    TaskSpecError,
    fix_hint,
    spec_errors,
)


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
            out.extend(_generate_category(spec, cats[over.name], over, ctx, dataset_fingerprint))
    return out


def _generate_category(
    spec: TaskSpec, cat: Category, over: CategoryOverride, ctx: Any, dataset_fingerprint: str | None,
) -> Iterator[Instance]:
    """A category's instances in store order. Each category draws from its own random stream, so
    the first k instances are the same whether or not the rest (or other categories) are generated:
    :func:`category_instances` stops early and gets the store's prefix."""
    assert spec.generator is not None
    grader = over.grader or cat.grader
    n = over.per_category or spec.generator.per_category
    rng = random.Random(f"{spec.generator.seed}/{spec.family}/{cat.name}")
    seen: set[str] = set()
    balance = _Balance(cat.max_share, grader) if cat.max_share else None
    attempts = stale = 0
    patience = spec.generator.patience
    while len(seen) < n and attempts < n * 20 and (patience is None or stale < patience):
        attempts += 1
        stale += 1
        draft = cat.generate(ctx, rng)
        if draft is None or draft.question in seen:
            continue
        iid = f"{spec.family}/{cat.name}/{len(seen):05d}"
        split = _split_of(iid, spec.generator.test_fraction)
        if balance is not None and not balance.admit(split, draft.answer, draft.grader):
            continue
        seen.add(draft.question)
        stale = 0
        yield Instance(
            id=iid, family=spec.family, category=cat.name,
            split=split, profile=spec.profile,
            prompt=_render_prompt(spec, draft.question, cat.answer_format, draft.inputs),
            inputs=draft.inputs, answer_format=cat.answer_format, grader=draft.grader or grader,
            ground_truth=draft.answer, reference=draft.reference,
            dataset_fingerprint=dataset_fingerprint,
            verifier=draft.verifier or spec.verifier, verifier_args=draft.verifier_args,
        )


class _Balance:
    """A category's answers kept balanced while it is generated: a draft is admitted when its answer
    would then hold at most ``ceil(max_share * n)`` of the ``n`` instances of its split (rounded up, so
    that k answers of share 1/k can alternate).
    Answers are counted by :func:`kernelgym.grading.rules.answer_class` (as the grader compares them)."""

    def __init__(self, max_share: float, grader: Grader) -> None:
        self.max_share, self.grader = max_share, grader
        self.counts: dict[str, Counter[str]] = {"train": Counter(), "test": Counter()}

    def admit(self, split: str, answer: Any, grader: Grader | None) -> bool:
        """Count the answer in its split and say True, or say False when it would be over its share."""
        counts = self.counts[split]
        key = answer_class(answer, grader or self.grader)
        total = sum(counts.values())
        if counts[key] + 1 > math.ceil(self.max_share * (total + 1) - 1e-9):
            return False
        counts[key] += 1
        return True


def _open_generator_context(module: Any, profile: str) -> contextlib.AbstractContextManager[Any]:
    """``module.open_context()``; with ``profile=`` when it takes one (a family that runs on several
    data sets opens the data of the profile it generates for)."""
    import inspect

    if "profile" in inspect.signature(module.open_context).parameters:
        return cast(contextlib.AbstractContextManager[Any], module.open_context(profile=profile))
    return cast(contextlib.AbstractContextManager[Any], module.open_context())


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
            raise TaskSpecError(f"{path}:{lineno}", field, fix_hint(err)) from None
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
                verifier=rec.verifier or spec.verifier, verifier_args=rec.verifier_args, source=rec.source,
            )
        )
    return out


def _dataset_fingerprint(profile: str) -> str | None:
    from kernelgym.runtime.profiles import ensure_profile_data

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
        return _read_store(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    # Two processes sharing a KERNELGYM_HOME (two runs, xdist workers) generate a family once: the
    # second waits for the first's store instead of generating it again.
    with _locked(store.with_suffix(".lock")):
        if store.is_file():
            return _read_store(store)
        items = _generate(spec, dataset_fp) if spec.generator else _from_jsonl(spec)
        tmp = store.with_suffix(f".tmp{random.getrandbits(32)}")
        tmp.write_text("".join(i.model_dump_json() + "\n" for i in items))
        tmp.replace(store)
    return tuple(items)


def _read_store(store: Path) -> tuple[Instance, ...]:
    return tuple(Instance.model_validate_json(line) for line in store.read_text().splitlines() if line)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stored(family: str) -> bool:
    """Whether the family's store is written (remembered once it is: asking means hashing the spec and
    the data set's fingerprint, too much for every task lookup of a run)."""
    if family not in _written:
        if not store_path(family).is_file():
            return False
        _written.add(family)
    return True


_written: set[str] = set()
_prefixes: dict[tuple[str, str], tuple[list[Instance], bool]] = {}
"""Categories generated only in part, when their family's store is not written yet: ``(family,
category) -> (the first instances in store order, whether that is all of them)``."""


def _from_store(family: str, firsts: dict[str, int | None], split: Split | None) -> dict[str, tuple[list[Instance], bool]]:
    grouped: dict[str, list[Instance]] = {c: [] for c in firsts}
    for inst in _instances(family):
        if inst.category in grouped and (split is None or inst.split == split):
            grouped[inst.category].append(inst)
    return {c: (items[:firsts[c]], False) for c, items in grouped.items()}


def category_instances(
    family: str, firsts: dict[str, int | None], *, split: Split | None = None,
) -> dict[str, tuple[list[Instance], bool]]:
    """For each category of ``firsts``: its first ``firsts[category]`` instances (in ``split`` if
    given; None: all) in store order, and whether there may be more.

    With a count None, or once the family is in the task store, this reads the whole family. Before,
    it generates only the start of each category, so that ``kernelgym run --suite all --limit 16``
    and the lookups of its 16 tasks do not wait for every instance of every family; what was generated
    so far answers first, without touching the disk. What it returns is exactly the start of what the
    store holds or will hold."""
    spec = get_spec(family)
    if None in firsts.values() or spec.generator is None:
        return _from_store(family, firsts, split)
    module = importlib.import_module(spec.generator.module)
    cats: dict[str, Category] = module.CATEGORIES
    overrides = {c.name: c for c in spec.categories} if spec.categories else {n: CategoryOverride(name=n) for n in cats}

    def matching(category: str) -> list[Instance]:
        return [i for i in _prefixes.get((family, category), ([], False))[0] if split is None or i.split == split]

    def short(category: str) -> bool:
        first = firsts[category]
        assert first is not None
        return category in overrides and not _prefixes.get((family, category), ([], False))[1] \
            and len(matching(category)) < first

    # what was generated already answers without touching the disk (a run looks up each of its tasks)
    if any(short(c) for c in firsts) and _stored(family):
        return _from_store(family, firsts, split)
    if any(short(c) for c in firsts):
        fingerprint = _dataset_fingerprint(spec.profile)
        with _open_generator_context(module, spec.profile) as ctx:  # once for all: generators memoise on it
            for category in [c for c in firsts if short(c)]:
                wanted = firsts[category] or 0
                raw, complete, n = [], True, 0
                for inst in _generate_category(spec, cats[category], overrides[category], ctx, fingerprint):
                    raw.append(inst)
                    n += split is None or inst.split == split
                    if n >= wanted:
                        complete = False
                        break
                _prefixes[(family, category)] = (raw, complete)
    out: dict[str, tuple[list[Instance], bool]] = {}
    for category, first in firsts.items():
        got = matching(category)
        complete = _prefixes.get((family, category), ([], True))[1]
        out[category] = (got[:first], not complete or len(got) > (first or 0))
    return out


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
    parts = task_id.split("/")
    if len(parts) == 3 and parts[2].isdigit() and len(parts[2]) == 5:
        index = int(parts[2])
        try:
            found = category_instances(family, {parts[1]: index + 1})[parts[1]][0]  # the store's prefix
        except KeyError:
            found = []
        if len(found) > index and found[index].id == task_id:
            return found[index]
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


def iter_specs_errors(paths: list[Path]) -> Iterator[TaskSpecError]:
    """Validate spec files, yielding **every** error of every file (for ``kernelgym tasks check``): each
    bad field, an unknown profile, module or category, and each bad line of an ``instances:`` JSONL file."""
    for p in paths:
        spec, errors = spec_errors(p)
        yield from errors
        if spec is not None and spec.instances:
            yield from _jsonl_errors(spec)


def _jsonl_errors(spec: TaskSpec) -> Iterator[TaskSpecError]:
    assert spec.instances is not None and spec.source_path is not None
    path = Path(spec.source_path).parent / spec.instances
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            JsonlInstance.model_validate_json(line)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "-"
                yield TaskSpecError(f"{path}:{lineno}", field, fix_hint(err))


def category_names(spec: TaskSpec) -> list[str]:
    """A family's category names, without generating any instance: the spec's list, else its
    generator's ``CATEGORIES``; for a JSONL family, the categories of its file in their order."""
    if spec.generator is not None:
        if spec.categories:
            return [c.name for c in spec.categories]
        return list(importlib.import_module(spec.generator.module).CATEGORIES)
    assert spec.instances is not None and spec.source_path is not None
    names: dict[str, None] = {}
    for line in (Path(spec.source_path).parent / spec.instances).read_text().splitlines():
        if line.strip():
            try:
                names[JsonlInstance.model_validate_json(line).category] = None
            except ValidationError:
                continue
    return list(names)


def clear_caches() -> None:
    """Forget the specs and instances read so far (after ``$KERNELGYM_SPECS`` or the store changed)."""
    _all_specs.cache_clear()
    _instances.cache_clear()
    _prefixes.clear()
    _written.clear()
