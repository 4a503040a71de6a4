"""Rollouts for custom trainers: run a policy on a task in a fresh kernel and get back the
trajectory, its reward and its notebook; drive an episode step by step; plug kernelgym into TRL.

- :func:`rollout` (async): one episode of ``policy`` on ``task``; :func:`rollouts` runs many (e.g. a
  GRPO group: the same task ``n`` times) in parallel on a warm pool of forked kernels.
- :class:`EpisodeDriver`: the same episode loop, driven from outside one action at a time (the
  Gymnasium environment :mod:`kernelgym.training.gym` and :class:`KernelgymToolEnv` are built on it).
- :class:`KernelgymToolEnv`: a class for TRL ``GRPOTrainer(environment_factory=...)``: ``reset(**row)``
  starts a task's kernel and returns its prompt, the tool methods ``run_cell`` and ``submit_answer``
  run cells, ``get_reward()`` runs the verifier.

Every path runs :func:`kernelgym.episode.run_episode`, the loop of ``kernelgym run``: the same
cells, limits, verifier and host-side grading, so a reward here is the ``score`` that ``kernelgym
run`` records for the same actions, and every episode leaves the same notebook.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import random
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode

from kernelgym.episode import (
    Action,
    EpisodeConfig,
    EpisodeResult,
    Observation,
    run_episode,
)
from kernelgym.episode.driver import EpisodeDriver, as_action, resolve_instance
from kernelgym.episode.types import DEFAULT_MAX_ATTEMPTS
from kernelgym.tasks import Instance, get_instance, select

Policy = Any
"""An agent (``async act(obs) -> Action``), or a callable ``policy(obs)`` (sync or async) returning an
:class:`~kernelgym.episode.Action`, or a string of code to run as the next cell."""


@dataclass
class Step:
    """One turn of a trajectory: what the policy saw and what it did."""

    observation: Observation
    action: Action


@dataclass
class Trajectory:
    """A finished episode: its steps, result, reward and notebook."""

    task: Instance
    result: EpisodeResult
    notebook: NotebookNode
    steps: list[Step] = field(default_factory=list)

    @property
    def reward(self) -> float:
        """The episode's reward (what ``kernelgym run`` records): its score weighted by the reward rule for
        the wrong submissions before the graded one (:mod:`kernelgym.grading.attempts`)."""
        return float(self.result.reward)

    @property
    def passed(self) -> bool:
        return bool(self.result.passed)

    def messages(self, protocol: str = "tools") -> list[dict[str, Any]]:
        """The episode as chat messages (:func:`kernelgym.training.export.conversation`)."""
        from kernelgym.training.export import conversation

        return conversation(self.notebook, protocol=protocol, instance=self.task).messages  # type: ignore[arg-type]


class _PolicyAgent:
    """Adapts a policy to the agent protocol and records the steps."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.steps: list[Step] = []
        for attr in ("name", "model", "sampling"):
            value = getattr(policy, attr, None)
            if value is not None:
                setattr(self, attr, value)
        if not getattr(self, "name", None):
            self.name = getattr(policy, "__name__", None) or type(policy).__name__

    async def act(self, obs: Observation) -> Action:
        act = getattr(self.policy, "act", None)
        out = act(obs) if act is not None else self.policy(obs)
        if inspect.isawaitable(out):
            out = await out
        action = as_action(out)
        self.steps.append(Step(obs, action))
        return action

    async def aclose(self) -> None:
        close = getattr(self.policy, "aclose", None)
        if close is not None:
            await close()


async def rollout(
    task: Instance | str,
    policy: Policy,
    *,
    config: EpisodeConfig | None = None,
    rollout_index: int = 0,
    kernel_host: Any = None,
) -> Trajectory:
    """Run one episode of ``policy`` on ``task`` (an :class:`Instance` or a task id) in a fresh kernel.

    Inside :func:`rollouts` (or any ``async with kernelgym.runtime.pool.KernelPools(...)``) the kernel comes
    from the warm pool. With ``kernel_host`` (e.g. :class:`kernelgym.runs.ray_backend.RayKernelHosts`) the
    episode runs on a remote host and the policy here, one remote step per action.
    """
    inst = resolve_instance(task)
    agent = _PolicyAgent(policy)
    if kernel_host is None:
        result, nb = await run_episode(inst, agent, config=config, rollout=rollout_index)
        return Trajectory(inst, result, nb, agent.steps)
    driver = new_driver(inst, kernel_host=kernel_host, config=config, rollout_index=rollout_index,
                        agent_name=agent.name, model=getattr(agent, "model", None),
                        sampling=getattr(agent, "sampling", None))
    try:
        obs = await driver.start()
        while obs is not None:
            try:
                action = await agent.act(obs)
            except Exception:  # as in run_episode: an agent bug ends its episode, graded as it stands
                action = Action.stop()
            obs = await driver.step(action)
    except BaseException:
        await driver.cancel()
        raise
    finally:
        await agent.aclose()
    assert driver.result is not None
    return Trajectory(inst, driver.result, driver.notebook, agent.steps)


