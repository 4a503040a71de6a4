"""Fork server ("zygote") per profile: a process with the profile's data in memory that forks kernels.

The zygote (``python -m kernelgym.forkserver``) imports the profile's libraries and the modules
ipykernel otherwise imports lazily at start, runs the profile's preload once (DataFrames in memory),
calls ``gc.freeze()`` and then waits on a Unix socket. It never starts a thread, an event loop or a
ZMQ context: each request forks a child that

- becomes PID 1 of its own PID namespace where allowed (its descendants die with it),
- enters its sandbox (:mod:`kernelgym.sandbox`): session, mount/network namespaces, limits, uid,
  ``PR_SET_PDEATHSIG``,
- builds an ``IPKernelApp`` whose user namespace is the preloaded one and binds its own sockets
  (IPC paths in a folder of its own, so concurrent kernels never collide),

and the zygote answers the requester with the child's pid. The requester (the provisioner, see
:func:`request_kernel`) reports the kernel ready only when it answers ``kernel_info``.

Host side and zygote never share task data: this module imports nothing of kernelgym's host side.

Protocol, one Unix stream connection per kernel: the client sends one length-prefixed JSON request
(with its stdout/stderr file descriptors attached), the zygote answers ``{"pid": N}`` (or
``{"error": ...}``), and later ``{"exit": status}`` when the kernel exits. Closing the connection
kills the kernel; the zygote exits (killing its kernels) when its owner's lifeline pipe closes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# Modules ipykernel imports lazily while it starts or runs its first cell (measured: sys.modules of
# a fresh kernel after one cell minus those of `import ipykernel.kernelapp`).
PREIMPORTS = [
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
    "ipykernel.iostream", "ipykernel.heartbeat", "ipykernel.comm", "ipykernel.eventloops",
    "IPython.core.completer", "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.logger",
    "IPython.core.oinspect", "IPython.extensions.storemagic", "IPython.utils.wildcard",
    "IPython.core.magics", "IPython.display",
    "jupyter_client.session", "tornado.gen", "tornado.locks", "tornado.queues", "tornado.ioloop",
    "tornado.platform.asyncio", "zmq.eventloop.zmqstream", "zmq.asyncio",
    "debugpy", "debugpy.server.api", "psutil", "sqlite3", "pdb", "pydoc", "code", "http.server",
    "xmlrpc.client", "xmlrpc.server", "gzip", "mimetypes", "faulthandler", "pkgutil", "runpy", "resource",
    "pwd", "unicodedata", "stringprep", "encodings.idna", "email.parser", "jedi", "parso",
]

_LEN = struct.Struct("!I")


def _send(sock: socket.socket, obj: Any, fds: list[int] | None = None) -> None:
    data = json.dumps(obj).encode()
    payload = _LEN.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], fds)
    else:
        sock.sendall(payload)


def _recv(sock: socket.socket, maxfds: int = 0) -> tuple[Any, list[int]]:
    """One message (blocking); ``(None, [])`` at EOF."""
    fds: list[int] = []
    if maxfds:
        data, fds, _, _ = socket.recv_fds(sock, 65536, maxfds)
    else:
        data = sock.recv(65536)
    if not data:
        return None, fds
    while len(data) < _LEN.size or len(data) < _LEN.size + _LEN.unpack(data[: _LEN.size])[0]:
        more = sock.recv(65536)
        if not more:
            return None, fds
        data += more
    (n,) = _LEN.unpack(data[: _LEN.size])
    return json.loads(data[_LEN.size : _LEN.size + n]), fds


# ----------------------------------------------------------------------------------------------
# zygote


class Zygote:
    """The fork server's state. Single-threaded by design."""

    def __init__(self, sock_path: str, preloads: list[str], lifeline: int | None) -> None:
        self.sock_path = sock_path
        self.preloads = preloads
        self.lifeline = lifeline
        self.ns: dict[str, Any] = {}
        self.kernels: dict[int, socket.socket] = {}  # pid -> requester connection
        self.counter = 0
        self.pidns_fd: int | None = None
        self.run_dir = tempfile.mkdtemp(prefix="kernelgym-zygote-")
        os.chmod(self.run_dir, 0o755)
        self.newroot = os.path.join(self.run_dir, "root")
        os.mkdir(self.newroot)
        self.owner = os.getppid()

    def prepare(self) -> None:
        """Import everything and load the profile's data; then freeze the heap for copy-on-write."""
        for name in PREIMPORTS:
            try:
                __import__(name)
            except Exception:
                pass
        ns = self.ns
        ns["__name__"] = "__main__"
        for path in self.preloads:
            with open(path) as fh:
                code = compile(fh.read(), path, "exec")
            exec(code, ns)  # noqa: S102 - the profile's own preload
        if threading.active_count() != 1:
            raise RuntimeError(f"the preload started threads ({threading.enumerate()}); a zygote must stay single-threaded")
        try:  # a PID namespace per kernel: its descendants die with it (needs CAP_SYS_ADMIN)
            from kernelgym import sandbox

            fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
            pid = os.fork()
            if pid == 0:
                try:
                    sandbox.setns(fd, sandbox.CLONE_NEWPID)
                    sandbox.unshare(sandbox.CLONE_NEWPID)
                    os._exit(0)
                except BaseException:
                    os._exit(1)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                self.pidns_fd = fd
            else:
                os.close(fd)
        except OSError:
            pass
        gc.collect()
        gc.freeze()

    def serve(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.sock_path + ".tmp")
        listener.listen(128)
        os.rename(self.sock_path + ".tmp", self.sock_path)  # appears only when the zygote accepts
        self.listener = listener
        rpipe, wpipe = os.pipe()
        os.set_blocking(wpipe, False)
        signal.set_wakeup_fd(wpipe)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self.exit())
        self.wake = (rpipe, wpipe)
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ, "accept")
        sel.register(rpipe, selectors.EVENT_READ, "signal")
        if self.lifeline is not None:
            sel.register(self.lifeline, selectors.EVENT_READ, "lifeline")
        self.sel = sel
        while True:
            for key, _ in sel.select(timeout=1.0):
                what = key.data
                if what == "accept":
                    conn, _ = listener.accept()
                    self.handle(conn)
                elif what == "signal":
                    os.read(rpipe, 4096)
                elif what == "lifeline":
                    if not os.read(self.lifeline, 1):  # type: ignore[arg-type]
                        self.exit()
                elif isinstance(what, tuple) and what[0] == "conn":
                    self.on_conn(what[1], key.fileobj)  # type: ignore[arg-type]
            self.reap()
            if os.getppid() != self.owner:
                self.exit()

    def handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            req, fds = _recv(conn, maxfds=3)
        except Exception:
            conn.close()
            return
        if req is None:
            conn.close()
            return
        op = req.get("op")
        if op == "ping":
            _send(conn, {"pid": os.getpid(), "pid_namespace": self.pidns_fd is not None,
                         "kernels": sorted(self.kernels), "names": sorted(k for k in self.ns if not k.startswith("_"))})
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        if op != "fork":
            _send(conn, {"error": f"unknown op {op!r}"})
            conn.close()
            return
        self.counter += 1
        from kernelgym.sandbox import UID_BASE

        uid = UID_BASE + ((os.getpid() % 2048) << 10) + (self.counter % 1024)
        try:
            if self.pidns_fd is not None:
                from kernelgym import sandbox

                sandbox.setns(self.pidns_fd, sandbox.CLONE_NEWPID)
                sandbox.unshare(sandbox.CLONE_NEWPID)
            pid = os.fork()
        except OSError as exc:
            _send(conn, {"error": f"fork failed: {exc}"})
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        if pid == 0:
            self.child(conn, req, fds, uid)  # never returns
        for fd in fds:
            os.close(fd)
        conn.settimeout(None)
        conn.setblocking(False)
        self.kernels[pid] = conn
        self.sel.register(conn, selectors.EVENT_READ, ("conn", pid))
        try:
            _send(conn, {"pid": pid, "uid": uid})
        except OSError:
            self.kill(pid)

    def on_conn(self, pid: int, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the requester is gone: so is its kernel
            self.kill(pid)

    def kill(self, pid: int) -> None:
        for fn in (os.killpg, os.kill):
            try:
                fn(pid, signal.SIGKILL)
            except OSError:
                pass

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.kernels.pop(pid, None)
            if conn is not None:
                try:
                    self.sel.unregister(conn)
                except (KeyError, ValueError):
                    pass
                try:
                    conn.setblocking(True)
                    _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                except OSError:
                    pass
                conn.close()

    def exit(self) -> None:
        for pid in list(self.kernels):
            self.kill(pid)
        try:
            os.unlink(self.sock_path)
        except OSError:
            pass
        import shutil

        shutil.rmtree(self.run_dir, ignore_errors=True)
        os._exit(0)

    # -- in the forked child ------------------------------------------------------------------

    def child(self, conn: socket.socket, req: dict[str, Any], fds: list[int], uid: int) -> None:
        code = 3
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            names = req.get("fds", [])
            devnull = os.open(os.devnull, os.O_RDWR)
            stdio = {"stdin": devnull, "stdout": devnull, "stderr": devnull}
            stdio.update(dict(zip(names, fds)))
            for i, name in enumerate(("stdin", "stdout", "stderr")):
                os.dup2(stdio[name], i)
            lifeline = self.lifeline
            keep = {0, 1, 2} | ({lifeline} if lifeline is not None else set())
            self.sel.close()
            lo = 3
            for fd in sorted(keep | {65536}):
                if fd >= lo:
                    os.closerange(lo, fd)
                    lo = fd + 1
            from kernelgym import sandbox

            applied = sandbox.apply(req.get("sandbox"), uid=uid, newroot=self.newroot,
                                    pid_namespace=self.pidns_fd is not None)
            if lifeline is not None:  # the owner died between fork and PDEATHSIG: do not start
                import select

                if select.select([lifeline], [], [], 0)[0]:
                    os._exit(0)
                os.close(lifeline)
            env = dict(req.get("env") or {})
            env.pop("JPY_PARENT_PID", None)  # the owner's pid means nothing in our PID namespace
            env.setdefault("IPYTHONDIR", "/tmp/.ipython")
            env.setdefault("MPLCONFIGDIR", "/tmp/.matplotlib")
            env["HOME"] = req.get("home") or os.getcwd()
            env["KERNELGYM_SANDBOX_APPLIED"] = ",".join(applied)
            os.environ.clear()
            os.environ.update(env)
            if req.get("cwd") and not (req.get("sandbox") or {}).get("config", {}).get("enabled"):
                os.chdir(req["cwd"])
            signal.signal(signal.SIGTERM, lambda *_: os._exit(128 + signal.SIGTERM))
            self.start_kernel(req)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException:
            try:
                os.write(2, f"kernelgym: forked kernel failed to start:\n{traceback.format_exc()}".encode())
            except OSError:
                pass
        os._exit(code)

    def start_kernel(self, req: dict[str, Any]) -> None:
        from ipykernel.kernelapp import IPKernelApp

        conn_file = os.path.join(tempfile.gettempdir(), f"kernel-{os.getpid()}.json")
        with open(conn_file, "w") as fh:
            json.dump(req["connection_info"], fh)
        gc.enable()
        ns = self.ns
        app = IPKernelApp.instance()
        app.user_ns = ns
        app.initialize([*req.get("argv", []), "-f", conn_file])
        app.shell.user_ns_hidden.update({k: ns[k] for k in list(ns) if not k.startswith("_")})
        app.start()


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m kernelgym.forkserver", description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--preload", action="append", default=[])
    ap.add_argument("--lifeline-fd", type=int)
    args = ap.parse_args(argv)
    zygote = Zygote(args.socket, args.preload, args.lifeline_fd)
    try:
        zygote.prepare()
    except BaseException:
        sys.stderr.write(f"kernelgym: fork server preload failed:\n{traceback.format_exc()}")
        sys.exit(3)
    zygote.serve()


