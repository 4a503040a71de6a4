"""Stage 3 of ``kernelgym grade``: execute a restored notebook with papermill (engine ``kernelgym``)
in a fresh kernel of the task's profile; every cell runs even after one raised."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym.notebook.readers import PAPERMILL_ERROR_TAG, tags_of
from kernelgym.regrade.records import GradeOptions
from kernelgym.runtime.stderr_pipe import KernelStderr


class KernelStartFailed(RuntimeError):
    """The kernel of the task's profile did not start."""


def execute(
    nb: NotebookNode, kernel_name: str, workdir: Path, options: GradeOptions, handle: Any
) -> NotebookNode:
    """Execute ``nb`` with papermill (engine ``kernelgym``) in a fresh kernel; blocking.

    The kernel runs in ``workdir/cwd``; the input notebook stays outside it, its stderr goes to a pipe.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from kernelgym.jupyter import papermill_engine

    papermill_engine.register()
    cwd = workdir / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    source = workdir / "input.ipynb"
    nbformat.write(nb, str(source))
    stderr = KernelStderr()  # a pipe: the kernel gets no file on the host's disk
    with contextlib.closing(stderr):
        try:
            executed: NotebookNode = papermill.execute_notebook(
                str(source), None, kernel_name=kernel_name, engine_name=papermill_engine.ENGINE_NAME,
                progress_bar=False, request_save_on_cell_execute=False,
                start_timeout=int(options.start_timeout),
                execution_timeout=options.cell_timeout or options.timeout,
                notebook_timeout=options.timeout, handle=handle, kernel_stderr=stderr.stream, starter_hooks=False,
                resources={"metadata": {"path": str(cwd)}},
            )
            return executed
        except PapermillExecutionError:
            # raised after every cell ran, because some cell holds an error: the evidence decides
            assert handle.nb is not None
            partial: NotebookNode = handle.nb
            return partial
        except Exception as exc:
            if handle.cells_run or handle.timed_out or handle.dead_at is not None:
                raise
            tail = stderr.tail(8)
            raise KernelStartFailed(f"the {kernel_name} kernel did not start: {type(exc).__name__}: {exc}\n{tail}".strip()) from exc


def clean_papermill_markers(nb: NotebookNode) -> None:
    """Drop the markdown cells papermill inserts around a cell that raised."""
    nb.cells = [c for c in nb.cells if PAPERMILL_ERROR_TAG not in tags_of(c)]
