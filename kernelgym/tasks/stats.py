"""``kernelgym tasks stats`` and ``kernelgym tasks show``: what the task store holds (host side).

:func:`task_stats` counts the instances of families per category and split (generating them on
first use, as a run would); :func:`baselines` measures how far a constant answer gets in each
category (``kernelgym tasks stats --baselines``); :func:`show_instance` renders one instance for a
human: its prompt, inputs, grading rule and, unless ``public``, its ground truth and reference
solution.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

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


# ---------------------------------------------------------------- constant-answer baselines

BOUND = 0.20
"""The share of a category's test instances a constant answer may pass (answers with many values)."""

MARGIN = 0.05
"""Where the answer can only take k values, a constant may pass 1/k of the instances plus this."""

CANDIDATES = 5
"""How many of the commonest train answers :func:`baselines` tries as constants by default."""


def baseline_bound(answer_values: int | None) -> float:
    """The most a constant answer may pass of a category's test instances: 20 %, or 1/k + 5 points
    when the answer can only take ``answer_values`` = k values (whichever is larger)."""
    return BOUND if not answer_values else max(BOUND, 1 / answer_values + MARGIN)


class CategoryBaseline(BaseModel):
    """How far a constant answer gets in one category (``kernelgym tasks stats --baselines``).

    ``constant`` is the best of the ``candidates`` commonest answers of the train split, and for
    numbers graded with a tolerance also their median and mean (the one that passes most train
    instances), graded on the test split as a submitted answer is
    (:meth:`Instance.verdict`); ``majority`` is the commonest answer of the test split itself,
    graded the same way. ``over_bound`` is judged on ``best_candidate_rate``, the best of the
    candidates **on the test split** (at least ``constant_rate``): the bound holds even for a guesser
    that picked its constant by peeking. Categories whose verifier calls a function (``*_function``)
    and those graded by AUROC over a cohort (a constant score has AUROC 0.5) are not applicable."""

    family: str
    category: str
    verifier: str
    applicable: bool = Field(description="False where no constant can pass: function- and AUROC-graded categories")
    why_not: str = Field(default="", description="why the category is not applicable")
    train: int
    test: int
    answer_values: int | None = Field(default=None, description="k when the answer can only take k values")
    bound: float | None = Field(default=None, description="the most a constant may pass of the test split")
    constant: Any = Field(default=None, description="the best constant answer, chosen on the train split")
    constant_passes: int = 0
    constant_rate: float = 0.0
    best_candidate_passes: int = 0
    best_candidate_rate: float = Field(
        default=0.0, description="the most any candidate passes on test (a guesser that peeked at the test split)")
    majority: Any = Field(default=None, description="the commonest test answer")
    majority_passes: int = 0
    majority_rate: float = 0.0
    over_bound: bool = False


def _answer_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _category_answer_values(family: str) -> dict[str, int | None]:
    import importlib

    spec = get_spec(family)
    if spec.generator is None:
        return {}
    cats = importlib.import_module(spec.generator.module).CATEGORIES
    return {name: cat.answer_values for name, cat in cats.items()}


def category_baselines(insts: list[Instance], *, candidates: int = CANDIDATES,
                       answer_values: dict[str, int | None] | None = None) -> list[CategoryBaseline]:
    """The constant-answer baselines of ``insts``, one :class:`CategoryBaseline` per family and
    category (in order of first appearance).

    The candidates are the ``candidates`` commonest ground truths of a category's train split
    (ties by their JSON text), each JSON round-tripped as a submitted answer is; every candidate is
    graded against every instance with the instance's own verifier and grader. ``answer_values``
    maps a category to k where its answer can only take k values (a ``boolean`` grader implies 2)."""
    groups: dict[tuple[str, str], list[Instance]] = {}
    for inst in insts:
        groups.setdefault((inst.family, inst.category), []).append(inst)
    out = []
    for (family, category), members in groups.items():
        out.append(_one_category(family, category, members, candidates, (answer_values or {}).get(category)))
    return out


