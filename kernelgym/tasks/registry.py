"""Which task families exist: the spec folders, each family's spec, and its data-set variants."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from kernelgym import _plugins
from kernelgym._package import resource_dir
from kernelgym.tasks.spec import TaskSpec, load_spec


def spec_dirs() -> list[Path]:
    """Folders searched for specs: ``$KERNELGYM_SPECS`` (``:``-separated), the built-in ones, then
    those of installed packages (entry-point group ``kernelgym.task_specs``)."""
    dirs = [Path(p) for p in os.environ.get("KERNELGYM_SPECS", "").split(os.pathsep) if p]
    dirs.append(resource_dir("task_specs"))
    for name in sorted(_plugins.registered(_plugins.TASK_SPECS)):
        dirs.append(Path(_plugins.load_named(_plugins.TASK_SPECS, name)()))
    return dirs


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
