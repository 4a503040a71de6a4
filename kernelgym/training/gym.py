"""Gymnasium environments: a kernelgym suite as a text environment.

``import kernelgym.training.gym`` registers ``kernelgym/<family>-v0`` for every task family (``kernelgym/ehr-v0``,
``kernelgym/medcalc-v0``, ...) and ``kernelgym/all-v0`` (or let Gymnasium import it:
``gym.make("kernelgym.training.gym:kernelgym/ehr-v0")``)::

    import gymnasium as gym
    import kernelgym.training.gym  # registers the environments

    env = gym.make("kernelgym/ehr-v0", split="train", max_turns=15)
    obs, info = env.reset(seed=0)          # a task drawn with the seed; obs = its prompt
    obs, reward, terminated, truncated, info = env.step("print(patients.shape)")
    obs, reward, terminated, truncated, info = env.step("submit(42)")

- ``reset(seed=..., options={"task_id": ...})`` draws a task of the suite (or takes the given one),
  starts a fresh forked kernel (from a warm pool) and returns the task prompt; ``info`` holds the
  ``system_prompt`` of the ``text`` protocol (what the kernel holds, the rules, the answer format),
  ``task_id``, ``family``, ``category``, ``max_turns``.
- ``step(code)`` runs ``code`` as the next notebook cell and returns its output rendered as the LLM
  agent's ``text`` protocol shows it (``Cell 1 ran. Output: ...``). Calling ``submit(answer)`` in a
  cell answers; a dict ``{"answer": value}`` (outside the text space, for convenience) does the same.
- The reward is 0 until the episode ends, then the episode's reward, the ``reward`` that ``kernelgym
  run`` records for the same actions (its score weighted by ``reward_rule`` for wrong submissions,
  :mod:`kernelgym.grading.attempts`; ``info["result"]`` has ``passed``, ``attempts`` and ``submissions``) (the episode runs :func:`kernelgym.episode.run_episode`:
  verifier cell in the kernel, grading on the host). ``info["result"]`` is then the results line.
- ``terminated``: the task reached an end state (an answer, the kernel died or was killed, the
  episode was stopped). ``truncated``: a limit outside the task cut it short (``max_turns`` cells,
  the wall-clock ``time_budget``).

Spaces: observations and actions are Unicode text of bounded length. ``gymnasium.spaces.Text``
only contains strings over a finite character set (alphanumeric by default), but cell outputs and
code hold any Unicode character ("µg/dL", "≥", accented names), so both spaces are
:class:`UnicodeText`, a ``Text`` subclass whose ``contains`` accepts any string within the length
bounds and whose ``sample`` draws printable ASCII. With it, ``gymnasium.utils.env_checker.check_env``
passes (tested).
"""

from __future__ import annotations

import string
from typing import Any, SupportsFloat

import gymnasium
from gymnasium import spaces

from kernelgym.episode import Action, EpisodeConfig
from kernelgym.episode.driver import EpisodeDriver, resolve_instance
from kernelgym.episode.types import DEFAULT_MAX_ATTEMPTS
from kernelgym.training.rollout import (
    TaskSampler,
    background_loop,
    final_observation,
    new_driver,
)

OBSERVATION_MAX_CHARS = 1_000_000
ACTION_MAX_CHARS = 100_000
TRUNCATING_STOPS = frozenset({"max_turns", "time_budget"})


