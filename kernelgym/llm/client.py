"""Chat models through LangChain, called robustly.

- :func:`make_chat_model`: ``init_chat_model("PROVIDER:NAME")`` with a base URL, an API key read
  from a named environment variable and the sampling options; the client's own retries are turned
  off so that :func:`call_model` alone decides.
- :func:`call_model`: one model call under a concurrency limit shared by every episode of the
  process (per event loop and endpoint), with retries and exponential backoff on HTTP 429 (honouring
  ``Retry-After``), 5xx, 408/409 and timeouts; connection errors are retried a few times and then
  stop the run. Bad credentials (401/403), an unknown model (404) and an exhausted quota raise
  :class:`~kernelgym.llm.errors.FatalModelError` at once.

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
    """Retries of one call on 429, 5xx and timeouts."""
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
        return init_chat_model(settings.model_name, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise FatalModelError(f"cannot use model {settings.model!r}: {exc}") from None
    except ValueError as exc:
        raise FatalModelError(f"cannot use model {settings.model!r}: {exc}") from None
    except Exception as exc:  # e.g. a provider's own check that an API key is present
        raise FatalModelError(f"cannot make the chat model {settings.model!r}: {type(exc).__name__}: {exc}") from None


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

Kind = Literal["fatal", "retry", "connect", "context", "fail"]


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


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", None) or exc)


def classify(exc: BaseException) -> Kind:
    """What to do about a failed call: stop the run, retry, retry a connection, trim, or fail it."""
    status = _status(exc)
    text = _message(exc).lower()
    code = str(getattr(exc, "code", "") or "")
    if status == 429 and ("insufficient_quota" in code or "insufficient_quota" in text or "exceeded your current quota" in text):
        return "fatal"
    kind = _lc_kind(exc)
    if kind is not None:
        return kind
    if status in (401, 403, 404):
        return "fatal"
    if status in (408, 409, 425, 429) or (status is not None and status >= 500):
        return "retry"
    if status in (400, 413, 422) and any(
        s in text for s in ("context length", "context_length", "maximum context", "too many tokens", "prompt is too long")
    ):
        return "context"
    if status is not None:
        return "fail"
    names = " ".join(type(e).__name__ for e in _causes(exc))
    if isinstance(exc, asyncio.TimeoutError) or "Timeout" in names:
        return "retry"
    if "Connect" in names or any(isinstance(e, ConnectionError) for e in _causes(exc)):
        return "connect"
    return "fail"


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

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["latency_s"] = round(self.latency_s, 4)
        d["waited_s"] = round(self.waited_s, 4)
        if not self.errors:
            d.pop("errors")
        return d


class ContextOverflow(ModelCallError):
    """The server said the request is longer than the model's context window."""


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


async def call_model(runnable: Any, messages: list[Any], settings: ModelSettings) -> tuple[Any, CallRecord]:
    """Invoke ``runnable`` on ``messages`` with the shared limit and the retry policy of the module."""
    limiter = request_limiter(settings)
    attempt, waited, errors = 0, 0.0, []
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
            else:
                meta = getattr(reply, "response_metadata", None) or {}
                return reply, CallRecord(
                    latency_s=time.monotonic() - t0, attempts=attempt + 1, waited_s=waited, usage=usage_of(reply),
                    finish_reason=meta.get("finish_reason") or meta.get("stop_reason"),
                    model=meta.get("model_name") or meta.get("model"), errors=errors,
                )
        kind = classify(failure)
        message = describe(failure, settings, kind)
        if kind == "fatal":
            raise FatalModelError(message) from failure
        if kind == "context":
            raise ContextOverflow(message) from failure
        limit = settings.connect_retries if kind == "connect" else settings.max_retries
        if kind == "fail" or attempt >= limit:
            if kind == "connect":
                raise FatalModelError(message) from failure
            tries = f" after {attempt + 1} attempts" if attempt else ""
            raise ModelCallError(f"the model call failed{tries}: {message}") from failure
        hint = retry_after(failure)
        if hint is not None and hint > settings.max_retry_after:
            raise ModelCallError(f"the server asked to wait {hint:.0f} s (Retry-After), more than "
                                 f"{settings.max_retry_after:.0f} s: {message}") from failure
        delay = backoff(attempt, settings, hint)
        errors.append(f"{message} -> retry in {delay:.2f} s")
        await asyncio.sleep(delay)
        waited += delay
        attempt += 1
