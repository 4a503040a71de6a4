"""The ``kernelgym`` command line: the application, its command groups and what every command shares.

Exit codes: 0 success, 1 an operation failed (for ``run``: more episodes ended in an error of the agent or
of kernelgym than ``--fail-on-error`` allows, by default any), 2 bad input
(a malformed task spec, an unknown suite or agent, bad options).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="kernelgym", no_args_is_help=False, add_completion=False, rich_markup_mode=None,
    help="Train and evaluate LLM agents on code-based medical reasoning in Jupyter kernels.",
)
data_app = typer.Typer(help="Build and locate the embedded data sets.", no_args_is_help=True)
kernels_app = typer.Typer(help="Install and list the kernelgym-<profile> kernelspecs.", no_args_is_help=True)
tasks_app = typer.Typer(help="List, show, count and check task families.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(kernels_app, name="kernels")
app.add_typer(tasks_app, name="tasks")
import_app = typer.Typer(help="Import external benchmarks as task families.", no_args_is_help=True)
app.add_typer(import_app, name="import")
export_app = typer.Typer(
    help="Export runs as training data: sft (chat messages), dpo (preference pairs), kto, verl (RL prompts).",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

console = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2) -> typer.Exit:
    # escaped: task ids, names and error texts are not ours, and `[/]` in them would crash rich
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _use_specs(specs: list[Path] | None) -> None:
    if specs:
        os.environ["KERNELGYM_SPECS"] = os.pathsep.join(str(p) for p in specs)


SpecsOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--specs", help="Extra folder of task specs (*.yaml); repeatable. Also $KERNELGYM_SPECS."),
]
