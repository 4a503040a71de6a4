"""The live progress bar and summary tables of ``kernelgym grade``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape

from kernelgym.regrade.batch import find_notebooks, grade_paths_async, summarize
from kernelgym.regrade.records import GradeOptions, GradeRecord


def summary_table(records: Sequence[GradeRecord]) -> Any:
    """A rich table: per category, then the notebooks that were tampered with or could not be graded."""
    from rich.console import Group
    from rich.table import Table

    summary = summarize(records)
    table = Table(title="kernelgym grade")
    table.add_column("category", overflow="fold", min_width=16)
    for col in ("n", "passed", "reprod.", "tampered", "errors", "median s"):
        table.add_column(col, justify="right", no_wrap=True)

    def row(name: str, s: dict[str, Any], bold: bool = False) -> None:
        cells = [name, str(s["notebooks"]), f"{s['passed']} {s['passed'] / max(1, s['notebooks']):.0%}",
                 f"{s['reproducible']}" + (f" ({s['not_reproducible']} no)" if s["not_reproducible"] else ""),
                 str(s["tampered"]), str(s["errors"]), f"{s['median_s']:.2f}"]
        cells = [escape(c) for c in cells]
        table.add_row(*[f"[bold]{c}[/bold]" for c in cells] if bold else cells)

    for name, s in summary["categories"].items():
        row(name, s)
    row("all", summary["total"], bold=True)
    flagged = [r for r in records if r.tampered or r.error]
    if not flagged:
        return table
    issues = Table(title="flagged notebooks", show_lines=False)
    issues.add_column("notebook", overflow="fold")
    issues.add_column("passed", justify="right")
    issues.add_column("why", overflow="fold")
    for r in flagged:
        why = "; ".join(r.tamper_reasons + ([f"error: {r.error.splitlines()[0]}"] if r.error else []))
        issues.add_row(escape(os.path.basename(r.notebook)), "yes" if r.passed else "no", escape(why))
    return Group(table, issues)


def run_with_progress(
    paths: Sequence[Path], out_dir: Path, options: GradeOptions, console: Any = None
) -> list[GradeRecord]:
    """:func:`grade_paths_async` with a live progress bar (what ``kernelgym grade`` runs)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or Console(stderr=True)
    total = len(find_notebooks(paths, exclude=out_dir))
    progress = Progress(
        TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(), TextColumn("passed {task.fields[passed]}"),
        TextColumn("tampered {task.fields[tampered]}"), TimeElapsedColumn(),
        console=console, disable=not options.progress, transient=False,
    )
    with progress:
        bar = progress.add_task("grading", total=total, passed=0, tampered=0)
        counts = {"passed": 0, "tampered": 0}

        def on_done(rec: GradeRecord) -> None:
            counts["passed"] += rec.passed
            counts["tampered"] += rec.tampered
            progress.update(bar, advance=1, **counts)

        return asyncio.run(grade_paths_async(paths, out_dir, options, on_done=on_done))
