"""Where a kernel's stderr goes: a pipe, drained on the host into a bounded tail.

A kernel used to write its stderr to a log file on the host (``/tmp/kernelgym-kernel-*.log``):
through that inherited descriptor it could fill the host's disk, and a run killed with SIGKILL left
the file behind. Now the kernel gets the write end of a pipe and holds no host file; one thread
per process drains every kernel's pipe and keeps the last :data:`TAIL_BYTES` of each, for the
error message when a kernel does not start or dies.
"""

from __future__ import annotations

import os
import selectors
import threading
from typing import IO

TAIL_BYTES = 64 * 1024
"""What is kept of a kernel's stderr (the end of it)."""


class _Drain:
    """The thread that reads every open :class:`KernelStderr` pipe of this process."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self.loop, name="kernelgym-stderr", daemon=True)
        self.thread.start()

    def add(self, pipe: KernelStderr) -> None:
        with self.lock:
            self.sel.register(pipe.read_fd, selectors.EVENT_READ, pipe)
        os.write(self.wake_w, b"x")

    def remove(self, pipe: KernelStderr) -> None:
        with self.lock:  # once per pipe: its fd number may belong to another pipe afterwards
            if pipe.reading:
                pipe.reading = False
                self.sel.unregister(pipe.read_fd)
                os.close(pipe.read_fd)

    def loop(self) -> None:
        while True:
            for key, _ in self.sel.select():
                if key.data is None:
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                pipe: KernelStderr = key.data
                with self.lock:  # not a pipe closed meanwhile (its fd number may be reused)
                    if not pipe.reading:
                        continue
                    try:
                        chunk = os.read(pipe.read_fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                if chunk:
                    pipe.keep(chunk)
                else:  # every writer is gone (the kernel exited)
                    self.remove(pipe)


_drain: _Drain | None = None
_drain_pid = 0
_drain_lock = threading.Lock()


def _the_drain() -> _Drain:
    global _drain, _drain_pid
    with _drain_lock:
        if _drain is None or _drain_pid != os.getpid():
            _drain, _drain_pid = _Drain(), os.getpid()
        return _drain


class KernelStderr:
    """A pipe for one kernel's stderr. Pass :attr:`stream` as the kernel's ``stderr``; call
    :meth:`started` once the kernel holds its end, and :meth:`close` when done with the kernel."""

    def __init__(self) -> None:
        self.read_fd, write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.reading = True
        self.stream: IO[bytes] | None = os.fdopen(write_fd, "wb", buffering=0)
        self._tail = bytearray()
        self._lock = threading.Lock()
        _the_drain().add(self)

    def keep(self, chunk: bytes) -> None:
        with self._lock:
            self._tail += chunk
            if len(self._tail) > TAIL_BYTES:
                del self._tail[: len(self._tail) - TAIL_BYTES]

    def started(self) -> None:
        """The kernel has its copy of the write end: drop ours (EOF comes when the kernel exits)."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def tail(self, lines: int = 15) -> str:
        """The last lines the kernel wrote to stderr."""
        with self._lock:
            text = bytes(self._tail).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """Stop reading (idempotent)."""
        self.started()
        _the_drain().remove(self)
