"""A kernel session: one fresh kernel of a profile, owned by one episode, executing notebook cells.

Cells are executed through nbclient, so outputs, execution counts and timings are recorded exactly
as in any Jupyter front end. On top of nbclient this adds what long unattended runs need: a per-cell
timeout that escalates (interrupt, grace period, kill), a cap on what a cell may keep in the
notebook, a clear outcome when the kernel dies, and a marker instead of an exception for a message
the host cannot take (:mod:`kernelgym.runtime.messages`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, DeadKernelError
from nbformat import NotebookNode

from kernelgym.runtime.kernel_manager import KernelStartError, StartedKernel, start_kernel, stop_channels
from kernelgym.runtime.messages import marker
from kernelgym.runtime.stderr_pipe import KernelStderr
from kernelgym.runtime.pool import active_pools
from kernelgym.runtime.profiles import kernel_name, spec_manager

__all__ = ["CellOutcome", "CellStatus", "KernelSession", "KernelStartError", "SessionLimits", "cell_status"]

CellStatus = Literal["ok", "error", "timeout", "killed", "dead"]


@dataclass
class SessionLimits:
    """Limits applied to every cell of a session."""

    cell_timeout: float = 120.0
    """Seconds before a running cell is interrupted."""
    grace: float = 5.0
    """Seconds an interrupted cell has to stop before the kernel is killed."""
    max_output_bytes: int = 1_000_000
    """Output a single cell may keep in the notebook; the rest is dropped with a marker."""
    start_timeout: float = 120.0


@dataclass
class CellOutcome:
    """What happened when a cell ran."""

    cell: NotebookNode
    status: CellStatus
    duration_s: float
    error_name: str | None = None

    @property
    def kernel_alive(self) -> bool:
        return self.status not in ("killed", "dead")


def cell_status(outputs: list[dict[str, Any]], duration: float, limit: float) -> CellStatus:
    """``ok``, ``error`` or ``timeout`` of a cell that returned, from its outputs (the last error counts).

    The one rule for a timed-out cell: a ``KeyboardInterrupt`` after at least ``limit`` seconds is
    kernelgym's interrupt at the cell timeout; one raised sooner is the cell's own error. (Readers
    of a saved notebook who do not know the limit pass 1 s, the shortest timeout kernelgym applies.)
    """
    status: CellStatus = "ok"
    for out in outputs:
        if out.get("output_type") == "error":
            status = "timeout" if out.get("ename") == "KeyboardInterrupt" and duration >= limit else "error"
    return status


class _CappedClient(NotebookClient):
    """NotebookClient that keeps at most ``max_output_bytes`` of output per cell."""

    max_output_bytes: int = 1_000_000

    def reset_execution_trackers(self) -> None:
        super().reset_execution_trackers()
        self._kept: dict[int, int] = {}
        self._dropped: dict[int, int] = {}

    def process_message(self, msg: dict[str, Any], cell: NotebookNode, cell_index: int) -> NotebookNode | None:
        """nbclient's handling, except that a message it cannot handle (a comm or display update whose
        shape :mod:`kernelgym.runtime.messages` does not check) leaves a marker instead of raising."""
        try:
            return super().process_message(msg, cell, cell_index)
        except CellExecutionComplete:
            raise
        except Exception as exc:
            msg_type = msg.get("msg_type")
            msg_type = msg_type if isinstance(msg_type, str) and msg_type.isidentifier() else ""
            why = f"the host could not handle it ({type(exc).__name__})"
            out = nbformat.v4.new_output("stream", name="stderr", text=marker(msg_type, why))
            cell.outputs.append(out)
            return out

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int) -> NotebookNode | None:
        size = len(json.dumps(msg.get("content", {}), default=str))
        kept = self._kept.get(cell_index, 0)
        if kept + size > self.max_output_bytes and msg["msg_type"] in ("stream", "display_data", "execute_result"):
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + size
            return None
        self._kept[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)

    def take_dropped(self, cell_index: int) -> int:
        self._kept.pop(cell_index, None)
        return self._dropped.pop(cell_index, 0)


class KernelSession:
    """One fresh kernel for one episode. Use as ``async with KernelSession(...) as s``.

    The kernel is started in ``cwd`` (the episode's working directory) and is never reused.
    """

    def __init__(
        self,
        profile: str,
        nb: NotebookNode,
        *,
        cwd: Path | None = None,
        limits: SessionLimits | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.profile = profile
        self.nb = nb
        self.cwd = cwd
        self.limits = limits or SessionLimits()
        self.env = env
        self.km: AsyncKernelManager | None = None
        self.client: _CappedClient | None = None
        self.dead = False
        self.stderr: KernelStderr | None = None
        self._kernel: StartedKernel | None = None

    async def __aenter__(self) -> KernelSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        pools = active_pools() if self.env is None else None
        if pools is not None:  # inside a run: a warm kernel from the pool, its own working dir
            try:
                kernel = await pools.checkout(self.profile)
            except RuntimeError as exc:
                raise KernelStartError(f"the {kernel_name(self.profile)} kernel did not start: {exc}") from exc
            self.cwd = kernel.cwd or self.cwd
        else:
            kernel = await start_kernel(
                kernel_name(self.profile), kernel_spec_manager=spec_manager(),
                cwd=str(self.cwd) if self.cwd is not None else None, env=self.env, timeout=self.limits.start_timeout,
            )
        self.km, self.stderr, self._kernel = kernel.km, kernel.stderr, kernel
        client = _CappedClient(
            self.nb, km=self.km, timeout=int(max(1, self.limits.cell_timeout)), interrupt_on_timeout=True,
            allow_errors=True, record_timing=True, iopub_timeout=4, shutdown_kernel="immediate",
        )
        client.max_output_bytes = self.limits.max_output_bytes
        client.kc = kernel.kc
        self.client = client

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the kernel wrote to stderr."""
        return self.stderr.tail(lines) if self.stderr is not None else ""

    async def run_cell(self, index: int, *, timeout: float | None = None) -> CellOutcome:
        """Execute ``nb.cells[index]`` and record its outputs into it."""
        assert self.client is not None and self.km is not None
        cell = self.nb.cells[index]
        if self.dead:
            return CellOutcome(cell, "dead", 0.0, "DeadKernelError")
        limit = min(self.limits.cell_timeout, timeout) if timeout is not None else self.limits.cell_timeout
        self.client.timeout = int(max(1, limit))
        t0 = time.monotonic()
        status: CellStatus = "ok"
        error_name: str | None = None
        try:
            execution = asyncio.ensure_future(self.client.async_execute_cell(cell, index))
            # an episode cancelled mid-cell (a run stopping) leaves this task to fail once its kernel is
            # shut down: retrieve that, so asyncio logs no "exception was never retrieved"
            execution.add_done_callback(lambda t: t.cancelled() or t.exception())
            await asyncio.wait_for(execution, timeout=limit + self.limits.grace)
        except asyncio.TimeoutError:
            status, error_name = "killed", "CellTimeoutError"
            await self.kill()
        except DeadKernelError:
            status, error_name = "dead", "DeadKernelError"
            self.dead = True
        duration = time.monotonic() - t0
        dropped = self.client.take_dropped(index)
        if dropped:
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text=f"[kernelgym: {dropped:,} bytes of output dropped; a cell keeps at most "
                     f"{self.limits.max_output_bytes:,} bytes]\n",
            ))
        if status == "ok":
            status = cell_status(cell.outputs, duration, limit)
            error_name = next((o.get("ename") for o in reversed(cell.outputs) if o.get("output_type") == "error"), None)
        return CellOutcome(cell, status, duration, error_name)

    async def kill(self) -> None:
        self.dead = True
        if self.km is not None:
            try:
                await self.km.shutdown_kernel(now=True)
            except Exception:
                pass

    async def shutdown(self) -> None:
        if self.client is not None and self.client.kc is not None:
            stop_channels(self.client.kc)
            self.client.kc = None
        if self.km is not None:
            try:
                if await self.km.is_alive():
                    await self.km.shutdown_kernel(now=True)
                else:
                    await self.km.cleanup_resources()
            except Exception:
                pass
            self.km = None
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None
        if self._kernel is not None:
            self._kernel.release()
            self._kernel = None
