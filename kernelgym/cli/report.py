"""``kernelgym report``: compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from kernelgym.cli._common import (
    _fail,
    _output,
    app,
    console,
    out,
    print_table,
)


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (written by `kernelgym run`) to compare.")],
    out_dir: Annotated[Path, _output("Folder for report.png, report.html and report.json.")] = Path("report"),
    price: Annotated[
        Optional[list[str]],
        typer.Option(help="[PATTERN=]PROMPT/COMPLETION USD per million tokens, e.g. openai:gpt-4o=2.5/10; repeatable."),
    ] = None,
    title: Annotated[str, typer.Option(help="Title of the HTML page.")] = "kernelgym report",
    view: Annotated[
        Optional[str],
        typer.Option(help="URL of a running `kernelgym view` of these runs (e.g. http://127.0.0.1:8765): report.html "
                          "links each run and category to its episodes there."),
    ] = None,
    episodes: Annotated[bool, typer.Option("--episodes", help="Also write an HTML transcript of every episode "
                                           "(episodes/*.html) and list the episodes in report.html, linked.")] = False,
) -> None:
    """Compare runs side by side: success per family and category, turns, tokens, latency, cost."""
    from kernelgym.runs.report import ReportError, make_report, tables

    try:
        data, paths = make_report(run_dirs, out_dir, price, title, view, episodes)
    except ReportError as err:
        raise _fail(str(err)) from None
    for table in tables(data):
        print_table(table)
    for warning in data.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    for note in data.get("notes", []):
        console.print(f"[yellow]{escape(note)}[/yellow]", highlight=False, soft_wrap=True)
    written = "   ".join(f"{kind}: {path}" for kind, path in paths.items())
    out.print(written, highlight=False, soft_wrap=True)
