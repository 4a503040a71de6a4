"""Constant-answer baselines (issue 17): what a data-blind constant answer passes per category, the
bound on it, and the answer balancing (``Category.max_share``) that keeps the families under it."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kernelgym import tasks
from kernelgym.grading import Grader
from kernelgym.tasks import Instance
from kernelgym.tasks.stats import baseline_bound, baselines, category_baselines


def _inst(i: int, category: str, split: str, truth: Any, grader: Grader | None = None, verifier: str = "answer") -> Instance:
    return Instance(id=f"fam/{category}/{i:05d}", family="fam", category=category, split=split,  # type: ignore[arg-type]
                    profile="biomed", prompt="q", ground_truth=truth, grader=grader or Grader(),
                    verifier=verifier)  # type: ignore[arg-type]


def _category(name: str, train: list[Any], test: list[Any], grader: Grader | None = None,
              verifier: str = "answer") -> list[Instance]:
    return [_inst(i, name, split, truth, grader, verifier)
            for i, (split, truth) in enumerate([("train", t) for t in train] + [("test", t) for t in test])]


def test_the_constant_is_chosen_on_train_graded_on_test_and_the_bound_judged_on_the_best_candidate() -> None:
    """The hole: a constant picked on test (or graded by another rule than a submitted answer's)
    would hide how far guessing gets. Here train prefers "a", test is mostly "B" (graded case-blind)."""
    [row] = category_baselines(_category("c", ["a"] * 6 + ["b"] * 4, [" B"] * 8 + ["a"] * 2))
    assert (row.constant, row.constant_passes, row.constant_rate) == ("a", 2, 0.2)
    assert row.best_candidate_rate == 0.8 and row.majority_rate == 0.8
    assert row.bound == 0.2 and row.over_bound  # "b", the second train candidate, passes 80 % of test
    [row] = category_baselines(_category("c", list("abcdefghij"), list("abcdefghij")))
    assert row.best_candidate_rate == 0.1 and not row.over_bound


def test_numbers_graded_with_a_tolerance_try_the_middle_of_the_train_answers() -> None:
    """The hole: answers that are all distinct make "the commonest" arbitrary; a guess near their
    median passes every instance within the band (MedCalc's sodium correction: 47 % within 5 %)."""
    band = Grader(rule="numeric", rel_tol=0.05)
    train = [100 + i for i in range(0, 40, 2)]  # 100 .. 138, all distinct
    test = [101 + i for i in range(0, 40, 2)]
    [row] = category_baselines(_category("c", train, test, band))
    assert row.constant == 120 and row.constant_rate == 0.3 and row.over_bound  # 115 .. 125 of 101 .. 139
    assert row.majority_rate == 0.15  # 101 passes 101, 103 and 105


def test_function_and_auroc_categories_are_not_applicable() -> None:
    rows = category_baselines(
        _category("fn", [[1]] * 4, [[1]] * 4, verifier="function")
        + _category("auc", [{"1": 0, "2": 1}] * 4, [{"1": 0, "2": 1}] * 4, Grader(rule="auroc", threshold=0.6))
    )
    assert [(r.category, r.applicable, r.over_bound) for r in rows] == [("fn", False, False), ("auc", False, False)]
    assert "function" in rows[0].why_not and "AUROC" in rows[1].why_not


def test_k_valued_answers_are_bounded_by_one_over_k_plus_five_points() -> None:
    assert baseline_bound(None) == 0.2 and baseline_bound(2) == pytest.approx(0.55) and baseline_bound(10) == 0.2
    yes_no = Grader(rule="boolean")
    [even] = category_baselines(_category("yn", [True, False] * 5, [True, False] * 5, yes_no))
    [lopsided] = category_baselines(_category("yn", [True, False] * 5, [True] * 6 + [False] * 4, yes_no))
    assert even.answer_values == 2 and not even.over_bound
    assert lopsided.best_candidate_rate == 0.6 and lopsided.over_bound
    [labels] = category_baselines(_category("lab", list("abcd"), list("aabcd")), answer_values={"lab": 4})
    assert labels.bound == pytest.approx(0.3) and labels.best_candidate_rate == 0.4 and labels.over_bound


@pytest.fixture()
def skewed_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The family of tests/helpers/skewed_family.py, 200 instances per category, in its own home."""
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "skewed.yaml").write_text(yaml.safe_dump({
        "family": "skewed", "description": "d", "profile": "biomed",
        "generator": {"module": "helpers.skewed_family", "per_category": 200, "seed": 0},
    }))
    monkeypatch.setenv("KERNELGYM_SPECS", str(folder))
    monkeypatch.setenv("KERNELGYM_HOME", str(tmp_path / "home"))
    tasks.clear_caches()
    yield "skewed"
    tasks.clear_caches()


def test_max_share_balances_each_split_and_brings_the_constant_under_the_bound(skewed_spec: str) -> None:
    """The hole: a sampler whose answers bunch (nine in ten are 1) lets a constant pass 90 %;
    with ``max_share`` no answer holds more than ceil(share x n) of a split's n instances."""
    insts = tasks.instances(skewed_spec)
    by_cat: dict[str, list[Instance]] = {}
    for inst in insts:
        by_cat.setdefault(inst.category, []).append(inst)
    for name, share in (("skewed_balanced", 0.15), ("yes_balanced", 0.5)):
        for split in ("train", "test"):
            answers = Counter(json.dumps(i.ground_truth) for i in by_cat[name] if i.split == split)
            n = sum(answers.values())
            assert n >= 40 and max(answers.values()) <= math.ceil(share * n), (name, split, answers.most_common(3))
    report = baselines(skewed_spec, jobs=1)
    rows = {r["category"]: r for r in report["categories"]}
    assert rows["skewed"]["over_bound"] and rows["skewed"]["constant"] == 1 and rows["skewed"]["constant_rate"] > 0.8
    assert not rows["skewed_balanced"]["over_bound"] and not rows["yes_balanced"]["over_bound"]
    assert report["totals"]["over_bound"] == 1
    # the same seeds give the same instances (ids, splits and answers) on a second generation
    tasks.clear_caches()
    for p in tasks.store_path(skewed_spec).parent.glob("*.jsonl"):
        p.unlink()
    assert tasks.instances(skewed_spec) == insts
