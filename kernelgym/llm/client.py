"""Chat models through LangChain, called robustly.

- :func:`make_chat_model`: ``init_chat_model("PROVIDER:NAME")`` with a base URL, an API key read
  from a named environment variable and the sampling options; the client's own retries are turned
  off so that :func:`call_model` alone decides.
- :func:`call_model`: one model call under a concurrency limit shared by every episode of the
  process (per event loop and endpoint), with retries and exponential backoff on HTTP 429 (honouring
  ``Retry-After``), 5xx and 408/409; connection errors are retried a few times and then stop the
  run. Bad credentials (401/403), an unknown model (404) and an exhausted quota raise
  :class:`~kernelgym.llm.errors.FatalModelError` at once. A timed-out request is abandoned (its
  connection closed, so vLLM and llama-server stop generating for it) and retried at most
  ``timeout_retries`` times: 0 for a server at a ``--base-url``, which may still be generating for it
  (llama-cpp-python does not notice the client left), so a retry would queue behind it. The time and
  the count of failed attempts are recorded on the call (:class:`CallRecord`).
- :func:`classify` also recognises a context overflow in the wordings of vLLM, llama.cpp's
  llama-server, llama-cpp-python, Ollama and OpenAI (:class:`ContextOverflow`, with the sizes the
  server named), and a server that rejects the ``tools`` parameter (:class:`ToolsRejected`).
- :func:`server_context_tokens`: the context window a self-hosted server says it has (vLLM's
  ``/v1/models`` ``max_model_len``; llama-server's ``/props`` or ``/v1/models`` ``meta.n_ctx``).

Errors are classified by LangChain's provider-independent exception types when the integration
raises them, else by the HTTP status and the exception's class name, so any provider works.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import json
import os
import random
import re
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kernelgym.llm.errors import FatalModelError, ModelCallError


LANGCHAIN_PROVIDERS = frozenset({
    "anthropic", "anthropic_bedrock", "azure_ai", "azure_openai", "baseten", "bedrock", "bedrock_converse", "cohere",
    "deepseek", "fireworks", "google_anthropic_vertex", "google_genai", "google_vertexai", "groq", "huggingface", "ibm",
    "litellm", "meta", "mistralai", "nvidia", "ollama", "openai", "openrouter", "perplexity", "together", "upstage", "xai",
})
"""The providers LangChain's ``init_chat_model`` knows (its ``_BUILTIN_PROVIDERS``, langchain 1.x)."""
INSPECT_PROVIDERS = {"google": "google_genai", "mistral": "mistralai", "grok": "xai", "azureai": "azure_ai",
                     "vertex": "google_vertexai"}
"""inspect_ai's provider names that differ from LangChain's."""


def split_model(model: str, base_url: str | None = None) -> tuple[str | None, str]:
    """``(provider, name)`` of a model as the user wrote it.

    ``PROVIDER:NAME`` is LangChain's spelling (``openai:gpt-4o``); ``PROVIDER/NAME`` is inspect_ai's
    (``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``, ``google/gemini-2.0-flash``) and is read
    the same way when PROVIDER is a provider LangChain (or inspect_ai) knows. With a base URL, a name
    with a slash and no colon is the server's own model name (``Qwen/Qwen2.5-7B-Instruct``,
    ``openai/gpt-oss-20b`` on vLLM): it is sent as written. Anything else: no provider (LangChain
    infers it from the name)."""
    provider, sep, name = model.partition(":")
    if sep and provider and "/" not in provider:
        return provider, name
    head, sep, tail = model.partition("/")
    if sep and tail and not base_url:
        head = INSPECT_PROVIDERS.get(head, head)
        if head in LANGCHAIN_PROVIDERS:
            return head, tail
    return None, model


