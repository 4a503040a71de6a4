"""The LLM agent through the real ``ChatOpenAI`` client, over real HTTP, against a scripted
OpenAI-compatible server on 127.0.0.1 (tests/helpers/openai_stub.py). Nothing of kernelgym is mocked: the
episodes run in real kernels and are graded by the real verifier."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers.cli import Ran, kernelgym
from helpers.paths import REPO


from helpers.llm_episodes import KEY_ENV, MODEL, chat_bodies, make_agent, play
from helpers.openai_stub import (
    OpenAIStub,
    Reply,
    by_turn,
    calls,
    error,
    text,
    tool_call,
)
from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.llm.errors import FatalModelError
from kernelgym.runs.runner import RunOptions, read_results, run_async
from kernelgym.tasks import Instance, get_instance, select

pytestmark = [pytest.mark.kernel]



@pytest.fixture(autouse=True)
def _fresh_stub(stub: OpenAIStub) -> None:
    stub.reset([])


@pytest.fixture(scope="module")
def tasks(ehr_data: Path) -> list[Instance]:
    """Answerable test instances of different categories, each with a reference solution."""
    picks: list[Instance] = []
    for inst in select("ehr", split="test"):
        if (
            inst.ground_truth not in (None, [], "") and inst.reference and getattr(inst, "verifier", "answer") == "answer"
            and inst.category not in {p.category for p in picks}
        ):
            picks.append(inst)
        if len(picks) == 3:
            break
    assert len(picks) == 3
    return picks


def truth(inst: Instance) -> Any:
    return get_instance(inst.id).ground_truth


def prep(inst: Instance) -> str:
    """The reference solution without its final submit cell (or a look at the data if it has one cell)."""
    cells = get_instance(inst.id).reference
    return "\n\n".join(cells[:-1]) or "print(patients.shape)"


def solve_with_tools(inst: Instance) -> list[Reply]:
    return [
        calls(tool_call("run_cell", {"code": prep(inst)}), content="First I compute the intermediate values."),
        calls(tool_call("submit_answer", {"answer": truth(inst)}), content="That gives the answer."),
    ]


def solve_with_text(inst: Instance) -> list[Reply]:
    code = "\n\n".join(get_instance(inst.id).reference)
    return [text(f"I will compute it and submit.\n\n```python\n{code}\n```\n")]





# ---------------------------------------------------------------- the two protocols


def test_tool_calling_episode_passes_and_records_the_model(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[0]
    stub.reset(by_turn(solve_with_tools(inst)))
    result, nb = play(inst, make_agent(stub, temperature="0.3", top_p="0.9", max_tokens="512", seed="7", protocol="tools"))
    assert result.passed, result
    assert result.stop_reason == "answered" and result.turns == 2
    assert result.model == MODEL and result.agent == "llm"

    first, second = chat_bodies(stub)
    assert [t["function"]["name"] for t in first["tools"]] == ["run_cell", "submit_answer"]
    assert (first["temperature"], first["top_p"], first["seed"]) == (0.3, 0.9, 7)
    system = first["messages"][0]["content"]
    assert first["messages"][0]["role"] == "system"
    for needle in ("patients", "subject_id", "admissions", "sql(query)", "submit_answer", inst.answer_format):
        assert needle in system, needle
    assert first["messages"][1] == {"role": "user", "content": inst.prompt}
    tool_msg = second["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]
    assert "cells used" in tool_msg["content"]

    meta = nb.metadata.kernelgym
    assert meta.agent == {"name": "llm", "model": MODEL, "sampling": {
        "temperature": 0.3, "top_p": 0.9, "max_tokens": 512, "seed": 7, "protocol": "tools"}}
    thoughts = [c.metadata.kernelgym.text for c in nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)]
    assert thoughts == ["First I compute the intermediate values.", "That gives the answer."]
    actions = nbk.cells_with_tag(nb, nbk.TAG_ACTION)
    assert actions[0].source == prep(inst)
    assert actions[1].source == f"submit({nbk.python_literal(truth(inst))})"
    for cell in actions:
        kg = cell.metadata.kernelgym
        assert kg.raw[0]["tool_calls"] and kg.raw[0]["response_metadata"]["token_usage"]["prompt_tokens"] > 0
        assert kg.calls[0]["latency_s"] > 0 and kg.calls[0]["attempts"] == 1
    assert result.usage["model_calls"] == 2
    nbformat.validate(nb)


def test_text_protocol_episode_passes(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[1]
    stub.reset(by_turn(solve_with_text(inst)))
    result, nb = play(inst, make_agent(stub, protocol="text"))
    assert result.passed and result.stop_reason == "answered", result
    (body,) = chat_bodies(stub)
    assert "tools" not in body
    assert "```python" in body["messages"][0]["content"] and "submit(answer)" in body["messages"][0]["content"]
    assert nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)[0].metadata.kernelgym.text == "I will compute it and submit."
    # no --max-tokens: a server at a base URL is sent the default limit, in both spellings, and the
    # notebook records the limit sent (issue 20: a runaway reply ran for minutes without one)
    assert (body["max_tokens"], body["max_completion_tokens"]) == (4096, 4096)
    assert nb.metadata.kernelgym.agent.sampling == {"max_tokens": 4096, "protocol": "text"}


# ---------------------------------------------------------------- robust calls


def test_server_errors_are_retried_and_the_episode_completes(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[0]
    stub.reset([error(500, "upstream crashed"), error(503, "overloaded"), *solve_with_text(inst)])
    result, nb = play(inst, make_agent(stub, protocol="text"))
    assert result.passed, result
    assert [r.status for r in stub.chat_requests()] == [500, 503, 200]
    assert result.usage["retries"] == 2 and result.usage["model_calls"] == 1
    call = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[0].metadata.kernelgym.calls[0]
    assert call["attempts"] == 3 and len(call["errors"]) == 2 and "HTTP 500" in call["errors"][0]


def test_rate_limit_honours_retry_after(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[1]
    stub.reset([error(429, "rate limited", {"Retry-After": "1"}), *solve_with_text(inst)])
    result, _ = play(inst, make_agent(stub, protocol="text"))  # exponential backoff alone would wait ~0.05 s
    assert result.passed, result
    first, second = stub.chat_requests()
    assert first.status == 429 and second.status == 200
    assert second.t - first.t >= 0.95, "the client retried before the Retry-After delay"


def test_malformed_tool_arguments_go_back_to_the_model(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[0]
    broken = calls(tool_call("run_cell", '{"code": "print(1)'), content="Let me run this.")
    stub.reset(by_turn([broken, *solve_with_tools(inst)]))
    result, nb = play(inst, make_agent(stub, protocol="tools"))
    assert result.passed, result
    told = chat_bodies(stub)[1]["messages"][-1]
    assert told["role"] == "tool" and "not valid JSON" in told["content"] and "Nothing was run" in told["content"]
    assert result.usage["format_errors"] == 1 and result.turns == 2
    first_thought = nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)[0].metadata.kernelgym.text
    assert "Let me run this." in first_thought and "not valid JSON" in first_thought


def test_missing_code_block_is_reported_to_the_model(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[2]
    stub.reset(by_turn([text("The answer is obvious."), *solve_with_text(inst)]))
    result, _ = play(inst, make_agent(stub, protocol="text"))
    assert result.passed, result
    told = chat_bodies(stub)[1]["messages"][-1]
    assert told["role"] == "user" and "no ```python code block" in told["content"]


def test_feedback_tells_the_agent_a_wrong_answer_and_lets_it_retry(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[2]
    wrong = calls(tool_call("submit_answer", {"answer": "certainly-wrong-answer"}))
    replies = solve_with_tools(inst)
    stub.reset(by_turn([replies[0], wrong, replies[1]]))
    result, nb = play(inst, make_agent(stub, protocol="tools", feedback="true"), feedback=True, max_turns=5)
    assert result.passed and result.turns == 3, result
    told = chat_bodies(stub)[2]["messages"][-1]
    assert told["role"] == "tool" and "not correct" in told["content"] and "3 turns left" in told["content"]
    assert "told" in chat_bodies(stub)[0]["messages"][0]["content"]  # the system prompt announces feedback
    assert nb.metadata.kernelgym.episode.wrong_answers == 1


def test_old_observations_are_trimmed_with_a_visible_marker(stub: OpenAIStub, tasks: list[Instance]) -> None:
    inst = tasks[0]
    flood = [calls(tool_call("run_cell", {"code": f"print('{c}' * 3000)"})) for c in "abc"]
    stub.reset(by_turn([*flood, calls(tool_call("submit_answer", {"answer": truth(inst)}))]))
    agent = make_agent(stub, protocol="tools", context_tokens="4000", max_tokens="200")
    result, _ = play(inst, agent)
    assert result.passed, result
    last = chat_bodies(stub)[-1]["messages"]
    outputs = [m["content"] for m in last if m["role"] == "tool"]
    assert "trimmed from the conversation" in outputs[0] and "cell 1" in outputs[0]
    assert "c" * 3000 in outputs[-1]  # the newest output is never trimmed
    assert result.usage["trimmed_observations"] >= 1


# ---------------------------------------------------------------- runs: usage, concurrency, report


def run_dir(tmp: Path, stub: OpenAIStub, name: str, insts: list[Instance], **opts: Any) -> Path:
    out = tmp / name
    factory = load_agent("llm", {"model": MODEL, "base_url": stub.url, "api_key_env": KEY_ENV, **opts})
    asyncio.run(run_async(insts, factory, out, RunOptions(concurrency=2, progress=False, meta={"agent": "llm"})))
    return out


@pytest.fixture(scope="module")
def two_runs(stub: OpenAIStub, tasks: list[Instance], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("llm-runs")
    insts = tasks[:2]
    # run A: tools; distinct usage per reply; slow replies to show the shared request limit
    scripts = {}
    for k, inst in enumerate(insts):
        replies = solve_with_tools(inst)
        for i, r in enumerate(replies):
            r.usage = {"prompt_tokens": 1000 * (k + 1) + i, "completion_tokens": 10 * (k + 1) + i}
            r.delay = 0.3
        scripts[inst.prompt] = replies
    stub.reset(by_turn(scripts))
    a = run_dir(tmp, stub, "run-a", insts, protocol="tools", max_concurrent_requests="1")
    seen_a = {"max_in_flight": stub.max_in_flight, "total": stub.total_reported(),
              "per_task": {i.id: stub.total_reported(i.prompt) for i in insts}}
    # run B: another model, text protocol; it gets the second task wrong
    scripts = {insts[0].prompt: solve_with_text(insts[0]),
               insts[1].prompt: [text("```python\nsubmit('certainly-wrong-answer')\n```")]}
    stub.reset(by_turn(scripts))
    b = run_dir(tmp, stub, "run-b", insts, protocol="text", model="openai:stub-model-2")
    return {"a": a, "b": b, "seen_a": seen_a, "tasks": insts}


@pytest.mark.slow
def test_token_usage_in_results_and_notebooks_equals_what_the_server_reported(two_runs: dict[str, Any]) -> None:
    results, bad = read_results(two_runs["a"])
    assert bad == 0 and len(results) == 2 and all(r.passed for r in results)
    seen = two_runs["seen_a"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert sum(r.usage[key] for r in results) == seen["total"][key]
    for r in results:
        reported = seen["per_task"][r.task_id]
        assert {k: r.usage[k] for k in reported} == reported
        nb = nbk.read(two_runs["a"] / str(r.notebook))
        assert {k: nb.metadata.kernelgym.episode.usage[k] for k in reported} == reported
        calls_usage = [c.metadata.kernelgym.calls[0]["usage"] for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION)]
        assert sum(u["prompt_tokens"] for u in calls_usage) == reported["prompt_tokens"]
    assert seen["max_in_flight"] == 1  # two episodes at once, but max_concurrent_requests=1


@pytest.mark.slow
def test_report_compares_two_runs(two_runs: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = kernelgym("report", str(two_runs["a"]), str(two_runs["b"]), "--out", str(out),
                     "--price", "openai:stub-model=1/2", "--title", "stub comparison", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    text_out = proc.stdout
    assert "openai:stub-model" in text_out and "openai:stub-model-2" in text_out
    for inst in two_runs["tasks"]:
        assert f"ehr/{inst.category}" in text_out
    assert "100%" in text_out and "50%" in text_out
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "stub comparison" in page and "openai:stub-model-2" in page and "data:image/png;base64," in page
    data = json.loads((out / "report.json").read_text())
    a, b = data["runs"]
    assert (a["pass_rate"], b["pass_rate"]) == (1.0, 0.5)
    expected_cost = (a["prompt_tokens"] * 1 + a["completion_tokens"] * 2) / 1e6
    assert a["cost_usd"] == pytest.approx(expected_cost) and b["cost_usd"] is None


def test_rollouts_of_a_task_are_sent_distinct_seeds(stub: OpenAIStub, tmp_path: Path, ehr_data: Path) -> None:
    """`kernelgym run --seed S --rollouts K` sent seed S to every rollout of a task, so a deterministic
    server answered all K rollouts alike (useless as DPO pairs). Rollout k must be sent S + k, and its
    notebook must record the seed it was sent."""
    stub.reset(lambda body: text("```python\nsubmit(0)\n```"))
    out = tmp_path / "run"
    res = _cli_in_process(["--model", MODEL, "--base-url", stub.url, "--api-key-env", KEY_ENV, "--protocol", "text",
                           "--seed", "11", "--rollouts", "3", "--limit", "1", "--concurrency", "1",
                           "--out", str(out)])
    assert res.exit_code == 0, res.output
    # one worker runs the rollouts in order, each a single model call
    assert [body.get("seed") for body in chat_bodies(stub)] == [11, 12, 13]
    results, bad = read_results(out)
    assert bad == 0 and sorted(r.rollout for r in results) == [0, 1, 2]
    assert len({r.task_id for r in results}) == 1
    for r in results:
        assert r.stop_reason == "answered", r
        nb = nbk.read(out / str(r.notebook))
        assert nb.metadata.kernelgym.agent.sampling["seed"] == 11 + r.rollout
        assert nb.metadata.kernelgym.episode.rollout == r.rollout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["agent_options"]["seed"] == 11  # the run records the base seed


# ---------------------------------------------------------------- failures that stop the run


def test_unknown_model_stops_the_run_at_once(stub: OpenAIStub, tasks: list[Instance], tmp_path: Path) -> None:
    factory = load_agent("llm", {"model": "openai:no-such-model", "base_url": stub.url, "api_key_env": KEY_ENV})
    t0 = time.monotonic()
    with pytest.raises(FatalModelError, match="does not know model 'no-such-model'"):
        asyncio.run(run_async(tasks, factory, tmp_path / "run", RunOptions(concurrency=2, progress=False)))
    assert time.monotonic() - t0 < 60  # generous: a loaded machine; the request count is the real check
    assert len(stub.chat_requests()) <= 2  # no retries; no episode after the first failure
    assert read_results(tmp_path / "run")[0] == []


def _cli(args: list[str], **env: str) -> Ran:
    return kernelgym("run", "--suite", "ehr", "--no-progress", *args, env={"COLUMNS": "200", **env})


@pytest.mark.slow
def test_bad_credentials_stop_the_run_with_a_clear_message(stub: OpenAIStub, tmp_path: Path, ehr_data: Path) -> None:
    t0 = time.monotonic()
    proc = _cli(["--model", MODEL, "--base-url", stub.url, "--api-key-env", "KG_WRONG_KEY", "--limit", "4",
                 "--concurrency", "2", "--out", str(tmp_path / "run")], KG_WRONG_KEY="sk-wrong")
    assert proc.returncode == 1, proc.stderr
    assert "rejected the credentials (HTTP 401" in proc.stderr and "$KG_WRONG_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 120  # generous: a loaded machine; the request count is the real check
    assert 1 <= len(stub.chat_requests()) <= 2  # one attempt per running episode, no retries
    assert read_results(tmp_path / "run")[0] == []


def _cli_in_process(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from kernelgym.cli import app

    return CliRunner().invoke(app, ["run", "--suite", "ehr", "--no-progress", *args], env={"COLUMNS": "200"})


def test_connection_refused_gives_a_clear_message(tmp_path: Path, ehr_data: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = _cli_in_process(["--model", MODEL, "--base-url", f"http://127.0.0.1:{port}/v1", "--limit", "1",
                           "--concurrency", "1", "--out", str(tmp_path / "run"), "-O", "retry_base_delay=0.05"])
    assert res.exit_code == 1, res.output
    assert "cannot connect to the model server" in res.stderr and "connection refused" in res.stderr
    assert f"127.0.0.1:{port}" in res.stderr and isinstance(res.exception, SystemExit)  # no traceback


def test_missing_api_key_variable_fails_before_any_episode(tmp_path: Path, ehr_data: Path) -> None:
    res = _cli_in_process(["--model", MODEL, "--base-url", "http://127.0.0.1:9/v1", "--api-key-env",
                           "KG_UNSET_VARIABLE", "--out", str(tmp_path / "run")])
    assert res.exit_code == 1 and "KG_UNSET_VARIABLE" in res.stderr and "not set" in res.stderr
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- tools for users' own agents


@pytest.mark.slow
def test_langchain_tools_notebook_runs_a_langgraph_agent(
    stub: OpenAIStub, tasks: list[Instance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """notebooks/langchain_tools.ipynb, executed as a user would, with its model pointed at the stub."""
    from nbclient import NotebookClient

    inst = tasks[1]
    stub.reset(by_turn({inst.prompt: [*solve_with_tools(inst), text("I submitted the answer.")]}))
    monkeypatch.setenv("KERNELGYM_MODEL", MODEL)
    monkeypatch.setenv("KERNELGYM_BASE_URL", stub.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
    monkeypatch.setenv("KERNELGYM_TASK", inst.id)
    nb = nbformat.read(REPO / "notebooks" / "langchain_tools.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "passed: True" in printed, printed
    assert "tool: " in printed and "run_cell(" in printed
    saved = nbk.read(tmp_path / "langchain_tools_episode.ipynb")
    actions = nbk.cells_with_tag(saved, nbk.TAG_ACTION)
    assert [a.source for a in actions] == ["patients.shape", prep(inst), f"submit({nbk.python_literal(truth(inst))})"]
    assert saved.metadata.kernelgym.result.passed is True
    assert len(stub.chat_requests()) == 3


def test_task_kernel_tools_report_errors_and_the_turn_limit(tasks: list[Instance]) -> None:
    from kernelgym.training.langchain_tools import TaskKernel

    async def go() -> tuple[str, str, str, bool]:
        async with TaskKernel(tasks[0], max_turns=2) as kernel:
            run_cell, submit_answer = kernel.tools()
            err = await run_cell.ainvoke({"code": "1/0"})
            sub = await submit_answer.ainvoke({"answer": "certainly-wrong-answer"})
            over = await run_cell.ainvoke({"code": "print('too many')"})
            verdict = await kernel.grade()
            return err, sub, over, verdict.passed

    err, sub, over, passed = asyncio.run(go())
    assert "ZeroDivisionError" in err and "Submitted answer" in sub
    assert "turn limit" in over and passed is False


# ---------------------------------------------------------------- parsing (no kernel)


def test_text_protocol_takes_python_blocks_only() -> None:
    from kernelgym.llm.protocol import code_blocks

    blocks, rest = code_blocks("Plan.\n```python\nx = 1\n```\n```sql\nselect 1\n```\n```\nprint(x)\n```\nDone.")
    assert blocks == ["x = 1", "print(x)"]
    assert "select 1" in rest and "x = 1" not in rest


def test_several_tool_calls_run_only_the_first_and_answer_the_rest() -> None:
    from langchain_core.messages import AIMessage

    from kernelgym.llm.protocol import parse_tool_reply

    msg = AIMessage("", tool_calls=[
        {"name": "run_cell", "args": {"code": "1"}, "id": "a"},
        {"name": "submit_answer", "args": {"answer": 3}, "id": "b"},
        {"name": "shell", "args": {"cmd": "ls"}, "id": "c"},
    ])
    parsed = parse_tool_reply(msg)
    assert parsed.kind == "code" and parsed.code == "1" and parsed.call_id == "a"
    replies = dict(parsed.tool_replies)
    assert "one tool per message" in replies["b"] and "no tool 'shell'" in replies["c"]


def test_task_kernel_counts_submissions_and_rewards_by_its_rule(tasks: list[Instance]) -> None:
    """Issue 17, item 2, for the LangChain tools: a TaskKernel graded only the last answer, so an agent
    trying answers one after another earned the full reward. Every submission counts; with the default
    rule a pass at the second submission is passed but earns reward 0, with discount:0.5 it earns 0.5."""
    from kernelgym.training.langchain_tools import TaskKernel

    inst = tasks[0]

    async def go(rule: str) -> tuple[bool, int, float | None, Any]:
        async with TaskKernel(inst, reward_rule=rule) as kernel:
            _, submit_answer = kernel.tools()
            await submit_answer.ainvoke({"answer": "certainly-wrong-answer"})
            await submit_answer.ainvoke({"answer": truth(inst)})
            verdict = await kernel.grade()
            return verdict.passed, kernel.attempts, kernel.reward, kernel.notebook

    passed, attempts, reward, nb = asyncio.run(go("first"))
    assert passed and attempts == 2 and reward == 0.0
    assert (nb.metadata.kernelgym.result.attempts, nb.metadata.kernelgym.result.reward_rule) == (2, "first")
    assert asyncio.run(go("discount:0.5"))[2] == 0.5
