"""``kernelgym view``: review runs in a browser."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from kernelgym.cli._common import _fail, app, console, out


@app.command()
def view(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (written by `kernelgym run`) to review.")],
    port: Annotated[int, typer.Option(help="Port to serve on (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Address to bind; another than 127.0.0.1 shows the runs to your network.")] = "127.0.0.1",
    lab: Annotated[
        Optional[str],
        typer.Option(help="URL of a running JupyterLab's file tree, e.g. http://127.0.0.1:8888/lab/tree: each episode "
                          "page links to its notebook there (JupyterLab started in --lab-root)."),
    ] = None,
    lab_root: Annotated[Path, typer.Option(help="The folder that JupyterLab serves (default: this one).")] = Path("."),
) -> None:
    """Review runs in a browser: runs, a filterable episodes table, transcripts, comparisons. Read-only."""
    from kernelgym.view import Index, ViewError, ViewServer
    from kernelgym.view.server import is_loopback

    t0 = time.perf_counter()
    try:
        index = Index.load([p.resolve() for p in run_dirs])
    except ViewError as err:
        raise _fail(str(err)) from None
    episodes = sum(len(r.rows) for r in index.runs)
    console.print(f"indexed {episodes:,} episodes of {len(index.runs)} run(s) in {time.perf_counter() - t0:.1f} s",
                  highlight=False)
    if not is_loopback(host):
        console.print(f"[yellow]warning:[/yellow] serving on {escape(host)}: anyone who reaches this address sees "
                      "the runs (no login)", highlight=False)
    index.start_prompt_index()
    server = ViewServer(index, host=host, port=port, lab_url=lab, lab_root=lab_root.resolve())

    try:
        asyncio.run(server.serve(lambda url: out.print(f"kernelgym view: {url}/  (Ctrl-C to stop)", highlight=False,
                                                        soft_wrap=True)))
    except OSError as err:
        raise _fail(f"cannot serve on {host}:{port}: {err.strerror or err}; give another --port", 1) from None
    except KeyboardInterrupt:
        pass
