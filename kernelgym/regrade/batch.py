"""``kernelgym grade`` over many notebooks: concurrently (papermill in worker threads, supervised by
asyncio), one ``grades.jsonl`` line each; a notebook that fails, hangs or kills its kernel never stops
the others."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.regrade.execute import KernelStartFailed, execute
from kernelgym.regrade.finish import finish
from kernelgym.regrade.records import GRADES, GradeError, GradeOptions, GradeRecord
from kernelgym.regrade.restore import Prepared, prepare, read_notebook
from kernelgym.runtime.profiles import kernel_name
from kernelgym.runtime.tempdirs import owned_tempdir, remove_tree, sweep


def find_notebooks(paths: Iterable[Path], exclude: Path | None = None) -> list[Path]:
    """Every ``.ipynb`` named or under the folders named (checkpoints and ``exclude`` skipped)."""
    found: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for p in paths:
        if p.is_dir():
            for q in sorted(p.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in q.parts or q.name.startswith("."):
                    continue
                if skip is not None and skip in q.resolve().parents:
                    continue
                found.append(q)
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def _output_names(files: Sequence[Path]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for f in files:
        stem = f.stem
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(f"{stem}.ipynb" if n == 0 else f"{stem}__{n + 1}.ipynb")
    return names


_PREPARE_LOCK = threading.Lock()


def _read_and_prepare(path: Path) -> Prepared:
    nb = read_notebook(path)
    # one at a time, as when this ran on the event loop: the first lookup of a family may generate its
    # task store (and build its data set), which concurrent threads would do twice
    with _PREPARE_LOCK:
        return prepare(nb)


async def grade_notebook(
    path: Path, out_path: Path | None, options: GradeOptions, pool: ThreadPoolExecutor | None = None
) -> GradeRecord:
    """Grade one notebook; never raises for what is in the notebook."""
    from kernelgym.jupyter.papermill_engine import ExecutionHandle

    t0 = time.monotonic()
    try:
        # file I/O, parsing and perhaps building the task store: off the event loop
        prep = await asyncio.to_thread(_read_and_prepare, path)
    except GradeError as exc:
        return GradeRecord(task_id=None, notebook=str(path), error=str(exc), duration_s=round(time.monotonic() - t0, 3))
    except Exception as exc:  # noqa: BLE001 - e.g. the task store cannot be built
        return GradeRecord(task_id=None, notebook=str(path), error=f"{type(exc).__name__}: {exc}", duration_s=round(time.monotonic() - t0, 3))
    loop = asyncio.get_running_loop()
    workdir = owned_tempdir("grade")
    handle = ExecutionHandle()
    executed: NotebookNode | None = None
    error: str | None = None
    try:
        fut = loop.run_in_executor(pool, execute, prep.nb, kernel_name(prep.inst.profile), workdir, options, handle)
        try:
            # the engine enforces the timeout itself; this is the backstop if the engine is stuck
            executed = await asyncio.wait_for(asyncio.shield(fut), options.timeout + options.start_timeout + 30)
        except TimeoutError:
            handle.timed_out = True
            handle.kill()
            try:
                executed = await asyncio.wait_for(asyncio.shield(fut), 15)
            except TimeoutError:
                error = "the notebook's execution could not be stopped (its worker thread was abandoned)"
    except KernelStartFailed as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken notebook never stops the batch
        error = f"execution failed: {type(exc).__name__}: {exc}"
        executed = handle.nb
    finally:
        remove_tree(workdir)

    def finish_and_write() -> GradeRecord:
        record, graded = finish(prep, executed, source=path, error=error, handle=handle)
        if out_path is not None:
            try:
                nbk.write(graded, out_path)
            except nbformat.ValidationError:  # keep the graded notebook even if some output is odd
                nbk.write(graded, out_path, validate=False)
            record.graded_notebook = str(out_path)
        return record

    try:
        record = await asyncio.to_thread(finish_and_write)  # grading and file I/O: off the event loop
    except Exception as exc:  # noqa: BLE001
        record = GradeRecord(task_id=prep.inst.id, notebook=str(path), error=f"grading failed: {type(exc).__name__}: {exc}",
                             tampered=bool(prep.reasons), tamper_reasons=prep.reasons, kind=prep.kind)
    record.duration_s = round(time.monotonic() - t0, 3)
    return record


async def grade_paths_async(
    paths: Sequence[Path],
    out_dir: Path,
    options: GradeOptions | None = None,
    on_done: Callable[[GradeRecord], None] | None = None,
) -> list[GradeRecord]:
    """Grade every notebook of ``paths`` into ``out_dir``; returns the records in input order.

    ``out_dir/grades.jsonl`` gets one line per notebook as it finishes, and is rewritten in input
    order at the end.
    """
    opts = options or GradeOptions()
    sweep()  # temp folders of runs killed with SIGKILL (never those of a running process)
    files = find_notebooks(paths, exclude=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _output_names(files)
    grades_path = out_dir / GRADES
    records: list[GradeRecord | None] = [None] * len(files)
    pool = ThreadPoolExecutor(max_workers=max(1, opts.concurrency), thread_name_prefix="kernelgym-grade")
    sem = asyncio.Semaphore(max(1, opts.concurrency))
    with open(grades_path, "w") as fh:

        async def one(i: int, path: Path) -> None:
            async with sem:
                rec = await grade_notebook(path, out_dir / names[i], opts, pool)
            records[i] = rec
            fh.write(rec.model_dump_json() + "\n")
            fh.flush()
            if on_done is not None:
                on_done(rec)

        try:
            await asyncio.gather(*(one(i, p) for i, p in enumerate(files)))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    done = [r for r in records if r is not None]
    tmp = out_dir / f".{GRADES}.tmp"
    tmp.write_text("".join(r.model_dump_json() + "\n" for r in done))
    tmp.replace(grades_path)
    return done


def grade_paths(paths: Sequence[Path], out_dir: Path, options: GradeOptions | None = None) -> list[GradeRecord]:
    """Synchronous wrapper of :func:`grade_paths_async`."""
    return asyncio.run(grade_paths_async(paths, out_dir, options))


def read_grades(out_dir: Path) -> list[GradeRecord]:
    """The records of ``out_dir/grades.jsonl``."""
    path = out_dir / GRADES
    return [GradeRecord.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def summarize(records: Sequence[GradeRecord]) -> dict[str, Any]:
    """Totals overall and per task category."""

    def agg(rs: list[GradeRecord]) -> dict[str, Any]:
        durations = [r.duration_s for r in rs]
        return {
            "notebooks": len(rs), "passed": sum(r.passed for r in rs),
            "reproducible": sum(r.reproducible is True for r in rs),
            "not_reproducible": sum(r.reproducible is False for r in rs),
            "tampered": sum(r.tampered for r in rs), "errors": sum(r.error is not None for r in rs),
            "median_s": round(statistics.median(durations), 3) if durations else 0.0,
        }

    by_cat: dict[str, list[GradeRecord]] = defaultdict(list)
    for r in records:
        key = "/".join(r.task_id.split("/")[:2]) if r.task_id else "(no task)"
        by_cat[key].append(r)
    return {"total": agg(list(records)), "categories": {k: agg(v) for k, v in sorted(by_cat.items())}}
