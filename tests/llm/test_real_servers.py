"""What real inference servers do that a well-behaved OpenAI server does not (issue 20), reproduced by
the HTTP server on 127.0.0.1 (tests/helpers/openai_stub.py) with the status codes and messages the
real servers send, and driven through the real ``ChatOpenAI`` client by kernelgym's LLM agent.

The wordings come from llama.cpp's llama-server (checked against the one in the PyPI wheel
``xllamacpp``), llama-cpp-python, vLLM, Ollama and OpenAI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest


from helpers.llm_episodes import KEY_ENV, MODEL, chat_bodies, make_agent, play
from helpers.openai_stub import OpenAIStub, Reply, by_turn, calls, error, text, tool_call
from kernelgym import notebook as nbk
from kernelgym.agents import load_agent
from kernelgym.llm.client import (
    ContextOverflow,
    ModelSettings,
    ToolsRejected,
    call_model,
    make_chat_model,
    server_context_tokens,
)
from kernelgym.llm.protocol import parse_text_reply, parse_tool_reply
from kernelgym.tasks import Instance, get_instance, select


LLAMA_SERVER_OVERFLOW = {"error": {
    "code": 400, "message": "request (9019 tokens) exceeds the available context size (8192 tokens), try increasing it",
    "type": "exceed_context_size_error", "n_prompt_tokens": 9019, "n_ctx": 8192,
}}
LLAMA_SERVER_NO_JINJA = {"error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}}


def _error_body(message: str, kind: str = "invalid_request_error", code: Any = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


OVERFLOWS = {
    "llama-server": (400, LLAMA_SERVER_OVERFLOW, (9019, 8192)),
    "llama-cpp-python": (400, _error_body("Requested tokens (9019) exceed context window of 8192"), (9019, 8192)),
    "vllm": (400, _error_body(
        "This model's maximum context length is 8192 tokens. However, you requested 9019 tokens (5019 in the "
        "messages, 4000 in the completion). Please reduce the length of the messages or completion.",
        "BadRequestError"), (9019, 8192)),
    "vllm-new": (400, _error_body(
        "The decoder prompt (length 9019) is longer than the maximum model length of 8192. Make sure that "
        "`max_model_len` is no smaller than the number of text tokens.", "BadRequestError"), (9019, 8192)),
    "vllm-max-tokens": (400, _error_body(
        "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is 8192 "
        "tokens and your request has 5000 input tokens (4096 > 8192 - 5000).", "BadRequestError"), (5000, 8192)),
    "ollama": (400, _error_body("the input length exceeds the context length"), (None, None)),
    "openai": (400, _error_body(
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130012 tokens. "
        "Please reduce the length of the messages.", code="context_length_exceeded"), (130012, 128000)),
}


@pytest.fixture(autouse=True)
def _fresh_stub(stub: OpenAIStub) -> None:
    stub.reset([])
    stub.honours = ("max_completion_tokens", "max_tokens")
    stub.models_extra, stub.props = {}, None
    stub.aborted.clear()
    stub.generated.clear()


@pytest.fixture(scope="module")
def task(ehr_data: Path) -> Instance:
    """An answerable EHR test instance with a reference solution."""
    for inst in select("ehr", split="test"):
        if inst.ground_truth not in (None, [], "") and inst.reference and getattr(inst, "verifier", "answer") == "answer":
            return inst
    raise AssertionError("no answerable EHR instance")


def solution(inst: Instance) -> str:
    return "\n\n".join(get_instance(inst.id).reference)





def settings(stub: OpenAIStub, **kw: Any) -> ModelSettings:
    return ModelSettings(model=MODEL, base_url=stub.url, api_key_env=KEY_ENV, retry_base_delay=0.01, **kw)


async def _one_call(stub: OpenAIStub, tools: bool = False, **kw: Any) -> Any:
    from langchain_core.messages import HumanMessage

    from kernelgym.llm.protocol import tool_schemas

    s = settings(stub, **kw)
    chat = make_chat_model(s)
    runnable = chat.bind_tools(tool_schemas()) if tools else chat
    try:
        return await call_model(runnable, [HumanMessage("hello")], s, tools=tools)
    finally:
        await chat.root_async_client.close()


# ---------------------------------------------------------------- 1. reply limits, timeouts


@pytest.mark.kernel
def test_runaway_reply_is_bounded_on_a_server_that_reads_only_max_tokens(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 1: LangChain sends the limit as max_completion_tokens, which llama-cpp-python
    ignores, and none was sent by default: a small model's reply ran to 5,689 tokens. A server at a base
    URL now gets a default limit in both spellings (a quarter of an 8k context here), the reply stops
    there, its tokens are recorded, and the model is told its reply was cut off."""
    stub.honours = ("max_tokens",)  # llama-cpp-python
    runaway = Reply(content="Let me think about this step by step. ", generate=5689)
    stub.reset(by_turn([runaway, text(f"```python\n{solution(task)}\n```")]))
    result, nb = play(task, make_agent(stub, protocol="text", context_tokens="8192"))
    assert result.passed and result.stop_reason == "answered", result
    first, second = chat_bodies(stub)
    assert first["max_tokens"] == first["max_completion_tokens"] == 2048
    assert stub.generated == [2048]
    assert nb.metadata.kernelgym.agent.sampling["max_tokens"] == 2048  # what was sent, not what was asked
    told = second["messages"][-1]["content"]
    assert "cut off at the reply length limit" in told
    assert result.usage["completion_tokens"] >= 2048 and result.usage["length_stops"] == 1
    call = nbk.cells_with_tag(nb, nbk.TAG_ACTION)[0].metadata.kernelgym.calls[0]
    assert call["finish_reason"] == "length" and call["usage"]["completion_tokens"] == 2048