@dataclass
class ModelSettings:
    """Which model, where, and how to sample and call it."""

    model: str
    """``PROVIDER:NAME`` as LangChain's ``init_chat_model`` takes it, e.g. ``openai:gpt-4o``; or
    ``PROVIDER/NAME`` as inspect_ai writes it (:func:`split_model`)."""
    base_url: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (the key itself is never recorded)."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    request_timeout: float = 120.0
    max_retries: int = 6
    """Retries of one call on 429 and 5xx."""
    timeout_retries: int | None = None
    """Retries of one call after it timed out; None: 1 for a provider's API, 0 for a server at a
    ``base_url`` (it may still be generating for the abandoned request, and a retry would wait behind it)."""
    connect_retries: int = 2
    """Retries of one call when the server cannot be reached, before the run is stopped."""
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    max_retry_after: float = 600.0
    """A Retry-After longer than this fails the call instead of waiting."""
    max_concurrent_requests: int | None = None
    """Model requests in flight at once, shared by every agent of the event loop calling this endpoint;
    None: the run's concurrency inside ``kernelgym run`` (:func:`follow_run_concurrency`), else
    :data:`DEFAULT_MAX_CONCURRENT_REQUESTS`."""
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def provider(self) -> str | None:
        return split_model(self.model, self.base_url)[0]

    @property
    def model_name(self) -> str:
        return split_model(self.model, self.base_url)[1]

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters that are set (recorded with every episode)."""
        keys = ("temperature", "top_p", "max_tokens", "seed")
        return {k: v for k, v in asdict(self).items() if k in keys and v is not None}

    def where(self) -> str:
        return self.base_url or f"the {self.provider or 'default'} API"

    @property
    def openai_compatible_server(self) -> bool:
        """A self-hosted OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...): a base URL and the
        ``openai`` provider (or none)."""
        return (bool(self.base_url) and self.provider in (None, "openai")
                and "api.openai.com" not in (self.base_url or "").lower())

    def timeout_retry_limit(self) -> int:
        if self.timeout_retries is not None:
            return max(0, self.timeout_retries)
        return 0 if self.base_url else 1


def _http_client(settings: ModelSettings) -> Any:
    """A new asynchronous HTTP client for an OpenAI-compatible endpoint (None if openai is missing).

    For a plain ``http://`` base URL no certificate store is loaded (``verify=False`` builds an empty
    TLS context, ~0 ms instead of ~30 ms of CPU) and redirects are not followed, so this client never
    speaks TLS at all."""
    try:
        import openai
    except ImportError:
        return None
    kwargs: dict[str, Any] = {"timeout": settings.request_timeout}
    if (settings.base_url or "").lower().startswith("http://"):
        kwargs.update(verify=False, follow_redirects=False)
    try:
        return openai.DefaultAsyncHttpxClient(**kwargs)
    except Exception:
        return None


def make_chat_model(settings: ModelSettings, *, http_async_client: Any = None) -> Any:
    """A LangChain chat model for ``settings``; raises :class:`FatalModelError` when it cannot be made.

    An OpenAI model gets ``http_async_client`` if given, else an HTTP client of its own (closed by
    :func:`close_chat_model`). Runs share one model per event loop: :func:`shared_chat_model`."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:
        raise FatalModelError(
            f"LLM agents need LangChain: pip install 'kernelgym[llm]' ({exc})"
        ) from None
    kwargs: dict[str, Any] = dict(settings.model_kwargs)
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise FatalModelError(
                f"the environment variable {settings.api_key_env} (given with --api-key-env) is not set or empty"
            )
        kwargs["api_key"] = key
    elif settings.base_url and settings.provider in (None, "openai") and not os.environ.get("OPENAI_API_KEY"):
        kwargs["api_key"] = "EMPTY"  # local OpenAI-compatible servers (vLLM, llama.cpp, Ollama) need none
    for key in ("temperature", "top_p", "max_tokens", "seed"):
        value = getattr(settings, key)
        if value is not None:
            kwargs[key] = value
    if settings.max_tokens is not None and settings.openai_compatible_server:
        # LangChain sends max_tokens as max_completion_tokens, which llama-cpp-python (and older
        # servers) ignore: send both, every server honours one of them (vLLM, llama-server and
        # Ollama read either; api.openai.com is not given both: it gets no base URL).
        kwargs["extra_body"] = {"max_tokens": settings.max_tokens, **(kwargs.get("extra_body") or {})}
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", settings.request_timeout)
    provider = settings.provider or ("openai" if settings.base_url else None)
    if provider == "openai" and "http_async_client" not in kwargs:
        # langchain-openai shares one cached HTTP client per process, and its connections belong to
        # the event loop that opened them: a second asyncio.run() (a notebook, tests) would fail
        # with "Event loop is closed". So the client is this model's own, or the event loop's.
        client = http_async_client if http_async_client is not None else _http_client(settings)
        if client is not None:
            kwargs["http_async_client"] = client
    try:
        chat = init_chat_model(settings.model_name, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise FatalModelError(f"cannot use model {settings.model!r}: {exc}") from None
    except ValueError as exc:
        raise FatalModelError(f"cannot use model {settings.model!r}: {exc}") from None
    except Exception as exc:  # e.g. a provider's own check that an API key is present
        raise FatalModelError(f"cannot make the chat model {settings.model!r}: {type(exc).__name__}: {exc}") from None
    if provider == "openai":
        PlainBodyCompletions.install(chat)
    return chat


class PlainBodyCompletions:
    """The ``chat.completions`` of a LangChain OpenAI model, posting the request body as LangChain built it.

    The openai SDK's ``create`` walks every message and tool of a request against its TypedDict
    annotations before sending it (``async_maybe_transform``): the largest single cost of a model
    call in the host (issue 19: ~40 % of LangChain's and the SDK's CPU per call at 32 episodes in
    flight, ~1 ms a call). LangChain's payload is plain JSON already (no aliases, dates or files to
    convert), so a non-streaming request without ``response_format`` is posted as is, through the
    SDK's own client (its headers, authentication, timeouts, errors and response parsing); anything
    else goes through the SDK's ``create`` unchanged. If the SDK lacks what this uses, nothing is
    installed."""

    _OPTIONS = ("extra_headers", "extra_query", "extra_body", "timeout")

    def __init__(self, completions: Any) -> None:
        from openai._base_client import make_request_options
        from openai._constants import RAW_RESPONSE_HEADER
        from openai.types.chat import ChatCompletion

        self._completions = completions
        self._post = completions._post
        self._make_options = make_request_options
        self._raw_header = RAW_RESPONSE_HEADER
        self._cast_to = ChatCompletion
        self.with_raw_response = _RawCreate(self)

    @classmethod
    def install(cls, chat: Any) -> None:
        completions = getattr(chat, "async_client", None)
        if completions is None or isinstance(completions, cls):
            return
        try:
            chat.async_client = cls(completions)
        except Exception:  # another openai SDK: keep its own create
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._completions, name)

    async def create(self, **params: Any) -> Any:
        return await self._create(params, raw=False)

    async def _create(self, params: dict[str, Any], *, raw: bool) -> Any:
        if params.get("stream") or "response_format" in params:
            target = self._completions.with_raw_response if raw else self._completions
            return await target.create(**params)
        options = {key: params.pop(key) for key in self._OPTIONS if key in params}
        headers = dict(options.get("extra_headers") or {})
        if raw:
            headers[self._raw_header] = "true"
        request_options = self._make_options(
            extra_headers=headers or None, extra_query=options.get("extra_query"),
            extra_body=options.get("extra_body"), security={"bearer_auth": True},
            **({"timeout": options["timeout"]} if "timeout" in options else {}),
        )
        return await self._post("/chat/completions", body=params, options=request_options, cast_to=self._cast_to,
                                stream=False)


