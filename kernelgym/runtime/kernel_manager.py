"""The one place kernelgym builds and starts kernel managers (sessions and the warm pool use it).

Every kernel kernelgym starts for itself gets: its stderr in a pipe whose end the host keeps
(:mod:`kernelgym.runtime.stderr_pipe`; no host file), a guarded session (what the kernel sends
never raises in the host: see :mod:`kernelgym.runtime.messages`), the IPython history in
memory, channels connected and ``kernel_info`` answered before it is handed out, and no host
channel (an agent's code must not be able to ask the grader for verdicts: see
:mod:`kernelgym.jupyter.host_channel`).
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from kernelgym.runtime.messages import guard
from kernelgym.runtime.sandbox import SandboxUnavailable
from kernelgym.runtime.stderr_pipe import KernelStderr

_HOST_CHANNEL_ATTR = "kernelgym_host_channel"


class KernelStartError(RuntimeError):
    """The kernel of a profile could not be started (its preload failed or it died at start)."""


def disable_host_channel(km: Any) -> Any:
    """Mark a kernel manager so that its provisioner serves no host channel; returns ``km``.

    Every kernel started by kernelgym itself is marked: an agent's code must not be able to ask
    the grader for verdicts (it could try answers until one passes).
    """
    setattr(km, _HOST_CHANNEL_ATTR, False)
    return km


def host_channel_enabled(km: Any) -> bool:
    """Whether the provisioner of ``km`` should serve a host channel (``KERNELGYM_HOST_CHANNEL=0``: never)."""
    if os.environ.get("KERNELGYM_HOST_CHANNEL", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return bool(getattr(km, _HOST_CHANNEL_ATTR, True))


def caller_waits_ready(km: Any) -> bool:
    """Whether whoever starts ``km`` waits for ``kernel_info`` itself on the client it hands out (kernelgym's
    own starts: a :class:`HostKernelManager`, see :func:`start_kernel`), so that the provisioner need not
    probe the kernel first; the starter then calls the provisioner's ``kernel_ready`` (issue 19: one probe
    socket and round trip less a kernel)."""
    return isinstance(km, HostKernelManager)


EXTRA_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]

HOST_FDS_PER_KERNEL = 6
"""Descriptors the host holds per live kernel: its shell and IOPub sockets (a connection and a
mailbox each), its stderr pipe and the fork server's report connection (measured: /proc/PID/fd)."""

_context: Any = None
_context_pid = 0


def shared_context() -> Any:
    """The one ZMQ context of this process for every kernel client kernelgym makes.

    jupyter_client gives each kernel manager a ``zmq.Context`` of its own by default: an I/O thread,
    a reaper thread and their descriptors per kernel (at 128 episodes in flight: 295 contexts, 4,156
    descriptors, ~1,300 threads). One context's I/O thread carries every kernel's sockets; a forked
    child makes its own (the pid is checked)."""
    global _context, _context_pid
    import zmq.asyncio

    if _context is None or _context.closed or _context_pid != os.getpid():
        _context, _context_pid = zmq.asyncio.Context(), os.getpid()
    return _context


class HostKernelManager(AsyncKernelManager):
    """The manager of the kernels kernelgym starts itself (:func:`start_kernel`).

    No control socket at every start: kernelgym shuts its kernels down with a signal (``now=True``), and
    jupyter_client connects the control socket on first use (a polite shutdown, an interrupt by message).
    No provisioner probe: :func:`start_kernel` waits for ``kernel_info`` on the client it hands out
    (:func:`caller_waits_ready`). One ZMQ socket and one probe less per kernel (issue 19)."""

    _starting_up = False

    def _connect_control_socket(self) -> None:
        if not self._starting_up:
            super()._connect_control_socket()

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        self._starting_up = True
        try:
            await super()._async_post_start_kernel(**kw)
        finally:
            self._starting_up = False


