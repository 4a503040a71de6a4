"""The viewer's web server (tornado, which the Jupyter stack already brings): pages, a JSON API and the
package's own static files; nothing else is served.

- Files: only the episode notebooks of the given run folders, found through the index (never from a
  path in the URL), and only when their real path lies inside their run folder.
- Every response carries a Content-Security-Policy that allows scripts from this server only, no
  inline script and no connection elsewhere; kernel HTML sits in sandboxed frames besides.
- Bound to 127.0.0.1 by default; while bound to a loopback address it answers only requests whose
  ``Host`` is a loopback name (a web page elsewhere cannot reach it through DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import tornado.httpserver
import tornado.netutil
import tornado.web

from kernelgym import notebook as nbk
from kernelgym.view import pages
from kernelgym.view.index import MAX_PER_PAGE, Index, Query, RunIndex
from kernelgym.notebook.html import h

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Base(tornado.web.RequestHandler):
    index: Index
    lab_url: str | None

    def initialize(self, index: Index, lab_url: str | None = None, lab_root: Path | None = None,
                   loopback_only: bool = True) -> None:
        self.index = index
        self.lab_url = lab_url
        self.lab_root = lab_root
        self.loopback_only = loopback_only

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        if self.loopback_only:
            host = self.request.host_name
            if not is_loopback(host):
                raise tornado.web.HTTPError(403, reason="Host not allowed")

    def query(self) -> Query:
        """The episodes table's query in this request's parameters (400 if malformed)."""
        arg = self.get_argument
        try:
            runs = tuple(int(x) for x in arg("runs", "").split(",") if x.strip())
        except ValueError:
            raise tornado.web.HTTPError(400, reason="runs: give run numbers, e.g. 0,1") from None
        if any(not 0 <= n < len(self.index.runs) for n in runs):
            raise tornado.web.HTTPError(400, reason="runs: no such run")
        return Query(
            runs=runs, family=arg("family", ""), category=arg("category", ""), outcome=arg("outcome", ""),
            stop_reason=arg("stop", ""), task=arg("task", ""), q=arg("q", "")[:500], sort=arg("sort", "task_id"),
            desc=arg("desc", "") in ("1", "true"), page=_int(arg("page", None), 1, 1, 10**9),
            per_page=_int(arg("per_page", None), 50, 1, MAX_PER_PAGE),
        )

    def run_of(self, number: str) -> RunIndex:
        n = int(number)
        if not 0 <= n < len(self.index.runs):
            raise tornado.web.HTTPError(404)
        return self.index.runs[n]

    def row_of(self, run: RunIndex, i: str) -> int:
        n = int(i)
        if not 0 <= n < len(run.results):
            raise tornado.web.HTTPError(404)
        return n

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.page(f"{status_code}", f"<h1>{status_code} {h(self._reason)}</h1>"))

    def html(self, text: str) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(text)


class RunsPage(Base):
    def get(self) -> None:
        self.html(pages.runs_page(self.index))


class EpisodesPage(Base):
    def get(self) -> None:
        args = {k: self.get_argument(k) for k in self.request.arguments}
        if "folder" in args:  # links from `kernelgym report --view URL` name the run by its folder
            real = Path(os.path.realpath(args.pop("folder")))
            run = next((r for r in self.index.runs if r.root == real), None)
            if run is None:
                raise tornado.web.HTTPError(404, reason="this viewer does not show that run folder")
            self.redirect("/episodes?" + urlencode(args | {"runs": str(run.number)}))
            return
        self.html(pages.episodes_page(self.index, args))


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value))) if value not in (None, "") else default
    except ValueError:
        raise tornado.web.HTTPError(400, reason="not a number") from None


FILTERS = ("runs", "family", "category", "outcome", "stop", "task", "q", "sort", "desc")
"""The episodes table's query parameters that an episode page carries along (for previous / next)."""


class EpisodesApi(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(self.index.page(self.query())))


class RunsApi(Base):
    def get(self) -> None:
        out = [{"run": r.number, "label": r.label, "path": str(r.path), "facts": r.facts(), "stats": r.stats(),
                "load_s": round(r.load_s, 3)} for r in self.index.runs]
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(out, default=str))


def read_notebook(run: RunIndex, i: int) -> tuple[dict[str, Any] | None, str | None]:
    """The episode's notebook as parsed JSON, or None and why it is not shown."""
    path = run.notebook_file(i)
    if path is None:
        return None, "no notebook inside the run folder for this episode (it crashed before one was written?)"
    try:
        data = json.loads(nbk.read_bytes(path))
    except nbk.NotebookFileError as exc:
        return None, str(exc)
    except ValueError as exc:
        return None, f"{path.name}: not JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"{path.name}: not a notebook"
    return data, None