class _RawCreate:
    """``with_raw_response`` of :class:`PlainBodyCompletions` (what langchain-openai calls)."""

    def __init__(self, owner: PlainBodyCompletions) -> None:
        self._owner = owner

    async def create(self, **params: Any) -> Any:
        return await self._owner._create(params, raw=True)


async def close_chat_model(chat: Any) -> None:
    """Close the HTTP client of a chat model made by :func:`make_chat_model` (errors ignored)."""
    client = getattr(chat, "root_async_client", None)
    close = getattr(client, "close", None)
    if close is not None:
        try:
            await close()
        except Exception:
            pass


class _LoopModels:
    """The chat models and HTTP clients shared by every agent of one event loop."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, float], Any] = {}
        self.models: dict[str, Any] = {}
        self.own_clients: list[Any] = []
        """Models that got no shared client (another provider, or openai missing): closed one by one."""


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopModels] = weakref.WeakKeyDictionary()


def _model_key(settings: ModelSettings) -> str:
    fields = asdict(settings)
    key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
    return json.dumps([fields, key, os.environ.get("OPENAI_API_KEY")], sort_keys=True, default=repr)


def shared_chat_model(settings: ModelSettings) -> tuple[Any, bool]:
    """``(chat model, shared)``: inside a running event loop, the one model (and HTTP connection pool)
    of that loop for ``settings``, shared by every agent of the run; outside one, a new model of its
    own (``shared`` False: its owner closes it with :func:`close_chat_model`).

    Building a chat model costs ~30-60 ms of CPU (an HTTP client and a TLS context with the system's
    certificates); per episode that was a third of the host's work at 64 episodes in flight. A model
    holds no conversation state, so agents can share it; rollouts with different seeds get different
    models (the seed is a constructor option)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return make_chat_model(settings), False
    shared = _SHARED.get(loop)
    if shared is None:
        shared = _SHARED[loop] = _LoopModels()
    key = _model_key(settings)
    chat = shared.models.get(key)
    if chat is None:
        ckey = (settings.base_url or "", settings.request_timeout)
        client = shared.clients.get(ckey)
        if client is None:
            client = _http_client(settings)
            if client is not None:
                shared.clients[ckey] = client
        chat = shared.models[key] = make_chat_model(settings, http_async_client=client)
        if client is None:
            shared.own_clients.append(chat)
    return chat, True


