"""``kernelgym grade`` and ``kernelgym notebook``: grading notebooks and writing starters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from kernelgym.cli._common import (
    SpecsOpt,
    _fail,
    _interrupted,
    _output,
    _use_specs,
    app,
    console,
    out,
)


@app.command("grade")
def grade_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Notebooks, or folders searched for *.ipynb.")],
    out_dir: Annotated[Path, _output("Folder for graded notebooks and grades.jsonl.")] = Path("graded"),
    concurrency: Annotated[int, typer.Option(min=1, help="Notebooks executing at once (default: 2 per CPU, at most 8).")] = min(8, 2 * (os.cpu_count() or 1)),
    timeout: Annotated[float, typer.Option(help="Wall-clock seconds per notebook; then its kernel is killed.")] = 600.0,
    cell_timeout: Annotated[Optional[float], typer.Option(help="Seconds before a cell is interrupted (default: --timeout).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a live progress bar.")] = True,
    specs: SpecsOpt = None,
) -> None:
    """Re-execute notebooks with papermill in fresh kernels and grade them on the host.

    Restores the canonical parameters, setup and verifier cells, flags tampering, checks that the
    replayed answer is the recorded one. Reads only regular files of at most 64 MiB
    ($KERNELGYM_MAX_NOTEBOOK_MB): a FIFO, device or oversized file named here stops the command
    (exit 2); one found in a folder is reported and the others are graded. Exit code 1 if a
    notebook could not be graded or was tampered with.
    """
    from kernelgym.cli.grade_progress import run_with_progress, summary_table
    from kernelgym.notebook.io import NotebookFileError, check_file
    from kernelgym.regrade import GradeOptions

    _use_specs(specs)
    for name, seconds in (("--timeout", timeout), ("--cell-timeout", cell_timeout)):
        if seconds is not None and not seconds > 0:
            raise _fail(f"{name} must be a positive number of seconds, not {seconds:g}")
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out {out_dir}: is a file, not a folder; give a folder for the graded notebooks")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise _fail(f"not found: {', '.join(missing)}")
    refused = []
    for p in paths:  # files named here are checked before any work; those found in folders while grading
        if not p.is_dir():
            try:
                check_file(p)
            except NotebookFileError as exc:
                refused.append(str(exc))
    if refused:
        raise _fail(" | ".join(refused))
    options = GradeOptions(concurrency=concurrency, timeout=timeout, cell_timeout=cell_timeout, progress=progress)
    try:
        records = run_with_progress(paths, out_dir, options, console)
    except KeyboardInterrupt:
        grades = out_dir / "grades.jsonl"
        try:
            done = sum(1 for line in grades.read_text().splitlines() if line.strip())
        except OSError:
            done = 0
        raise _interrupted(f"{done} notebook(s) graded so far are in {grades} and {out_dir}; grading does not "
                           "resume: run the same command again to grade them all") from None
    if not records:
        raise _fail("no notebooks found")
    out.print(summary_table(records))
    out.print(f"grades: {out_dir / 'grades.jsonl'}   graded notebooks: {out_dir}", highlight=False, soft_wrap=True)
    if any(r.error or r.tampered for r in records):
        raise typer.Exit(1)


NOTEBOOK_EXAMPLE = "ehr/patient_age_at_admission/00000"
"""The task id ``kernelgym notebook --help`` shows (a test checks that it exists)."""


@app.command("notebook")
def notebook_cmd(
    task_id: Annotated[str, typer.Argument(help=f"Task id, e.g. {NOTEBOOK_EXAMPLE}.")],
    output: Annotated[Optional[Path], _output("Notebook file (default <task id>.ipynb).")] = None,
    specs: SpecsOpt = None,
) -> None:
    """Write a starter notebook for a task: solve it in JupyterLab, run it with papermill, grade it."""
    from kernelgym.notebook.starter import write_starter
    from kernelgym.runtime.profiles import ensure_kernelspecs_installed
    from kernelgym.tasks import TaskSpecError

    _use_specs(specs)
    try:
        path = write_starter(task_id, output)
    except TaskSpecError as err:
        raise _fail(str(err)) from None
    except KeyError as err:
        raise _fail(str(err).strip('"')) from None
    try:
        ensure_kernelspecs_installed()
    except Exception as exc:  # only needed for JupyterLab / papermill
        console.print(f"[yellow]could not install the kernelspecs ({escape(str(exc))}); run `kernelgym kernels install --user`[/yellow]")
    out.print(str(path), highlight=False, soft_wrap=True)
    console.print(
        f"open it in JupyterLab, or run it with: papermill {path} out.ipynb -p task_id {task_id}; "
        f"grade it with: kernelgym grade {path}", highlight=False, soft_wrap=True,
    )
