"""``kernelgym tasks stats`` and ``kernelgym tasks show``: what the task store holds (host side).

:func:`task_stats` counts the instances of families per category and split (generating them on
first use, as a run would); :func:`show_instance` renders one instance for a human: its prompt,
inputs, grading rule and, unless ``public``, its ground truth and reference solution.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from kernelgym.tasks.instance import Instance
from kernelgym.tasks.registry import families, get_spec, variant_name, variant_profile
from kernelgym.tasks.store import get_instance, instances, map_families


def suite_names(suite: str = "all", dataset: str | None = None) -> list[str]:
    """Family names of a suite (``all``, a name, or comma-separated names), on ``dataset`` if given."""
    names = sorted(families()) if suite == "all" else [s.strip() for s in suite.split(",") if s.strip()]
    if dataset:
        if suite == "all":
            names = [n for n in names if variant_profile(get_spec(n).profile, dataset)]
        names = [variant_name(n, dataset) for n in names]
    return names


def category_counts(family: str) -> dict[str, dict[str, int]]:
    """``{category: {"train": n, "test": n, "with_reference": n}}`` of one family (generating its
    instances if needed); ``with_reference`` counts the instances that carry a reference solution."""
    per: dict[str, Counter[str]] = {}
    for inst in instances(family):
        n = per.setdefault(inst.category, Counter())
        n[inst.split] += 1
        n["with_reference"] += any(cell.strip() for cell in inst.reference)
    return {c: {"train": n["train"], "test": n["test"], "with_reference": n["with_reference"]}
            for c, n in sorted(per.items())}


def task_stats(suite: str = "all", dataset: str | None = None, *, jobs: int | None = None) -> dict[str, Any]:
    """``{"families": {name: {profile, categories: {cat: {train, test, with_reference}}, train, test,
    total, with_reference}}, totals}``.

    Families not generated yet are generated in up to ``jobs`` processes (:func:`map_families`)."""
    out: dict[str, Any] = {"families": {}, "train": 0, "test": 0, "total": 0, "with_reference": 0, "categories": 0}
    names = suite_names(suite, dataset)
    specs = [get_spec(name) for name in names]  # an unknown family fails here, before any work
    for name, spec, cats in zip(names, specs, map_families(category_counts, names, jobs=jobs)):
        train = sum(c["train"] for c in cats.values())
        test = sum(c["test"] for c in cats.values())
        with_reference = sum(c["with_reference"] for c in cats.values())
        out["families"][name] = {
            "profile": spec.profile, "description": spec.description.strip(), "categories": cats,
            "train": train, "test": test, "total": train + test, "with_reference": with_reference,
        }
        out["with_reference"] += with_reference
        out["train"] += train
        out["test"] += test
        out["total"] += train + test
        out["categories"] += len(cats)
    return out


def stats_table(stats: dict[str, Any], *, by_category: bool = False) -> Any:
    """A rich Table of :func:`task_stats` output."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="task instances")
    numbers = ("train", "test", "total", "with reference")
    for col in ("family", "profile", "categories" if not by_category else "category", *numbers):
        table.add_column(col, justify="right" if col in ("categories", *numbers) else "left")

    def counts(n: dict[str, Any]) -> list[str]:
        return [f"{n['train']:,}", f"{n['test']:,}", f"{n['train'] + n['test']:,}", f"{n['with_reference']:,}"]

    for name, fam in stats["families"].items():
        if by_category:
            for cat, n in fam["categories"].items():
                table.add_row(escape(name), escape(fam["profile"]), escape(cat), *counts(n))
        else:
            table.add_row(escape(name), escape(fam["profile"]), str(len(fam["categories"])), *counts(fam))
    table.add_row("all", "", str(stats["categories"]) if not by_category else "", *counts(stats), style="bold")
    return table


def _short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def show_instance(task_id: str, *, public: bool = False) -> tuple[Instance, str]:
    """The instance ``task_id`` and a readable rendering of it."""
    inst = get_instance(task_id)
    lines = [
        f"id:        {inst.id}",
        f"family:    {inst.family}    category: {inst.category}    split: {inst.split}",
        f"profile:   {inst.profile} (kernel kernelgym-{inst.profile})    verifier: {inst.verifier}",
        f"graded:    {inst.grader.rule}: {inst.grader.describe()}",
        "",
        "prompt:",
        *("  " + ln for ln in inst.prompt.splitlines()),
        "",
        "inputs (defined in the kernel by the setup cell):",
        *(f"  {k} = {_short(v)}" for k, v in inst.inputs.items()),
    ]
    if not inst.inputs:
        lines.append("  (none)")
    if not public:
        lines += ["", f"ground truth: {_short(inst.ground_truth, 2000)}", "", "reference solution:"]
        for i, cell in enumerate(inst.reference, 1):
            lines.append(f"  # --- cell {i}")
            lines += ["  " + ln for ln in cell.splitlines()]
    return inst, "\n".join(lines)