async def close_shared_models() -> None:
    """Close the HTTP clients this event loop's agents shared (a run calls it when it ends)."""
    shared = _SHARED.pop(asyncio.get_running_loop(), None)
    if shared is None:
        return
    for client in shared.clients.values():
        try:
            await client.aclose()
        except Exception:
            pass
    for chat in shared.own_clients:
        await close_chat_model(chat)


# ---------------------------------------------------------------- concurrency


DEFAULT_MAX_CONCURRENT_REQUESTS = 8
"""The request cap of agents used outside a run that set none."""

_RUN_CONCURRENCY: contextvars.ContextVar[int | None] = contextvars.ContextVar("kernelgym_run_concurrency", default=None)


def follow_run_concurrency(concurrency: int) -> contextvars.Token[int | None]:
    """Make ``concurrency`` the request cap of agents that set none, in this context (the runner calls
    it: ``--max-concurrent-requests`` follows ``--concurrency`` unless given)."""
    return _RUN_CONCURRENCY.set(concurrency)


def reset_run_concurrency(token: contextvars.Token[int | None]) -> None:
    """Undo :func:`follow_run_concurrency`."""
    _RUN_CONCURRENCY.reset(token)


def request_limit(settings: ModelSettings) -> int:
    """The cap on model requests in flight that applies to ``settings``."""
    return max(1, settings.max_concurrent_requests or _RUN_CONCURRENCY.get() or DEFAULT_MAX_CONCURRENT_REQUESTS)


_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def request_limiter(settings: ModelSettings) -> asyncio.Semaphore:
    """The semaphore shared by every agent of this event loop calling the same model endpoint."""
    loop = asyncio.get_running_loop()
    per_loop = _LIMITERS.setdefault(loop, {})
    key = (settings.model, settings.base_url or "")
    sem = per_loop.get(key)
    if sem is None:
        sem = per_loop[key] = asyncio.Semaphore(request_limit(settings))
    return sem


# ---------------------------------------------------------------- errors

Kind = Literal["fatal", "retry", "timeout", "connect", "context", "tools", "fail"]


def _status(exc: BaseException) -> int | None:
    for obj in (exc, getattr(exc, "response", None)):
        code = getattr(obj, "status_code", None) or getattr(obj, "status", None)
        if isinstance(code, int):
            return code
    return None