@dataclass
class StartedKernel:
    """A started kernel with connected channels, ready to execute."""

    km: AsyncKernelManager
    kc: AsyncKernelClient
    stderr: KernelStderr
    started: float = field(default_factory=time.monotonic)
    on_release: Callable[[], None] | None = None
    """Called once when the kernel is shut down (the warm pool that handed it out counts it until then)."""

    def release(self) -> None:
        """Tell the kernel's pool (if any) that it is gone; once."""
        callback, self.on_release = self.on_release, None
        if callback is not None:
            callback()

    @property
    def cwd(self) -> Path | None:
        cwd = getattr(self.km.provisioner, "cwd", None)
        return Path(cwd) if cwd else None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the kernel wrote to stderr."""
        return self.stderr.tail(lines)

    async def discard(self) -> None:
        try:
            stop_channels(self.kc)
        except Exception:
            pass
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        self.stderr.close()
        self.release()


_CHANNELS = ("_shell_channel", "_iopub_channel", "_stdin_channel", "_hb_channel", "_control_channel")


def stop_channels(kc: Any) -> None:
    """Stop the channels ``kc`` has started, and make none.

    jupyter_client's ``stop_channels`` asks each of the five channels whether it is alive through the
    properties that *create* a missing channel: for a client with shell and IOPub only, a stdin and a
    control socket were made and closed at every shutdown (issue 19: CPU per episode, and at 128
    episodes ending at once under ``ulimit -n 1024``, "Too many open files" in the shutdown itself)."""
    if not all(hasattr(kc, name) for name in _CHANNELS):  # another client: its own method
        kc.stop_channels()
        return
    for name in _CHANNELS:
        channel = getattr(kc, name)
        if channel is not None and channel.is_alive():
            channel.stop()
    if kc._created_context and not kc.context.closed:
        kc.context.destroy(linger=100)


async def wait_ready(kc: AsyncKernelClient, km: AsyncKernelManager, timeout: float) -> None:
    """Like ``kc.wait_for_ready`` (kernel_info answered and IOPub connected), with short polls.

    jupyter_client's version ends with a fixed 0.2 s wait for IOPub to go quiet; this one returns as
    soon as the kernel answered and an IOPub message proved the subscription is live.
    """
    from queue import Empty

    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            msg = await kc.get_shell_msg(timeout=0.05)
        except Empty:
            msg = None
        if msg is not None and msg["msg_type"] == "kernel_info_reply":
            try:
                await kc.get_iopub_msg(timeout=0.05)
            except Empty:
                pass
            else:
                kc._handle_kernel_info_reply(msg)
                while True:  # drain what is already there, without waiting
                    try:
                        await kc.get_iopub_msg(timeout=0)
                    except Empty:
                        break
                return
        if not await km.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


MAX_CONCURRENT_STARTS = 16
"""Kernels an event loop starts at once. A start holds a few more descriptors than a running kernel
(the write end of its stderr pipe, the readiness probe's socket), and the fork server forks one kernel
at a time anyway; bounding starts bounds those extra descriptors. (Added after one episode of 128 in
flight under a 1,024-file limit ended as a harness error in a full-suite run; the error text was not
kept, so running out of descriptors while 128 kernels started is the likely cause, not a proven one.)"""

_start_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _start_gate() -> asyncio.Semaphore:
    """This event loop's semaphore of :data:`MAX_CONCURRENT_STARTS`."""
    loop = asyncio.get_running_loop()
    gate = _start_gates.get(loop)
    if gate is None:
        gate = _start_gates[loop] = asyncio.Semaphore(MAX_CONCURRENT_STARTS)
    return gate


async def start_kernel(
    kernel_name: str, *, kernel_spec_manager: Any = None, cwd: str | None = None, env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> StartedKernel:
    """Start one kernel with its stderr in a pipe (:class:`KernelStderr`) and connected, ready channels
    (at most :data:`MAX_CONCURRENT_STARTS` at once)."""
    attempt = 0
    while True:
        async with _start_gate():
            try:
                return await _start_kernel(kernel_name, kernel_spec_manager=kernel_spec_manager, cwd=cwd, env=env,
                                           timeout=timeout)
            except Exception as exc:
                if attempt == START_RETRIES_OUT_OF_DESCRIPTORS or not out_of_descriptors(exc):
                    raise
        # descriptors are freed as other kernels finish starting or shut down: wait, then try again
        attempt += 1
        await asyncio.sleep(0.25 * attempt)


START_RETRIES_OUT_OF_DESCRIPTORS = 8
"""Tries again after a start that ran out of file descriptors (EMFILE): at 128 episodes in flight under
``ulimit -n 1024`` the budget of :func:`kernelgym.runs.runner.budget_open_files` holds in the steady
state (925 descriptors measured), but starting and stopping kernels briefly hold more, and one episode
of such a run ended as a harness error ("zmq.error.ZMQError: Too many open files") in about one run in
five. The start cleans up what it opened before the next try."""


def out_of_descriptors(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is "too many open files"."""
    import errno

    seen = 0
    while exc is not None and seen < 10:
        if getattr(exc, "errno", None) in (errno.EMFILE, errno.ENFILE) or "Too many open files" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


async def _start_kernel(
    kernel_name: str, *, kernel_spec_manager: Any, cwd: str | None, env: dict[str, str] | None, timeout: float,
) -> StartedKernel:
    kwargs: dict[str, Any] = {"kernel_name": kernel_name}
    if kernel_spec_manager is not None:
        kwargs["kernel_spec_manager"] = kernel_spec_manager
    km = disable_host_channel(HostKernelManager(context=shared_context(), **kwargs))  # no host channel: an agent's code must not reach the grader
    guard(km)  # whatever the kernel sends, receiving it never raises (runtime/messages.py)
    start: dict[str, Any] = {"extra_arguments": list(EXTRA_ARGUMENTS)}
    if cwd is not None:
        start["cwd"] = cwd
    if env is not None:
        start["env"] = env
    stderr = KernelStderr()
    try:
        start["stderr"] = stderr.stream
        await km.start_kernel(**start)
        stderr.started()
    except BaseException as exc:
        try:
            await km.shutdown_kernel(now=True)
        except Exception:
            pass
        stderr.close()
        if isinstance(exc, SandboxUnavailable):
            raise KernelStartError(f"the {kernel_name} kernel did not start: {exc}") from exc
        raise
    kc = km.client(context=km.context)  # else each client makes a context of its own
    kernel = StartedKernel(km, kc, stderr)
    try:
        # shell and IOPub only: no heartbeat thread (liveness comes from the manager: kc.is_alive() asks
        # km.is_alive(), the provisioner's poll), no stdin or control sockets (nothing answers input
        # requests; allow_stdin stays what it was with a started stdin channel, so the kernel behaves
        # the same: an input() call waits until the cell times out). Inside the try: a socket that
        # cannot be made (out of descriptors) must not leave the started kernel behind.
        kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        kc.allow_stdin = True
        await wait_ready(kc, km, timeout)
        ready = getattr(km.provisioner, "kernel_ready", None)
        if ready is not None:
            ready()
    except RuntimeError as exc:
        tail = kernel.log_tail()
        await kernel.discard()
        raise KernelStartError(f"the {kernel_name} kernel did not start: {exc}\n{tail}") from exc
    except BaseException:
        await kernel.discard()
        raise
    return kernel
