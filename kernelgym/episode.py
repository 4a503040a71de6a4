"""Episodes: prompt -> (agent action -> cell execution -> observation)* -> answer -> verification.

An *agent* is any object with ``async act(self, obs: Observation) -> Action``. The loop runs each
code action as a notebook cell in the episode's own fresh kernel, shows the agent what the cell
printed, and stops on an answer, after ``max_turns``, at the wall-clock budget, or when the kernel
dies. Then the verifier cell runs in the kernel and the host grades its evidence against the ground
truth, which never enters the kernel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import platform
import re
import shutil
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from nbformat import NotebookNode
from pydantic import BaseModel, Field

from kernelgym import notebook as nbk
from kernelgym.grading import grade, grade_evidence
from kernelgym.llm.errors import FatalModelError
from kernelgym.session import CellOutcome, KernelSession, KernelStartError, SessionLimits, evidence_from
from kernelgym.tasks import Instance, TaskInfo
from kernelgym.tempdirs import owned_tempdir

StopReason = Literal[
    "answered", "max_turns", "time_budget", "kernel_died", "timeout_killed",
    "agent_stopped", "agent_error", "setup_error", "kernel_start_failed",
]


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
    while turns remain. The verifier still grades the last submitted answer at the end."""


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
    started_at: str
    usage: dict[str, Any] = Field(default_factory=dict)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def truncate(text: str, limit: int) -> str:
    """Keep the head and tail of ``text`` within ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = max(0, limit - head)
    cut = len(text) - head - tail
    return f"{text[:head]}\n...[kernelgym: {cut:,} characters truncated]...\n{text[-tail:] if tail else ''}"


def render_outputs(outcome: CellOutcome, limit: int, cell_timeout: float) -> str:
    """The agent's view of a cell: streams, results, errors (ANSI stripped), notes for rich output."""
    parts: list[str] = []
    for out in outcome.cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "application/vnd.kernelgym.answer+json" in data:
                parts.append(str(data.get("text/plain", "Submitted answer.")) + "\n")
            elif "text/plain" in data and not any(k.startswith("image/") for k in data):
                parts.append(str(data["text/plain"]) + "\n")
            else:
                kinds = ", ".join(k for k in data if k != "text/plain")
                parts.append(f"[rich output not shown: {kinds}]\n")
        elif kind == "error":
            tb = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            parts.append(strip_ansi(tb) + "\n")
    if outcome.status == "timeout":
        parts.append(f"[kernelgym: the cell ran longer than {cell_timeout:g} s and was interrupted]\n")
    text = strip_ansi("".join(parts)).rstrip("\n")
    return truncate(text, limit) if text else "[no output]"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("kernelgym", "ipykernel", "jupyter_client", "nbclient", "nbformat", "pandas", "duckdb"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _answer_passes(inst: Instance, answer: Any) -> bool:
    """Host-side check of a submitted answer, for feedback (the verifier still decides at the end)."""
    if getattr(inst, "verifier", "answer") != "answer":
        return True  # function tasks are graded on hidden inputs only by the verifier: no feedback
    try:
        return grade(answer, inst.ground_truth, inst.grader).passed
    except Exception:
        return False


def wrong_answer_feedback(left: int) -> str:
    """What an agent is told (with ``EpisodeConfig.feedback``) after a wrong answer, ``left`` turns before the end."""
    return (f"[kernelgym feedback: the submitted answer is not correct. You may try again: "
            f"{left} turn{'s' if left != 1 else ''} left.]")


def agent_label(agent: Any) -> tuple[str, str | None, dict[str, Any]]:
    name = getattr(agent, "name", None) or type(agent).__name__
    return str(name), getattr(agent, "model", None), dict(getattr(agent, "sampling", {}) or {})


async def run_episode(
    inst: Instance,
    agent: Agent,
    *,
    config: EpisodeConfig | None = None,
    rollout: int = 0,
    workdir: Path | None = None,
) -> tuple[EpisodeResult, NotebookNode]:
    """Run one episode of ``inst`` with ``agent`` in a fresh kernel; returns its result and notebook.

    Never raises for what happens inside the episode (agent errors, cell errors, kernel death):
    those end the episode with a stop reason.
    """
    cfg = config or EpisodeConfig()
    limits = cfg.limits or SessionLimits()
    nb = nbk.new_episode_notebook(inst)
    started, t0 = _now(), time.monotonic()
    deadline = t0 + cfg.time_budget
    turns, stop, error = 0, None, None
    wrong_answers = 0
    usage: dict[str, Any] = {}
    evidence: list[dict[str, Any]] = []
    start_rollout = getattr(agent, "start_rollout", None)
    if callable(start_rollout):
        try:
            start_rollout(rollout)
        except FatalModelError:
            raise
        except Exception as exc:  # an agent bug ends its episode, not the run
            stop, error = "agent_error", f"{type(exc).__name__}: {exc}"
    own_dir = workdir is None
    # names this process, so that a later run can remove it if this one is killed (tempdirs.sweep)
    cwd = owned_tempdir("episode") if own_dir else workdir
    assert cwd is not None
    session = KernelSession(inst.profile, nb, cwd=cwd, limits=limits)
    try:
        try:
            await session.start()
        except KernelStartError as exc:
            stop, error = "kernel_start_failed", str(exc)
        if stop is None:
            setup = await session.run_cell(2)
            if setup.status != "ok":
                stop, error = "setup_error", f"setup cell failed: {setup.error_name}"
        obs = Observation(task=inst.public(), prompt=inst.prompt, turn=0, max_turns=cfg.max_turns)
        submitted = False
        while stop is None:
            if turns >= cfg.max_turns:
                stop = "max_turns"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stop = "time_budget"
                break
            try:
                action = await asyncio.wait_for(agent.act(obs), timeout=remaining)
            except asyncio.TimeoutError:
                stop = "time_budget"
                break
            except FatalModelError:  # bad credentials, unknown model...: stops the whole run
                raise
            except Exception as exc:  # an agent bug ends its episode, not the run
                stop, error = "agent_error", f"{type(exc).__name__}: {exc}"
                break
            for key, value in (action.meta.get("usage") or {}).items():
                if isinstance(value, (int, float)):
                    usage[key] = usage.get(key, 0) + value
            if action.thought:
                nbk.add_thought(nb, action.thought)
            # raw model messages and per-call records (latency, retries, usage) go on the cell
            cell_meta = {k: action.meta[k] for k in ("raw", "calls") if action.meta.get(k)}
            if action.kind == "stop":
                if cell_meta and action.thought:
                    nb.cells[-1].metadata.setdefault("kernelgym", {}).update(cell_meta)
                stop = "agent_stopped"
                break
            if action.kind == "code":
                source = action.source or ""
            else:
                source = f"submit({nbk.python_literal(action.value)})"
            idx = nbk.add_action(nb, source, turns + 1)
            nb.cells[idx].metadata["kernelgym"].update(cell_meta)
            outcome = await session.run_cell(idx, timeout=max(1.0, deadline - time.monotonic()))
            turns += 1
            if outcome.status == "dead":
                stop, error = "kernel_died", "the kernel died while running a cell"
                break
            if outcome.status == "killed":
                stop, error = "timeout_killed", "the cell did not stop after an interrupt; the kernel was killed"
                break
            submitted = submitted or bool(outcome.answers)
            feedback = None
            if outcome.answers:
                if not (cfg.feedback and turns < cfg.max_turns) or _answer_passes(inst, outcome.answers[-1]):
                    stop = "answered"
                    break
                wrong_answers += 1
                feedback = wrong_answer_feedback(cfg.max_turns - turns)
            obs = Observation(
                task=inst.public(), prompt=inst.prompt, turn=turns, max_turns=cfg.max_turns,
                output=render_outputs(outcome, cfg.max_observation_chars, limits.cell_timeout),
                status=outcome.status, submitted=submitted, feedback=feedback,
            )
        if session.client is not None and not session.dead:
            vidx = nbk.add_verifier(nb, inst.verifier, inst.verifier_args)
            vout = await session.run_cell(vidx, timeout=cfg.verifier_timeout)
            evidence = evidence_from(vout.cell)
    finally:
        await session.shutdown()
        close = getattr(agent, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                pass
        if own_dir:
            shutil.rmtree(cwd, ignore_errors=True)

    assert stop is not None
    answer, verdict = grade_evidence(
        inst, evidence, no_evidence="no verifier evidence (the kernel was gone before verification)"
    )
    name, model, sampling = agent_label(agent)
    result = EpisodeResult(
        task_id=inst.id, family=inst.family, category=inst.category, split=inst.split, rollout=rollout,
        agent=name, model=model, passed=verdict.passed, score=verdict.score, answer=answer,
        expected=inst.ground_truth, explanation=verdict.explanation, turns=turns, stop_reason=stop,
        duration_s=round(time.monotonic() - t0, 3), error=error, started_at=started, usage=usage,
    )
    nbk.add_result(nb, result.model_dump())
    nb.metadata["kernelgym"].update(
        {
            "agent": {"name": name, "model": model, "sampling": sampling},
            "episode": {
                "rollout": rollout, "start_time": started, "end_time": _now(), "turns": turns,
                "stop_reason": stop, "duration_s": result.duration_s, "usage": usage, "error": error,
                "max_turns": cfg.max_turns, "cell_timeout_s": limits.cell_timeout,
                "max_observation_chars": cfg.max_observation_chars,
                **({"feedback": True, "wrong_answers": wrong_answers} if cfg.feedback else {}),
            },
            "result": {
                "passed": result.passed, "score": result.score, "answer": answer,
                "expected": inst.ground_truth, "explanation": result.explanation,
                "grader": inst.grader.model_dump(),
            },
            "versions": _versions(),
        }
    )
    return result, nb
