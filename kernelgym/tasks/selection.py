"""Choosing the instances of a run: a suite, a split, limits, categories, a data set."""

from __future__ import annotations

from kernelgym.tasks.instance import Instance, Split
from kernelgym.tasks.registry import families, get_spec, variant_name, variant_profile
from kernelgym.tasks.store import category_instances, category_names


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
    names = sorted(dict.fromkeys(names))
    if limit is None and per_category is None:
        return _pick(names, split, categories, None, None)[0]
    # Only the start of each category is needed: generate that much (doubling until the limit is
    # reached), not whole families, unless they are in the task store already.
    depth = per_category if per_category is not None else max(1, -(-limit // len(names)))  # type: ignore[operator]
    while True:
        out, known = _pick(names, split, categories, depth, per_category)
        if limit is None or len(out) >= limit or known:
            return out[:limit] if limit is not None else out
        depth *= 2


def _pick(
    names: list[str], split: Split | None, categories: list[str] | None, depth: int | None,
    per_category: int | None,
) -> tuple[list[Instance], bool]:
    """The round-robin over families of round-robins over their categories, each category cut to
    ``depth`` instances (at most ``per_category``); and whether that is the whole answer. A family
    whose cut categories may hold more stops the result where it runs out, so the result is always a
    prefix of the uncut one."""
    sequences: list[tuple[list[Instance], bool]] = []
    for name in names:
        chosen = [c for c in sorted(category_names(get_spec(name))) if not categories or c in categories]
        cut = None if depth is None else depth if per_category is None else min(depth, per_category)
        found = category_instances(name, dict.fromkeys(chosen, cut), split=split)
        queues = [found[c][0][:per_category] for c in chosen]
        # more beyond the cap of per_category does not matter
        more = depth is not None and (per_category is None or depth < per_category) and any(found[c][1] for c in chosen)
        sequences.append((_round_robin(queues), more))
    out: list[Instance] = []
    for i in range(max((len(seq) for seq, _ in sequences), default=0) + 1):
        for seq, more in sequences:
            if i < len(seq):
                out.append(seq[i])
            elif more:
                return out, False
    return out, True


def _round_robin(queues: list[list[Instance]]) -> list[Instance]:
    """The first item of each queue, then the second of each, and so on."""
    out: list[Instance] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out
