"""The host channel: how a sandboxed kernel that a *person* started gets a verdict.

A starter notebook (``kernelgym notebook TASK_ID``) run with the plain papermill CLI, or in
JupyterLab, ends with a result cell that shows the host-side grader's verdict. The ground truth
lives in the task store, which a sandboxed kernel cannot see, and a sandboxed kernel has no network.
So the provisioner that forked the kernel (running on the host, in the papermill or Jupyter server
process) serves a Unix socket in the kernel's own socket folder, the one folder besides its working
directory that the sandbox shares with the host. The kernel finds it in ``KERNELGYM_HOST_SOCKET``.

The channel answers three questions, one JSON line each way, the same as
``python -m kernelgym.jupyter.host_answers`` does for an unsandboxed kernel:

- ``{"command": "task", "task_id": ID}``: the public part of the task (prompt, inputs);
- ``{"command": "verifier", "task_id": ID}``: the canonical verifier cell's source;
- ``{"command": "verdict", "task_id": ID, "evidence": [...]}``: passed or failed, and how many
  verdicts this kernel has asked for that task (``asked``). Never the expected answer.

What it does not do:

- It is **off for every kernel kernelgym starts itself** (``kernelgym run``, ``grade``, the gym
  environments, LangChain tools, Ray hosts, ``papermill --engine kernelgym``): there an agent's code
  must not be able to try candidate answers against the grader. Those code paths mark their kernel
  managers with :func:`kernelgym.runtime.kernel_manager.disable_host_channel`; the verdicts that count come from the host grading the
  verifier's evidence after the fact (``kernelgym grade``).
- It does not make a verdict shown *in a notebook* trustworthy: code in the kernel can print
  anything. The channel is a convenience for people solving tasks; ``kernelgym grade`` re-executes
  and grades on the host. ``asked`` shows when a kernel asked more than once.
- It accepts connections only from the kernel's own uid (``SO_PEERCRED``); other kernels cannot see
  the folder at all (each has its own mount namespace).
- It serves **one task**: the first task id it answers for (the notebook's own, asked by its
  starter cells) binds the channel; other task ids are refused for the kernel manager's lifetime
  (restarts included). Verdicts are **rate-limited** (:data:`VERDICT_BURST` at once, then one per
  :data:`VERDICT_INTERVAL` seconds): a hidden answer used to be recovered in ~200 queries over any
  task, which now takes over half an hour on the notebook's own task, and ``asked`` shows it.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernelgym.jupyter import host_answers
from kernelgym.kernel.starter import HOST_SOCKET_ENV as ENV_VAR  # noqa: F401  (the kernel side is the client)

SOCKET_NAME = "kernelgym-host.sock"
MAX_REQUEST_BYTES = 16 * 1024 * 1024
COMMANDS = ("task", "verifier", "verdict")
VERDICT_BURST = 5
"""Verdicts a kernel may ask for at once."""
VERDICT_INTERVAL = 10.0
"""Seconds per further verdict once the burst is spent."""


class ChannelState:
    """What one channel remembers: the task it serves, verdicts asked, and the verdict budget."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.task_id: str | None = None
        self.asked: Counter[str] = Counter()
        self.clock = clock
        self.tokens = float(VERDICT_BURST)
        self.refilled = clock()

    def check_task(self, task_id: str) -> None:
        if self.task_id is not None and task_id != self.task_id:
            raise ValueError(f"the grader of this kernel serves task {self.task_id} only (the notebook's own); "
                             "start a new kernel for another task")

    def take_verdict(self) -> None:
        now = self.clock()
        self.tokens = min(float(VERDICT_BURST), self.tokens + (now - self.refilled) / VERDICT_INTERVAL)
        self.refilled = now
        if self.tokens < 1.0:
            wait = (1.0 - self.tokens) * VERDICT_INTERVAL
            raise ValueError(f"too many verdicts: at most {VERDICT_BURST} at once, then one every "
                             f"{VERDICT_INTERVAL:g} s; try again in {wait:.0f} s")
        self.tokens -= 1.0


