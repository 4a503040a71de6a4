"""Fork server ("zygote") per profile: a process with the profile's data in memory that forks kernels.

The zygote (``python -m kernelgym.runtime.forkserver``) imports the profile's libraries and the modules
ipykernel otherwise imports lazily at start, runs the profile's preload once (DataFrames in memory),
builds the kernel application (configuration, ``IPythonKernel`` and its ``InteractiveShell``: see
:func:`prebuild_kernel_app`), calls ``gc.freeze()`` and then waits on a Unix socket. It never starts
a thread, an event loop or a ZMQ context. Each kernel is a forked child that

- becomes PID 1 of its own PID namespace where allowed (its descendants die with it),
- enters its sandbox (:mod:`kernelgym.runtime.sandbox`): session, mount/network namespaces, limits, uid,
  ``PR_SET_PDEATHSIG``,
- binds its own sockets (IPC paths in a folder of its own, so concurrent kernels never collide),
  starts ipykernel's threads and wires them into the prebuilt kernel (:func:`finish_kernel_app`),

and the zygote answers the requester with the child's pid. The requester (the provisioner, see
:func:`request_kernel`) reports the kernel ready only when it answers ``kernel_info``.

Off the critical path: when idle, the zygote forks a *spare* child that prepares the part of the
sandbox every kernel shares (namespaces, its root with the read-only binds) and waits; the next
request with the same sandbox plan is handed to it, so a request costs neither the ``fork()`` of a
large process (page tables: 5-20 ms) nor the mounts.

Host side and zygote never share task data: this module imports nothing of kernelgym's host side.

The owner's side (starting a zygote, requesting kernels) is :mod:`kernelgym.runtime.forkclient`.

Protocol, one Unix stream connection per kernel: the client sends one length-prefixed JSON request
(with its stdout/stderr file descriptors attached), the zygote answers ``{"pid": N}`` (or
``{"error": ...}``), and later ``{"exit": status}`` when the kernel exits. Closing the connection
kills the kernel; the zygote exits (killing its kernels and its spare) when its owner's lifeline
pipe closes.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
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

FRAME = struct.Struct("!I")


def send_message(sock: socket.socket, obj: Any, fds: list[int] | None = None) -> None:
    data = json.dumps(obj).encode()
    payload = FRAME.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], fds)
    else:
        sock.sendall(payload)


def recv_message(sock: socket.socket, maxfds: int = 0) -> tuple[Any, list[int]]:
    """One message (blocking); ``(None, [])`` at EOF."""
    fds: list[int] = []
    if maxfds:
        data, fds, _, _ = socket.recv_fds(sock, 65536, maxfds)
    else:
        data = sock.recv(65536)
    if not data:
        return None, fds
    while len(data) < FRAME.size or len(data) < FRAME.size + FRAME.unpack(data[: FRAME.size])[0]:
        more = sock.recv(65536)
        if not more:
            return None, fds
        data += more
    (n,) = FRAME.unpack(data[: FRAME.size])
    return json.loads(data[FRAME.size : FRAME.size + n]), fds


# ----------------------------------------------------------------------------------------------
# zygote

SPARE_IDLE = 0.02
"""Seconds without a request after which the zygote forks its next spare child."""


class _Spare:
    """A child forked ahead of time: it has prepared the static part of a sandbox plan (session,
    namespaces, its root with the read-only binds) and waits on ``chan`` for a request."""

    def __init__(self, pid: int, chan: socket.socket, plan: dict[str, Any] | None, stamp: list[Any]) -> None:
        self.pid = pid
        self.chan = chan
        self.plan = plan
        self.stamp = stamp


def _stamp(plan: dict[str, Any] | None) -> list[Any]:
    """Identity of what a plan binds: a folder replaced on the host since a spare bound it (a data
    set rebuilt in place) makes the spare stale."""
    out: list[Any] = []
    for path in (plan or {}).get("readonly", []):
        try:
            st = os.stat(path)
            out.append((st.st_dev, st.st_ino))
        except OSError:
            out.append(None)
    return out


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
        from kernelgym.runtime.tempdirs import owned_tempdir

        # named after this process: if it is killed (ZygoteHandle.close does), tempdirs.sweep removes it
        self.run_dir = str(owned_tempdir("zygote", dir=ZYGOTE_PARENT))
        os.chmod(self.run_dir, 0o755)
        self.newroot = os.path.join(self.run_dir, "root")
        os.mkdir(self.newroot)
        self.owner = os.getppid()
        self.app: Any = None  # the IPKernelApp built ahead of time (see prebuild_kernel_app)
        self.spare: _Spare | None = None
        self.spare_plan: dict[str, Any] | None = None  # static part of the last request's sandbox plan
        self.want_spare = False  # set by a request, cleared when a spare cannot be made
        self.spares_used = 0
        from kernelgym.runtime.sandbox import UID_BLOCK, UID_BLOCKS, lease_uid_block

        # kernel n runs as uid_base + n % UID_BLOCK; the block is this server's while it (or a kernel) lives
        self.uid_base, self.uid_lease = lease_uid_block(os.getpid() % UID_BLOCKS)
        self.uid_span = UID_BLOCK

    def prepare(self) -> None:
        """Import everything and load the profile's data; then freeze the heap for copy-on-write."""
        for name in PREIMPORTS:
            try:
                __import__(name)
            except Exception:
                pass
        ns = self.ns
        ns["__name__"] = "__main__"
        # as in a kernel started the ordinary way, where IPKernelApp.initialize sets it before the
        # preload runs: matplotlib reads it once, at import
        os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        for path in self.preloads:
            with open(path) as fh:
                code = compile(fh.read(), path, "exec")
            exec(code, ns)  # noqa: S102 - the profile's own preload
        if threading.active_count() != 1:
            raise RuntimeError(f"the preload started threads ({threading.enumerate()}); a zygote must stay single-threaded")
        if os.environ.get("KERNELGYM_PREBUILD", "1").strip().lower() not in ("0", "false", "no", "off"):
            self.app = prebuild_kernel_app(ns, os.path.join(self.run_dir, "ipython"))
        try:  # a PID namespace per kernel: its descendants die with it (needs CAP_SYS_ADMIN)
            from kernelgym.runtime import sandbox

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
        sys.stdout.flush()
        sys.stderr.flush()
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
            # a spare child is forked when the zygote has been idle for a moment, so that a burst
            # of requests is not slowed down by it
            want_spare = self.spare is None and self.want_spare
            events = sel.select(timeout=SPARE_IDLE if want_spare else 1.0)
            for key, _ in events:
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
            if not events and want_spare:
                self.make_spare()

    def handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            req, fds = recv_message(conn, maxfds=3)
        except Exception:
            conn.close()
            return
        if req is None:
            conn.close()
            return
        op = req.get("op")
        if op == "ping":
            send_message(conn, {"pid": os.getpid(), "pid_namespace": self.pidns_fd is not None, "prebuilt": self.app is not None,
                         "spare": self.spare.pid if self.spare else None, "spares_used": self.spares_used,
                         "requests": self.counter, "uid_base": self.uid_base,
                         "kernels": sorted(self.kernels), "names": sorted(k for k in self.ns if not k.startswith("_"))})
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        if op != "fork":
            send_message(conn, {"error": f"unknown op {op!r}"})
            conn.close()
            return
        self.counter += 1
        from kernelgym.runtime.sandbox import static_part

        uid = self.uid_base + (self.counter % self.uid_span)
        plan = static_part(req.get("sandbox"))
        spare = self.take_spare(plan)
        self.spare_plan, self.want_spare = plan, True  # the next spare is prepared for requests like this one
        pid = 0
        if spare is not None:
            try:
                send_message(spare.chan, {"req": req, "uid": uid}, fds)
                pid = spare.pid
                self.spares_used += 1
            except OSError:  # it died meanwhile: fork one for this request
                self.kill(spare.pid)
            spare.chan.close()
        try:
            if not pid:
                pid = self.fork()
                if pid == 0:
                    self.child(req, fds, uid, None, None)  # never returns
        except OSError as exc:
            send_message(conn, {"error": f"fork failed: {exc}"})
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        for fd in fds:
            os.close(fd)
        conn.settimeout(None)
        conn.setblocking(False)
        self.kernels[pid] = conn
        self.sel.register(conn, selectors.EVENT_READ, ("conn", pid))
        try:
            send_message(conn, {"pid": pid, "uid": uid})
        except OSError:
            self.kill(pid)

    def fork(self) -> int:
        """``os.fork()``, the child being PID 1 of a new PID namespace where allowed."""
        if self.pidns_fd is not None:
            from kernelgym.runtime import sandbox

            sandbox.setns(self.pidns_fd, sandbox.CLONE_NEWPID)
            sandbox.unshare(sandbox.CLONE_NEWPID)
        return os.fork()

    # -- spare: a child forked and half-sandboxed ahead of the next request ----------------------

    def make_spare(self) -> None:
        plan = self.spare_plan
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            stamp = _stamp(plan)
            pid = self.fork()
        except OSError:
            parent_end.close()
            child_end.close()
            self.want_spare = False  # do not retry in a loop; the next request asks again
            return
        if pid == 0:
            parent_end.close()
            self.child(None, [], 0, child_end, plan)  # never returns
        child_end.close()
        self.spare = _Spare(pid, parent_end, plan, stamp)

    def take_spare(self, plan: dict[str, Any] | None) -> _Spare | None:
        """The spare, if it was prepared for this plan and what it binds is still what the host has."""
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        if spare.plan == plan and spare.stamp == _stamp(plan):
            try:
                os.kill(spare.pid, 0)
                return spare
            except OSError:
                pass
        spare.chan.close()  # it exits at EOF
        self.kill(spare.pid)
        return None

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
            if self.spare is not None and self.spare.pid == pid:  # a spare that died unused
                self.spare.chan.close()
                self.spare = None
                self.want_spare = False  # no new spare until the next request (no fork loop)
            conn = self.kernels.pop(pid, None)
            if conn is not None:
                try:
                    self.sel.unregister(conn)
                except (KeyError, ValueError):
                    pass
                try:
                    conn.setblocking(True)
                    send_message(conn, {"exit": os.waitstatus_to_exitcode(status)})
                except OSError:
                    pass
                conn.close()

    def exit(self) -> None:
        for pid in list(self.kernels) + ([self.spare.pid] if self.spare else []):
            self.kill(pid)
        try:
            os.unlink(self.sock_path)
        except OSError:
            pass

        from kernelgym.runtime.tempdirs import remove_tree  # never raises, however deep the tree
        remove_tree(self.run_dir)
        os._exit(0)

    # -- in the forked child ------------------------------------------------------------------

    def child(self, req: dict[str, Any] | None, fds: list[int], uid: int, chan: socket.socket | None,
              plan: dict[str, Any] | None) -> None:
        """A forked child: a kernel for ``req``, or (``chan`` given) a spare that prepares the static
        part of its sandbox (``plan``), then waits on ``chan`` for its request."""
        code = 3
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if req is not None:
                self.set_stdio(req, fds)
            lifeline = self.lifeline
            keep = {0, 1, 2} | ({lifeline} if lifeline is not None else set()) | ({chan.fileno()} if chan else set())
            self.sel.close()
            # the zygote's sockets: forget their fds (closed below) so that no garbage collection
            # in the kernel closes an fd number that has been reused by then
            for sock in [self.listener, *self.kernels.values()]:
                sock.detach()
            lo = 3
            for fd in sorted(keep | {65536}):
                if fd >= lo:
                    os.closerange(lo, fd)
                    lo = fd + 1
            from kernelgym.runtime import sandbox

            if chan is not None:
                sandbox.set_pdeathsig()  # a spare dies with the zygote
                if lifeline is not None:
                    import select

                    if select.select([lifeline], [], [], 0)[0]:
                        os._exit(0)
                failure: BaseException | None = None
                try:
                    applied = sandbox.prepare(plan, newroot=self.newroot, pid_namespace=self.pidns_fd is not None)
                except Exception as exc:  # reported to the requester of this kernel, on its stderr
                    failure = exc
                msg, fds = recv_message(chan, maxfds=3)
                if msg is None:  # discarded, or the zygote is gone
                    os._exit(0)
                chan.close()
                req, uid = msg["req"], msg["uid"]
                self.set_stdio(req, fds)
                if failure is not None:
                    raise failure
            else:
                assert req is not None
                applied = sandbox.prepare(sandbox.static_part(req.get("sandbox")), newroot=self.newroot,
                                          pid_namespace=self.pidns_fd is not None)
            applied = sandbox.finish(req.get("sandbox"), applied, uid=uid, newroot=self.newroot,
                                     pid_namespace=self.pidns_fd is not None)
            if lifeline is not None:  # the owner died between fork and PDEATHSIG: do not start
                import select

                if select.select([lifeline], [], [], 0)[0]:
                    os._exit(0)
                os.close(lifeline)
            env = dict(req.get("env") or {})
            env.pop("JPY_PARENT_PID", None)  # the owner's pid means nothing in our PID namespace
            fast = self.app is not None and set(req.get("argv") or []) <= PREBUILT_ARGV
            if fast:  # the prebuilt app's profile (created in the kernel's own /tmp below)
                env["IPYTHONDIR"] = self.app.ipython_dir
            env.setdefault("IPYTHONDIR", "/tmp/.ipython")
            env.setdefault("MPLCONFIGDIR", "/tmp/.matplotlib")
            env["HOME"] = req.get("home") or os.getcwd()
            if "mount-namespace+pivot_root" in applied:
                # the host's TMPDIR (if any) is not writable in the kernel's view; its /tmp is private
                for name in ("TMPDIR", "TEMP", "TMP"):
                    env.pop(name, None)
                tempfile.tempdir = None  # gettempdir() of the zygote cached the host's choice
            env["KERNELGYM_SANDBOX_APPLIED"] = ",".join(applied)
            env["KERNELGYM_FORKED"] = "prebuilt" if fast else "forked"
            os.environ.clear()
            os.environ.update(env)
            if req.get("cwd") and not (req.get("sandbox") or {}).get("config", {}).get("enabled"):
                os.chdir(req["cwd"])
            signal.signal(signal.SIGTERM, lambda *_: os._exit(128 + signal.SIGTERM))
            self.start_kernel(req, fast)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException:
            try:
                os.write(2, f"kernelgym: forked kernel failed to start:\n{traceback.format_exc()}".encode())
            except OSError:
                pass
        os._exit(code)

    @staticmethod
    def set_stdio(req: dict[str, Any], fds: list[int]) -> None:
        """The requester's stdout/stderr (those it sent) as fds 1 and 2, /dev/null for the rest."""
        devnull = os.open(os.devnull, os.O_RDWR)
        stdio = {"stdin": devnull, "stdout": devnull, "stderr": devnull}
        stdio.update(dict(zip(req.get("fds", []), fds)))
        for i, name in enumerate(("stdin", "stdout", "stderr")):
            os.dup2(stdio[name], i)
        for fd in {devnull, *fds} - {0, 1, 2}:
            os.close(fd)

    def start_kernel(self, req: dict[str, Any], fast: bool) -> None:
        # next to the kernel's IPC sockets: its own folder (every kernel is PID 1 of its namespace,
        # and without a private /tmp a name like kernel-<pid>.json would be shared)
        ci = req["connection_info"]
        conn_file = os.path.join(os.path.dirname(ci["ip"]), "kernel.json") if ci.get("transport") == "ipc" else ""
        try:  # a restarted kernel's predecessor (another uid) left its own there
            if conn_file:
                os.unlink(conn_file)
        except FileNotFoundError:
            pass
        except OSError:
            conn_file = ""
        if not conn_file or not os.access(os.path.dirname(conn_file), os.W_OK):
            conn_file = os.path.join(tempfile.mkdtemp(prefix="kernelgym-kernel-"), "kernel.json")
        with open(conn_file, "w") as fh:
            json.dump(req["connection_info"], fh)
        gc.enable()
        if fast:
            app = finish_kernel_app(self.app, conn_file)
        else:
            if self.app is not None:  # the request asks for other settings: build the app from scratch
                _clear_singletons()
            from ipykernel.kernelapp import IPKernelApp

            ns = self.ns
            app = IPKernelApp.instance()
            app.user_ns = ns
            app.initialize([*req.get("argv", []), "-f", conn_file])
            app.shell.user_ns_hidden.update({k: ns[k] for k in list(ns) if not k.startswith("_")})
        _reseed()
        app.start()


