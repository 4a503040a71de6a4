"""Choosing the instances of a run: a suite, a split, limits, categories, a data set."""

from __future__ import annotations

from kernelgym.tasks.instance import Instance, Split
from kernelgym.tasks.registry import families, get_spec, variant_name, variant_profile
from kernelgym.tasks.store import instances


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

    Deterministic round-robin: each family's categories take turns (in name order), each category
    giving its instances in their order in the task store (generated from the family's seed), and the
    families take turns over those sequences. So ``limit`` spreads over every family, then over every
    category: ``--suite all --limit 16`` takes 2 tasks from each of the 8 families.
    ``per_category`` keeps at most that many of each category (before ``limit``).
    ``dataset`` (e.g. ``mimic3``) runs every family of the suite on that data set instead
    (the ``<family>-<dataset>`` variants); with ``all``, the families that have such a variant.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if per_category is not None and per_category < 1:
        raise ValueError(f"per_category must be at least 1, not {per_category}")
    names = sorted(families()) if suite == "all" else [s.strip() for s in suite.split(",") if s.strip()]
    if dataset:
        if suite == "all":
            names = [n for n in names if variant_profile(get_spec(n).profile, dataset)]
        names = [variant_name(n, dataset) for n in names]
        for n in names:
            get_spec(n)  # a clear KeyError for a family without that data set
    for name in dict.fromkeys(names):
        try:
            get_spec(name)  # before any instance is generated: an unknown name stops here
        except KeyError as err:
            raise KeyError(f"{err.args[0]} (or 'all': every family)") from None
    pool: list[Instance] = []
    for name in dict.fromkeys(names):
        pool.extend(instances(name))
    if split:
        pool = [i for i in pool if i.split == split]
    if categories:
        pool = [i for i in pool if i.category in categories]
    by_family: dict[str, dict[str, list[Instance]]] = {}
    for inst in pool:
        by_family.setdefault(inst.family, {}).setdefault(inst.category, []).append(inst)
    per_family = []
    for _, cats in sorted(by_family.items()):
        queues = [v[:per_category] if per_category is not None else v for _, v in sorted(cats.items())]
        per_family.append(_round_robin(queues))
    out = _round_robin(per_family)
    return out[:limit] if limit is not None else out


def _round_robin(queues: list[list[Instance]]) -> list[Instance]:
    """The first item of each queue, then the second of each, and so on."""
    out: list[Instance] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out
