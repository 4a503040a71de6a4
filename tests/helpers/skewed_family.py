"""A tiny generated task family whose answers are skewed: nine drafts in ten answer 1 (for the tests
of answer balancing, ``Category.max_share``). Reached by name from a spec written by the tests."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

from kernelgym.grading import Grader
from kernelgym.tasks import Category, Draft


def _skewed(ctx: None, rng: random.Random) -> Draft:
    x = rng.randrange(10**9)
    answer = 1 if rng.random() < 0.9 else rng.randrange(2, 40)
    return Draft(question=f"q{x}", answer=answer, reference=[f"submit({answer})"])


def _yes_mostly(ctx: None, rng: random.Random) -> Draft:
    x = rng.randrange(10**9)
    return Draft(question=f"q{x}", answer=rng.random() < 0.8, reference=["submit(True)"])


CATEGORIES = {
    "skewed": Category(name="skewed", description="answers 1 nine times in ten", grader=Grader(rule="numeric"),
                       generate=_skewed),
    "skewed_balanced": Category(name="skewed_balanced", description="the same, balanced", grader=Grader(rule="numeric"),
                                generate=_skewed, max_share=0.15),
    "yes_balanced": Category(name="yes_balanced", description="yes four times in five, balanced",
                             grader=Grader(rule="boolean"), generate=_yes_mostly, max_share=0.5),
}


@contextlib.contextmanager
def open_context() -> Iterator[None]:
    yield None
