"""The ``kernelgym`` command line: the application, its command groups and what every command shares.

Exit codes: 0 success, 1 an operation failed (for ``run``: more episodes ended in an error of the agent or
of kernelgym than ``--fail-on-error`` allows, by default any), 2 bad input
(a malformed task spec, an unknown suite or agent, bad options), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup


class _Group(TyperGroup):
    """The root command group: Ctrl-C in a command that does not say more itself ends with one line on
    stderr and exit code 130 (``kernelgym run`` and ``grade`` also say what was kept)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _interrupted("stopped before it finished") from None


app = typer.Typer(
    name="kernelgym", no_args_is_help=False, add_completion=False, rich_markup_mode=None, cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command and group
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


def _interrupted(message: str) -> typer.Exit:
    """Ctrl-C: one line on stderr saying what was kept and how to go on; exit code 130 (128 + SIGINT)."""
    console.print(f"[yellow]interrupted:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(130)


def _use_specs(specs: list[Path] | None) -> None:
    if specs:
        os.environ["KERNELGYM_SPECS"] = os.pathsep.join(str(p) for p in specs)


def _output(help: str) -> Any:
    """The option of every command that writes: ``-o`` / ``--out`` (``--output`` kept as an alias)."""
    return typer.Option("-o", "--out", "--output", help=help)


SpecsOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--specs", help="Extra folder of task specs (*.yaml); repeatable. Also $KERNELGYM_SPECS."),
]


def print_table(table: Any) -> None:
    """A table at its full width, never cut at the terminal's (or a pipe's 80) columns: a wider table
    is printed wider and the terminal wraps its lines."""
    from rich.console import Console
    from rich.measure import Measurement

    width = Measurement.get(out, out.options.update(width=100_000), table).maximum
    if width <= out.width:
        out.print(table)
    else:
        Console(width=width, file=out.file, color_system=out.color_system, force_terminal=out.is_terminal,
                highlight=False).print(table)