# ----------------------------------------------------------------------------------------------
# the kernel application, built ahead of time
#
# ipykernel's IPKernelApp.initialize() costs ~60 ms of CPU after every import is done: traitlets
# configuration and command-line parsing, the profile, and above all the InteractiveShell (magics,
# prefilters, completer, formatters, history). None of that needs a socket, a thread or the
# kernel's identity, so the zygote does it once; a forked child only binds its sockets, starts
# ipykernel's threads and wires them into the prebuilt kernel (what IPKernelApp.initialize and
# init_kernel do after their configuration step). This depends on ipykernel's internals: it is used
# only with the ipykernel versions it was written for (7.x), and a request with command-line
# settings of its own gets an application built from scratch in the child.

PREBUILT_ARGV = frozenset({"--HistoryManager.hist_file=:memory:"})
"""Kernel arguments a prebuilt application already has (history in memory: a forked kernel's
profile lives in its private /tmp, so an on-disk history would be gone at exit anyway)."""


def _thread_count() -> int:
    """Threads of this process, including native ones (ZMQ I/O threads; BLAS pools started at import)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _clear_singletons() -> None:
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelapp import IPKernelApp
    from ipykernel.zmqshell import ZMQInteractiveShell

    for cls in (IPKernelApp, IPythonKernel, ZMQInteractiveShell):
        cls.clear_instance()


ZYGOTE_PARENT = "/tmp" if os.path.isdir("/tmp") else None
"""Where a zygote's run folder goes: always ``/tmp`` (whatever ``TMPDIR`` says), because the prebuilt
kernel application's profile lives in it and a sandboxed kernel sees only its private ``/tmp``
there, where the profile folder is then made afresh. (With ``TMPDIR=/elsewhere`` the path was on
the kernel's read-only root and every sandboxed kernel died at start.)"""


def prebuild_kernel_app(ns: dict[str, Any], ipython_dir: str) -> Any:
    """Configure an IPKernelApp with ``ns`` as its user namespace and build its kernel and shell.

    Runs in the zygote: no sockets, no threads. Returns None (children then build their own) when
    this ipykernel is not one the child-side wiring was written for, or when anything fails.
    """
    try:
        import ipykernel
        from ipykernel.kernelapp import IPKernelApp
        from IPython.core.application import BaseIPythonApplication

        if ipykernel.version_info[0] != 7:
            return None
        threads = _thread_count()
        os.environ["IPYTHONDIR"] = ipython_dir  # a fresh profile, the same for every kernel
        app = IPKernelApp.instance()
        app.user_ns = ns
        BaseIPythonApplication.initialize(app, sorted(PREBUILT_ARGV))
        app.init_pdb()
        kernel = app.kernel_class.instance(
            parent=app, session=app.session, log=app.log, profile_dir=app.profile_dir, user_ns=ns,
        )
        app.kernel = kernel
        # preloaded names are the kernel's environment, not the user's variables (%who hides them)
        kernel.shell.user_ns_hidden.update({k: ns[k] for k in list(ns) if not k.startswith("_")})
        app.init_shell()
        app.init_extensions()
        # InteractiveShellApp.init_code: unless it runs code of its own (exec_lines...), what it does
        # is the same for every kernel, except $PYTHONSTARTUP, which a child runs if it has one
        if not (app.exec_lines or app.exec_files or app.code_to_run or app.module_to_run or app.file_to_run):
            startup = os.environ.pop("PYTHONSTARTUP", None)
            try:
                app.init_code()
            finally:
                if startup is not None:
                    os.environ["PYTHONSTARTUP"] = startup
            app.kernelgym_code_done = True
        # traitlets sends every record to its handlers, which drop those below log_level: drop
        # them before they are built (ipykernel logs a dozen debug lines while it binds sockets)
        level = min((h.level for h in app.log.handlers), default=logging.NOTSET)
        if level > app.log.level:
            app.log.setLevel(level)
        if _thread_count() != threads or threading.active_count() != 1:
            raise RuntimeError("building the kernel application started a thread")
        return app
    except BaseException:
        sys.stderr.write(f"kernelgym: kernels will build their application after the fork:\n{traceback.format_exc()}")
        try:
            _clear_singletons()
        except Exception:
            pass
        return None


def finish_kernel_app(app: Any, conn_file: str) -> Any:
    """In the forked child: what ``IPKernelApp.initialize`` does after its configuration step,
    with the kernel and shell built by :func:`prebuild_kernel_app`. Returns the app, ready to start."""
    import uuid

    from zmq.eventloop.zmqstream import ZMQStream

    kernel = app.kernel
    shell = kernel.shell
    # the identity of this kernel, not the zygote's
    app.session.pid = os.getpid()
    app.session.session = str(uuid.uuid4())
    kernel.ident = str(uuid.uuid4())
    app.connection_file = conn_file
    pdir = app.profile_dir
    os.makedirs(pdir.location, exist_ok=True)
    pdir.check_dirs()
    # ipykernel's IPKernelApp.initialize, after BaseIPythonApplication.initialize and init_pdb
    app.init_blackhole()
    app.init_connection_file()
    app.init_poller()
    app.init_sockets()
    app.init_heartbeat()
    app.write_connection_file()
    app.log_connection_info()
    app.init_io()
    app.init_signal()
    # ipykernel's IPKernelApp.init_kernel, minus the construction of the kernel
    if app.shell_channel_thread:
        shell_stream = ZMQStream(app.shell_socket, app.shell_channel_thread.io_loop)
        app.shell_channel_thread.shell_stream = shell_stream
    else:
        shell_stream = ZMQStream(app.shell_socket)
    control_stream = ZMQStream(app.control_socket, app.control_thread.io_loop)
    debugpy_stream = ZMQStream(app.debugpy_socket, app.control_thread.io_loop)
    app.control_thread.start()
    if app.shell_channel_thread:
        app.shell_channel_thread.start()
    kernel.control_stream = control_stream
    kernel.debugpy_stream = debugpy_stream
    kernel.debug_shell_socket = app.debug_shell_socket
    kernel.shell_stream = shell_stream
    kernel.control_thread = app.control_thread
    kernel.shell_channel_thread = app.shell_channel_thread
    kernel.iopub_thread = app.iopub_thread
    kernel.iopub_socket = app.iopub_socket
    kernel.stdin_socket = app.stdin_socket
    kernel._stdout, kernel._stderr = sys.stdout, sys.stderr
    if getattr(kernel, "debugger", None) is not None:
        kernel.debugger = kernel.debugger_class(
            kernel.log, debugpy_stream, kernel._publish_debug_event, app.debug_shell_socket, kernel.session,
            kernel._kernel_modules, kernel.debug_just_my_code, kernel.filter_internal_frames,
        )
    # ipykernel's IPythonKernel.__init__: the shell's publishers use the kernel's sockets
    shell.displayhook.pub_socket = kernel.iopub_socket
    shell.display_pub.pub_socket = kernel.iopub_socket
    if os.environ.get("JPY_SESSION_NAME"):
        shell.user_ns["__session__"] = shell.user_ns_hidden["__session__"] = os.environ["JPY_SESSION_NAME"]
    kernel.record_ports({name + "_port": port for name, port in app._ports.items()})
    app.displayhook.get_execution_count = lambda: kernel.execution_count
    # what the shell took from the zygote's process: working directory, home, environment
    shell.starting_dir = os.getcwd()
    shell.home_dir = os.path.expanduser("~")
    shell.init_environment()
    shell.history_manager.reset(new_session=True)
    # the rest of IPKernelApp.initialize (init_shell and init_extensions ran in the zygote, and
    # init_code too unless it runs configured code)
    app.init_path()
    app.init_gui_pylab()
    if not getattr(app, "kernelgym_code_done", False):
        app.init_code()
    elif os.environ.get("PYTHONSTARTUP"):
        app._run_startup_files()
        if app.hide_initial_ns:  # as init_code does after the startup files
            shell.user_ns_hidden.update(shell.user_ns)
        sys.stdout.flush()
        sys.stderr.flush()
    return app


def _reseed() -> None:
    """Forked children share their parent's random state; give each its own, as a fresh process has."""
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed()
        except Exception:
            pass


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m kernelgym.runtime.forkserver", description=__doc__.splitlines()[0])
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

if __name__ == "__main__":
    main()