def answer(request: dict[str, Any], state: ChannelState | None = None) -> dict[str, Any]:
    """The host's answer to one request (raises ``ValueError``/``KeyError`` for a bad one).

    With ``state`` (a channel's), only its task is served and verdicts are rate-limited.
    """

    command = request.get("command")
    task_id = request.get("task_id")
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; one of {', '.join(COMMANDS)}")
    if not isinstance(task_id, str) or not task_id:
        raise ValueError("task_id must be a non-empty string")
    if state is not None:
        state.check_task(task_id)
    if command == "task":
        result = host_answers.task_record(task_id)
    elif command == "verifier":
        result = host_answers.verifier_record(task_id)
    else:
        evidence = request.get("evidence")
        if not isinstance(evidence, list):
            raise ValueError("evidence must be a JSON list of records")
        if state is not None:
            state.take_verdict()
        result = host_answers.verdict_record(task_id, evidence)
        if state is not None:
            state.asked[task_id] += 1
            result["asked"] = state.asked[task_id]
    if state is not None:
        state.task_id = task_id  # answered, so the task exists: the channel serves it from now on
    return result


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            creds = self.request.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
        except OSError:
            return
        if uid not in self.server.allowed_uids():
            # read (a bounded part of) the request first: a reply to a peer still sending would reach
            # it as EPIPE on its write, not as this reason
            self.request.settimeout(2.0)
            try:
                self.rfile.readline(MAX_REQUEST_BYTES + 1)
            except OSError:
                pass
            self._reply({"ok": False, "error": "this host channel serves its own kernel only"})
            return
        line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        try:
            if len(line) > MAX_REQUEST_BYTES:
                raise ValueError(f"request larger than {MAX_REQUEST_BYTES} bytes")
            request = json.loads(line or b"{}")
            if not isinstance(request, dict):
                raise ValueError("a request is one JSON object")
            with self.server.lock:
                result = answer(request, self.server.state)
            reply: dict[str, Any] = {"ok": True, "result": result}
        except (ValueError, KeyError, FileNotFoundError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            reply = {"ok": False, "error": str(message)}
        except Exception as exc:  # noqa: BLE001 - the kernel gets a reason, the server lives on
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        self._reply(reply)

    def _reply(self, reply: dict[str, Any]) -> None:
        try:
            self.wfile.write(json.dumps(reply, default=str).encode() + b"\n")
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, kernel_uid: int | None) -> None:
        super().__init__(path, _Handler)
        self.kernel_uid = kernel_uid
        self.state = ChannelState()
        self.lock = threading.Lock()

    def allowed_uids(self) -> set[int]:
        uids = {os.geteuid()}
        if self.kernel_uid is not None:
            uids.add(self.kernel_uid)
        return uids


class HostChannel:
    """A host channel served from a background thread until :meth:`close`.

    ``folder`` is the kernel's socket folder; the socket is ``folder/kernelgym-host.sock``.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = str(Path(folder) / SOCKET_NAME)
        if os.path.lexists(self.path):
            os.unlink(self.path)
        self._server = _Server(self.path, None)
        os.chmod(self.path, 0o666)  # the kernel runs as its own uid; SO_PEERCRED decides who is served
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="kernelgym-host-channel", daemon=True)
        self._thread.start()

    def allow_uid(self, uid: int | None) -> None:
        """The uid the kernel runs as (known once it is forked)."""
        self._server.kernel_uid = uid

    @property
    def asked(self) -> Counter[str]:
        """Verdicts asked so far, by task id."""
        return self._server.state.asked

    @property
    def task_id(self) -> str | None:
        """The task this channel serves (None until one was answered)."""
        return self._server.state.task_id

    def close(self) -> None:
        """Stop serving and remove the socket (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