def new_driver(task: Instance | str, *, kernel_host: Any = None, **kwargs: Any) -> Any:
    """A step-by-step episode: an :class:`EpisodeDriver` in this process, or with ``kernel_host``
    (e.g. :class:`kernelgym.runs.ray_backend.RayKernelHosts`) its remote twin on one of the host's
    nodes, with the same interface. ``kwargs``: those of :class:`EpisodeDriver`."""
    if kernel_host is None:
        return EpisodeDriver(task, **kwargs)
    kwargs["sampling"] = kwargs.get("sampling") or {}
    return kernel_host.driver(task, **kwargs)


async def rollouts(
    tasks: Sequence[Instance | str],
    policy_factory: Callable[[], Policy],
    *,
    n: int = 1,
    concurrency: int = 2,
    pool_size: int | None = None,
    config: EpisodeConfig | None = None,
    kernel_host: Any = None,
) -> list[list[Trajectory]]:
    """``n`` episodes of each task (a fresh policy from ``policy_factory`` per episode), ``concurrency``
    at a time, on a warm pool serving ``pool_size`` episodes at once per profile (default ``concurrency``; 0: none).
    With ``kernel_host`` (e.g. :class:`kernelgym.runs.ray_backend.RayKernelHosts`) the kernels are on the
    host's nodes (sized by the host) and ``pool_size`` is not used.

    Returns one list of ``n`` trajectories per task, in order: a GRPO group per task.
    """
    from kernelgym.runtime.pool import KernelPools

    insts = [resolve_instance(t) for t in tasks]
    out: list[list[Trajectory | None]] = [[None] * n for _ in insts]
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(i: int, k: int) -> None:
        async with sem:
            out[i][k] = await rollout(insts[i], policy_factory(), config=config, rollout_index=k,
                                      kernel_host=kernel_host)

    size = concurrency if pool_size is None else pool_size
    jobs = [one(i, k) for i in range(len(insts)) for k in range(n)]
    try:
        if size > 0 and insts and kernel_host is None:
            async with KernelPools(size, profiles=sorted({i.profile for i in insts})):
                await asyncio.gather(*jobs)
        else:
            await asyncio.gather(*jobs)
    finally:
        from kernelgym.llm.client import close_shared_models

        await close_shared_models()  # the model clients LLM policies made in this loop shared (llm/client.py)
    return [[t for t in group if t is not None] for group in out]


# ---------------------------------------------------------------- step by step


# ---------------------------------------------------------------- sync use: one background loop


