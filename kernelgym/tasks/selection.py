"""Choosing the instances of a run: a suite, a split, limits, categories, a data set, records of a
source benchmark."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelgym.tasks.instance import Instance, Source, Split
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
    sources: Iterable[SourceSelector] | None = None,
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
    if (limit is None and per_category is None) or sources is not None:
        chosen = list(sources) if sources is not None else None
        out = _pick(names, split, categories, None, per_category, chosen)[0]
        return out[:limit] if limit is not None else out
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
    per_category: int | None, sources: list[SourceSelector] | None = None,
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
        queues = [[i for i in found[c][0] if sources is None or (i.source is not None and any(
            sel.matches(i.source) for sel in sources))][:per_category] for c in chosen]
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


# ---------------------------------------------------------------- records of a source benchmark


@dataclass(frozen=True)
class SourceSelector:
    """Imported instances by their place in the source benchmark: a data set, optionally one split, and
    optionally some of its indices or one record id."""

    dataset: str
    split: str | None = None
    indices: tuple[tuple[int, int], ...] | None = None
    """Inclusive ranges ``(first, last)`` of indices; None: every index."""
    record_id: str | None = None

    def matches(self, source: Source) -> bool:
        """Whether ``source`` is one of the records this selector names."""
        if source.dataset != self.dataset or (self.split is not None and source.split != self.split):
            return False
        if self.record_id is not None:
            return source.record_id == self.record_id
        if self.indices is None:
            return True
        return source.index is not None and any(lo <= source.index <= hi for lo, hi in self.indices)


_SELECTOR = re.compile(r"^(?P<dataset>[A-Za-z][\w.-]*)(?::(?:id=(?P<id>.+)|(?P<split>[A-Za-z]+)(?::(?P<indices>[\d,\s-]+))?))?$")
SELECTOR_HELP = ("DATASET[:SPLIT[:INDICES]] (biocoder:test:0-9,17; indices as the source runs them), DATASET:id=RECORD_ID, "
                 "or a JSON file shaped like MedAgentGym's rollout_indices.json ({dataset: {split: [index, ...]}})")


def _indices(text: str) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.strip().isdigit()):
            raise ValueError(f"{part!r} is not an index or a range START-END")
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            raise ValueError(f"the range {part!r} ends before it starts")
        out.append((a, b))
    if not out:
        raise ValueError("no index given")
    return tuple(out)


def _from_indices_file(path: Path) -> list[SourceSelector]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object of data set -> split -> indices")
    out = []
    for dataset, splits in data.items():
        if not isinstance(splits, dict):
            raise ValueError(f"{path}: {dataset!r} is not an object of split -> indices")
        for split, idx in splits.items():
            if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx):
                raise ValueError(f"{path}: {dataset}.{split} is not a list of indices (whole numbers from 0)")
            out.append(SourceSelector(str(dataset), str(split), tuple((i, i) for i in sorted(set(idx)))))
    return out


def parse_source_selectors(values: Iterable[str]) -> list[SourceSelector]:
    """Selectors from ``--source-ids`` values: see :data:`SELECTOR_HELP`. A value without ``:id=`` that
    ends in ``.json`` or holds a ``/`` is read as an indices file. Raises ``ValueError`` saying what to
    write."""
    out: list[SourceSelector] = []
    for raw in values:
        text = raw.strip()
        path = Path(text).expanduser()
        if ":id=" not in text and (text.endswith(".json") or "/" in text):
            if not path.is_file():
                raise ValueError(f"--source-ids {raw!r}: no such file")
            try:
                out.extend(_from_indices_file(path))
            except ValueError as err:
                raise ValueError(f"--source-ids {raw!r}: {err}") from None
            continue
        m = _SELECTOR.match(text)
        if not m:
            raise ValueError(f"--source-ids {raw!r}: write {SELECTOR_HELP}")
        try:
            indices = _indices(m["indices"]) if m["indices"] else None
        except ValueError as err:
            raise ValueError(f"--source-ids {raw!r}: {err}") from None
        out.append(SourceSelector(m["dataset"], m["split"], indices, m["id"]))
    return out