def _one_category(family: str, category: str, members: list[Instance], candidates: int,
                  answer_values: int | None) -> CategoryBaseline:
    verifier = members[0].verifier
    split_n = Counter(i.split for i in members)
    if all(i.grader.rule == "boolean" for i in members):
        answer_values = answer_values or 2
    why_not = ("graded by calling the agent's function" if verifier != "answer"
               else "graded by AUROC over a cohort: a constant score has AUROC 0.5"
               if all(i.grader.rule == "auroc" for i in members) else "")
    base = CategoryBaseline(family=family, category=category, verifier=verifier, applicable=not why_not,
                            why_not=why_not, train=split_n["train"], test=split_n["test"], answer_values=answer_values)
    if not base.applicable:
        return base
    base.bound = baseline_bound(answer_values)
    # instances that share truth and grader grade alike: group them, with their counts per split
    by_truth: dict[tuple[str, str], tuple[Instance, Counter[str]]] = {}
    train_answers: Counter[str] = Counter()
    test_answers: Counter[str] = Counter()
    for inst in members:
        key = _answer_key(inst.ground_truth)
        (train_answers if inst.split == "train" else test_answers)[key] += 1
        entry = by_truth.setdefault((key, inst.grader.model_dump_json()), (inst, Counter()))
        entry[1][inst.split] += 1

    def passes(answer_key: str) -> Counter[str]:
        answer = json.loads(answer_key)
        n: Counter[str] = Counter()
        for inst, counts in by_truth.values():
            if inst.verdict([{"submitted": True, "answer": answer}])[1].passed:
                n.update(counts)
        return n

    def commonest(answers: Counter[str], k: int) -> list[str]:
        return [key for key, _ in sorted(answers.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]

    keys = commonest(train_answers, candidates)
    keys += [k for k in _numeric_candidates(members) if k not in keys]
    tried = [(key, passes(key)) for key in keys]
    if tried:
        key, n = max(tried, key=lambda t: t[1]["train"])  # max keeps the first (commonest) of ties
        base.constant, base.constant_passes = json.loads(key), n["test"]
        base.best_candidate_passes = max(t[1]["test"] for t in tried)
    for key in commonest(test_answers, 1):
        base.majority, base.majority_passes = json.loads(key), passes(key)["test"]
    if base.test:
        base.constant_rate = base.constant_passes / base.test
        base.majority_rate = base.majority_passes / base.test
        base.best_candidate_rate = base.best_candidate_passes / base.test
    base.over_bound = max(base.constant_rate, base.best_candidate_rate) > base.bound + 1e-12
    return base


def _numeric_candidates(members: list[Instance]) -> list[str]:
    """For numbers graded with a tolerance, the median and the mean of the train answers: where the
    answers are all distinct, the commonest ones are arbitrary, and a guess near the middle of their
    spread is what passes most."""
    if not all(i.grader.rule in ("numeric", "range") for i in members):
        return []
    values = sorted(float(i.ground_truth) for i in members
                    if i.split == "train" and isinstance(i.ground_truth, (int, float))
                    and not isinstance(i.ground_truth, bool) and math.isfinite(i.ground_truth))
    if not values:
        return []
    picks = [values[len(values) // 2], round(sum(values) / len(values), 4)]
    return [_answer_key(int(v) if v == int(v) else v) for v in picks]


def family_baselines(family: str, candidates: int = CANDIDATES) -> list[dict[str, Any]]:
    """:func:`category_baselines` of one family's instances (generating them if needed), as dicts."""
    rows = category_baselines(instances(family), candidates=candidates, answer_values=_category_answer_values(family))
    return [row.model_dump(mode="json") for row in rows]


def baselines(suite: str = "all", dataset: str | None = None, *, candidates: int = CANDIDATES,
              jobs: int | None = None) -> dict[str, Any]:
    """The constant-answer baselines of a suite: ``{"categories": [CategoryBaseline dicts], "totals"}``.

    The totals: answer-graded categories and how many are over their bound; test instances (all,
    and answer-graded); the **floor**, the share of the answer-graded test instances that the
    per-category best constants (chosen on train) pass together; ``floor_any_candidate``, the same
    with each category's best candidate on test (the measure of issue 17: 14.4 % before the
    re-balancing); ``floor_all_test``, the floor over every test instance, function-graded ones too."""
    import functools

    names = suite_names(suite, dataset)
    for name in names:
        get_spec(name)  # an unknown family fails here, before any work
    rows = [row for fam in map_families(functools.partial(family_baselines, candidates=candidates), names, jobs=jobs)
            for row in fam]
    applicable = [r for r in rows if r["applicable"]]
    test = sum(r["test"] for r in rows)
    answer_test = sum(r["test"] for r in applicable)
    passes = sum(r["constant_passes"] for r in applicable)
    any_passes = sum(r["best_candidate_passes"] for r in applicable)
    return {
        "candidates": candidates, "bound": BOUND, "margin": MARGIN, "categories": rows,
        "totals": {
            "categories": len(rows), "answer_graded": len(applicable),
            "over_bound": sum(r["over_bound"] for r in applicable),
            "test": test, "answer_graded_test": answer_test, "constant_passes": passes,
            "floor": passes / answer_test if answer_test else 0.0,
            "floor_any_candidate": any_passes / answer_test if answer_test else 0.0,
            "floor_all_test": passes / test if test else 0.0,
        },
    }


def _constant_text(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def baselines_rows(report: dict[str, Any]) -> list[list[str]]:
    """The rows of a :func:`baselines` report as text: family, category, k, bound, test instances,
    best constant, its pass rate, the best candidate's, the majority answer's, and "over" or ""."""
    rows = []
    for r in report["categories"]:
        if not r["applicable"]:
            rows.append([r["family"], r["category"], "", "", f"{r['test']:,}", f"n/a: {r['why_not']}", "", "", "", ""])
            continue
        rows.append([
            r["family"], r["category"], str(r["answer_values"] or ""), f"{r['bound']:.1%}", f"{r['test']:,}",
            _constant_text(r["constant"]), f"{r['constant_rate']:.1%}", f"{r['best_candidate_rate']:.1%}",
            f"{r['majority_rate']:.1%}", "over" if r["over_bound"] else "",
        ])
    return rows


BASELINE_COLUMNS = ("family", "category", "k", "bound", "test", "best constant (train)", "passes (test)",
                    "best candidate (test)", "majority (test)", "over")


def baselines_table(report: dict[str, Any]) -> Any:
    """A rich Table of a :func:`baselines` report, with its totals."""
    from rich.markup import escape
    from rich.table import Table

    t = report["totals"]
    table = Table(title=f"constant-answer baselines (the {report['candidates']} commonest train answers, "
                        f"and the median and mean of numbers); floor {t['floor']:.1%}")
    for col in BASELINE_COLUMNS:
        table.add_column(col, justify="right" if col in ("k", "bound", "test", "passes (test)", "best candidate (test)",
                                                         "majority (test)") else "left")
    for row in baselines_rows(report):
        table.add_row(*(escape(c) for c in row), style="red" if row[-1] else None)
    table.add_row("all", f"{t['answer_graded']} answer-graded", "", "", f"{t['answer_graded_test']:,}", "",
                  f"{t['floor']:.1%}", f"{t['floor_any_candidate']:.1%}", "", f"{t['over_bound']} over", style="bold")
    return table


def baselines_markdown(report: dict[str, Any]) -> str:
    """A :func:`baselines` report as a Markdown table (``kernelgym tasks stats --baselines --markdown``)."""
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("<", "&lt;").replace("*", "\\*")

    t = report["totals"]
    lines = ["| " + " | ".join(BASELINE_COLUMNS) + " |", "|" + "---|" * len(BASELINE_COLUMNS)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in baselines_rows(report)]
    lines.append(f"| **all** | {t['answer_graded']} answer-graded | | | {t['answer_graded_test']:,} | | "
                 f"**{t['floor']:.1%}** | **{t['floor_any_candidate']:.1%}** | | {t['over_bound']} over |")
    return "\n".join(lines) + "\n"


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