class UnicodeText(spaces.Text):
    """Text of any Unicode characters, ``min_length <= len(x) <= max_length``.

    ``sample()`` draws printable ASCII without ``!`` and ``%`` (a sampled action is run as a cell:
    IPython would run ``!`` lines as shell commands and ``%`` lines as magics).
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | None = None) -> None:
        charset = "".join(c for c in string.printable if c not in "!%")
        super().__init__(max_length, min_length=min_length, charset=charset, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, UnicodeText) and self.min_length == other.min_length
                and self.max_length == other.max_length)


class KernelgymEnv(gymnasium.Env[str, str]):
    """A suite of kernelgym tasks as a Gymnasium text environment (see the module docstring).

    Options: ``suite`` (family names, comma-separated, or ``all``), ``split`` (``train``, ``test`` or
    ``all``), ``categories``, ``limit`` (first N tasks of the suite's balanced order), ``tasks``
    (explicit tasks or ids instead of a suite), ``max_turns``, ``cell_timeout``, ``time_budget``,
    ``max_observation_chars``, ``feedback``, ``max_attempts``, ``reward_rule``, ``pool_size`` (episodes the warm pool of forked kernels serves at once per
    profile; 0 starts each kernel on demand), ``render_mode`` (``ansi``: the episode so far as text),
    ``kernel_host`` (e.g. :class:`kernelgym.runs.ray_backend.RayKernelHosts`: kernels on any node of a Ray
    cluster; default: kernels in this process).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        suite: str = "ehr",
        split: str | None = "train",
        *,
        categories: list[str] | None = None,
        limit: int | None = None,
        tasks: list[Any] | None = None,
        max_turns: int = 15,
        cell_timeout: float = 120.0,
        time_budget: float = 1800.0,
        max_observation_chars: int = 4000,
        feedback: bool = False,
        pool_size: int = 2,
        render_mode: str | None = None,
        kernel_host: Any = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        reward_rule: str = "first",
    ) -> None:
        from kernelgym.grading.attempts import parse_rule
        from kernelgym.runtime.kernel_session import SessionLimits

        parse_rule(reward_rule)  # a bad rule fails here, not in the first episode

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, not {render_mode!r}")
        if max_turns < 2:
            raise ValueError("max_turns must be at least 2")
        self.render_mode = render_mode
        self.observation_space = UnicodeText(OBSERVATION_MAX_CHARS)
        self.action_space = UnicodeText(ACTION_MAX_CHARS, min_length=1)
        self.sampler = TaskSampler(suite, split=split, categories=categories, limit=limit, tasks=tasks)
        self.config = EpisodeConfig(
            max_turns=max_turns, time_budget=time_budget, max_observation_chars=max_observation_chars,
            limits=SessionLimits(cell_timeout=cell_timeout), feedback=feedback, max_attempts=max_attempts,
            reward_rule=reward_rule,
        )
        self.pool_size = pool_size
        self.kernel_host = kernel_host
        """None: kernels in this process; e.g. a :class:`kernelgym.runs.ray_backend.RayKernelHosts`: on a Ray cluster."""
        self.driver: EpisodeDriver | None = None
        self._loop = background_loop()
        self._loop.acquire()
        self._released = False
        self._transcript: list[str] = []
        self._system_prompts: dict[str, str] = {}

    # ---------------------------------------------------------------- Gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self._abandon()
        options = options or {}
        task = options.get("task_id") or options.get("task")
        inst = self.sampler.draw(self.np_random) if task is None else resolve_instance(task)
        driver = new_driver(inst, kernel_host=self.kernel_host, config=self.config, agent_name="gymnasium")
        first = self._loop.run(self._start(driver))
        if first is None:
            result = driver.result
            raise RuntimeError(
                f"the episode of {inst.id} ended before the first action: "
                f"{result.stop_reason if result else '?'} ({result.error if result else ''})"
            )
        self.driver = driver
        self._transcript = [f"# {inst.id}\n\n{inst.prompt}"]
        info = {
            "task_id": inst.id, "family": inst.family, "category": inst.category, "split": inst.split,
            "answer_format": inst.answer_format, "max_turns": self.config.max_turns,
            "system_prompt": self._system_prompt(inst),
        }
        return str(inst.prompt), info

    def step(self, action: str | dict[str, Any] | Action) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        from kernelgym.llm.protocol import observation_text

        driver = self.driver
        if driver is None:
            raise RuntimeError("call reset() before step()")
        if driver.done:
            raise RuntimeError("the episode is over: call reset() to start another")
        obs = self._loop.run(driver.step(action))
        self._transcript.append(f"In [{len(self._transcript)}]:\n{action if isinstance(action, str) else action!r}")
        if obs is not None:
            text = observation_text(obs, tool_result=False)
            self._transcript.append(text)
            info = {"turn": obs.turn, "status": obs.status, "submitted": obs.submitted}
            return text, 0.0, False, False, info
        result = driver.result
        assert result is not None
        text = final_observation(driver, tool_result=False)
        self._transcript.append(text)
        truncated = result.stop_reason in TRUNCATING_STOPS
        info = {"turn": result.turns, "stop_reason": result.stop_reason, "result": result.model_dump(mode="json")}
        return text, float(result.reward), not truncated, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return "\n\n".join(self._transcript)
        return None

    def close(self) -> None:
        """Abandon the running episode; the last environment closed also shuts down the warm kernels."""
        self._abandon()
        if not self._released:
            self._released = True
            self._loop.release()
        super().close()

    # ---------------------------------------------------------------- extras

    @property
    def result(self) -> Any:
        """The last episode's :class:`~kernelgym.episode.EpisodeResult` (None while it runs)."""
        return self.driver.result if self.driver is not None else None

    @property
    def notebook(self) -> Any:
        """The last finished episode's notebook (``kernelgym.notebook.write(env.unwrapped.notebook, path)``)."""
        return self.driver.notebook if self.driver is not None else None

    def _system_prompt(self, inst: Any) -> str:
        from kernelgym.llm.prompts import system_prompt

        if inst.id not in self._system_prompts:
            self._system_prompts[inst.id] = system_prompt(
                inst.public(), protocol="text", max_turns=self.config.max_turns,
                max_observation_chars=self.config.max_observation_chars, feedback=self.config.feedback,
            )
        return self._system_prompts[inst.id]

    async def _start(self, driver: EpisodeDriver) -> Any:
        self._loop.use_pool(self.pool_size)
        return await driver.start()

    def _abandon(self) -> None:
        if self.driver is not None and not self.driver.done:
            try:
                self._loop.run(self.driver.cancel())
            except RuntimeError:  # the loop is gone (interpreter shutdown)
                pass
        self.driver = None


def _spec_families() -> list[str]:
    """Family names of the task spec files, read without importing their generators."""
    import yaml

    from kernelgym.tasks import spec_dirs

    names: list[str] = []
    for d in spec_dirs():
        for path in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
            try:
                family = (yaml.safe_load(path.read_text()) or {}).get("family")
            except Exception:
                continue
            if isinstance(family, str) and family not in names:
                names.append(family)
    return names


def register_envs() -> list[str]:
    """Register ``kernelgym/<family>-v0`` for every task family found now, and ``kernelgym/all-v0``;
    returns the ids (already registered ones are kept)."""
    ids = []
    for family in [*_spec_families(), "all"]:
        env_id = f"kernelgym/{family}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="kernelgym.training.gym:KernelgymEnv", kwargs={"suite": family})
        ids.append(env_id)
    return ids


ENV_IDS = register_envs()
