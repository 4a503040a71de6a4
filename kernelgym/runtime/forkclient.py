"""The owner's side of a fork server: start one per profile, ask it for kernels, watch them.

:mod:`kernelgym.runtime.forkserver` is the fork server itself (the process that forks kernels); this
module runs in the process that owns it (a run, a Jupyter server, papermill) and is what the
provisioner (:mod:`kernelgym.jupyter.provisioner`) calls: :func:`get_zygote` (one fork server per
profile and data location, started on first use, stopped at exit), :func:`request_kernel` and
:func:`wait_for_kernel_info`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from kernelgym.runtime.forkserver import FRAME, ZYGOTE_PARENT, recv_message, send_message
from kernelgym.runtime.tempdirs import owned_tempdir, remove_tree, sweep


class ZygoteError(RuntimeError):
    """The fork server could not be started or did not answer."""


class ZygoteHandle:
    """A running fork server owned by this process."""

    def __init__(self, key: tuple[Any, ...], preloads: list[str], env: dict[str, str]) -> None:
        self.key = key
        self.preloads = list(preloads)
        self.run_dir = str(owned_tempdir("fs", dir=ZYGOTE_PARENT))  # named after us: swept if we are killed
        self.sock_path = os.path.join(self.run_dir, "zygote.sock")
        self.log_path = os.path.join(self.run_dir, "zygote.log")
        rfd, self._lifeline = os.pipe()  # our end stays open as long as this process lives
        # -P: a kernelgym/ folder in the current folder (another checkout) must not shadow the installed one
        cmd = [sys.executable, "-P", "-m", "kernelgym.runtime.forkserver", "--socket", self.sock_path,
               "--lifeline-fd", str(rfd)]
        for p in preloads:
            cmd += ["--preload", p]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         pass_fds=(rfd,), close_fds=True, start_new_session=True)
        os.close(rfd)
        self.started = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    async def ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.sock_path):
            if self.proc.poll() is not None:
                raise ZygoteError(f"the fork server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ZygoteError(f"the fork server was not ready after {timeout:g} s")
            await asyncio.sleep(0.01)

    def ping(self) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.sock_path)
            send_message(s, {"op": "ping"})
            reply, _ = recv_message(s)
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self._lifeline)
        except OSError:
            pass

        remove_tree(self.run_dir)
        sweep(ZYGOTE_PARENT, kinds=("zygote",))  # the killed zygote's own run folder (it had no chance to remove it)


_zygotes: dict[tuple[Any, ...], ZygoteHandle] = {}
_zlock = threading.Lock()


def get_zygote(preloads: list[str], env: dict[str, str]) -> ZygoteHandle:
    """This process's fork server for a profile's preload files and data location (started on first use).

    Preloads are keyed by content, not path: an installed copy of a kernelspec (papermill, JupyterLab)
    and kernelgym's own profile folder share one zygote.
    """
    import hashlib

    keys = ("KERNELGYM_HOME", "PYTHONPATH", "PATH")
    digests = []
    for path in preloads:
        try:
            digests.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
        except OSError:
            digests.append(path)
    key = (os.getpid(), tuple(digests), *(env.get(k) for k in keys))
    with _zlock:
        z = _zygotes.get(key)
        if z is None or not z.alive():
            if z is not None:
                z.close()
            if not _zygotes:
                import atexit

                atexit.register(shutdown_zygotes)  # also removes the owner-side run folders
            z = _zygotes[key] = ZygoteHandle(key, preloads, env)
        return z


def live_zygotes() -> list[ZygoteHandle]:
    """The fork servers of this process that are running."""
    with _zlock:
        return [z for z in _zygotes.values() if z.alive()]


def stop_zygotes(which: Callable[[ZygoteHandle], bool]) -> int:
    """Stop the fork servers of this process that ``which`` selects (their kernels die with them);
    returns how many."""
    with _zlock:
        chosen = [key for key, z in _zygotes.items() if which(z)]
        for key in chosen:
            _zygotes.pop(key).close()
    return len(chosen)


def shutdown_zygotes() -> None:
    """Stop every fork server of this process (their kernels die with them)."""
    with _zlock:
        for z in _zygotes.values():
            z.close()
        _zygotes.clear()


class ForkedKernel:
    """The owner's handle of one forked kernel: its pid and the connection the zygote reports on."""

    def __init__(self, conn: socket.socket, pid: int, uid: int | None) -> None:
        self.conn = conn
        self.pid = pid
        self.uid = uid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            self.conn.setblocking(False)
            msg, _ = recv_message(self.conn)
        except BlockingIOError:
            return None
        except OSError:
            msg = None
        finally:
            try:
                self.conn.setblocking(True)
            except OSError:
                pass
        if msg is None:  # zygote gone: the kernel died with it (PDEATHSIG)
            self.returncode = -signal.SIGKILL
        else:
            self.returncode = int(msg.get("exit", -1))
        return self.returncode

    def signal(self, signum: int) -> None:
        if self.poll() is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except OSError:
            os.kill(self.pid, signum)

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


