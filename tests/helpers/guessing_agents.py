"""Agents that never look at the data; loaded by tests as ``module:Class``.

:class:`DataBlindGuesser` submits guesses from a fixed list, in order, without running a single cell
of its own, and submits the next guess whenever the episode lets it go on (told it was wrong with
``--feedback``; not told with silent retries). What it scores is what guessing earns.
"""

from __future__ import annotations

from typing import Any

from kernelgym import Action, Observation


class DataBlindGuesser:
    """Submits ``GUESSES[0]``, then the next guess each time it is asked to act again."""

    name = "data-blind-guesser"
    GUESSES: list[Any] = [0, 1, 2, 3, 4, 5]
    seen: list[Observation] = []
    """Every observation any instance was shown (class-wide, for the tests to inspect)."""

    def __init__(self) -> None:
        self._next = 0

    async def act(self, obs: Observation) -> Action:
        type(self).seen.append(obs)
        if self._next >= len(self.GUESSES):
            return Action.stop()
        guess = self.GUESSES[self._next]
        self._next += 1
        return Action.answer(guess, thought="a guess, without looking at the data")
