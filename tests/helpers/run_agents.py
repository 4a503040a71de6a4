"""Small agents for the run tests (tests/runs/test_run_trust.py), loaded as ``module:Class``."""

from __future__ import annotations

import os

from kernelgym import Action, Observation


class RaisesWhileEnvSet:
    """Raises in ``act`` while ``$KG_TEST_AGENT_RAISES`` is set (an agent bug, a model server down);
    otherwise answers 0 at once. Its configuration is the same either way, so a run it errored in can be
    retried with ``--retry-errors``."""

    async def act(self, obs: Observation) -> Action:
        if os.environ.get("KG_TEST_AGENT_RAISES"):
            raise RuntimeError("model server unreachable")
        return Action.answer(0)


class TakesOptions:
    """Records the options it was given (``-O``) in its answer: ``[temperature, name, flags]``."""

    def __init__(self, temperature: float = 0.0, name: str = "x", flags: list[int] | None = None) -> None:
        self.options = [temperature, name, flags]

    async def act(self, obs: Observation) -> Action:
        return Action.answer(self.options)
