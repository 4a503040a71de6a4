"""Gymnasium environments, the rollout API and the TRL environment, on real forked kernels.

The rewards they give are compared with what ``kernelgym run`` records for the same actions.
``KERNELGYM_GYM_EPISODES`` sets the length of the RL-style loop (default 24; the benchmark
``benchmarks/gym_loop.py`` runs 100).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import typing
from pathlib import Path
from typing import Any

import pytest

gym = pytest.importorskip("gymnasium")

import kernelgym.training.gym as kg_gym
from kernelgym.episode import Action, EpisodeConfig, Observation
from kernelgym.runs.runner import RunOptions, read_results, run_async
from kernelgym.tasks import get_instance

pytestmark = [pytest.mark.kernel]

CATEGORIES = ["patient_gender", "admission_count", "admission_type", "died_in_hospital", "icu_first_careunit"]
MAX_TURNS = 3
WRONG = "submit('certainly-wrong-answer')"


def plan(task_id: str) -> list[str]:
    """The cells a scripted policy runs for a task (a function of the task alone): the reference
    solution (passes), a wrong answer (fails, terminated) or cells that never answer (truncated)."""
    ref = get_instance(task_id).reference
    kind = int(hashlib.sha256(task_id.encode()).hexdigest(), 16) % 4
    if kind == 0:
        return [ref[0], WRONG]
    if kind == 1:
        return [ref[0], "x = 1", "y = 2"]
    return list(ref)


class PlanAgent:
    """The same plan as a kernelgym agent, for `kernelgym run`."""

    name = "plan"

    async def act(self, obs: Observation) -> Action:
        cells = plan(obs.task.id)
        return Action.code(cells[obs.turn]) if obs.turn < len(cells) else Action.stop()


@pytest.fixture(scope="module", autouse=True)
def _no_warm_kernels_left() -> Any:
    """The environments' warm kernels must not outlive this module (later tests count processes)."""
    yield
    from kernelgym.training.rollout import close_pools

    close_pools()


def make_env(**kw: Any) -> Any:
    return gym.make("kernelgym/ehr-v0", split="test", categories=CATEGORIES, max_turns=MAX_TURNS, **kw)


