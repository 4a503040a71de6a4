"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API with scripted replies.

Tests point the real ``langchain_openai.ChatOpenAI`` client (through kernelgym's LLM agent) at it,
so every request goes through the real client, serialisation, HTTP and error handling.

A *script* decides each reply. It is either a list (replies handed out in request order, shared by
every conversation) or a callable ``script(request_body) -> Reply``. :func:`by_turn` builds a
callable that picks a conversation's n-th reply from the number of assistant messages already in
the request, so concurrent episodes each follow their own script. Every request is recorded with
its arrival time; every usage block the server reports is recorded in :attr:`OpenAIStub.reported`.

Real servers differ, and the stub can behave as each does (issue 20): ``honours`` names the reply
limit fields it obeys (llama-cpp-python reads only ``max_tokens``; LangChain sends
``max_completion_tokens``), a :class:`Reply` with ``generate`` is a reply of that many tokens cut at the
limit, one with ``stall`` keeps "generating" until the client goes away (recorded in
:attr:`OpenAIStub.aborted`), ``error_body`` sends a server's exact error object, and ``models_extra`` /
``props`` add what vLLM's ``/v1/models`` and llama-server's ``/props`` report.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply: an assistant message (text and/or tool calls), or an HTTP error."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] | None = None
    """Reported as the response's ``usage``; default: counted from the request and the reply."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    delay: float = 0.0
    """Seconds the server waits before answering."""
    finish_reason: str | None = None
    generate: int | None = None
    """A reply of this many tokens (the word ``tok`` repeated), cut at the reply limit the server honours
    (``finish_reason`` ``length`` then); usage reports the tokens generated."""
    stall: float = 0.0
    """Seconds the server keeps "generating" before answering, or until the client closes the connection."""
    error_body: dict[str, Any] | None = None
    """The exact JSON body of an error reply (default: ``{"error": {"message": error, ...}}``)."""


def tool_call(name: str, arguments: dict[str, Any] | str) -> dict[str, Any]:
    """A tool call; ``arguments`` as a dict (JSON-encoded for you) or a raw string (may be malformed)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": {"name": name, "arguments": args}}


def error(status: int, message: str, headers: dict[str, str] | None = None, delay: float = 0.0) -> Reply:
    return Reply(status=status, error=message, headers=dict(headers or {}), delay=delay)


def text(content: str, **kw: Any) -> Reply:
    return Reply(content=content, **kw)


def calls(*tool_calls: dict[str, Any], content: str | None = None, **kw: Any) -> Reply:
    return Reply(content=content, tool_calls=list(tool_calls), **kw)


def assistant_turns(body: dict[str, Any]) -> int:
    """How many assistant messages the request already holds (= which reply of its script is due)."""
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def first_user_text(body: dict[str, Any]) -> str:
    for m in body.get("messages", []):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else json.dumps(c)
    return ""


def by_turn(scripts: dict[str, list[Reply]] | list[Reply]) -> Callable[[dict[str, Any]], Reply]:
    """A script choosing a conversation's reply by its number of assistant messages.

    With a dict, the conversation is identified by the key that occurs in its first user message
    (e.g. the task's question), so concurrent conversations each follow their own list.
    """

    def script(body: dict[str, Any]) -> Reply:
        if isinstance(scripts, list):
            replies = scripts
        else:
            first = first_user_text(body)
            matches = [v for k, v in scripts.items() if k in first]
            if not matches:
                return error(400, f"stub: no script for this conversation: {first[:200]!r}")
            replies = matches[0]
        n = assistant_turns(body)
        if n >= len(replies):
            return error(400, f"stub: the script has {len(replies)} replies; reply {n + 1} was asked for")
        return replies[n]

    return script


@dataclass
class Seen:
    """A request as the server received it."""

    t: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0


class OpenAIStub:
    """``with OpenAIStub(script) as stub: ChatOpenAI(base_url=stub.url, api_key=stub.api_key, ...)``."""

    def __init__(
        self,
        script: list[Reply] | Callable[[dict[str, Any]], Reply] | None = None,
        *,
        api_key: str | None = "sk-stub",
        models: tuple[str, ...] = ("stub-model", "stub-model-2"),
        honours: tuple[str, ...] = ("max_completion_tokens", "max_tokens"),
        models_extra: dict[str, Any] | None = None,
        props: dict[str, Any] | None = None,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.honours = honours
        """Reply-limit fields obeyed, first found wins (vLLM and OpenAI: max_completion_tokens first;
        llama-cpp-python: only max_tokens)."""
        self.models_extra = dict(models_extra or {})
        self.props = props
        self.aborted: list[float] = []
        """When a stalled request noticed that its client had closed the connection."""
        self.generated: list[int] = []
        """Tokens generated for each ``generate`` reply."""
        self.requests: list[Seen] = []
        self.reported: list[dict[str, int]] = []
        self.reported_for: list[str] = []
        """The first user message of the conversation each usage block was reported for."""
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._script: list[Reply] | Callable[[dict[str, Any]], Reply] = []
        self.set_script(script or [])
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "owned_by": "stub", **stub.models_extra} for m in stub.models
                    ]})
                elif self.path.rstrip("/") == "/props" and stub.props is not None:
                    self._send(200, stub.props)
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_unparsable": raw.decode(errors="replace")}
                seen = Seen(time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with stub._lock:
                    stub.requests.append(seen)
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    status, payload, headers = stub._answer(self.path, seen, self.connection)
                    seen.status = status
                    try:
                        self._send(status, payload, headers)
                    except OSError:  # the client left (a timed-out request)
                        pass
                finally:
                    with stub._lock:
                        stub.in_flight -= 1

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to give the client (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def set_script(self, script: list[Reply] | Callable[[dict[str, Any]], Reply]) -> None:
        with self._lock:
            self._script = list(script) if isinstance(script, Iterable) and not callable(script) else script

    def reset(self, script: list[Reply] | Callable[[dict[str, Any]], Reply] | None = None) -> None:
        """Forget recorded requests and usage; optionally install a new script."""
        with self._lock:
            self.requests.clear()
            self.reported.clear()
            self.reported_for.clear()
            self.max_in_flight = 0
        if script is not None:
            self.set_script(script)

    def start(self) -> OpenAIStub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def chat_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def total_reported(self, conversation: str | None = None) -> dict[str, int]:
        """Sum of the usage blocks reported (only for conversations whose first user message contains
        ``conversation``, if given)."""
        out: dict[str, int] = {}
        for u, first in zip(self.reported, self.reported_for):
            if conversation is not None and conversation not in first:
                continue
            for k, v in u.items():
                out[k] = out.get(k, 0) + v
        return out

    # ------------------------------------------------------------------ replies

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            script = self._script
            if isinstance(script, list):
                if not script:
                    return error(500, "stub: the script is exhausted")
                return script.pop(0)
        return script(body)

    def _stall(self, seconds: float, conn: socket.socket) -> bool:
        """Wait ``seconds`` or until the client closes ``conn``; True if it did."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            readable, _, _ = select.select([conn], [], [], 0.02)
            if readable:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        with self._lock:
                            self.aborted.append(time.monotonic())
                        return True
                except OSError:
                    with self._lock:
                        self.aborted.append(time.monotonic())
                    return True
                time.sleep(0.02)
        return False

    def _limit(self, body: dict[str, Any]) -> int | None:
        for key in self.honours:
            if isinstance(body.get(key), int):
                return int(body[key])
        return None

    def _answer(self, path: str, seen: Seen, conn: socket.socket | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}}, {}
        if self.api_key is not None and seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {"error": {
                "message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key",
            }}, {}
        body = seen.body
        if body.get("model") not in self.models:
            return 404, {"error": {
                "message": f"The model `{body.get('model')}` does not exist.", "type": "invalid_request_error",
                "code": "model_not_found",
            }}, {}
        reply = self._next(body)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.stall and conn is not None and self._stall(reply.stall, conn):
            return 499, {"error": {"message": "client closed the connection"}}, {}
        if reply.status != 200:
            if reply.error_body is not None:
                return reply.status, reply.error_body, reply.headers
            kind = "rate_limit_error" if reply.status == 429 else "server_error" if reply.status >= 500 else "invalid_request_error"
            return reply.status, {"error": {"message": reply.error or "error", "type": kind, "code": None}}, reply.headers
        content = reply.content
        finish = reply.finish_reason
        usage_override = reply.usage
        if reply.generate is not None:
            limit = self._limit(body)
            n = reply.generate if limit is None else min(limit, reply.generate)
            content = (content or "") + "tok " * n
            finish = "length" if n < reply.generate else (finish or "stop")
            usage_override = {"prompt_tokens": max(1, len(json.dumps(body.get("messages", []))) // 4), "completion_tokens": n}
            with self._lock:
                self.generated.append(n)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        usage = usage_override or {
            "prompt_tokens": max(1, len(json.dumps(body.get("messages", []))) // 4),
            "completion_tokens": max(1, len(json.dumps(message)) // 4),
        }
        usage = {**usage, "total_tokens": usage.get("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])}
        with self._lock:
            self.reported.append(dict(usage))
            self.reported_for.append(first_user_text(body))
        finish = finish or ("tool_calls" if reply.tool_calls else "stop")
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
            "system_fingerprint": "fp_stub",
        }
        return 200, payload, reply.headers