class EpisodePage(Base):
    def get(self, number: str, i: str) -> None:
        run = self.run_of(number)
        row = self.row_of(run, i)
        nb, problem = read_notebook(run, row)
        lab = None
        path = run.notebook_file(row)
        if self.lab_url and self.lab_root is not None and path is not None and path.is_relative_to(self.lab_root):
            lab = self.lab_url.rstrip("/") + "/" + quote(str(path.relative_to(self.lab_root)))
        carried = {k: self.get_argument(k) for k in FILTERS if self.get_argument(k, "")}
        before, after, pos, total = self.index.neighbours(self.query(), run.number, row)
        qs = "?" + urlencode(carried) if carried else ""
        nav = pages.Nav(
            prev=f"/run/{before.run}/episode/{before.i}{qs}" if before else None,
            next=f"/run/{after.run}/episode/{after.i}{qs}" if after else None,
            pos=pos, total=total, back="/episodes" + qs)
        self.html(pages.episode_page(self.index, run, row, nb, problem, lab, nav))


class NotebookDownload(Base):
    def get(self, number: str, i: str) -> None:
        run = self.run_of(number)
        row = self.row_of(run, i)
        path = run.notebook_file(row)
        if path is None:
            raise tornado.web.HTTPError(404)
        try:
            data = nbk.read_bytes(path)
        except nbk.NotebookFileError:
            raise tornado.web.HTTPError(404) from None
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in path.name)
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(data)


class ComparePage(Base):
    def get(self) -> None:
        try:
            chosen = sorted({int(x) for x in self.get_arguments("run")})
        except ValueError:
            raise tornado.web.HTTPError(400, reason="run: give run numbers") from None
        if any(not 0 <= n < len(self.index.runs) for n in chosen):
            raise tornado.web.HTTPError(404, reason="no such run")
        self.html(pages.compare_page(self.index, chosen))


class TaskPage(Base):
    def get(self) -> None:
        task_id = self.get_argument("id", "")
        found = [(run, i) for run in self.index.runs for i in run.by_task.get(task_id, [])]
        if not found:
            raise tornado.web.HTTPError(404, reason="no episode of this task")
        found.sort(key=lambda x: (x[0].number, x[0].results[x[1]].rollout))
        notebooks = [(run, i, read_notebook(run, i)[0]) for run, i in found[:24]]
        self.html(pages.task_page(self.index, task_id, notebooks))


class Static(tornado.web.StaticFileHandler):
    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")


def make_app(index: Index, *, lab_url: str | None = None, lab_root: Path | None = None,
             loopback_only: bool = True) -> tornado.web.Application:
    """The viewer's routes; ``lab_url`` (a JupyterLab's ``.../lab/tree``) serving ``lab_root`` adds "open in
    JupyterLab" links to the notebooks under ``lab_root``."""
    kw = {"index": index, "lab_url": lab_url, "lab_root": lab_root.resolve() if lab_root else None,
          "loopback_only": loopback_only}
    return tornado.web.Application([
        (r"/", RunsPage, kw),
        (r"/episodes", EpisodesPage, kw),
        (r"/api/episodes", EpisodesApi, kw),
        (r"/api/runs", RunsApi, kw),
        (r"/run/([0-9]{1,9})/episode/([0-9]{1,12})", EpisodePage, kw),
        (r"/run/([0-9]{1,9})/notebook/([0-9]{1,12})", NotebookDownload, kw),
        (r"/compare", ComparePage, kw),
        (r"/compare/task", TaskPage, kw),
        (r"/static/(view\.css|view\.js)", Static, {"path": str(STATIC)}),
    ], default_handler_class=NotFound, default_handler_args=kw, compress_response=True)


class NotFound(Base):
    def prepare(self) -> None:
        super().prepare()
        raise tornado.web.HTTPError(404)


class ViewServer:
    """The viewer in a background thread (tests, ``kernelgym report --view``): ``start()`` returns its URL."""

    def __init__(self, index: Index, host: str = "127.0.0.1", port: int = 0, lab_url: str | None = None,
                 lab_root: Path | None = None) -> None:
        self.index, self.host, self.port, self.lab_url, self.lab_root = index, host, port, lab_url, lab_root
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until :meth:`stop` (or the task is cancelled); ``on_ready(url)`` once the socket is bound."""
        sockets = tornado.netutil.bind_sockets(self.port, self.host)
        self.port = sockets[0].getsockname()[1]
        app = make_app(self.index, lab_url=self.lab_url, lab_root=self.lab_root, loopback_only=is_loopback(self.host))
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if on_ready is not None:
            on_ready(self.url)
        try:
            await self._stop.wait()
        finally:
            server.stop()
            await server.close_all_connections()

    def start(self) -> str:
        def main() -> None:
            try:
                asyncio.run(self.serve(lambda _: self._ready.set()))
            except BaseException as exc:  # reported by start()
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=main, name="kernelgym-view", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