def _headers(exc: BaseException) -> Any:
    return getattr(getattr(exc, "response", None), "headers", None) or {}


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``: seconds or a date)."""
    headers = _headers(exc)
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except Exception:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _causes(exc: BaseException) -> list[BaseException]:
    out, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        out.append(cur)
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return out


def _lc_kind(exc: BaseException) -> Kind | None:
    try:
        from langchain_core import exceptions as lce
    except ImportError:
        return None
    table: list[tuple[str, Kind]] = [
        ("ContextOverflowError", "context"), ("ModelAuthenticationError", "fatal"),
        ("ModelPermissionDeniedError", "fatal"), ("ModelNotFoundError", "fatal"),
        ("ModelTimeoutError", "retry"), ("ModelConnectionError", "connect"),
        ("ModelRateLimitError", "retry"), ("ModelAPIError", "retry"),
    ]
    for name, kind in table:
        cls = getattr(lce, name, None)
        if cls is not None and isinstance(exc, cls):
            return kind
    return None


def error_text(exc: BaseException) -> str:
    """The server's own error message of a failed request (its JSON ``error.message`` when it sent one)."""
    return _message(exc)


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", None) or exc)


CONTEXT_WORDINGS = (
    "exceeds the available context size", "exceed_context_size",  # llama.cpp's llama-server
    "exceed context window",  # llama-cpp-python: "Requested tokens (N) exceed context window of M"
    "maximum context length", "context_length_exceeded",  # OpenAI, vLLM
    "maximum model length", "max_model_len",  # vLLM: "... is longer than the maximum model length of M"
    "context length", "context_length", "context size", "context window",  # Ollama and others
    "too many tokens", "prompt is too long", "input is too long", "prompt too long",
)
"""Lower-case phrases by which servers say a request does not fit the model's context window."""

TOOLS_REJECTED_WORDINGS = (
    "requires --jinja",  # llama-server without --jinja: HTTP 500 "tools param requires --jinja flag"
    "enable-auto-tool-choice",  # vLLM without tool parsing: "auto" tool choice requires --enable-auto-tool-choice
    "does not support tools", "tools are not supported", "tool calling is not supported",  # Ollama, others
    "tool_choice", "tools param", "tools parameter",
)
"""Lower-case phrases by which servers reject a request's ``tools`` (or ``tool_choice``)."""

_SIZE_PATTERNS = (
    # (regex, group of the request's tokens or 0, group of the context size or 0)
    (re.compile(r"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)"), 1, 2),
    (re.compile(r"requested tokens \((\d+)\) exceed context window of (\d+)"), 1, 2),
    (re.compile(r"maximum context length is (\d+) tokens"), 0, 1),
    (re.compile(r"(?:you requested|resulted in|request has|your request has) (\d+)(?: input)? tokens"), 1, 0),
    (re.compile(r"\(length (\d+)\) is longer than the maximum model length of (\d+)"), 1, 2),
    (re.compile(r"input length \((\d+)\) exceeds (?:the )?model'?s? maximum context length \((\d+)\)"), 1, 2),
    (re.compile(r"(\d+) tokens > (\d+) maximum"), 1, 2),
)