class BackgroundLoop:
    """An event loop in a daemon thread, for synchronous APIs (Gymnasium, TRL) over async kernels.

    It owns the warm pools of forked kernels that its episodes use (one per pool size).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kernelgym-loop", daemon=True)
        self._thread.start()
        self._pools: dict[int, Any] = {}
        self._users = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Count one more user (an environment) of the loop's warm pools."""
        with self._lock:
            self._users += 1

    def release(self) -> None:
        """One user fewer; when none is left, the warm kernels are shut down (a later episode refills)."""
        with self._lock:
            self._users = max(0, self._users - 1)
            idle = self._users == 0
        if idle:
            self.close_pools()

    def close_pools(self) -> None:
        """Shut down the warm kernels kept ready (running episodes keep theirs)."""
        if self.loop.is_closed() or not self.loop.is_running() or not self._pools:
            return
        try:
            self.run(self._close_pools(), timeout=30)
        except Exception:
            pass

    async def _close_pools(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(p.__aexit__(None, None, None) for p in pools), return_exceptions=True)

    def run(self, coro: Awaitable[Any], timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and wait for its result (from any other thread)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("BackgroundLoop.run() called from its own loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def use_pool(self, size: int) -> None:
        """Make this task's kernels come from the loop's warm pool of ``size`` kernels per profile
        (call inside a coroutine run on the loop; 0 starts each kernel on demand)."""
        if size <= 0:
            return
        from kernelgym.runtime import pool

        pools = self._pools.get(size)
        if pools is None:
            pools = self._pools[size] = pool.KernelPools(size)
        pool._active.set(pools)  # this task's context only

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.close_pools()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


_background: BackgroundLoop | None = None
_background_lock = threading.Lock()


def background_loop() -> BackgroundLoop:
    """The process's shared :class:`BackgroundLoop` (started on first use, closed at exit)."""
    global _background
    with _background_lock:
        if _background is None or _background.loop.is_closed():
            _background = BackgroundLoop()
            atexit.register(_background.close)
        return _background


def close_pools() -> None:
    """Shut down the warm kernels that the Gymnasium and TRL environments of this process keep ready
    (they are also shut down when the last Gymnasium environment is closed, and at exit)."""
    if _background is not None:
        _background.close_pools()


class TaskSampler:
    """Draws tasks of a suite: ``suite`` (family names or ``all``), ``split``, ``categories``, ``limit``."""

    def __init__(
        self,
        suite: str = "ehr",
        *,
        split: str | None = "train",
        categories: list[str] | None = None,
        limit: int | None = None,
        tasks: Sequence[Instance | str] | None = None,
    ) -> None:
        self.suite, self.split, self.categories, self.limit = suite, split, categories, limit
        self._given = list(tasks) if tasks is not None else None
        self._tasks: list[Instance] | None = None

    @property
    def tasks(self) -> list[Instance]:
        if self._tasks is None:
            if self._given is not None:
                self._tasks = [resolve_instance(t) for t in self._given]
            else:
                split = None if self.split in (None, "all") else self.split
                self._tasks = select(self.suite, split=split, categories=self.categories, limit=self.limit)  # type: ignore[arg-type]
            if not self._tasks:
                raise ValueError(f"no tasks in suite={self.suite!r} split={self.split!r} categories={self.categories}")
        return self._tasks

    def draw(self, rng: Any) -> Instance:
        """One task, drawn with ``rng`` (a ``numpy.random.Generator`` or a ``random.Random``)."""
        n = len(self.tasks)
        k = int(rng.integers(n)) if hasattr(rng, "integers") else rng.randrange(n)
        return self.tasks[k]


# ---------------------------------------------------------------- TRL


class KernelgymToolEnv:
    """A kernelgym task as a TRL ``environment_factory`` environment (``GRPOTrainer``).

    One instance runs one episode at a time in a fresh forked kernel: ``reset(**row)`` starts it and
    returns its prompt, the public methods :meth:`run_cell` and :meth:`submit_answer` are the
    model's tools, and :meth:`get_reward` ends the episode, runs the verifier and returns the reward
    (what ``kernelgym run`` records: the score weighted by ``reward_rule`` for wrong submissions). TRL exposes every public method as a tool, so these are its only
    public methods. Configure it with ``functools.partial``::

        from functools import partial
        GRPOTrainer(..., environment_factory=partial(KernelgymToolEnv, suite="ehr", split="train"))

    ``reset`` picks the task from the dataset row (an ``extra_info["task_id"]`` as in ``kernelgym
    export verl`` rows, or a ``task_id`` column); without one it draws a task of ``suite``/``split``.
    TRL appends what ``reset`` returns to the row's last prompt message, so it returns: nothing
    when that message already holds the task prompt (``export verl`` rows); the task prompt when the
    row's prompt has a system message; else the system prompt and the task prompt.
    """

    def __init__(
        self,
        suite: str = "ehr",
        split: str | None = "train",
        *,
        categories: list[str] | None = None,
        max_turns: int = 15,
        cell_timeout: float = 120.0,
        time_budget: float = 1800.0,
        max_observation_chars: int = 4000,
        feedback: bool = False,
        pool_size: int = 4,
        seed: int | None = None,
        kernel_host: Any = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        reward_rule: str = "first",
    ) -> None:
        from kernelgym.grading.attempts import parse_rule
        from kernelgym.runtime.kernel_session import SessionLimits

        parse_rule(reward_rule)  # a bad rule fails here, not in the first episode

        self._kernel_host = kernel_host
        self._sampler = TaskSampler(suite, split=split, categories=categories)
        self._config = EpisodeConfig(
            max_turns=max_turns, time_budget=time_budget, max_observation_chars=max_observation_chars,
            limits=SessionLimits(cell_timeout=cell_timeout), feedback=feedback, max_attempts=max_attempts,
            reward_rule=reward_rule,
        )
        self._pool_size = pool_size
        self._rng = random.Random(seed)
        self._driver: EpisodeDriver | None = None
        self._loop = background_loop()
        self._loop.acquire()  # TRL never closes its environments: the warm kernels live until close_pools() or exit
        self.task: Instance | None = None
        self.result: EpisodeResult | None = None

    # reserved methods (not tools) ------------------------------------------------

    def reset(self, **row: Any) -> str | None:
        """Start a fresh episode for the task of ``row`` (see the class docstring); returns the prompt."""
        from kernelgym.llm.prompts import system_prompt

        self._abandon()
        task_id = row.get("task_id") or (row.get("extra_info") or {}).get("task_id")
        self.task = get_instance(task_id) if task_id else self._sampler.draw(self._rng)
        self._driver = new_driver(self.task, kernel_host=self._kernel_host, config=self._config, agent_name="trl")
        first = self._loop.run(self._start(self._driver))
        if first is None:  # the episode ended before the first action (the kernel or setup failed)
            self.result = self._driver.result
        prompt = row.get("prompt")
        if isinstance(prompt, list) and prompt:
            last = prompt[-1].get("content") if isinstance(prompt[-1], dict) else None
            if isinstance(last, str) and self.task.prompt in last:
                return None
            if any(isinstance(m, dict) and m.get("role") == "system" for m in prompt):
                return self.task.prompt
        system = system_prompt(self.task.public(), protocol="tools", max_turns=self._config.max_turns,
                               max_observation_chars=self._config.max_observation_chars, feedback=self._config.feedback)
        return f"{system}\n\n{self.task.prompt}"

    def get_reward(self) -> float:
        """End the episode (if the model did not submit, nothing is graded as submitted) and return its
        reward (the score weighted by the reward rule for wrong submissions)."""
        if self._driver is None:
            return 0.0
        if self.result is None:
            self.result = self._loop.run(self._driver.finish())
        return float(self.result.reward)

    # tools -------------------------------------------------------------------------

    def run_cell(self, code: str) -> str:
        """Run Python code as the next cell of the notebook, in the task's persistent Jupyter kernel.

        Args:
            code: Python source of the cell.

        Returns:
            What the cell printed, its last expression's value and any traceback.
        """
        return self._act(Action.code(code))

    def submit_answer(self, answer: Any) -> str:
        """Submit your final answer; this ends the task.

        Args:
            answer: The final answer as a JSON value (number, string, boolean, list, object or null), in the answer format the task asks for.

        Returns:
            A confirmation that the answer was submitted.
        """
        return self._act(Action.answer(answer))

    # internals ---------------------------------------------------------------------

    async def _start(self, driver: EpisodeDriver) -> Observation | None:
        self._loop.use_pool(self._pool_size)
        return await driver.start()

    def _act(self, action: Action) -> str:
        from kernelgym.llm.protocol import observation_text

        if self._driver is None:
            return "Error: no task is running (reset() was not called)."
        if self._driver.done:
            return f"Error: the task is over ({self._driver.result.stop_reason if self._driver.result else '?'}); nothing more runs."
        obs = self._loop.run(self._driver.step(action))
        if obs is not None:
            return observation_text(obs, tool_result=True)
        self.result = self._driver.result
        return final_observation(self._driver, tool_result=True)

    def _abandon(self) -> None:
        """Abandon the running episode, if any (its kernel is shut down)."""
        if self._driver is not None and not self._driver.done:
            self._loop.run(self._driver.cancel())
        self._driver = None
        self.result = None

    def __del__(self) -> None:
        try:
            if self._driver is not None and not self._driver.done and not self._loop.loop.is_closed():
                asyncio.run_coroutine_threadsafe(self._driver.cancel(), self._loop.loop)
        except Exception:
            pass


def final_observation(driver: EpisodeDriver, *, tool_result: bool) -> str:
    """The output of the cell that ended an episode, rendered as the protocol shows cell outputs
    (``tool_result``: as a tool message; else as the text protocol's message), and why it ended."""
    from kernelgym import notebook as nbk
    from kernelgym.llm.protocol import observation_text
    from kernelgym.training.export import cell_observation

    result, nb = driver.result, driver.notebook
    assert result is not None and nb is not None
    cfg = driver.config
    limits = cfg.limits
    actions = nbk.cells_with_tag(nb, nbk.TAG_ACTION)
    ended = {
        "answered": "The answer was submitted; the task is over.",
        "max_turns": f"The turn limit ({cfg.max_turns} cells) is reached; the task is over.",
        "time_budget": "The time budget is spent; the task is over.",
        "kernel_died": "The kernel died; the task is over.",
        "timeout_killed": "The cell did not stop after an interrupt; the kernel was killed and the task is over.",
        "agent_stopped": "The task was ended.",
    }.get(result.stop_reason, f"The task is over ({result.stop_reason}).")
    if not actions or result.turns == 0 or int(actions[-1].metadata.get("kernelgym", {}).get("turn", 0)) != result.turns:
        return f"[kernelgym: {ended}]"
    cell = actions[-1]
    obs = cell_observation(
        cell, driver.instance, turn=result.turns, max_turns=cfg.max_turns,
        max_observation_chars=cfg.max_observation_chars,
        cell_timeout=limits.cell_timeout if limits is not None else 120.0,
    )
    return observation_text(obs, tool_result=tool_result) + f"\n\n[kernelgym: {ended}]"