# ----------------------------------------------------------------------------------------------
# owner side


class ZygoteError(RuntimeError):
    """The fork server could not be started or did not answer."""


class ZygoteHandle:
    """A running fork server owned by this process."""

    def __init__(self, key: tuple[Any, ...], preloads: list[str], env: dict[str, str]) -> None:
        self.key = key
        self.run_dir = tempfile.mkdtemp(prefix="kernelgym-fs-")
        self.sock_path = os.path.join(self.run_dir, "zygote.sock")
        self.log_path = os.path.join(self.run_dir, "zygote.log")
        rfd, self._lifeline = os.pipe()  # our end stays open as long as this process lives
        cmd = [sys.executable, "-m", "kernelgym.forkserver", "--socket", self.sock_path, "--lifeline-fd", str(rfd)]
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
            _send(s, {"op": "ping"})
            reply, _ = _recv(s)
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self._lifeline)
        except OSError:
            pass
        import shutil

        shutil.rmtree(self.run_dir, ignore_errors=True)


_zygotes: dict[tuple[Any, ...], ZygoteHandle] = {}
_zlock = threading.Lock()


def get_zygote(preloads: list[str], env: dict[str, str]) -> ZygoteHandle:
    """This process's fork server for a profile's preload files and data location (started on first use)."""
    keys = ("KERNELGYM_HOME", "PYTHONPATH", "PATH")
    key = (os.getpid(), tuple(preloads), *(env.get(k) for k in keys))
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
            msg, _ = _recv(self.conn)
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
        _send(conn, req, [stdio[n] for n in names])
        conn.setblocking(False)
        data = b""
        while len(data) < _LEN.size or len(data) < _LEN.size + _LEN.unpack(data[: _LEN.size])[0]:
            chunk = await loop.sock_recv(conn, 65536)
            if not chunk:
                raise ZygoteError(f"the fork server closed the connection:\n{zygote.log_tail()}")
            data += chunk
        (n,) = _LEN.unpack(data[: _LEN.size])
        reply = json.loads(data[_LEN.size : _LEN.size + n])
        rest = data[_LEN.size + n :]
        conn.setblocking(True)
    except BaseException:
        conn.close()
        raise
    if "error" in reply:
        conn.close()
        raise ZygoteError(reply["error"])
    kernel = ForkedKernel(conn, int(reply["pid"]), reply.get("uid"))
    if rest:  # the exit message arrived with the reply
        kernel.returncode = int(json.loads(rest[_LEN.size :]).get("exit", -1))
    return kernel


