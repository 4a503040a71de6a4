"""The LLM agent: any LangChain chat model (any provider, any OpenAI-compatible server) as a
kernelgym agent. ``kernelgym run --model PROVIDER:NAME`` uses it; so does
``kernelgym run --agent llm -O model=PROVIDER:NAME``.

Per episode it keeps the conversation: the system prompt (task, kernel profile, rules, answer
format, protocol), the task prompt, and for each turn the model's reply and the cell's output. It
records, on each action, the model's text (the notebook's ``kernelgym-thought`` cells), the raw
assistant messages, the per-call latency, retries and token usage as the server reported it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from kernelgym.episode import Action, Observation
from kernelgym.llm.client import (
    CallRecord,
    ContextOverflow,
    FailedAttempts,
    ModelSettings,
    ToolsRejected,
    call_model,
    close_chat_model,
    error_text,
    server_context_tokens,
    shared_chat_model,
)
from kernelgym.llm.errors import FatalModelError, ModelCallError, ModelError
from kernelgym.llm.prompts import system_prompt
from kernelgym.llm.protocol import (
    RUN_CELL,
    SUBMIT_ANSWER,
    Parsed,
    message_text,
    observation_text,
    parse_text_reply,
    parse_tool_reply,
    tool_schemas,
)

DEFAULT_CONTEXT_TOKENS = 32_768
PROTOCOLS = ("auto", "tools", "text", "medagentgym", "medagentgym-text")
"""The values of the ``protocol`` option (``kernelgym run --protocol``)."""
DEFAULT_SERVER_MAX_TOKENS = 4096
"""The reply limit sent to a server at a ``base_url`` when ``max_tokens`` is not given (capped at a
quarter of the context window): without one, a small model's runaway reply ran for minutes."""
TOOLLESS_REPLIES_BEFORE_TEXT = 2
"""With ``protocol=auto``: replies in a row without any tool call (and none ever seen) after which the
server is taken to ignore tools and the episode goes on in the text protocol."""
TOOL_CHOICES = ("auto", "required", "any", "none")
TRIM_MARKER = "[kernelgym: the output of cell {turn} ({chars:,} characters) was trimmed from the conversation to fit the model's context window; re-run code if you need it again]"


def _opt(value: Any, kind: type) -> Any:
    """Options arrive as strings from ``-O key=value``; ``none``/empty mean unset."""
    if value is None:
        return None
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if text.lower() in ("", "none", "null"):
            return None
        if kind is bool:
            return text.lower() in ("1", "true", "yes", "on")
        return kind(text)
    if isinstance(value, str) and value.strip().lower() in ("", "none", "null"):
        return None
    return kind(value)


def _supports_tools(chat: Any) -> bool:
    try:
        from langchain_core.language_models import BaseChatModel
    except ImportError:
        return False
    return type(chat).bind_tools is not BaseChatModel.bind_tools


def _raw(message: Any) -> dict[str, Any]:
    try:
        from langchain_core.messages import message_to_dict

        data = message_to_dict(message)["data"]
    except Exception:
        data = {"content": message_text(getattr(message, "content", ""))}
    keep = ("content", "tool_calls", "invalid_tool_calls", "additional_kwargs", "response_metadata", "usage_metadata", "id")
    return json.loads(json.dumps({k: data.get(k) for k in keep if data.get(k) not in (None, {}, [])}, default=str))


