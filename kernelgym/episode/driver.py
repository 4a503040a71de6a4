"""Driving an episode from outside, one action at a time (Gymnasium, TRL and Ray build on this).

:class:`EpisodeDriver` runs :func:`kernelgym.episode.run_episode` with an agent whose actions come
from the caller, so a step-by-step episode is the same loop, limits, verifier and notebook as an
episode of ``kernelgym run``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nbformat import NotebookNode

from kernelgym.episode.loop import run_episode
from kernelgym.episode.types import Action, EpisodeConfig, EpisodeResult, Observation
from kernelgym.tasks import Instance, get_instance


def resolve_instance(task: Instance | str) -> Instance:
    """``task`` itself, or the instance with that id."""
    return task if isinstance(task, Instance) else get_instance(task)


def as_action(value: Any) -> Action:
    """An :class:`Action` from what a policy returned: an Action, code (str), or a dict such as
    ``{"code": ...}`` / ``{"answer": ...}``."""
    if isinstance(value, Action):
        return value
    if isinstance(value, str):
        return Action.code(value)
    if isinstance(value, dict):
        if "code" in value:
            return Action.code(str(value["code"]), thought=value.get("thought"))
        if "answer" in value:
            return Action.answer(value["answer"], thought=value.get("thought"))
        if value.get("kind") in ("code", "answer", "stop"):
            return Action.model_validate(value)
    raise TypeError(f"a policy must return an Action, a code string or {{'code'|'answer': ...}}, not {type(value).__name__}")


class _Bridge:
    """An agent whose actions come from outside: ``act`` hands over the observation and waits."""

    def __init__(self, name: str, model: str | None, sampling: dict[str, Any]) -> None:
        self.name, self.model, self.sampling = name, model, sampling
        self.observations: asyncio.Queue[Observation] = asyncio.Queue()
        self.actions: asyncio.Queue[Action] = asyncio.Queue()

    async def act(self, obs: Observation) -> Action:
        self.observations.put_nowait(obs)
        return await self.actions.get()


class EpisodeDriver:
    """One episode of ``kernelgym run``'s loop, driven one action at a time.

    ``obs = await driver.start()`` starts the kernel and returns the first observation;
    ``obs = await driver.step(action)`` runs the action and returns the next observation, or None
    when the episode is over (then :attr:`result` and :attr:`notebook` are set).
    """

    def __init__(
        self,
        task: Instance | str,
        *,
        config: EpisodeConfig | None = None,
        rollout_index: int = 0,
        agent_name: str = "rollout",
        model: str | None = None,
        sampling: dict[str, Any] | None = None,
    ) -> None:
        self.instance = resolve_instance(task)
        self.config = config or EpisodeConfig()
        self.rollout_index = rollout_index
        self._bridge = _Bridge(agent_name, model, dict(sampling or {}))
        self._task: asyncio.Task[tuple[EpisodeResult, NotebookNode]] | None = None
        self.observation: Observation | None = None
        self.result: EpisodeResult | None = None
        self.notebook: NotebookNode | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    async def start(self) -> Observation | None:
        if self._task is not None:
            raise RuntimeError("this episode was already started")
        self._task = asyncio.get_running_loop().create_task(
            run_episode(self.instance, self._bridge, config=self.config, rollout=self.rollout_index)
        )
        return await self._next()

    async def step(self, action: Action | str | dict[str, Any]) -> Observation | None:
        if self._task is None:
            raise RuntimeError("call start() first")
        if self.done:
            raise RuntimeError("the episode is over")
        self._bridge.actions.put_nowait(as_action(action))
        return await self._next()

    async def finish(self) -> EpisodeResult:
        """End the episode now (a stop action: the verifier grades what was submitted so far)."""
        while not self.done:
            await self.step(Action.stop())
        assert self.result is not None
        return self.result

    async def cancel(self) -> None:
        """Abandon the episode without verification (its kernel is shut down)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _next(self) -> Observation | None:
        assert self._task is not None
        get = asyncio.ensure_future(self._bridge.observations.get())
        done, _ = await asyncio.wait({get, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            self.observation = get.result()
            return self.observation
        get.cancel()
        self.result, self.notebook = self._task.result()
        self.observation = None
        return None
