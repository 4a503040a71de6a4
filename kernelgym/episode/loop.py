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
import functools
import platform
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.episode.observe import render_outputs
from kernelgym.episode.types import (
    Action,
    Agent,
    EpisodeConfig,
    EpisodeResult,
    Observation,
    StopReason,
    Submission,
    agent_label,
    is_error,
)
from kernelgym.grading import grade
from kernelgym.grading.attempts import attempt_fields, parse_rule
from kernelgym.llm.errors import FatalModelError
from kernelgym.notebook.readers import answers_of
from kernelgym.runtime.kernel_session import (
    CellOutcome,
    KernelSession,
    KernelStartError,
    SessionLimits,
)
from kernelgym.runtime.tempdirs import owned_tempdir, remove_tree
from kernelgym.tasks import Instance

__all__ = ["Action", "run_episode", "wrong_answer_feedback"]


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, str], ...]:
    """Python's and the recorded packages' versions, looked up once per process (importlib.metadata
    scans every installed distribution: 8-17 ms per episode when it was done each time)."""
    out = {"python": platform.python_version()}
    for pkg in ("kernelgym", "ipykernel", "jupyter_client", "nbclient", "nbformat", "pandas", "duckdb"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return tuple(out.items())


def _versions() -> dict[str, str]:
    """The versions recorded in every episode notebook (a new dict each time: the caller may change it)."""
    return dict(_package_versions())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _answer_passes(inst: Instance, answer: Any) -> bool:
    """Host-side check of a submitted answer, for feedback (the verifier still decides at the end)."""
    if inst.verifier != "answer":
        return True  # function tasks are graded on hidden inputs only by the verifier: no feedback
    try:
        return grade(answer, inst.ground_truth, inst.grader).passed
    except Exception:
        return False


def _why_no_evidence(outcome: CellOutcome) -> str:
    """Why a verifier cell that ran emitted no evidence: what it printed, or how its kernel ended."""
    if outcome.status in ("dead", "killed"):
        return "no verifier evidence (the kernel died while the verifier ran)"
    if outcome.status == "timeout":
        return "no verifier evidence (the verifier cell timed out)"
    printed = " ".join(
        str(o.get("text", "")) for o in outcome.cell.get("outputs", []) if o.get("output_type") == "stream"
    ).strip()
    return f"no verifier evidence ({printed[:300]})" if printed else "no verifier evidence (the verifier emitted none)"


def wrong_answer_feedback(left: int, attempts_left: int | None = None) -> str:
    """What an agent is told (with ``EpisodeConfig.feedback``) after a wrong answer, ``left`` turns before
    the end and ``attempts_left`` submissions before the cap (None: not said, as before attempts were capped)."""
    more = "" if attempts_left is None else f"; at most {attempts_left} more submission{'s' if attempts_left != 1 else ''}"
    return (f"[kernelgym feedback: the submitted answer is not correct. You may try again: "
            f"{left} turn{'s' if left != 1 else ''} left{more}.]")


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
    turns, error = 0, None
    trace: str | None = None  # the traceback of an agent_error
    stop: StopReason | None = None
    submissions: list[Submission] = []
    rule = parse_rule(cfg.reward_rule).spelled()  # a bad rule fails here, before any kernel starts
    usage: dict[str, Any] = {}
    evidence: list[dict[str, Any]] = []
    no_evidence = "no verifier evidence (the kernel was gone before verification)"
    start_rollout = getattr(agent, "start_rollout", None)
    if callable(start_rollout):
        try:
            start_rollout(rollout)
        except FatalModelError:
            raise
        except Exception as exc:  # an agent bug ends its episode, not the run
            stop, error, trace = "agent_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()
    own_dir = workdir is None
    # names this process, so that a later run can remove it if this one is killed (tempdirs.sweep)
    cwd = owned_tempdir("episode") if own_dir else workdir
    assert cwd is not None
    session = KernelSession(inst.profile, nb, cwd=cwd, limits=limits)
    try:
        try:
            await session.start()
        except KernelStartError as exc:
            stop, error, trace = "kernel_start_failed", str(exc), traceback.format_exc()
        if stop is None:
            setup = await session.run_cell(nbk.index_of_tag(nb, nbk.TAG_SETUP))
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
                stop, error, trace = "agent_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()
                # an agent may say what the failed action cost (model time of failed attempts, tokens)
                for key, value in (getattr(exc, "usage", None) or {}).items():
                    if isinstance(value, (int, float)):
                        usage[key] = usage.get(key, 0) + value
                break
            for key, value in (action.meta.get("usage") or {}).items():
                if isinstance(value, (int, float)):
                    usage[key] = usage.get(key, 0) + value
            # raw model messages and per-call records (latency, retries, usage) go on the cell
            cell_meta = {k: action.meta[k] for k in ("raw", "calls") if action.meta.get(k)}
            if action.kind == "stop":
                if action.thought:
                    label = nbk.add_thought(nb, action.thought, turns + 1)
                    if cell_meta:
                        nb.cells[label].metadata["kernelgym"].update(cell_meta)
                stop = "agent_stopped"
                break
            nbk.add_thought(nb, action.thought, turns + 1)  # "Turn N — thought" (or "— action"): a visible label
            if action.kind == "code":
                source = action.source or ""
            else:
                source = f"submit({nbk.python_literal(action.value)})"
            idx = nbk.add_action(nb, source, turns + 1)
            nb.cells[idx].metadata["kernelgym"].update(cell_meta)
            outcome = await session.run_cell(idx, timeout=max(1.0, deadline - time.monotonic()))
            answers = answers_of(outcome.cell)
            turns += 1
            if outcome.status == "dead":
                stop, error = "kernel_died", "the kernel died while running a cell"
                break
            if outcome.status == "killed":
                stop, error = "timeout_killed", "the cell did not stop after an interrupt; the kernel was killed"
                break
            submitted = submitted or bool(answers)
            feedback = None
            if answers:
                # every submission is recorded; with retries each is graded on the host as it is made
                graded = _answer_passes(inst, answers[-1]) if cfg.retries and inst.verifier == "answer" else None
                submissions.append(Submission(turn=turns, answer=answers[-1], passed=graded, values=len(answers),
                                              superseded=list(answers[:-1])))
                if (graded is not False or turns >= cfg.max_turns
                        or len(submissions) >= max(1, cfg.max_attempts)):
                    stop = "answered"
                    break
                if cfg.feedback:  # silent retries: the agent is not told (MedAgentGym's rule)
                    feedback = wrong_answer_feedback(cfg.max_turns - turns, cfg.max_attempts - len(submissions))
            obs = Observation(
                task=inst.public(), prompt=inst.prompt, turn=turns, max_turns=cfg.max_turns,
                output=render_outputs(outcome, cfg.max_observation_chars, limits.cell_timeout),
                status=outcome.status, submitted=submitted, feedback=feedback,
            )
        if session.client is not None and not session.dead:
            vidx = nbk.add_verifier(nb, inst.verifier, inst.verifier_args)
            vout = await session.run_cell(vidx, timeout=cfg.verifier_timeout)
            evidence = nbk.evidence_of(vout.cell)
            if not evidence:
                no_evidence = _why_no_evidence(vout)
    finally:
        await session.shutdown()
        close = getattr(agent, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception:
                pass
        if own_dir:
            remove_tree(cwd)

    assert stop is not None
    failure = {"stop_reason": stop, "message": error, "traceback": trace} if is_error(stop) else None
    name, model, sampling = agent_label(agent)
    duration = round(time.monotonic() - t0, 3)
    # the episode's facts first: the header cell that record_verdict writes shows them
    nb.metadata["kernelgym"].update(
        {
            "agent": {"name": name, "model": model, "sampling": sampling},
            "episode": {
                "rollout": rollout, "start_time": started, "end_time": _now(), "turns": turns,
                "stop_reason": stop, "duration_s": duration, "usage": usage, "error": error,
                "max_turns": cfg.max_turns, "cell_timeout_s": limits.cell_timeout,
                "max_observation_chars": cfg.max_observation_chars,
                **({"feedback": True} if cfg.feedback else {}),
                **({"silent_retries": True} if cfg.silent_retries else {}),
                "max_attempts": cfg.max_attempts if cfg.retries else 1,
                "submissions": [s.model_dump(mode="json") for s in submissions],
            },
            "versions": _versions(),
        }
    )
    answer, verdict = inst.verdict(evidence, no_evidence=no_evidence)
    if submissions and submissions[-1].passed is None:  # graded only by the verifier: its verdict
        submissions[-1].passed = verdict.passed
        nb.metadata["kernelgym"]["episode"]["submissions"][-1]["passed"] = verdict.passed
    nb.metadata["kernelgym"]["episode"]["wrong_answers"] = sum(1 for s in submissions if s.passed is False)
    scored = attempt_fields(len(submissions), verdict.score, rule)
    nbk.write_result(nb, nbk.result_record(inst, answer, verdict, failure) | scored)
    result = EpisodeResult(
        task_id=inst.id, family=inst.family, category=inst.category, split=inst.split, rollout=rollout,
        agent=name, model=model, passed=verdict.passed, score=verdict.score, answer=answer,
        expected=inst.ground_truth, explanation=verdict.explanation, turns=turns, stop_reason=stop,
        duration_s=duration, error=error, traceback=trace, started_at=started, usage=usage,
        submissions=submissions, **scored,
    )
    return result, nb
