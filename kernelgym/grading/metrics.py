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

    @classmethod
    def merged(cls, parts: Iterable[RolloutStats]) -> RolloutStats:
        """The episodes of ``parts`` as one group (groups of disjoint tasks, e.g. the categories of a
        family: :meth:`row` does not depend on the order of the episodes)."""
        out = cls()
        for part in parts:
            out._keys.extend(part._keys)
            out._passed.extend(part._passed)
            out._rewards.extend(part._rewards)
        return out

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
        "consistency", "all_passed", "all_failed", "mixed"}``; empty (``{}``) when no task has two rollouts.

        Transient memory: ~20 bytes an episode (the sort order, then the rewards in task order), and
        best@k is computed for the tasks of one rollout count at a time: a run of a million episodes
        needed ~80 MB more here when every per-episode step had an array of its own."""
        import numpy as np

        lines = len(self._keys)
        if not lines:
            return {}
        keys = np.frombuffer(self._keys, dtype=np.uint64)
        # by task, each task's rewards ascending (for best@k); float32 sorts as its float64 value would
        order = np.lexsort((np.frombuffer(self._rewards, dtype=np.float32), keys))
        keys_sorted = keys[order]
        new_task = np.ones(lines, dtype=bool)
        np.not_equal(keys_sorted[1:], keys_sorted[:-1], out=new_task[1:])
        del keys_sorted
        starts = np.flatnonzero(new_task)
        del new_task
        counts = np.diff(np.r_[starts, lines])
        most = int(counts.max())
        if most < 2:
            return {}
        passes = np.add.reduceat(np.frombuffer(self._passed, dtype=np.int8)[order].astype(np.int64), starts)
        rewards_sorted = np.frombuffer(self._rewards, dtype=np.float32)[order]
        del order
        wanted = sorted(set(ks)) if ks is not None else ks_for(most)
        out: dict[str, Any] = {"rollouts": most, "tasks": int(len(counts)), "k": {}}
        base = most + 1  # (n, c) pairs as one integer each: few distinct values to compute
        pairs, inverse = np.unique(counts.astype(np.int64) * base + passes, return_inverse=True)
        sizes = [int(n) for n in np.unique(counts)]
        for k in wanted:
            tasks = counts >= k
            counted = int(tasks.sum())
            if not counted or k < 1:
                continue
            p_at = np.array([pass_at_k(n, c, k) if n >= k else 0.0
                             for n, c in (divmod(int(v), base) for v in pairs)])[inverse.ravel()]
            p_hat = np.array([pass_hat_k(n, c, k) if n >= k else 0.0
                              for n, c in (divmod(int(v), base) for v in pairs)])[inverse.ravel()]
            # best@k of a task of n rewards r_0 <= ... <= r_(n-1): sum of comb(i, k-1) / comb(n, k) * r_i,
            # added in rank order (as a sequential sum per task would)
            best = np.zeros(len(counts))
            for n in sizes:
                if n < k:
                    continue
                of_size = np.flatnonzero(counts == n)
                first = starts[of_size]
                acc = (comb(0, k - 1) / comb(n, k)) * rewards_sorted[first].astype(np.float64)
                for i in range(1, n):
                    acc += (comb(i, k - 1) / comb(n, k)) * rewards_sorted[first + i].astype(np.float64)
                best[of_size] = acc
            out["k"][str(k)] = {"pass_at_k": round(float(p_at[tasks].mean()), 4),
                                "pass_hat_k": round(float(p_hat[tasks].mean()), 4),
                                "best_at_k": round(float(best[tasks].mean()), 4), "tasks": counted}
        agree = np.maximum(passes, counts - passes) / counts
        out["consistency"] = round(float(agree.mean()), 4)
        out["all_passed"] = int((passes == counts).sum())
        out["all_failed"] = int((passes == 0).sum())
        out["mixed"] = out["tasks"] - out["all_passed"] - out["all_failed"]
        return out
