"""The reward rules for passes after wrong submissions, and pass@k, pass^k and best@k (pure, no kernel)."""

from __future__ import annotations

import itertools
import json
from statistics import mean

import pytest
from typer.testing import CliRunner

from kernelgym.grading.attempts import attempt_reward, parse_rule
from kernelgym.grading.metrics import RolloutStats, best_at_k, ks_for, pass_at_k, pass_hat_k


def test_reward_rules() -> None:
    """first: only a first-attempt pass is rewarded; discount:D weighs each wrong submission by D; any
    rewards every pass (MedAgentGym's success). Zero attempts (nothing submitted) count as one."""
    assert [attempt_reward(1.0, n) for n in (0, 1, 2, 5)] == [1.0, 1.0, 0.0, 0.0]
    assert [attempt_reward(1.0, n, "discount:0.5") for n in (1, 2, 3)] == [1.0, 0.5, 0.25]
    assert [attempt_reward(1.0, n, "any") for n in (1, 4)] == [1.0, 1.0]
    assert attempt_reward(0.8, 2, "discount:0.5") == 0.4  # a partial score (AUROC) is weighted too
    assert parse_rule(" Discount:0.25 ").spelled() == "discount:0.25"
    for bad in ("best", "discount:2", "discount:x", "discount:-0.1"):
        with pytest.raises(ValueError, match="reward rule"):
            parse_rule(bad)


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    """pass@k = 1 - C(n-c, k)/C(n, k) equals the share of k-subsets of the n rollouts holding a pass;
    pass^k the share of k-subsets that all pass; best@k the mean best reward of the k-subsets."""
    outcomes = [True, False, False, True, False]
    rewards = [1.0, 0.0, 0.25, 0.5, 0.0]
    n, c = len(outcomes), sum(outcomes)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(range(n), k))
        assert pass_at_k(n, c, k) == pytest.approx(mean(any(outcomes[i] for i in s) for s in subsets))
        assert pass_hat_k(n, c, k) == pytest.approx(mean(all(outcomes[i] for i in s) for s in subsets))
        assert best_at_k(rewards, k) == pytest.approx(mean(max(rewards[i] for i in s) for s in subsets))
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 6, 5) == 1.0
    assert ks_for(1) == [1] and ks_for(5) == [1, 2, 4, 5] and ks_for(8) == [1, 2, 4, 8]
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_rollout_stats_report_pass_at_k_and_consistency() -> None:
    stats = RolloutStats()
    for task, outcomes in {"a": [True, True, True, True], "b": [False] * 4, "c": [True, False, False, False]}.items():
        for ok in outcomes:
            stats.add(task, ok, float(ok))
    row = stats.row()
    assert row["rollouts"] == 4 and row["tasks"] == 3 and list(row["k"]) == ["1", "2", "4"]
    assert row["k"]["1"]["pass_at_k"] == round((1 + 0 + 0.25) / 3, 4)
    assert row["k"]["4"]["pass_at_k"] == round(2 / 3, 4) and row["k"]["4"]["pass_hat_k"] == round(1 / 3, 4)
    assert row["consistency"] == round((1 + 1 + 0.75) / 3, 4)
    assert (row["all_passed"], row["all_failed"], row["mixed"]) == (1, 1, 1)
    single = RolloutStats()
    single.add("a", True, 1.0)
    assert single.row() == {}  # one rollout a task: no pass@k


def test_rollout_stats_match_the_definitions_per_task_and_when_merged() -> None:
    """The vectorised row (best@k computed for the tasks of one rollout count at a time, to keep a
    million-episode summary's memory flat) equals the per-task definitions averaged over tasks, with
    episodes in any order; a family's or a run's stats merged from their categories' give that row too."""
    import random

    rng = random.Random(3)
    episodes = []
    for task in range(40):
        n = rng.choice([1, 2, 3, 5, 8])
        for _ in range(n):
            reward = rng.choice([0.0, 1.0, 0.5, round(rng.random(), 3)])
            episodes.append((f"fam/cat{task % 3}/{task:03d}", reward > 0.5, reward))
    rng.shuffle(episodes)
    whole, parts = RolloutStats(), {c: RolloutStats() for c in ("cat0", "cat1", "cat2")}
    for task_id, ok, reward in episodes:
        whole.add(task_id, ok, reward)
        parts[task_id.split("/")[1]].add(task_id, ok, reward)
    row = whole.row()
    by_task: dict[str, list[tuple[bool, float]]] = {}
    for task_id, ok, reward in episodes:
        by_task.setdefault(task_id, []).append((ok, reward))
    for k, got in row["k"].items():
        tasks = [v for v in by_task.values() if len(v) >= int(k)]
        assert got["tasks"] == len(tasks)
        assert got["best_at_k"] == pytest.approx(mean(best_at_k([r for _, r in v], int(k)) for v in tasks), abs=1e-4)
        assert got["pass_at_k"] == pytest.approx(
            mean(pass_at_k(len(v), sum(ok for ok, _ in v), int(k)) for v in tasks), abs=1e-4)
    assert RolloutStats.merged([parts["cat2"], parts["cat0"], parts["cat1"]]).row() == row


def test_completion_rewards_count_every_submission() -> None:
    """Issue 17, item 2, for RL rewards: a completion that tries several answers must not earn what a
    first-attempt answer earns (``compute_score`` read only the last answer)."""
    from kernelgym.training.rewards import compute_score, count_submissions, kernelgym_reward

    gt, grader = json.dumps(3), json.dumps({"rule": "exact"})
    once, twice = "submit(3)", "```python\nsubmit(len(df))\n```\n```python\nsubmit(3)\n```"
    assert count_submissions(twice) == 2
    assert compute_score("kernelgym/x", once, gt, {"grader": grader}) == 1.0
    assert compute_score("kernelgym/x", twice, gt, {"grader": grader}) == 0.0
    assert compute_score("kernelgym/x", twice, gt, {"grader": grader, "reward_rule": "discount:0.5"}) == 0.5
    messages = [{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "submit_answer", "arguments": {"answer": 1}}}]},
        {"role": "tool", "content": "wrong"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "submit_answer", "arguments": {"answer": 3}}}]}]
    assert kernelgym_reward([None], [messages], ground_truth=[gt], grader=[grader]) == [0.0]
    assert kernelgym_reward([None], [messages], ground_truth=[gt], grader=[grader], reward_rule=["any"]) == [1.0]


@pytest.mark.parametrize(("args", "message"), [
    (["--reward-rule", "best"], "--reward-rule"),
    (["--max-attempts", "0"], "--max-attempts must be at least 1"),
    (["--feedback", "--silent-retries"], "give one of them"),
])
def test_bad_attempt_options_fail_before_any_work(args: list[str], message: str) -> None:
    from kernelgym.cli import app

    res = CliRunner().invoke(app, ["run", "--suite", "ehr", "--dry-run", *args])
    assert res.exit_code == 2 and message in res.output, res.output
