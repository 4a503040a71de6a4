"""The ``kernelgym`` papermill engine: run every cell, whatever the cells before it did.

Papermill's default engine stops at the first cell that raises, so a verifier placed after an agent's
failing cell would never run. This engine (registered under the ``papermill.engine`` entry point
group as ``kernelgym``, usable as ``papermill --engine kernelgym in.ipynb out.ipynb``) differs from papermill's
``nbclient`` engine in these ways:

- errors are recorded in the cell (and the cell marked failed in ``metadata.papermill``) and
  execution goes on with the next cell;
- a cell that runs past the per-cell timeout is interrupted, and execution goes on;
- the whole notebook has a wall-clock budget (``notebook_timeout``): past it the kernel is killed;
- ``kernelgym-<profile>`` kernels resolve to the profiles of the running kernelgym (as ``kernelgym
  run`` does), so stale installed kernelspecs are never used;
- a starter notebook (``kernelgym notebook``) is retargeted on the host to the task id of its
  parameters (``-p task_id OTHER``), and after execution the host grades its verifier's evidence
  and writes the verdict into its result cell; so does an episode notebook (schema 3, whose result
  cell is code), whose cells are left as they are (``starter_hooks=False`` turns this off).

A kernel that dies ends the execution (the cells after it keep no outputs). Papermill itself still
raises :class:`papermill.exceptions.PapermillExecutionError` at the end if any cell holds an error;
``kernelgym grade`` catches it, as the grade is decided by the verifier's evidence, not by errors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.jupyter import host_answers
from kernelgym.notebook import starter as nb_starter
from kernelgym.runtime.kernel_manager import disable_host_channel
from kernelgym.runtime.messages import guard
from kernelgym.runtime.profiles import spec_manager

ENGINE_NAME = "kernelgym"

log = logging.getLogger("kernelgym.papermill")
log.addHandler(logging.NullHandler())  # silent in library use; papermill's CLI configures logging

# Nothing of papermill is imported at module level (kernelgym's own modules do not import it): papermill loads its ``papermill.engine`` entry
# points while it is itself being imported, so this module must be importable at that moment.


@dataclass
class ExecutionHandle:
    """Shared between an execution (in a worker thread) and whoever supervises it."""

    nb: NotebookNode | None = None
    km: Any = None
    timed_out: bool = False
    dead_at: int | None = None
    """Index of the cell during which the kernel died (or was killed)."""
    cells_run: list[int] = field(default_factory=list)

    def kill(self) -> None:
        """Last resort from another thread: SIGKILL the kernel process (and its process group)."""
        prov = getattr(self.km, "provisioner", None)
        pid = getattr(prov, "pid", None) or getattr(getattr(prov, "process", None), "pid", None)
        if not pid:
            return
        try:
            pgid = os.getpgid(pid)
            if pgid != os.getpgid(0):
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


class KernelgymEngine:
    """Papermill engine ``kernelgym`` (see the module docstring); a facade over :func:`engine_class`."""

    @classmethod
    def execute_notebook(cls, nb: NotebookNode, kernel_name: str, **kwargs: Any) -> NotebookNode:
        return engine_class().execute_notebook(nb, kernel_name, **kwargs)

    @classmethod
    def nb_kernel_name(cls, nb: NotebookNode, name: str | None = None) -> str:
        return engine_class().nb_kernel_name(nb, name)

    @classmethod
    def nb_language(cls, nb: NotebookNode, language: str | None = None) -> str:
        return engine_class().nb_language(nb, language)


@cache
def engine_class() -> Any:
    """Build the engine and its notebook client (subclasses of papermill's nbclient engine)."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import ensure_async, run_sync
    from nbclient.exceptions import DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from traitlets import Type, default

    class ProfileKernelManager(AsyncKernelManager):
        """Resolves ``kernelgym-<profile>`` through kernelgym's own profiles."""

        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> Any:
            return spec_manager()

    class KernelgymNotebookClient(PapermillNotebookClient):
        """Papermill's client, running every cell to the end under a notebook-wide deadline."""

        kernel_manager_class = Type(ProfileKernelManager, config=True)

        notebook_timeout: float | None = None
        handle: ExecutionHandle

        def create_kernel_manager(self) -> Any:
            km = super().create_kernel_manager()
            disable_host_channel(km)  # the host grades after execution; the notebook's code gets no grader
            guard(km)  # whatever the kernel sends, receiving it never raises (runtime/messages.py)
            self.handle.km = km
            return km

        def execute(self, **kwargs: Any) -> NotebookNode:
            return run_sync(self.async_execute_all)(**kwargs)

        async def async_execute_all(self, **kwargs: Any) -> NotebookNode:
            self.reset_execution_trackers()
            async with self.async_setup_kernel(**kwargs):
                task = asyncio.ensure_future(self._run_cells())
                done, _ = await asyncio.wait({task}, timeout=self.notebook_timeout)
                if not done:
                    self.handle.timed_out = True
                    self.log.warning("notebook timeout (%ss): killing the kernel", self.notebook_timeout)
                    try:
                        if self.km is not None:
                            await ensure_async(self.km.shutdown_kernel(now=True))
                    except Exception:  # noqa: BLE001 - the kernel may be gone already
                        pass
                    done, _ = await asyncio.wait({task}, timeout=10)
                    if not done:
                        task.cancel()
                try:
                    await task
                except (DeadKernelError, asyncio.CancelledError):
                    pass
            return self.nb

        async def _run_cells(self) -> None:
            for index, cell in enumerate(self.nb.cells):
                self.nb_man.cell_start(cell, index)
                try:
                    await self.async_execute_cell(cell, index)
                    self.handle.cells_run.append(index)
                    if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
                        self.nb_man.cell_exception(cell, cell_index=index)
                except DeadKernelError:
                    self.handle.dead_at = index
                    self.nb_man.cell_exception(cell, cell_index=index)
                    raise
                finally:
                    self.nb_man.cell_complete(cell, cell_index=index)

    class Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(  # type: ignore[override]
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            notebook_timeout: float | None = None,
            handle: ExecutionHandle | None = None,
            kernel_stderr: Any = None,
            starter_hooks: bool = True,
            **kwargs: Any,
        ) -> NotebookNode:
            for unused in ("input_path", "timeout", "startup_timeout"):
                kwargs.pop(unused, None)
            task_id = _starter_before(nb_man.nb) if starter_hooks else None
            client = KernelgymNotebookClient(
                nb_man, timeout=int(execution_timeout) if execution_timeout else None,
                startup_timeout=start_timeout, kernel_name=kernel_name, log=log, log_output=log_output,
                stdout_file=stdout_file, stderr_file=stderr_file, allow_errors=True,
                interrupt_on_timeout=True, shutdown_kernel="immediate", **kwargs,
            )
            client.notebook_timeout = notebook_timeout
            client.handle = handle if handle is not None else ExecutionHandle()
            client.handle.nb = nb_man.nb
            start: dict[str, Any] = {"stderr": kernel_stderr} if kernel_stderr is not None else {}
            nb = client.execute(**start)
            if task_id is not None:
                _starter_after(nb, task_id)
            return nb

    return Engine


def _starter_before(nb: NotebookNode) -> str | None:
    """For a starter notebook: its task id, with the setup and verifier cells rewritten for it. For an
    episode notebook whose result cell is code (schema 3): its task id (the cells are left as they are)."""
    if not nb_starter.is_starter(nb):
        if any(c.cell_type == "code" for c in nbk.cells_with_tag(nb, nbk.TAG_RESULT)):
            return nbk.notebook_task_id(nb)
        return None
    task_id = nbk.notebook_task_id(nb)
    if task_id is None:
        return None
    try:
        nb_starter.retarget(nb, task_id)
    except KeyError as exc:  # an unknown task: the setup cell will say so
        log.warning("kernelgym: cannot retarget the starter notebook: %s", exc)
        return None
    return task_id


def _starter_after(nb: NotebookNode, task_id: str) -> None:
    """For a starter or episode notebook: the host-side verdict on this execution's evidence, written
    into its result cell."""
    try:
        host_answers.write_host_verdict(nb, task_id)
    except Exception as exc:  # noqa: BLE001 - the executed notebook is still written
        log.warning("kernelgym: no host-side verdict: %s", exc)


def register() -> None:
    """Register the engine with papermill (for when the entry point is not installed)."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, KernelgymEngine)
