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

import hashlib
from array import array
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


def task_key(task_id: str) -> int:
    """64 bits of a task id (what :class:`RolloutStats` keeps of it)."""
    return int.from_bytes(hashlib.blake2b(task_id.encode(), digest_size=8).digest(), "little")


class RolloutStats:
    """Per-task outcomes of a group of episodes (a run, a family, a category), for :meth:`row`.

    Compact: 13 bytes an episode (64 bits of its task id, its verdict, its reward as a float32), in
    arrays; a run of millions of episodes stays small. :meth:`row` groups them by task with numpy."""

    __slots__ = ("_keys", "_passed", "_rewards")

    def __init__(self) -> None:
        self._keys = array("Q")
        self._passed = array("b")
        self._rewards = array("f")

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, task_id: str, passed: bool, reward: float) -> None:
        """One episode of task ``task_id``."""
        self.add_key(task_key(task_id), passed, reward)

    def add_key(self, key: int, passed: bool, reward: float) -> None:
        """One episode of the task whose :func:`task_key` is ``key`` (hash once, add to several groups)."""
        self._keys.append(key)
        self._passed.append(1 if passed else 0)
        self._rewards.append(float(reward))

    def row(self, ks: Iterable[int] | None = None) -> dict[str, Any]:
        """``{"rollouts", "tasks", "k": {k: {"pass_at_k", "pass_hat_k", "best_at_k", "tasks"}},
        "consistency", "all_passed", "all_failed", "mixed"}``; empty (``{}``) when no task has two rollouts."""
        import numpy as np

        lines = len(self._keys)
        if not lines:
            return {}
        keys = np.frombuffer(self._keys, dtype=np.uint64)
        rewards = np.frombuffer(self._rewards, dtype=np.float32).astype(np.float64)
        order = np.lexsort((rewards, keys))  # by task, each task's rewards ascending (for best@k)
        keys_sorted = keys[order]
        starts = np.flatnonzero(np.r_[True, keys_sorted[1:] != keys_sorted[:-1]])
        counts = np.diff(np.r_[starts, lines])
        most = int(counts.max())
        if most < 2:
            return {}
        passes = np.add.reduceat(np.frombuffer(self._passed, dtype=np.int8)[order].astype(np.int64), starts)
        rewards_sorted = rewards[order]
        n_of_line = np.repeat(counts, counts)
        rank_of_line = np.arange(lines) - np.repeat(starts, counts)  # 0-based rank of the reward in its task
        wanted = sorted(set(ks)) if ks is not None else ks_for(most)
        out: dict[str, Any] = {"rollouts": most, "tasks": int(len(counts)), "k": {}}
        base = most + 1  # (n, c) and (n, rank) pairs as one integer each: few distinct values to compute
        pairs, inverse = np.unique(counts.astype(np.int64) * base + passes, return_inverse=True)
        ranks, rank_inverse = np.unique(n_of_line.astype(np.int64) * base + rank_of_line, return_inverse=True)
        for k in wanted:
            tasks = counts >= k
            counted = int(tasks.sum())
            if not counted or k < 1:
                continue
            p_at = np.array([pass_at_k(n, c, k) if n >= k else 0.0
                             for n, c in (divmod(int(v), base) for v in pairs)])[inverse.ravel()]
            p_hat = np.array([pass_hat_k(n, c, k) if n >= k else 0.0
                              for n, c in (divmod(int(v), base) for v in pairs)])[inverse.ravel()]
            weight = np.array([comb(i, k - 1) / comb(n, k) if n >= k else 0.0
                               for n, i in (divmod(int(v), base) for v in ranks)])
            best = np.add.reduceat(weight[rank_inverse.ravel()] * rewards_sorted, starts)
            out["k"][str(k)] = {"pass_at_k": round(float(p_at[tasks].mean()), 4),
                                "pass_hat_k": round(float(p_hat[tasks].mean()), 4),
                                "best_at_k": round(float(best[tasks].mean()), 4), "tasks": counted}
        agree = np.maximum(passes, counts - passes) / counts
        out["consistency"] = round(float(agree.mean()), 4)
        out["all_passed"] = int((passes == counts).sum())
        out["all_failed"] = int((passes == 0).sum())
        out["mixed"] = out["tasks"] - out["all_passed"] - out["all_failed"]
        return out