def context_sizes(exc: BaseException) -> tuple[int | None, int | None]:
    """``(request tokens, context tokens)`` as a context-overflow error states them (None where it does not)."""
    request = context = None
    body = getattr(exc, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(err, dict):  # llama-server adds both numbers to its error object
        if isinstance(err.get("n_prompt_tokens"), int):
            request = err["n_prompt_tokens"]
        if isinstance(err.get("n_ctx"), int):
            context = err["n_ctx"]
    text = _message(exc).lower()
    for pattern, ri, ci in _SIZE_PATTERNS:
        m = pattern.search(text)
        if m is None:
            continue
        if ri and request is None:
            request = int(m.group(ri))
        if ci and context is None:
            context = int(m.group(ci))
    return request, context


def is_context_overflow(exc: BaseException) -> bool:
    """Whether a failed request says it does not fit the context window (any HTTP error status)."""
    status = _status(exc)
    if status is not None and (status < 400 or status == 429):  # 429: a tokens-per-minute limit is no overflow
        return False
    text = _message(exc).lower()
    code = str(getattr(exc, "code", "") or "").lower()
    if "tool" in text and not any(s in text for s in ("context size", "context length", "context window")):
        return False
    return any(s in text or s in code for s in CONTEXT_WORDINGS)


def rejects_tools(exc: BaseException) -> bool:
    """Whether a failed request says the server cannot take its ``tools``: llama-server without
    ``--jinja`` (HTTP 500), vLLM without ``--enable-auto-tool-choice`` (400), a model Ollama serves
    without tool support (400)."""
    status = _status(exc)
    if status not in (400, 404, 422, 500, 501):
        return False
    text = _message(exc).lower()
    if any(s in text for s in TOOLS_REJECTED_WORDINGS) or (status in (400, 422) and "tool" in text):
        return True
    return "tool" in text and any(s in text for s in ("not supported", "unsupported", "does not support", "not enabled"))


def classify(exc: BaseException, *, tools: bool = False) -> Kind:
    """What to do about a failed call: stop the run, retry, retry a connection, trim, fall back to
    the text protocol (``tools``: only for a request that sent tools), or fail it."""
    status = _status(exc)
    text = _message(exc).lower()
    code = str(getattr(exc, "code", "") or "")
    if status == 429 and ("insufficient_quota" in code or "insufficient_quota" in text or "exceeded your current quota" in text):
        return "fatal"
    if tools and rejects_tools(exc):
        return "tools"
    if is_context_overflow(exc):
        return "context"
    kind = _lc_kind(exc)
    if kind == "retry" and _timed_out(exc):
        return "timeout"
    if kind is not None:
        return kind
    if status in (401, 403, 404):
        return "fatal"
    if status in (408, 409, 425, 429) or (status is not None and status >= 500):
        return "retry"
    if status is not None:
        return "fail"
    if _timed_out(exc):
        return "timeout"
    names = " ".join(type(e).__name__ for e in _causes(exc))
    if "Connect" in names or any(isinstance(e, ConnectionError) for e in _causes(exc)):
        return "connect"
    return "fail"


def _timed_out(exc: BaseException) -> bool:
    names = " ".join(type(e).__name__ for e in _causes(exc))
    return isinstance(exc, asyncio.TimeoutError) or "Timeout" in names


def describe(exc: BaseException, settings: ModelSettings, kind: Kind) -> str:
    """A one-paragraph message saying what failed and what to do."""
    status = _status(exc)
    where = settings.where()
    detail = _message(exc)
    if kind == "connect":
        root = next((e for e in reversed(_causes(exc)) if isinstance(e, OSError)), None)
        reason = "connection refused" if isinstance(root, ConnectionRefusedError) else (str(root) if root else detail)
        return (f"cannot connect to the model server at {where} ({reason}). Is the server running, and is "
                f"--base-url right (OpenAI-compatible servers usually end in /v1)?")
    if status in (401, 403):
        key = f"${settings.api_key_env}" if settings.api_key_env else "the provider's API key variable (or --api-key-env)"
        verb = "rejected the credentials" if status == 401 else "refused access"
        return f"the model server at {where} {verb} (HTTP {status}: {detail}). Check the API key in {key}."
    if status == 404:
        return (f"the model server at {where} does not know model {settings.model_name!r} (HTTP 404: {detail}). "
                "Check the model name (PROVIDER:NAME) and --base-url.")
    if status == 429 and kind == "fatal":
        return f"the model provider at {where} reports no quota left (HTTP 429: {detail})."
    if kind == "fatal":
        return f"the model call to {where} failed and cannot succeed by retrying: {type(exc).__name__}: {detail}"
    if kind == "tools":
        return (f"the model server at {where} rejected the request's tools (HTTP {status}: {detail}). Enable "
                "tool calling on the server (llama-server: --jinja; vLLM: --enable-auto-tool-choice "
                "--tool-call-parser NAME) or use --protocol text (or auto, which falls back to it).")
    if kind == "timeout":
        return (f"no reply from {where} within {settings.request_timeout:g} s ({type(exc).__name__}); the request "
                "was abandoned. A slow or runaway reply: lower --max-tokens or raise -O request_timeout=SECONDS.")
    return f"{type(exc).__name__}{f' (HTTP {status})' if status else ''}: {detail}"


# ---------------------------------------------------------------- calls


@dataclass
class CallRecord:
    """One model call as it happened (possibly after retries)."""

    latency_s: float
    """Duration of the successful request."""
    attempts: int
    waited_s: float
    """Time spent waiting: for a free request slot and in backoff between attempts."""
    usage: dict[str, int]
    finish_reason: str | None = None
    model: str | None = None
    errors: list[str] = field(default_factory=list)
    failed_s: float = 0.0
    """Time spent in the requests that failed before the successful one (timeouts included)."""
    timeouts: int = 0
    """Requests abandoned because they timed out (their tokens, if any, were never reported)."""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["latency_s"] = round(self.latency_s, 4)
        d["waited_s"] = round(self.waited_s, 4)
        d["failed_s"] = round(self.failed_s, 4)
        for key in ("errors", "failed_s", "timeouts"):
            if not d[key]:
                d.pop(key)
        return d


class FailedAttempts:
    """What the failed attempts of one model call cost (carried by the errors :func:`call_model` raises)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.failed_s = 0.0
        self.timeouts = 0
        self.errors: list[str] = []


class ContextOverflow(ModelCallError):
    """The server said the request is longer than the model's context window."""

    def __init__(self, message: str, *, request_tokens: int | None = None, context_tokens: int | None = None) -> None:
        super().__init__(message)
        self.request_tokens = request_tokens
        """The request's size in tokens, if the server said it."""
        self.context_tokens = context_tokens
        """The server's context window in tokens, if it said it."""
        self.failed: FailedAttempts | None = None


class ToolsRejected(ModelCallError):
    """The server rejected the request's ``tools`` (e.g. llama-server without ``--jinja``)."""

    failed: FailedAttempts | None = None


def usage_of(message: Any) -> dict[str, int]:
    """Token usage of a reply, as the server reported it (``prompt_tokens``, ``completion_tokens``, ...)."""
    meta = getattr(message, "response_metadata", None) or {}
    raw = meta.get("token_usage") or meta.get("usage")
    out: dict[str, int] = {}
    if isinstance(raw, dict):
        for key in ("prompt_tokens", "completion_tokens", "total_tokens", "input_tokens", "output_tokens"):
            value = raw.get(key)
            if isinstance(value, int):
                out[{"input_tokens": "prompt_tokens", "output_tokens": "completion_tokens"}.get(key, key)] = value
    if not out:
        um = getattr(message, "usage_metadata", None) or {}
        if um:
            out = {
                "prompt_tokens": int(um.get("input_tokens", 0)),
                "completion_tokens": int(um.get("output_tokens", 0)),
                "total_tokens": int(um.get("total_tokens", 0)),
            }
    if out and "total_tokens" not in out:
        out["total_tokens"] = out.get("prompt_tokens", 0) + out.get("completion_tokens", 0)
    return out


def backoff(attempt: int, settings: ModelSettings, hint: float | None) -> float:
    """Seconds before retry number ``attempt + 1``: the server's Retry-After if given, else
    exponential backoff with jitter."""
    if hint is not None:
        return hint
    base = min(settings.retry_max_delay, settings.retry_base_delay * (2 ** attempt))
    return base * random.uniform(0.75, 1.25)


async def call_model(
    runnable: Any, messages: list[Any], settings: ModelSettings, *, tools: bool = False,
) -> tuple[Any, CallRecord]:
    """Invoke ``runnable`` on ``messages`` with the shared limit and the retry policy of the module.

    ``tools``: the request carries tools, so a server's rejection of them raises :class:`ToolsRejected`
    at once (no retries). A request that times out is abandoned: the HTTP client closes its connection
    (vLLM and llama-server then stop generating for it) and it is retried only
    :meth:`ModelSettings.timeout_retry_limit` times. Errors raised here carry ``failed`` (a
    :class:`FailedAttempts`)."""
    limiter = request_limiter(settings)
    attempt, waited, errors, failed_s, timeouts = 0, 0.0, [], 0.0, 0
    timeout_attempts = 0
    while True:
        t_wait = time.monotonic()
        async with limiter:
            t0 = time.monotonic()
            waited += t0 - t_wait
            try:
                reply = await runnable.ainvoke(messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure: Exception = exc
                failed_s += time.monotonic() - t0
            else:
                meta = getattr(reply, "response_metadata", None) or {}
                return reply, CallRecord(
                    latency_s=time.monotonic() - t0, attempts=attempt + 1, waited_s=waited, usage=usage_of(reply),
                    finish_reason=meta.get("finish_reason") or meta.get("stop_reason"),
                    model=meta.get("model_name") or meta.get("model"), errors=errors, failed_s=failed_s,
                    timeouts=timeouts,
                )
        kind = classify(failure, tools=tools)
        message = describe(failure, settings, kind)
        failed = FailedAttempts()
        failed.attempts, failed.failed_s, failed.errors = attempt + 1, failed_s, [*errors, message]
        failed.timeouts = timeouts + (kind == "timeout")
        if kind == "fatal":
            raise FatalModelError(message) from failure
        if kind == "context":
            request_tokens, context_tokens = context_sizes(failure)
            overflow = ContextOverflow(message, request_tokens=request_tokens, context_tokens=context_tokens)
            overflow.failed = failed
            raise overflow from failure
        if kind == "tools":
            rejected = ToolsRejected(message)
            rejected.failed = failed
            raise rejected from failure
        if kind == "timeout":
            timeouts += 1
            timeout_attempts += 1
            over = timeout_attempts > settings.timeout_retry_limit()
        else:
            limit = settings.connect_retries if kind == "connect" else settings.max_retries
            over = attempt >= limit
        if kind == "fail" or over:
            if kind == "connect":
                raise FatalModelError(message) from failure
            tries = f" after {attempt + 1} attempts" if attempt else ""
            error = ModelCallError(f"the model call failed{tries}: {message}")
            error.failed = failed  # type: ignore[attr-defined]
            raise error from failure
        hint = retry_after(failure)
        if hint is not None and hint > settings.max_retry_after:
            raise ModelCallError(f"the server asked to wait {hint:.0f} s (Retry-After), more than "
                                 f"{settings.max_retry_after:.0f} s: {message}") from failure
        delay = backoff(attempt, settings, hint)
        errors.append(f"{message} -> retry in {delay:.2f} s")
        await asyncio.sleep(delay)
        waited += delay
        attempt += 1


# ---------------------------------------------------------------- what the server says of itself


_CONTEXT_CACHE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Future[int | None]]] = (
    weakref.WeakKeyDictionary()
)