async def request_kernel(
    zygote: ZygoteHandle, *, argv: list[str], connection_info: dict[str, Any], env: dict[str, str],
    cwd: str | None, sandbox: dict[str, Any] | None, stdio: dict[str, int], home: str | None = None,
) -> ForkedKernel:
    """Ask the fork server for a kernel; returns once the child exists (not yet ready)."""
    loop = asyncio.get_running_loop()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.setblocking(False)
        await loop.sock_connect(conn, zygote.sock_path)
        conn.setblocking(True)
        names = list(stdio)
        req = {"op": "fork", "argv": argv, "connection_info": connection_info, "env": env, "cwd": cwd,
               "sandbox": sandbox, "fds": names, "home": home}
        send_message(conn, req, [stdio[n] for n in names])
        conn.setblocking(False)
        data = b""
        while len(data) < FRAME.size or len(data) < FRAME.size + FRAME.unpack(data[: FRAME.size])[0]:
            chunk = await loop.sock_recv(conn, 65536)
            if not chunk:
                raise ZygoteError(f"the fork server closed the connection:\n{zygote.log_tail()}")
            data += chunk
        (n,) = FRAME.unpack(data[: FRAME.size])
        reply = json.loads(data[FRAME.size : FRAME.size + n])
        rest = data[FRAME.size + n :]
        conn.setblocking(True)
    except BaseException:
        conn.close()
        raise
    if "error" in reply:
        conn.close()
        raise ZygoteError(reply["error"])
    kernel = ForkedKernel(conn, int(reply["pid"]), reply.get("uid"))
    if rest:  # the exit message arrived with the reply
        kernel.returncode = int(json.loads(rest[FRAME.size :]).get("exit", -1))
    return kernel


async def wait_for_kernel_info(connection_info: dict[str, Any], kernel: ForkedKernel, timeout: float) -> dict[str, Any]:
    """Send ``kernel_info_request`` and wait until the kernel answers; its reply content.

    With IPC transport the probe connects once the kernel's shell socket file exists (a ZMQ socket
    connected earlier retries every few ms in its I/O thread: CPU taken from the starting kernel);
    the reply wakes this coroutine at once (an asyncio socket: no polling interval).
    """
    import zmq
    import zmq.asyncio
    from jupyter_client.session import Session

    ci = connection_info
    key = ci["key"].encode() if isinstance(ci["key"], str) else ci["key"]
    session = Session(key=key, signature_scheme=ci.get("signature_scheme", "hmac-sha256"))
    start = time.monotonic()
    deadline = start + timeout
    if ci["transport"] == "ipc":
        path = f"{ci['ip']}-{ci['shell_port']}"
        url = f"ipc://{path}"
        pause = 0.002  # then longer: at 128 starts in flight, 2 ms polls cost the event loop ~1 ms of CPU a start
        while not os.path.exists(path):
            if kernel.poll() is not None:
                raise ZygoteError(f"the forked kernel exited with {kernel.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise ZygoteError(f"the forked kernel did not bind its sockets within {timeout:g} s")
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.01)
    else:
        url = f"tcp://{ci['ip']}:{ci['shell_port']}"
    sock = zmq.asyncio.Socket(_probe_context(), zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 10)
    sock.setsockopt(zmq.IDENTITY, session.bsession)
    sock.connect(url)
    sent = -1.0
    try:
        while True:
            now = time.monotonic()
            if now - sent > 1.0:  # once, and again every second in case a request was lost
                session.send(sock, "kernel_info_request", {})
                sent = now
            if await sock.poll(50, zmq.POLLIN):
                _, msg_list = session.feed_identities(await sock.recv_multipart())
                msg = session.deserialize(msg_list)
                if msg["msg_type"] == "kernel_info_reply":
                    return msg["content"]
                continue
            if kernel.poll() is not None:
                raise ZygoteError(f"the forked kernel exited with {kernel.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise ZygoteError(f"the forked kernel did not answer kernel_info within {timeout:g} s")
    finally:
        sock.close(linger=0)


def _probe_context() -> Any:
    """The process's one ZMQ context (:func:`kernelgym.runtime.kernel_manager.shared_context`)."""
    from kernelgym.runtime.kernel_manager import shared_context

    return shared_context()