@pytest.fixture(scope="module")
def loop(ehr_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An RL-style loop through the Gymnasium API, then `kernelgym run` on the same tasks and actions."""
    n = int(os.environ.get("KERNELGYM_GYM_EPISODES", "24"))
    env = make_env()
    episodes = []
    for seed in range(n):
        obs, info = env.reset(seed=seed)
        assert obs == get_instance(info["task_id"]).prompt and "## The kernel" in info["system_prompt"]
        total, steps = 0.0, 0
        for code in plan(info["task_id"]):
            obs, reward, terminated, truncated, step_info = env.step(code)
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
        assert terminated or truncated, "every plan ends its episode"
        episodes.append({"task_id": info["task_id"], "reward": total, "terminated": terminated,
                         "truncated": truncated, "steps": steps, "result": step_info["result"], "last_obs": obs})
    env.close()
    out = tmp_path_factory.mktemp("gym-run") / "run"
    tasks = [get_instance(t) for t in sorted({e["task_id"] for e in episodes})]
    asyncio.run(run_async(tasks, PlanAgent, out, RunOptions(
        concurrency=2, progress=False, episode=EpisodeConfig(max_turns=MAX_TURNS))))
    results = {r.task_id: r for r in read_results(out)[0]}
    return {"episodes": episodes, "run": results, "tasks": tasks}


@pytest.mark.slow
def test_rl_loop_rewards_equal_those_of_kernelgym_run(loop: dict[str, Any]) -> None:
    episodes, run = loop["episodes"], loop["run"]
    assert len(run) == len(loop["tasks"])
    outcomes = {"passed": 0, "failed": 0, "truncated": 0}
    for ep in episodes:
        r = run[ep["task_id"]]
        assert ep["reward"] == r.score, ep["task_id"]
        assert ep["result"]["passed"] == r.passed and ep["result"]["stop_reason"] == r.stop_reason
        assert ep["result"]["answer"] == r.answer and ep["steps"] == r.turns
        # Gymnasium's definitions: truncated = cut by a limit outside the task (max_turns, time budget)
        assert ep["truncated"] == (r.stop_reason == "max_turns") and ep["terminated"] == (r.stop_reason == "answered")
        outcomes["truncated" if ep["truncated"] else "passed" if r.passed else "failed"] += 1
    assert all(outcomes.values()), outcomes  # the loop saw every kind of ending
    assert sum(ep["reward"] for ep in episodes) == sum(r.passed for r in (run[e["task_id"]] for e in episodes))


@pytest.mark.slow  # the module's RL loop (about 9 s)
def test_final_observation_shows_the_last_cell_and_why_the_episode_ended(loop: dict[str, Any]) -> None:
    for ep in loop["episodes"]:
        obs = ep["last_obs"]
        assert obs.startswith(f"Cell {ep['steps']} ") and f"[{ep['steps']} of {MAX_TURNS} cells used" in obs
        if ep["truncated"]:
            assert "turn limit (3 cells) is reached" in obs
        else:
            assert "Submitted answer" in obs and "The answer was submitted" in obs


@pytest.mark.slow
def test_check_env_passes(ehr_data: Path) -> None:
    from gymnasium.utils.env_checker import check_env

    env = make_env(render_mode="ansi")
    check_env(env.unwrapped)
    obs, info = env.reset(seed=3)
    env.step("print('µg/dL ≥ 5')")  # any Unicode: in the observation space
    assert "µg/dL ≥ 5" in env.render() and env.observation_space.contains("µg/dL ≥ 5")
    env.close()


@pytest.mark.parametrize("env_id", kg_gym.ENV_IDS)
def test_every_registered_environment_is_made_by_id(env_id: str) -> None:
    env = gym.make(env_id)
    assert env.spec.id == env_id and isinstance(env.unwrapped, kg_gym.KernelgymEnv)
    assert isinstance(env.observation_space, gym.spaces.Text) and isinstance(env.action_space, gym.spaces.Text)
    env.close()


@pytest.mark.slow
def test_reset_options_and_step_errors(ehr_data: Path, loop: dict[str, Any]) -> None:
    task = loop["tasks"][0]
    env = make_env()
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step("1")
    obs, info = env.reset(options={"task_id": task.id})
    assert info["task_id"] == task.id and obs == task.prompt
    obs, reward, terminated, truncated, info = env.step({"answer": get_instance(task.id).ground_truth})
    assert terminated and reward == 1.0 and info["result"]["passed"]
    with pytest.raises(RuntimeError, match="over"):
        env.step("1")
    assert env.unwrapped.notebook.metadata.kernelgym.result.passed is True
    env.close()


@pytest.mark.slow  # over 3 s on a quiet 2-core machine: not in the quick tier
def test_rollouts_give_the_same_rewards_as_kernelgym_run(loop: dict[str, Any]) -> None:
    from kernelgym.training.rollout import rollouts

    tasks = loop["tasks"][:3]

    def policy_factory() -> Any:
        def policy(obs: Observation) -> str | Action:
            cells = plan(obs.task.id)
            return cells[obs.turn] if obs.turn < len(cells) else Action.stop()

        return policy

    groups = asyncio.run(rollouts(tasks, policy_factory, n=2, config=EpisodeConfig(max_turns=MAX_TURNS)))
    assert [len(g) for g in groups] == [2, 2, 2]
    for task, group in zip(tasks, groups):
        for k, traj in enumerate(group):
            assert traj.task.id == task.id and traj.result.rollout == k
            assert traj.reward == loop["run"][task.id].score
            assert [s.action.source for s in traj.steps] == plan(task.id)[: len(traj.steps)]
            messages = traj.messages()
            assert [m["role"] for m in messages[:2]] == ["system", "user"]
            assert sum(1 for m in messages if m["role"] == "assistant") == traj.result.turns


@pytest.mark.slow
def test_trl_environment_factory(loop: dict[str, Any]) -> None:
    from kernelgym.training.export import verl_rows
    from kernelgym.training.rollout import KernelgymToolEnv

    env = KernelgymToolEnv(suite="ehr", split="test", categories=CATEGORIES, max_turns=MAX_TURNS, seed=0)
    # TRL exposes every public method but reset and get_reward as a tool
    public = {n for n, _ in inspect.getmembers(env, predicate=inspect.ismethod) if not n.startswith("_")}
    assert public == {"reset", "get_reward", "run_cell", "submit_answer"}
    for tool in (env.run_cell, env.submit_answer):  # as transformers.utils.get_json_schema reads them
        hints = typing.get_type_hints(tool)
        doc = inspect.getdoc(tool) or ""
        assert "Args:" in doc and "Returns:" in doc
        for param in inspect.signature(tool).parameters:
            assert param in hints and f"    {param}: " in doc

    # rows of `kernelgym export verl` already hold the prompt: reset adds nothing
    for task in loop["tasks"][:4]:
        row = verl_rows([get_instance(task.id)])[0]
        assert env.reset(**row) is None and env.task.id == task.id
        for code in plan(task.id):
            out = env.run_cell(code)
            if env.result is not None:
                break
        assert env.get_reward() == loop["run"][task.id].score
        assert "[kernelgym:" in out and "cells used" in out

    # no dataset: a task is drawn, and the prompt carries the system prompt
    prompt = env.reset()
    assert env.task.prompt in prompt and prompt.startswith("You are an expert") and "run_cell(code)" in prompt
    assert "[1 of 3 cells used; 2 left]" in env.run_cell("x = 41 + 1\nprint(x)") and "42" in env.run_cell("x")
    assert env.get_reward() == 0.0 and env.result.stop_reason == "agent_stopped"  # nothing was submitted
    assert "task is over" in env.run_cell("1")

    # a prompt with a system message: reset returns the task prompt, appended to the user turn by TRL
    task = loop["tasks"][1]
    row = {"prompt": [{"role": "system", "content": "sys"}, {"role": "user", "content": ""}], "task_id": task.id}
    assert env.reset(**row) == get_instance(task.id).prompt
    out = env.submit_answer(get_instance(task.id).ground_truth)
    assert "Submitted answer" in out and env.get_reward() == 1.0


@pytest.mark.slow
def test_hostile_messages_neither_raise_nor_wedge_the_gym_and_trl_environments(ehr_data: Path, tmp_path: Path) -> None:
    """Pins the hole (issue 15, item 2): a cell whose kernel sent a 100,000-deep JSON array, a 5,001-digit
    integer or a lone surrogate made ``KernelgymEnv.step()`` and TRL's ``KernelgymToolEnv.run_cell`` raise
    into the trainer, and the environment stayed wedged. Now each step returns an observation with a
    marker for what was dropped, the episode goes on to a graded answer, its notebook is written, and the
    environment runs the next episode."""
    from helpers.adversarial_agents import HOSTILE_CELLS, HOSTILE_MARKERS, HOSTILE_SENT
    from kernelgym import notebook as nbk
    from kernelgym.tasks import select
    from kernelgym.training.rollout import KernelgymToolEnv

    task = next(t for t in select("ehr", split="test", categories=CATEGORIES) if t.ground_truth not in (None, [], ""))
    turns = sum(len(cells) for cells in HOSTILE_CELLS.values()) + 1

    env = gym.make("kernelgym/ehr-v0", split="test", categories=CATEGORIES, max_turns=turns)
    env.reset(options={"task_id": task.id})
    for name, cells in HOSTILE_CELLS.items():
        for code in cells:
            obs, reward, terminated, truncated, info = env.step(code)
            assert HOSTILE_MARKERS[name] in obs and HOSTILE_SENT in obs, obs
            assert not (terminated or truncated) and info["status"] in ("ok", "error")
    obs, reward, terminated, truncated, info = env.step({"answer": task.ground_truth})
    assert terminated and reward == 1.0 and info["result"]["passed"]
    nbk.write(env.unwrapped.notebook, tmp_path / "gym.ipynb")
    assert HOSTILE_MARKERS["SendsLoneSurrogate"] in (tmp_path / "gym.ipynb").read_text(encoding="utf-8")
    env.reset(options={"task_id": task.id})  # the next episode runs
    assert "42" in env.step("print(6 * 7)")[0]
    env.close()

    tool_env = KernelgymToolEnv(suite="ehr", split="test", categories=CATEGORIES, max_turns=turns, seed=0)
    tool_env.reset(task_id=task.id)
    for name, cells in HOSTILE_CELLS.items():
        for code in cells:
            out = tool_env.run_cell(code)
            assert HOSTILE_MARKERS[name] in out and HOSTILE_SENT in out, out
    assert "Submitted answer" in tool_env.submit_answer(task.ground_truth)
    assert tool_env.get_reward() == 1.0
    tool_env.reset(task_id=task.id)  # the next episode runs
    assert "42" in tool_env.run_cell("print(6 * 7)")
    assert tool_env.get_reward() == 0.0


@pytest.mark.parametrize(("rule", "reward"), [("first", 0.0), ("discount:0.5", 0.5)])
def test_gym_reward_follows_the_reward_rule_with_feedback(ehr_data: Path, rule: str, reward: float) -> None:
    """Issue 17, item 2, for the Gymnasium environment: with feedback a wrong answer then the right one
    scored 1.0 (the episode's score). The reward is the episode's reward: 0 by the default rule,
    0.5 with discount:0.5; the result says passed and counts both submissions."""
    env = make_env(feedback=True, reward_rule=rule)
    try:
        from kernelgym.tasks import select

        _, info = env.reset(options={"task_id": select("ehr", split="test", categories=["admission_count"], limit=1)[0].id})
        truth = get_instance(info["task_id"]).ground_truth
        obs, r1, terminated, _, _ = env.step({"answer": "certainly-wrong-answer"})
        assert r1 == 0.0 and not terminated and "not correct" in obs
        _, r2, terminated, _, step_info = env.step({"answer": truth})
        assert terminated and r2 == reward
        assert step_info["result"]["passed"] and step_info["result"]["attempts"] == 2
    finally:
        env.close()
