"""Attempt accounting: how a pass after wrong submissions is scored.

An episode may grade more than one submission: with ``--feedback`` the agent is told a submitted
answer is wrong and may submit again; with silent retries (MedAgentGym's rule, ``--silent-retries``)
every submission is graded on the host, the episode stops at the first pass, and the agent is never
told. Every submission is recorded. Two numbers come out of an episode, kept apart:

- ``passed``: the verdict on the episode's final answer (after any number of attempts);
- ``reward``: ``score`` weighted by the **reward rule** for the number of wrong submissions before it.

Rules (``--reward-rule``):

=================  ==================================================================================
``first``          the default: ``score`` when the first submission is the one graded, else 0. A pass
                   after a wrong submission earns nothing, so retrying cannot raise an agent's reward
                   above what it earns without feedback: guessing is not rewarded.
``discount:D``     ``score * D ** wrong`` (``0 <= D <= 1``): a pass after ``wrong`` wrong submissions
                   earns less with each. It still rewards guessing a little: an agent guessing blindly
                   gains ``D * P(second guess passes) + ...`` over no feedback.
``any``            ``score``, whatever the wrong submissions before it: MedAgentGym's success (a task
                   counts as solved when any ``validate_code`` passes). Rewards guessing.
=================  ==================================================================================

An episode that submitted nothing (a function task whose verifier grades the defined function, or
no answer at all) counts as one attempt: its verdict is graded once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

DEFAULT_RULE = "first"
RULES = ("first", "discount:D", "any")
"""The rules' spellings (``D`` a number between 0 and 1)."""


class AttemptRule(BaseModel):
    """A parsed reward rule (:func:`parse_rule`)."""

    name: str = Field(description="first | discount | any")
    discount: float = Field(default=0.0, description="the factor per wrong submission (discount: D; first: 0; any: 1)")

    def factor(self, wrong: int) -> float:
        """What a pass after ``wrong`` wrong submissions keeps of its score."""
        if wrong <= 0:
            return 1.0
        if self.name == "any":
            return 1.0
        if self.name == "first":
            return 0.0
        return float(self.discount ** wrong)

    def spelled(self) -> str:
        """The rule as ``--reward-rule`` writes it."""
        return f"discount:{self.discount:g}" if self.name == "discount" else self.name


def parse_rule(text: str | None) -> AttemptRule:
    """``first``, ``any`` or ``discount:D`` as an :class:`AttemptRule`; raises ``ValueError`` with a
    one-line message saying what to write."""
    spelled = (text or DEFAULT_RULE).strip().lower()
    if spelled == "first":
        return AttemptRule(name="first", discount=0.0)
    if spelled == "any":
        return AttemptRule(name="any", discount=1.0)
    if spelled.startswith("discount:"):
        try:
            d = float(spelled.split(":", 1)[1])
        except ValueError:
            d = -1.0
        if 0.0 <= d <= 1.0:
            return AttemptRule(name="discount", discount=d)
        raise ValueError(f"the reward rule {text!r}: D in discount:D must be a number between 0 and 1 (e.g. discount:0.5)")
    raise ValueError(f"unknown reward rule {text!r}: use first, any or discount:D (0 <= D <= 1)")


def attempt_reward(score: float, attempts: int, rule: AttemptRule | str | None = None) -> float:
    """The reward of an episode whose graded (final) submission scored ``score`` and was its
    ``attempts``-th submission (0 counts as 1), under ``rule`` (default :data:`DEFAULT_RULE`)."""
    r = rule if isinstance(rule, AttemptRule) else parse_rule(rule)
    wrong = max(0, int(attempts) - 1)
    return round(float(score) * r.factor(wrong), 6)


def attempt_fields(attempts: int, score: float, rule: AttemptRule | str | None = None) -> dict[str, Any]:
    """``{"attempts", "reward", "reward_rule"}`` of an episode whose final verdict scored ``score`` after
    ``attempts`` submissions: what its result line and its notebook's result record carry (``kernelgym
    grade`` recomputes them for a re-graded verdict)."""
    r = rule if isinstance(rule, AttemptRule) else parse_rule(rule)
    return {"attempts": int(attempts), "reward": attempt_reward(score, attempts, r), "reward_rule": r.spelled()}