def _context_from_models(data: Any, name: str) -> int | None:
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    fitting = [i for i in items if isinstance(i, dict) and i.get("id") == name] or (items if len(items) == 1 else [])
    for item in fitting:
        if not isinstance(item, dict):
            continue
        for value in (item.get("max_model_len"), (item.get("meta") or {}).get("n_ctx")):  # vLLM; llama-server
            if isinstance(value, int) and value > 0:
                return value
    return None


async def _ask_context(settings: ModelSettings) -> int | None:
    import httpx

    base = (settings.base_url or "").rstrip("/")
    headers = {}
    key = os.environ.get(settings.api_key_env) if settings.api_key_env else os.environ.get("OPENAI_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False, verify=not base.startswith("http://")) as client:
        try:
            r = await client.get(f"{base}/models", headers=headers)
            if r.status_code == 200:
                found = _context_from_models(r.json(), settings.model_name)
                if found:
                    return found
        except Exception:
            pass
        root = base[:-3] if base.endswith("/v1") else base
        try:  # llama-server: the context of one slot (--ctx-size divided by --parallel)
            r = await client.get(f"{root}/props", headers=headers)
            if r.status_code == 200:
                value = (r.json().get("default_generation_settings") or {}).get("n_ctx")
                if isinstance(value, int) and value > 0:
                    return value
        except Exception:
            pass
    return None


async def server_context_tokens(settings: ModelSettings) -> int | None:
    """The context window (tokens per request) that a self-hosted OpenAI-compatible server reports:
    vLLM's ``/v1/models`` ``max_model_len``, llama-server's ``/v1/models`` ``meta.n_ctx`` or ``/props``
    ``default_generation_settings.n_ctx`` (one slot's share). None for a provider's API, a server that
    says nothing (Ollama, llama-cpp-python) or one that does not answer within 5 s. Asked once per event
    loop and endpoint."""
    if not settings.openai_compatible_server:
        return None
    loop = asyncio.get_running_loop()
    per_loop = _CONTEXT_CACHE.setdefault(loop, {})
    key = (settings.base_url or "", settings.model_name)
    future = per_loop.get(key)
    if future is None:
        future = per_loop[key] = loop.create_future()
        try:
            value = await _ask_context(settings)
        except Exception:
            value = None
        future.set_result(value)
        return value
    return await asyncio.shield(future)