@pytest.mark.kernel
def test_a_reply_cut_at_the_limit_in_the_tools_protocol_is_told_why(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, items 1 and 4: a reply cut at max_tokens before any tool call was told only "your reply
    called no tool"; it must hear that the limit cut it."""
    stub.reset(by_turn([Reply(content="Thinking... ", generate=5000),
                        calls(tool_call("run_cell", {"code": solution(task)}))]))
    result, _ = play(task, make_agent(stub, protocol="tools", max_tokens="300"))
    assert result.passed and result.stop_reason == "answered", result
    told = chat_bodies(stub)[1]["messages"][-1]["content"]
    assert "called no tool" in told and "cut off at the reply length limit (300 tokens)" in told
    assert stub.generated == [300]


def test_timed_out_request_is_abandoned_before_any_retry(stub: OpenAIStub) -> None:
    """Issue 20, item 1: a timed-out request was retried while the server kept generating for it, so
    retries queued behind it (one call cost 600 s) and the failed attempts' time was recorded nowhere.
    The client must close the connection of a timed-out request (the server sees it go) before it sends
    another, and the call must record the time of the failed attempt."""
    stub.reset([Reply(content="never sent", stall=30.0), text("fine")])
    reply, record = asyncio.run(_one_call(stub, request_timeout=0.5, timeout_retries=1))
    assert reply.content == "fine"
    first, second = stub.chat_requests()
    assert len(stub.aborted) == 1 and stub.aborted[0] <= second.t  # the server saw the first request go first
    assert stub.max_in_flight == 1
    assert record.attempts == 2 and record.timeouts == 1 and record.failed_s > 0
    assert "no reply from" in record.errors[0] and "request was abandoned" in record.errors[0]


def test_a_timeout_is_not_retried_on_a_self_hosted_server_by_default(stub: OpenAIStub) -> None:
    """Issue 20, item 1: a server at a base URL may go on generating for an abandoned request
    (llama-cpp-python does), so by default a timeout there is not retried blindly."""
    from kernelgym.llm.errors import ModelCallError

    stub.reset([Reply(content="never sent", stall=30.0), text("would queue behind the first")])
    with pytest.raises(ModelCallError, match="no reply from .* within 0.5 s") as info:
        asyncio.run(_one_call(stub, request_timeout=0.5))
    assert len(stub.chat_requests()) == 1
    failed = info.value.failed  # type: ignore[attr-defined]
    assert failed.timeouts == 1 and failed.failed_s > 0


@pytest.mark.kernel
def test_an_episode_ended_by_a_timeout_records_the_time_it_waited(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 1: "time spent in failed attempts is missing from latency figures". An episode
    whose model call timed out ended as agent_error with no trace of that call in its usage; the
    time of the abandoned request, and the timeout, now count in the episode's usage (results and
    notebook alike)."""
    stub.reset([calls(tool_call("run_cell", {"code": "x = 1"})), Reply(content="never sent", stall=30.0)])
    result, nb = play(task, make_agent(stub, protocol="tools", request_timeout="0.5"))
    assert result.stop_reason == "agent_error" and "0.5 s" in (result.error or ""), result
    assert result.usage["timeouts"] == 1 and result.usage["model_failed_s"] >= 0.5, result.usage
    assert result.usage["model_calls"] == 1  # the call that succeeded, before
    assert nb.metadata.kernelgym.episode["usage"] == result.usage


# ---------------------------------------------------------------- 2. context windows


@pytest.mark.parametrize("server", sorted(OVERFLOWS))
def test_context_overflow_wordings_of_real_servers_are_recognised(stub: OpenAIStub, server: str) -> None:
    """Issue 20, item 2: only one server's wording of "the request does not fit" was recognised;
    llama-server's 400 ended the episode as agent_error. Each server's wording must raise
    ContextOverflow at once (no retries), with the sizes it states."""
    status, body, sizes = OVERFLOWS[server]
    stub.reset([Reply(status=status, error_body=body), text("not reached")])
    with pytest.raises(ContextOverflow) as info:
        asyncio.run(_one_call(stub))
    assert len(stub.chat_requests()) == 1
    assert (info.value.request_tokens, info.value.context_tokens) == sizes


def _long_outputs_then_solution(body: dict[str, Any], task: Instance, cells: int, chars: int) -> Reply:
    """The reply of a model that prints ``cells`` outputs of ``chars`` characters ("aaa...", "bbb...")
    before it runs the task's solution: a conversation that grows past a context size."""
    turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if turn < cells:
        return calls(tool_call("run_cell", {"code": f"print('{'abcdefgh'[turn]}' * {chars})"}))
    return calls(tool_call("run_cell", {"code": solution(task)}))


@pytest.mark.kernel
def test_llama_server_overflow_trims_old_outputs_and_the_episode_finishes(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 2: llama-server answered HTTP 400 "request (9019 tokens) exceeds the available
    context size (8192 tokens)" and the episode ended agent_error. The agent must learn the 8192 from
    the message, trim old outputs and finish; later requests are sent the smaller reply limit."""
    n_ctx = 8192

    def script(body: dict[str, Any]) -> Reply:
        tokens = len(json.dumps(body["messages"])) // 4
        if tokens > n_ctx:
            return Reply(status=400, error_body={"error": {
                "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": tokens, "n_ctx": n_ctx,
                "message": f"request ({tokens} tokens) exceeds the available context size ({n_ctx} tokens), try increasing it",
            }})
        return _long_outputs_then_solution(body, task, 3, 14000)

    stub.reset(script)
    result, nb = play(task, make_agent(stub, protocol="tools"), max_observation_chars=20000)
    assert result.passed and result.stop_reason == "answered", result
    statuses = [r.status for r in stub.chat_requests()]
    assert 400 in statuses and statuses[-1] == 200
    after = chat_bodies(stub)[statuses.index(400) + 1]
    outputs = [m["content"] for m in after["messages"] if m["role"] == "tool"]
    assert "trimmed from the conversation" in outputs[0]
    assert after["max_tokens"] == 2048  # a quarter of the context the server named
    assert result.usage["trimmed_observations"] >= 1
    assert nb.metadata.kernelgym.agent.sampling["max_tokens"] == 2048


@pytest.mark.kernel
def test_vllm_rejecting_the_reply_limit_gets_a_smaller_one(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 2: vLLM rejects a request whose prompt plus max_tokens exceeds max_model_len
    ("'max_tokens' or 'max_completion_tokens' is too large"). The prompt fits; the agent must learn the
    context size from the message and send a smaller reply limit, not give up because nothing needed
    trimming."""
    max_model_len = 8192

    def script(body: dict[str, Any]) -> Reply:
        tokens = len(json.dumps(body["messages"])) // 4
        limit = body["max_completion_tokens"]
        if tokens + limit > max_model_len:
            return Reply(status=400, error_body=_error_body(
                f"'max_tokens' or 'max_completion_tokens' is too large: {limit}. This model's maximum context length "
                f"is {max_model_len} tokens and your request has {tokens} input tokens ({limit} > {max_model_len} - "
                f"{tokens}).", "BadRequestError"))
        return _long_outputs_then_solution(body, task, 2, 8000)

    stub.reset(script)
    result, nb = play(task, make_agent(stub, protocol="tools"), max_observation_chars=20000)
    assert result.passed and result.stop_reason == "answered", result
    statuses = [r.status for r in stub.chat_requests()]
    assert statuses.count(400) == 1 and statuses[-1] == 200
    assert [b["max_completion_tokens"] for b in chat_bodies(stub)][-1] == 2048
    assert "trimmed_observations" not in result.usage  # it fitted once the limit was right
    assert nb.metadata.kernelgym.agent.sampling["max_tokens"] == 2048


def test_context_size_is_asked_from_vllm_and_llama_server(stub: OpenAIStub) -> None:
    """Issue 20, item 2: kernelgym assumed 32,768 tokens of context and never trimmed ahead for an 8k
    server. vLLM reports max_model_len in /v1/models, llama-server its slot's n_ctx in /props."""
    stub.models_extra = {"max_model_len": 8192}  # vLLM
    assert asyncio.run(server_context_tokens(settings(stub))) == 8192
    stub.models_extra, stub.props = {}, {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 2}
    assert asyncio.run(server_context_tokens(settings(stub))) == 4096
    stub.props = None
    assert asyncio.run(server_context_tokens(settings(stub))) is None  # Ollama, llama-cpp-python: not said

    async def limit_sent() -> int:
        agent = make_agent(stub)
        await agent._learn_context()
        return agent.reply_limit()

    stub.models_extra = {"max_model_len": 8192}
    assert asyncio.run(limit_sent()) == 2048


# ---------------------------------------------------------------- 3. --protocol auto


@pytest.mark.kernel
def test_auto_falls_back_to_text_when_llama_server_rejects_tools(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 3: llama-server without --jinja answers a request with tools by HTTP 500 "tools
    param requires --jinja flag"; it was retried 7 times and the episode failed. Auto must go over to
    the text protocol at once."""

    def script(body: dict[str, Any]) -> Reply:
        if "tools" in body:
            return Reply(status=500, error_body=LLAMA_SERVER_NO_JINJA)
        return text(f"```python\n{solution(task)}\n```")

    stub.reset(script)
    result, nb = play(task, make_agent(stub, protocol="auto"))
    assert result.passed and result.stop_reason == "answered", result
    assert [r.status for r in stub.chat_requests()] == [500, 200]
    second = chat_bodies(stub)[1]
    assert "tools" not in second and "```python" in second["messages"][0]["content"]
    assert nb.metadata.kernelgym.agent.sampling["protocol"] == "text"
    thought = nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)[0].metadata.kernelgym.text
    assert "tools param requires --jinja flag" in thought and "text protocol" in thought


def test_tools_protocol_on_a_server_without_jinja_fails_at_once_with_advice(stub: OpenAIStub) -> None:
    """Issue 20, item 3: the 500 was retried as a server error; it can never succeed."""
    stub.reset([Reply(status=500, error_body=LLAMA_SERVER_NO_JINJA)] * 3)
    with pytest.raises(ToolsRejected, match="--jinja"):
        asyncio.run(_one_call(stub, tools=True))
    assert len(stub.chat_requests()) == 1


@pytest.mark.kernel
def test_auto_detects_a_server_that_ignores_tools(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 3: a server that ignores tools (a model without tool support behind llama-server's
    generic template; llama-cpp-python's chatml-function-calling without tool_choice) answers in plain
    text every time: 100 % "called no tool". Auto must notice and go on in the text protocol, and the
    tool_choice option must reach the server."""
    stub.reset(by_turn([
        text("I would call run_cell to look at the data first."),
        text(f"Here is the code:\n```python\n{solution(task)}\n```"),
    ]))
    result, nb = play(task, make_agent(stub, protocol="auto", tool_choice="auto"))
    assert result.passed and result.stop_reason == "answered", result
    first, second = chat_bodies(stub)
    assert first["tool_choice"] == "auto" and second["tool_choice"] == "auto"
    assert "called no tool" in second["messages"][-1]["content"]
    assert result.turns == 1 and nb.metadata.kernelgym.agent.sampling["protocol"] == "text"
    thought = nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)[0].metadata.kernelgym.text
    assert "ignores tools" in thought


def test_tool_choice_option_is_checked(tmp_path: Path) -> None:
    """A bad --tool-choice is a one-line error with exit code 2, before any work."""
    from typer.testing import CliRunner

    from kernelgym.cli import app

    with pytest.raises(ValueError, match="tool_choice must be one of"):
        load_agent("llm", {"model": MODEL, "base_url": "http://127.0.0.1:9/v1", "tool_choice": "always"})()
    res = CliRunner().invoke(app, ["run", "--suite", "ehr", "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1",
                                   "--tool-choice", "always", "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "--tool-choice must be auto, required" in res.output
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 4. hints


def test_open_fence_hint_follows_the_finish_reason() -> None:
    """Issue 20, item 4: a block left open because the model stopped (finish_reason=stop) was told to
    "keep the cell shorter", which is not why it failed."""
    from langchain_core.messages import AIMessage

    reply = AIMessage("Let me compute.\n```python\nx = patients.shape\n")
    stopped = parse_text_reply(reply, "stop").error or ""
    assert "never closed" in stopped and "shorter" not in stopped
    cut = parse_text_reply(reply, "length").error or ""
    assert "cut off" in cut and "shorter" in cut


def test_comment_only_code_is_not_run() -> None:
    """Issue 20, item 4: a comment-only cell counted as a turn and showed as an empty cell."""
    from langchain_core.messages import AIMessage

    parsed = parse_text_reply(AIMessage("Plan:\n```python\n# first load the data\n# then count\n```"))
    assert parsed.kind == "error" and "only comments" in (parsed.error or "")
    parsed = parse_tool_reply(AIMessage("", tool_calls=[{"name": "run_cell", "args": {"code": "# look\n"}, "id": "a"}]))
    assert parsed.kind == "error" and "only comments" in dict(parsed.tool_replies)["a"]
    ok = parse_tool_reply(AIMessage("", tool_calls=[{"name": "run_cell", "args": {"code": "%time 1  # magic"}, "id": "b"}]))
    assert ok.kind == "code"


@pytest.mark.kernel
def test_comment_only_cell_costs_no_turn(stub: OpenAIStub, task: Instance) -> None:
    """Issue 20, item 4: the comment-only reply goes back to the model; the notebook has one action."""
    stub.reset(by_turn([text("```python\n# I will look at the tables first\n```"),
                        text(f"```python\n{solution(task)}\n```")]))
    result, nb = play(task, make_agent(stub, protocol="text"))
    assert result.passed and result.turns == 1, result
    assert [c.source for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION)] == [solution(task)]


def test_requests_are_sent_exactly_as_the_openai_sdk_sends_them(stub: OpenAIStub) -> None:
    """kernelgym posts LangChain's request body without the openai SDK's per-call type walk
    (``PlainBodyCompletions``, issue 19: ~1 ms of CPU per call). Pinned: the same conversation (tools,
    tool results, sampling settings, the extra ``max_tokens`` body) reaches a real HTTP server with the
    same JSON body and the same authentication and content headers through the SDK's own ``create``;
    replies parse the same, and a server error is still the SDK's exception."""
    import openai
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    from kernelgym.llm.client import ModelSettings, PlainBodyCompletions, make_chat_model

    settings = ModelSettings(model="openai:stub-model", base_url=stub.url, api_key_env=KEY_ENV, temperature=0.3,
                             seed=7, max_tokens=321)
    tools = [{"type": "function", "function": {
        "name": "run_cell", "description": "Run Python code in the kernel.",
        "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}}}]
    conversation = [
        SystemMessage("You solve tasks with code."), HumanMessage("How many patients?"),
        AIMessage("", tool_calls=[{"name": "run_cell", "args": {"code": "len(df)"}, "id": "call_1", "type": "tool_call"}]),
        ToolMessage("120\n", tool_call_id="call_1"), HumanMessage("Submit it. \u00e9\u2603"),
    ]

    def first_request() -> tuple[dict[str, Any], dict[str, str]]:
        seen = stub.chat_requests()[0]
        keep = ("authorization", "content-type", "accept")
        return seen.body, {k.lower(): v for k, v in seen.headers.items() if k.lower() in keep}

    async def ask(plain: bool) -> tuple[Any, ...]:
        chat = make_chat_model(settings)
        assert isinstance(chat.async_client, PlainBodyCompletions)
        if not plain:
            chat.async_client = chat.async_client._completions  # the SDK's own create
        bound = chat.bind_tools(tools)
        stub.reset([calls(tool_call("run_cell", {"code": "print(1)"}), content="thinking")])
        reply = await bound.ainvoke(conversation)
        body, headers = first_request()
        stub.reset([error(400, "bad request")])
        try:
            await bound.ainvoke(conversation)
        except Exception as exc:
            raised: BaseException = exc
        else:
            raise AssertionError("the server's 400 did not raise")
        assert first_request()[0] == body
        named = [{k: v for k, v in c.items() if k != "id"} for c in reply.tool_calls]  # the stub makes new ids
        return body, headers, reply.content, named, type(raised), str(raised)

    outcomes = [asyncio.run(ask(plain)) for plain in (True, False)]
    assert outcomes[0][0]["messages"][-1]["content"] == "Submit it. \u00e9\u2603"
    assert outcomes[0][0]["max_tokens"] == 321 and outcomes[0][0]["tools"]
    assert issubclass(outcomes[0][4], openai.BadRequestError)
    assert outcomes[0] == outcomes[1]
