"""A kernel session: one fresh kernel of a profile, owned by one episode, executing notebook cells.

Cells are executed through nbclient, so outputs, execution counts and timings are recorded exactly
as in any Jupyter front end. On top of nbclient this adds what long unattended runs need: a per-cell
timeout that escalates (interrupt, grace period, kill), a cap on what a cell may keep in the
notebook, and a clear outcome when the kernel dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from kernelgym import host_channel
from kernelgym.kernel import ANSWER_MIME, EVIDENCE_MIME
from kernelgym.profiles import kernel_name, spec_manager

CellStatus = Literal["ok", "error", "timeout", "killed", "dead"]


class KernelStartError(RuntimeError):
    """The kernel of a profile could not be started (its preload failed or it died at start)."""


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
    answers: list[Any] = field(default_factory=list)
    """Values announced by ``submit()`` display messages in this cell's outputs."""

    @property
    def kernel_alive(self) -> bool:
        return self.status not in ("killed", "dead")


class _CappedClient(NotebookClient):
    """NotebookClient that keeps at most ``max_output_bytes`` of output per cell."""

    max_output_bytes: int = 1_000_000

    def reset_execution_trackers(self) -> None:
        super().reset_execution_trackers()
        self._kept: dict[int, int] = {}
        self._dropped: dict[int, int] = {}

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
        self.log_path: Path | None = None

    async def __aenter__(self) -> KernelSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        from kernelgym.pool import active_pools, wait_ready

        pools = active_pools() if self.env is None else None
        if pools is not None:  # inside a run: a warm kernel from the pool, its own working dir
            try:
                kernel = await pools.checkout(self.profile)
            except RuntimeError as exc:
                raise KernelStartError(f"the {kernel_name(self.profile)} kernel did not start: {exc}") from exc
            self.km, self.log_path, kc = kernel.km, kernel.log_path, kernel.kc
            self.cwd = kernel.cwd or self.cwd
        else:
            km = AsyncKernelManager(kernel_name=kernel_name(self.profile), kernel_spec_manager=spec_manager())
            host_channel.disable_for(km)  # an agent's code must not reach the grader
            self.km = km
            kwargs: dict[str, Any] = {"extra_arguments": ["--HistoryManager.hist_file=:memory:"]}
            if self.cwd is not None:
                kwargs["cwd"] = str(self.cwd)
            if self.env is not None:
                kwargs["env"] = self.env
            # the kernel's own stderr (warnings, a failed preload's traceback) goes to a log, not the terminal
            fd, log = tempfile.mkstemp(prefix="kernelgym-kernel-", suffix=".log")
            self.log_path = Path(log)
            with os.fdopen(fd, "w") as log_fh:
                kwargs["stderr"] = log_fh
                await km.start_kernel(**kwargs)
            kc = km.client()
            kc.start_channels()
        client = _CappedClient(
            self.nb, km=self.km, timeout=int(max(1, self.limits.cell_timeout)), interrupt_on_timeout=True,
            allow_errors=True, record_timing=True, iopub_timeout=4, shutdown_kernel="immediate",
        )
        client.max_output_bytes = self.limits.max_output_bytes
        client.kc = kc
        self.client = client
        if pools is not None:
            return
        try:
            await wait_ready(kc, self.km, self.limits.start_timeout)
        except RuntimeError as exc:
            tail = self.log_tail()
            await self.shutdown()
            raise KernelStartError(f"the {kernel_name(self.profile)} kernel did not start: {exc}\n{tail}") from exc

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the kernel wrote to stderr."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

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
            await asyncio.wait_for(self.client.async_execute_cell(cell, index), timeout=limit + self.limits.grace)
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
            for out in cell.outputs:
                if out.get("output_type") == "error":
                    error_name = out.get("ename")
                    status = "timeout" if error_name == "KeyboardInterrupt" and duration >= limit else "error"
        answers = [
            out["data"][ANSWER_MIME].get("answer")
            for out in cell.outputs
            if out.get("output_type") in ("display_data", "execute_result")
            and isinstance(out.get("data", {}).get(ANSWER_MIME), dict)
        ]
        return CellOutcome(cell, status, duration, error_name, answers)

    async def kill(self) -> None:
        self.dead = True
        if self.km is not None:
            try:
                await self.km.shutdown_kernel(now=True)
            except Exception:
                pass

    async def shutdown(self) -> None:
        if self.client is not None and self.client.kc is not None:
            self.client.kc.stop_channels()
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
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


def evidence_from(cell: NotebookNode) -> list[dict[str, Any]]:
    """Every evidence record emitted in a verifier cell's outputs."""
    return [
        out["data"][EVIDENCE_MIME]
        for out in cell.get("outputs", [])
        if out.get("output_type") in ("display_data", "execute_result")
        and isinstance(out.get("data", {}).get(EVIDENCE_MIME), dict)
    ]