class LangChainAgent:
    """An LLM agent over any LangChain chat model.

    Options (``-O key=value`` or ``kernelgym run`` flags): ``model`` (``PROVIDER:NAME``), ``base_url``,
    ``api_key_env``, ``temperature``, ``top_p``, ``max_tokens``, ``seed``, ``protocol``
    (``tools``, ``text``, ``auto``: tools when the model supports tool calling, falling back to text
    when the server rejects tools or ignores them, ``medagentgym``: MedAgentGym's action names as
    tools, or ``medagentgym-text``: MedAgentGym's own format, the action as JSON in the message text,
    :mod:`kernelgym.llm.medagentgym_protocol`), ``tool_choice`` (``auto``, ``required``, ``none``
    or a tool's name, sent with the tools; llama-cpp-python's ``chatml-function-calling`` needs it),
    ``max_concurrent_requests`` (shared by all episodes of a run; default: the run's concurrency, 8 outside a run), ``request_timeout``,
    ``max_retries``, ``timeout_retries``, ``retry_base_delay``, ``context_tokens`` (default: what
    a self-hosted server reports, else the model's profile, else 32768), ``max_format_errors`` (malformed replies in a row before the episode is stopped),
    ``max_observation_chars`` and ``max_turns`` (only told to the model), ``feedback``.

    ``max_tokens`` unset: a server at a ``base_url`` is sent :data:`DEFAULT_SERVER_MAX_TOKENS` (at
    most a quarter of its context window), as both ``max_tokens`` and ``max_completion_tokens``; a
    provider's API is sent none. The notebook records the limit actually sent.

    ``seed`` is the seed of rollout 0: rollout ``k`` of a task samples with ``seed + k``
    (:meth:`start_rollout`), so the rollouts of ``kernelgym run --rollouts K`` differ and a rerun
    samples the same again.
    """

    name = "llm"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = None,
        temperature: float | str | None = None,
        top_p: float | str | None = None,
        max_tokens: int | str | None = None,
        seed: int | str | None = None,
        protocol: str = "auto",
        max_concurrent_requests: int | str | None = None,
        request_timeout: float | str = 120.0,
        max_retries: int | str = 6,
        retry_base_delay: float | str = 1.0,
        context_tokens: int | str | None = None,
        max_format_errors: int | str = 3,
        max_observation_chars: int | str | None = 4000,
        feedback: bool | str = False,
        tool_choice: str | None = None,
        timeout_retries: int | str | None = None,
    ) -> None:
        if not model or not isinstance(model, str):
            raise ValueError("the llm agent needs a model: --model PROVIDER:NAME (e.g. openai:gpt-4o)")
        url = _opt(base_url, str)
        limit = _opt(max_tokens, int)
        if limit is not None and limit < 1:
            raise ValueError(f"max_tokens must be a positive number of tokens, not {limit}")
        self.max_tokens_given = limit is not None
        if limit is None and url:
            limit = DEFAULT_SERVER_MAX_TOKENS
        self.settings = ModelSettings(
            model=model, base_url=url, api_key_env=_opt(api_key_env, str),
            temperature=_opt(temperature, float), top_p=_opt(top_p, float), max_tokens=limit,
            seed=_opt(seed, int), request_timeout=_opt(request_timeout, float) or 120.0,
            max_retries=_opt(max_retries, int) or 0, retry_base_delay=_opt(retry_base_delay, float) or 0.0,
            max_concurrent_requests=_opt(max_concurrent_requests, int) or None,
            timeout_retries=_opt(timeout_retries, int),
        )
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be tools, text, auto, medagentgym or medagentgym-text, not {protocol!r}")
        self.tool_choice: str | None = _opt(tool_choice, str)
        if self.tool_choice is not None and self.tool_choice not in (*TOOL_CHOICES, RUN_CELL, SUBMIT_ANSWER):
            raise ValueError(f"tool_choice must be one of {', '.join(TOOL_CHOICES)}, {RUN_CELL} or {SUBMIT_ANSWER}, "
                             f"not {self.tool_choice!r}")
        self.base_seed: int | None = self.settings.seed  # the seed of rollout 0; rollout k: base_seed + k
        self.model = model
        self.chat, self._shared_chat = shared_chat_model(self.settings)
        self.requested_protocol = protocol
        if protocol == "auto":
            protocol = "tools" if _supports_tools(self.chat) else "text"
        elif protocol in ("tools", "medagentgym") and not _supports_tools(self.chat):
            raise FatalModelError(f"{model} does not support tool calling in LangChain: use --protocol text")
        self.protocol: Literal["tools", "text", "medagentgym", "medagentgym-text"] = protocol  # type: ignore[assignment]
        self.sampling: dict[str, Any] = {**self.settings.sampling(), "protocol": self.protocol}
        profile = getattr(self.chat, "profile", None) or {}
        self.context_tokens_given = _opt(context_tokens, int)
        self.context_tokens = self.context_tokens_given or int(profile.get("max_input_tokens") or DEFAULT_CONTEXT_TOKENS)
        self._asked_server = self.context_tokens_given is not None
        if self.reply_limit() is not None:
            self.sampling["max_tokens"] = self.reply_limit()
        if self.tool_choice is not None:
            self.sampling["tool_choice"] = self.tool_choice
        self.max_format_errors = _opt(max_format_errors, int) or 0
        self.max_observation_chars = _opt(max_observation_chars, int)
        self.feedback = bool(_opt(feedback, bool))
        self.messages: list[Any] = []
        self._observations: list[tuple[int, int]] = []  # (message index, turn) of cell outputs
        self._trimmed: set[int] = set()
        self._pending_call: str | None = None
        self._first: Observation | None = None
        self._tokens_per_char = 0.25
        self.trimmed_observations = 0
        self._unshared: list[Any] = []  # models of this agent's own, replaced by start_rollout
        self._tool_calls_seen = False
        self._toolless_replies = 0
        self._failed = FailedAttempts()  # failed attempts of this act() whose errors were handled here
        self.fell_back: str | None = None
        """Why ``protocol=auto`` went over to the text protocol (None: it did not)."""
        self._fallback_noted = False

    # ---------------------------------------------------------------- conversation

    def _runnable(self) -> Any:
        if self.protocol == "medagentgym":
            from kernelgym.llm import medagentgym_protocol as medagentgym

            assert self._first is not None
            return self.chat.bind_tools(medagentgym.tool_schemas(medagentgym.permitted_actions(self._first.task)))
        if self.protocol == "tools":
            choice = {"tool_choice": self.tool_choice} if self.tool_choice is not None else {}
            runnable = self.chat.bind_tools(tool_schemas(), **choice)
        else:
            runnable = self.chat
        limit = self.reply_limit()
        if limit is not None and limit != self.settings.max_tokens and self.settings.provider in (None, "openai"):
            # a smaller context than assumed when the model was made: a smaller limit, in both forms
            extra = {**(getattr(self.chat, "extra_body", None) or {}), "max_tokens": limit}
            runnable = runnable.bind(max_tokens=limit, **({"extra_body": extra} if self.settings.openai_compatible_server else {}))
        return runnable

    def reply_limit(self) -> int | None:
        """The ``max_tokens`` sent: the option, else the default for a server (at most a quarter of
        its context window), else none."""
        limit = self.settings.max_tokens
        if limit is None or self.max_tokens_given:
            return limit
        return max(64, min(limit, self.context_tokens // 4))

    def _start(self, obs: Observation) -> None:
        from langchain_core.messages import HumanMessage, SystemMessage

        self._first = obs
        self.messages = [SystemMessage(self._system_prompt(obs)), HumanMessage(obs.prompt)]

    def _system_prompt(self, obs: Observation) -> str:
        return system_prompt(
            obs.task, protocol=self.protocol, max_turns=obs.max_turns,
            max_observation_chars=self.max_observation_chars, feedback=self.feedback,
        )

    def _observe(self, obs: Observation) -> None:
        from langchain_core.messages import HumanMessage, ToolMessage

        if self.protocol in ("tools", "medagentgym") and self._pending_call is not None:
            body = observation_text(obs, tool_result=True)
            msg: Any = ToolMessage(body, tool_call_id=self._pending_call, status="error" if obs.status == "error" else "success")
        elif self.protocol == "medagentgym-text":  # the output only, as MedAgentGym shows it
            from kernelgym.llm import medagentgym_protocol as medagentgym

            msg = HumanMessage(medagentgym.observation_text(obs))
        else:
            msg = HumanMessage(observation_text(obs, tool_result=False))
        self._pending_call = None
        self.messages.append(msg)
        self._observations.append((len(self.messages) - 1, obs.turn))

    def _chars(self) -> int:
        total = 0
        for m in self.messages:
            total += len(message_text(m.content))
            for call in getattr(m, "tool_calls", None) or []:
                total += len(json.dumps(call.get("args"), default=str)) + 20
        return total

    def estimated_tokens(self) -> int:
        return int(self._chars() * self._tokens_per_char) + 8 * len(self.messages)

    def fit_context(self, budget: int | None = None) -> int:
        """Replace the oldest cell outputs by a visible marker until the conversation fits; returns how many."""
        from langchain_core.messages import HumanMessage, ToolMessage

        reserve = self.reply_limit() or min(4096, self.context_tokens // 4)
        limit = (budget if budget is not None else self.context_tokens) - reserve
        done = 0
        for idx, turn in self._observations[:-1]:  # the newest output is what the model must see
            if self.estimated_tokens() <= limit:
                break
            if idx in self._trimmed:
                continue
            old = self.messages[idx]
            marker = TRIM_MARKER.format(turn=turn, chars=len(message_text(old.content)))
            self.messages[idx] = (
                ToolMessage(marker, tool_call_id=old.tool_call_id) if isinstance(old, ToolMessage) else HumanMessage(marker)
            )
            self._trimmed.add(idx)
            done += 1
        self.trimmed_observations += done
        return done

    async def _learn_context(self) -> None:
        """Once per agent: the context window the server reports, unless ``context_tokens`` was given."""
        if self._asked_server:
            return
        self._asked_server = True
        found = await server_context_tokens(self.settings)
        if found:
            self.context_tokens = found
        limit = self.reply_limit()
        if limit is not None:
            self.sampling["max_tokens"] = limit

    def _note_failed(self, exc: BaseException) -> None:
        failed = getattr(exc, "failed", None)
        if isinstance(failed, FailedAttempts):
            self._failed.attempts += failed.attempts
            self._failed.failed_s += failed.failed_s
            self._failed.timeouts += failed.timeouts
            self._failed.errors.extend(failed.errors)

    async def _call(self) -> tuple[Any, CallRecord]:
        await self._learn_context()
        self.fit_context()
        for _ in range(4):
            chars = self._chars()
            tools = self.protocol in ("tools", "medagentgym")
            try:
                reply, record = await call_model(self._runnable(), self.messages, self.settings, tools=tools)
            except ContextOverflow as exc:
                self._note_failed(exc)
                if not self._shrink(exc, chars):
                    raise
                continue
            except ToolsRejected as exc:
                self._note_failed(exc)
                cause = exc.__cause__
                detail = f"HTTP {getattr(cause, 'status_code', '?')}: {error_text(cause)}" if cause else str(exc)
                if self._fall_back_to_text(f"the server rejected the request's tools ({detail})"):
                    continue
                if not self._tool_calls_seen:  # the server never takes tools: every episode would fail alike
                    raise FatalModelError(str(exc)) from exc
                raise
            except ModelCallError as exc:
                self._note_failed(exc)
                raise
            break
        else:
            raise ModelCallError("the conversation still exceeds the model's context window after trimming old cell outputs")
        prompt = record.usage.get("prompt_tokens")
        if prompt and chars:
            self._tokens_per_char = min(1.0, max(0.05, prompt / chars))
        return reply, record

    def _shrink(self, exc: ContextOverflow, chars: int) -> bool:
        """After a context overflow: learn the sizes the server named, then trim old outputs to fit."""
        limit_before = self.reply_limit()
        if exc.context_tokens and (self.context_tokens_given is None or exc.context_tokens < self.context_tokens):
            self.context_tokens = exc.context_tokens
            limit = self.reply_limit()
            if limit is not None:
                self.sampling["max_tokens"] = limit
        if exc.request_tokens and chars:
            self._tokens_per_char = min(1.0, max(0.05, exc.request_tokens / chars))
        before = self.estimated_tokens()
        budget = self.context_tokens if exc.context_tokens else int(before * 0.7)
        if self.fit_context(budget=budget):
            return True
        limit = self.reply_limit()
        if limit is not None and limit_before is not None and limit < limit_before:
            return True  # vLLM: the prompt fits, the reply limit did not ("'max_tokens' ... is too large")
        return bool(self.fit_context(budget=int(before * 0.7)))

    def _fall_back_to_text(self, why: str) -> bool:
        """With ``protocol=auto``: a server that rejects tools (llama-server without ``--jinja``, vLLM
        without tool parsing) or ignores them gets the text protocol for the rest of the episode."""
        from langchain_core.messages import SystemMessage

        if not (self.requested_protocol == "auto" and self.protocol == "tools" and not self._tool_calls_seen):
            return False
        self.protocol = "text"
        self.sampling["protocol"] = "text"
        self.sampling.pop("tool_choice", None)
        self.fell_back = why if "text protocol" in why else f"{why}; the episode goes on in the text protocol"
        assert self._first is not None
        self.messages[0] = SystemMessage(self._system_prompt(self._first))
        return True

    # ---------------------------------------------------------------- the agent API

    def start_rollout(self, rollout: int) -> None:
        """Sample rollout ``rollout`` of a task with seed ``base_seed + rollout`` (no seed: nothing changes).

        :func:`kernelgym.episode.run_episode` calls it before the first action. One seed for every
        rollout would make a deterministic server answer every rollout alike (useless as DPO pairs);
        the episode's notebook records the seed actually sent (``metadata.kernelgym.agent.sampling.seed``).
        """
        if self.base_seed is None:
            return
        seed = self.base_seed + rollout
        if seed != self.settings.seed:
            self.settings = dataclasses.replace(self.settings, seed=seed)
            old = None if self._shared_chat else self.chat
            self.chat, self._shared_chat = shared_chat_model(self.settings)  # the seed is a constructor option
            if old is not None:
                self._unshared.append(old)
        self.sampling["seed"] = seed

    async def aclose(self) -> None:
        """Close this agent's own HTTP clients (the episode loop calls it when the episode ends); a model
        shared by the run's agents stays open (the run closes it: :func:`~kernelgym.llm.client.close_shared_models`)."""
        own = self._unshared + ([] if self._shared_chat else [self.chat])
        self._unshared = []
        for chat in own:
            await close_chat_model(chat)

    def _parse(self, reply: Any, finish_reason: str | None = None) -> Parsed:
        if self.protocol == "medagentgym":
            from kernelgym.llm import medagentgym_protocol as medagentgym

            assert self._first is not None
            return medagentgym.parse_reply(reply, medagentgym.permitted_actions(self._first.task))
        if self.protocol == "medagentgym-text":
            from kernelgym.llm import medagentgym_protocol as medagentgym

            assert self._first is not None
            return medagentgym.parse_text_reply(reply, medagentgym.permitted_actions(self._first.task))
        if self.protocol == "text":
            return parse_text_reply(reply, finish_reason)
        parsed = parse_tool_reply(reply)
        if finish_reason == "length" and parsed.kind == "error":
            cut = (f"your reply was cut off at the reply length limit ({self.reply_limit() or 'the server default'} "
                   "tokens): keep your reply and the cell shorter")
            parsed.problems.append(cut)
            if parsed.error:
                parsed.error += f" ({cut})"
            parsed.tool_replies = [(cid, f"{text} ({cut})") for cid, text in parsed.tool_replies]
        if getattr(reply, "tool_calls", None) or getattr(reply, "invalid_tool_calls", None):
            self._tool_calls_seen = True
            self._toolless_replies = 0
            return parsed
        if self.requested_protocol != "auto" or self._tool_calls_seen:
            return parsed
        # protocol=auto and no tool call yet: a server that ignores tools (llama-server's generic
        # template for a model without tool support, llama-cpp-python without tool_choice) answers
        # in plain text every time
        self._toolless_replies += 1
        as_text = parse_text_reply(reply, finish_reason)
        if as_text.kind == "code" or self._toolless_replies >= TOOLLESS_REPLIES_BEFORE_TEXT:
            n = self._toolless_replies
            why = (f"the server answered {n} time{'s' if n > 1 else ''} in plain text although tools were offered "
                   "(it ignores tools): the episode goes on in the text protocol")
            if self._fall_back_to_text(why):  # the note on the switch goes in the thought cell (act)
                return as_text
        return parsed

    @staticmethod
    def _add_failed(usage: dict[str, float], failed_s: float, timeouts: int) -> None:
        """Failed attempts' time counts in the episode's model time (``model_failed_s``), apart from
        ``model_latency_s`` (successful requests only)."""
        if failed_s:
            usage["model_failed_s"] = round(usage.get("model_failed_s", 0.0) + failed_s, 4)
        if timeouts:
            usage["timeouts"] = usage.get("timeouts", 0) + timeouts

    async def act(self, obs: Observation) -> Action:
        from langchain_core.messages import HumanMessage, ToolMessage

        if not self.messages:
            self._start(obs)
        else:
            self._observe(obs)
        raws: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        usage: dict[str, float] = {}
        notes: list[str] = []
        parsed: Parsed | None = None
        for _ in range(self.max_format_errors + 1):
            try:
                reply, record = await self._call()
            except ModelError as exc:
                # the episode ends with this error: what its calls cost still counts (the episode loop adds
                # an exception's ``usage``), failed attempts included
                usage["retries"] = usage.get("retries", 0) + max(0, self._failed.attempts - 1)
                self._add_failed(usage, self._failed.failed_s, self._failed.timeouts)
                self._failed = FailedAttempts()
                exc.usage = usage  # type: ignore[attr-defined]
                raise
            self.messages.append(reply)
            raws.append(_raw(reply))
            calls.append(record.as_dict())
            for k, v in record.usage.items():
                usage[k] = usage.get(k, 0) + v
            usage["model_calls"] = usage.get("model_calls", 0) + 1
            usage["model_latency_s"] = round(usage.get("model_latency_s", 0.0) + record.latency_s, 4)
            usage["retries"] = usage.get("retries", 0) + record.attempts - 1
            self._add_failed(usage, record.failed_s, record.timeouts)
            if record.finish_reason == "length":
                usage["length_stops"] = usage.get("length_stops", 0) + 1
            parsed = self._parse(reply, record.finish_reason)
            if self.fell_back and not self._fallback_noted:
                notes.append(f"> kernelgym: {self.fell_back}.")
                self._fallback_noted = True
            for cid, content in parsed.tool_replies:
                self.messages.append(ToolMessage(content, tool_call_id=cid, status="error"))
            if parsed.kind != "error":
                break
            usage["format_errors"] = usage.get("format_errors", 0) + 1
            if parsed.thought:
                notes.append(parsed.thought)
            notes.append("> kernelgym: " + "; ".join(parsed.problems) + " (the model was told and asked again)")
            if parsed.error:
                self.messages.append(HumanMessage(parsed.error))
        assert parsed is not None
        if self._failed.attempts:  # attempts that failed with an error handled here (overflow, rejected tools)
            usage["retries"] = usage.get("retries", 0) + self._failed.attempts
            self._add_failed(usage, self._failed.failed_s, self._failed.timeouts)
            calls[0]["handled_failures"] = list(self._failed.errors)
            self._failed = FailedAttempts()
        if self.trimmed_observations:
            usage["trimmed_observations"] = self.trimmed_observations
            self.trimmed_observations = 0
        meta: dict[str, Any] = {"raw": raws, "calls": calls, "usage": usage}
        if parsed.kind != "error" and parsed.thought:
            notes.append(parsed.thought)
        if parsed.problems and parsed.kind != "error":
            notes.append("> kernelgym: " + "; ".join(parsed.problems) + " (the model was told)")
        if parsed.kind == "error":
            notes.append(f"> kernelgym: {self.max_format_errors + 1} unusable replies in a row; the episode is stopped.")
            return Action.stop(thought="\n\n".join(notes), **meta)
        thought = "\n\n".join(notes) or None
        if parsed.kind == "answer":
            self._pending_call = parsed.call_id
            return Action.answer(parsed.answer, thought=thought, **meta)
        self._pending_call = parsed.call_id
        return Action.code(parsed.code or "", thought=thought, **meta)
