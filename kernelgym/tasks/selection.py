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
        pool.extend(instances(name))
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
