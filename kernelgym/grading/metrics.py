"""Metrics over several rollouts of one task: pass@k, pass^k, best@k and consistency.

With ``n`` rollouts of a task of which ``c`` passed:

- **pass@k** is the chance that at least one of ``k`` rollouts drawn from the ``n`` passes; the
  unbiased estimator of Chen et al. (2021, "Evaluating Large Language Models Trained on Code"):
  ``1 - C(n - c, k) / C(n, k)``;
- **pass^k** is the chance that all ``k`` drawn pass: ``C(c, k) / C(n, k)`` (a consistency measure);
- **best@k** is the expected best reward among ``k`` rollouts drawn without replacement: with the
  rewards sorted ascending ``r_1 <= ... <= r_n``, ``sum_i r_i * C(i - 1, k - 1) / C(n, k)``;
- **consistency** of a task is the share of its rollouts that agree with its majority outcome,
  ``max(c, n - c) / n`` (1.0: every rollout passed, or every one failed).

A run's value is the mean over its tasks; only tasks with at least ``k`` rollouts count for ``k``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import comb
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of a task with ``n`` rollouts, ``c`` of them passed (``1 <= k <= n``)."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that ``k`` rollouts drawn from ``n`` (``c`` passed) all pass."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass^k needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return comb(c, k) / comb(n, k)


def best_at_k(rewards: Sequence[float], k: int) -> float:
    """Expected maximum of ``k`` of ``rewards`` drawn without replacement (``1 <= k <= len(rewards)``)."""
    n = len(rewards)
    if not 1 <= k <= n:
        raise ValueError(f"best@k needs 1 <= k <= n (n={n}, k={k})")
    total = comb(n, k)
    return sum(r * comb(i, k - 1) for i, r in enumerate(sorted(rewards))) / total


def ks_for(n: int) -> list[int]:
    """The k reported for ``n`` rollouts: 1, 2, 4, 8, ... below ``n``, and ``n``."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n] if n >= 1 else []


class RolloutStats:
    """Per-task outcomes of a group of episodes (a run, a family, a category), for :meth:`row`.

    Memory grows with the tasks and their rollouts, not with the other fields of the episodes."""

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        self.tasks: dict[str, tuple[list[bool], list[float]]] = {}

    def add(self, task_id: str, passed: bool, reward: float) -> None:
        outcomes, rewards = self.tasks.setdefault(task_id, ([], []))
        outcomes.append(bool(passed))
        rewards.append(float(reward))

    def row(self, ks: Iterable[int] | None = None) -> dict[str, Any]:
        """``{"rollouts", "tasks", "k": {k: {"pass_at_k", "pass_hat_k", "best_at_k", "tasks"}},
        "consistency", "all_passed", "all_failed", "mixed"}``; empty (``{}``) when no task has two rollouts."""
        if not self.tasks:
            return {}
        most = max(len(o) for o, _ in self.tasks.values())
        if most < 2:
            return {}
        wanted = sorted(set(ks)) if ks is not None else ks_for(most)
        out: dict[str, Any] = {"rollouts": most, "tasks": len(self.tasks), "k": {}}
        for k in wanted:
            p_at = p_hat = b_at = 0.0
            counted = 0
            for outcomes, rewards in self.tasks.values():
                n = len(outcomes)
                if n < k:
                    continue
                c = sum(outcomes)
                p_at += pass_at_k(n, c, k)
                p_hat += pass_hat_k(n, c, k)
                b_at += best_at_k(rewards, k)
                counted += 1
            if counted:
                out["k"][str(k)] = {"pass_at_k": round(p_at / counted, 4), "pass_hat_k": round(p_hat / counted, 4),
                                    "best_at_k": round(b_at / counted, 4), "tasks": counted}
        cons = [max(sum(o), len(o) - sum(o)) / len(o) for o, _ in self.tasks.values()]
        out["consistency"] = round(sum(cons) / len(cons), 4)
        out["all_passed"] = sum(all(o) for o, _ in self.tasks.values())
        out["all_failed"] = sum(not any(o) for o, _ in self.tasks.values())
        out["mixed"] = len(self.tasks) - out["all_passed"] - out["all_failed"]
        return out

    def per_task(self) -> dict[str, dict[str, Any]]:
        """``{task_id: {"rollouts", "passed", "consistency", "best_reward"}}``."""
        return {
            t: {"rollouts": len(o), "passed": sum(o), "consistency": round(max(sum(o), len(o) - sum(o)) / len(o), 4),
                "best_reward": max(r)}
            for t, (o, r) in self.tasks.items()
        }