async def wait_for_kernel_info(connection_info: dict[str, Any], kernel: ForkedKernel, timeout: float) -> dict[str, Any]:
    """Send ``kernel_info_request`` with short polls until the kernel answers; its reply content."""
    import zmq
    from jupyter_client.session import Session

    ci = connection_info
    key = ci["key"].encode() if isinstance(ci["key"], str) else ci["key"]
    session = Session(key=key, signature_scheme=ci.get("signature_scheme", "hmac-sha256"))
    ctx = _probe_context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 2)
    sock.setsockopt(zmq.IDENTITY, session.bsession)
    url = f"ipc://{ci['ip']}-{ci['shell_port']}" if ci["transport"] == "ipc" else f"tcp://{ci['ip']}:{ci['shell_port']}"
    sock.connect(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            session.send(sock, "kernel_info_request", {})
            for _ in range(4):
                if sock.poll(0):
                    _, msg_list = session.feed_identities(sock.recv_multipart())
                    msg = session.deserialize(msg_list)
                    if msg["msg_type"] == "kernel_info_reply":
                        return msg["content"]
                await asyncio.sleep(0.005)
            if kernel.poll() is not None:
                raise ZygoteError(f"the forked kernel exited with {kernel.returncode} before it was ready")
            if time.monotonic() > deadline:
                raise ZygoteError(f"the forked kernel did not answer kernel_info within {timeout:g} s")
    finally:
        sock.close(linger=0)


_ctx: Any = None
_ctx_pid = 0


def _probe_context() -> Any:
    global _ctx, _ctx_pid
    import zmq

    if _ctx is None or _ctx.closed or _ctx_pid != os.getpid():
        _ctx, _ctx_pid = zmq.Context(), os.getpid()
    return _ctx


if __name__ == "__main__":
    main()
