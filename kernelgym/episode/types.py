"""What an episode is made of: the agent's actions, its observations, the agent protocol, the limits
of an episode and its result (one line of ``results.jsonl``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, model_validator

from kernelgym.runtime.kernel_session import SessionLimits
from kernelgym.tasks import Source, TaskInfo

StopReason = Literal[
    "answered", "max_turns", "time_budget", "kernel_died", "timeout_killed",
    "agent_stopped", "agent_error", "setup_error", "kernel_start_failed", "harness_error",
]

ERROR_STOPS: frozenset[str] = frozenset({"agent_error", "harness_error", "setup_error", "kernel_start_failed"})
"""Stop reasons that are errors of the infrastructure, not failures of the model: the agent's code
raised (``agent_error``: a bug, or a model server that failed after its retries), kernelgym itself
failed (``harness_error``), the task's setup cell failed (``setup_error``), or no kernel started
(``kernel_start_failed``). A run counts them apart from the model's failures (a wrong answer, no
answer, ``max_turns``, ``time_budget``, and ``kernel_died`` / ``timeout_killed``, which the agent's
own cells cause), keeps their traceback, and exits 1 when there are any (``--fail-on-error``)."""


def is_error(stop_reason: str) -> bool:
    """Whether an episode that stopped for ``stop_reason`` is an infrastructure error (:data:`ERROR_STOPS`)."""
    return stop_reason in ERROR_STOPS


class Action(BaseModel):
    """What an agent does next: run a code cell, give a final answer, or stop."""

    kind: Literal["code", "answer", "stop"]
    source: str | None = None
    value: Any = None
    thought: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict, description="e.g. raw model messages, usage")

    @classmethod
    def code(cls, source: str, thought: str | None = None, **meta: Any) -> Action:
        """Run ``source`` as the next cell."""
        return cls(kind="code", source=source, thought=thought, meta=meta)

    @classmethod
    def answer(cls, value: Any, thought: str | None = None, **meta: Any) -> Action:
        """Submit ``value`` (JSON-serialisable) as the final answer; ends the episode."""
        return cls(kind="answer", value=value, thought=thought, meta=meta)

    @classmethod
    def stop(cls, thought: str | None = None, **meta: Any) -> Action:
        """End the episode without a further cell (whatever was submitted so far counts)."""
        return cls(kind="stop", thought=thought, meta=meta)


class Observation(BaseModel):
    """What the agent sees before each action."""

    task: TaskInfo
    prompt: str
    turn: int = Field(description="cells executed so far by the agent")
    max_turns: int
    output: str | None = Field(default=None, description="the last cell's outputs as text")
    status: str | None = Field(default=None, description="ok | error | timeout (last cell)")
    submitted: bool = False
    feedback: str | None = Field(
        default=None, description="with EpisodeConfig.feedback: says the answer just submitted was wrong"
    )


@runtime_checkable
class Agent(Protocol):
    """What :func:`run_episode` drives: ``act`` is all an agent needs.

    Optional hooks, called when the agent has them: ``start_rollout(rollout: int)`` once before the
    first ``act`` with the episode's rollout index (e.g. :class:`kernelgym.agents.langchain.LangChainAgent`
    derives its sampling seed from it, so the rollouts of one task sample differently), and
    ``async aclose()`` when the episode is over.
    """

    async def act(self, obs: Observation) -> Action: ...


DEFAULT_MAX_ATTEMPTS = 3
"""The default cap on submissions graded per episode (``--max-attempts``)."""


class Submission(BaseModel):
    """One submission of an episode: the cell's turn, the value graded (a cell's last ``submit()``),
    and whether it passed (None: not graded on its own, e.g. a function task's ``submit('done')``)."""

    turn: int
    answer: Any = None
    passed: bool | None = None
    values: int = Field(default=1, description="how many submit() calls the cell made (the last one counts)")
    superseded: list[Any] = Field(
        default_factory=list, description="the values of the cell's earlier submit() calls, in order (not graded)")


@dataclass
class EpisodeConfig:
    """Limits of one episode."""

    max_turns: int = 15
    time_budget: float = 1800.0
    """Wall-clock seconds for the whole episode (agent thinking included)."""
    max_observation_chars: int = 4000
    """What the agent sees of a cell's output; the middle is cut with a visible marker."""
    limits: SessionLimits | None = None
    verifier_timeout: float = 60.0
    feedback: bool = False
    """Tell the agent when a submitted answer is wrong (graded on the host) and let it try again
    while turns and attempts remain. The verifier still grades the last submitted answer at the end."""
    silent_retries: bool = False
    """MedAgentGym's rule: grade every submission on the host, end the episode at the first pass, and
    never tell the agent (a wrong submission goes on as if nothing was graded). With ``feedback`` the
    agent is told instead."""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    """Submissions graded per episode at most (with ``feedback`` or ``silent_retries``); the episode
    ends at the last one. Without retries an episode ends at its first submission."""
    reward_rule: str = "first"
    """How a pass after wrong submissions is rewarded (:mod:`kernelgym.grading.attempts`)."""

    @property
    def retries(self) -> bool:
        """Whether a wrong submission lets the agent go on (``feedback`` or ``silent_retries``)."""
        return self.feedback or self.silent_retries


class EpisodeResult(BaseModel):
    """One line of ``results.jsonl``."""

    task_id: str
    family: str
    category: str
    split: str
    rollout: int = 0
    agent: str
    model: str | None = None
    passed: bool
    score: float
    answer: Any = None
    expected: Any = None
    explanation: str = ""
    turns: int
    stop_reason: StopReason
    duration_s: float
    notebook: str | None = None
    error: str | None = None
    traceback: str | None = Field(default=None, description="of an agent_error or harness_error")
    started_at: str
    usage: dict[str, Any] = Field(default_factory=dict)
    source: Source | None = Field(default=None, description="an imported task's record in its source benchmark")
    attempts: int = Field(default=0, description="submissions graded (cells that called submit())")
    submissions: list[Submission] = Field(default_factory=list, description="every submission, in order")
    reward: float = Field(
        default=0.0, description="score weighted by reward_rule for the wrong submissions before the graded one "
                                 "(kernelgym.grading.attempts); what training and exports use")
    reward_rule: str | None = Field(
        default=None, description="the rule of reward; None: a record written before attempts were counted "
                                  "(reward = score)")

    @model_validator(mode="before")
    @classmethod
    def _legacy_reward(cls, data: Any) -> Any:
        """Records written before attempts were counted have no reward: it is their score."""
        if isinstance(data, dict) and "reward" not in data and "score" in data:
            data = {**data, "reward": data["score"]}
        return data


def agent_label(agent: Any) -> tuple[str, str | None, dict[str, Any]]:
    """``(name, model, sampling)`` an agent is recorded under."""
    name = getattr(agent, "name", None) or type(agent).__name__
    return str(name), getattr(agent, "model", None), dict(getattr(agent, "sampling", {}) or {})
