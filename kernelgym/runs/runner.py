"""Runs: many episodes in parallel, resumable, with a live progress bar.

A run folder holds ``run.json`` (the run's manifest, :mod:`kernelgym.runs.manifest`), ``results.jsonl``
(one line per finished episode, appended as episodes finish), ``summary.json`` and
``episodes/*.ipynb``. Running again into the same folder resumes: the configuration must be the same
as ``run.json`` says, finished episodes are skipped, none is recorded twice, and a half-written last
line left by a killed run is ignored.

``results.jsonl`` is append-only, and **a later line for the same episode (task id and rollout)
supersedes every earlier one**: ``kernelgym run --retry-errors`` re-runs the episodes whose latest
record is an error and appends their new records. Every reader goes through :class:`ResultsIndex`
(:func:`iter_results`, or :func:`read_results` for a list), which applies that rule, so each episode
counts once. It keeps 24 bytes per line, not the records, so resume, the summary, ``kernelgym report``
and exports read a run of millions of episodes in bounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import gc
import hashlib
import json
import os
import time
import traceback
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbformat import NotebookNode
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kernelgym import notebook as nbk
from kernelgym._libc import release_free_memory
from kernelgym.episode import Agent, EpisodeConfig, EpisodeResult, agent_label, is_error, run_episode
from kernelgym.grading.metrics import RolloutStats, task_key
from kernelgym.llm.client import close_shared_models, follow_run_concurrency, reset_run_concurrency
from kernelgym.llm.errors import FatalModelError
from kernelgym.runs.manifest import MANIFEST, RunManifest, check_resume, write_manifest
from kernelgym.runtime.tempdirs import sweep
from kernelgym.tasks import Instance, slug
from rich.markup import escape

RESULTS = "results.jsonl"
SUMMARY = "summary.json"
EPISODES = "episodes"


@dataclass
class RunOptions:
    """How a run is carried out."""

    concurrency: int = 2
    rollouts: int = 1
    episode: EpisodeConfig = field(default_factory=EpisodeConfig)
    progress: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    """Recorded in summary.json (suite, agent, options...)."""
    pool_size: int | None = None
    """Episodes the warm pool of each profile serves at once: it keeps that many kernels alive, the running
    episodes' included, plus :data:`kernelgym.runtime.pool.SPARE` ready ones (default: ``concurrency``;
    0 starts each kernel on demand)."""
    executor: EpisodeExecutor | None = None
    """Where episodes run: None runs them in this process; e.g. :class:`kernelgym.runs.ray_backend.RayExecutor`
    runs them on a Ray cluster. The driver writes results, notebooks and the summary the same way."""
    retry_errors: bool = False
    """Also run again the episodes whose latest record is an error (:data:`kernelgym.episode.ERROR_STOPS`);
    their new records supersede the old ones."""
    manifest: RunManifest | None = None
    """Written to ``run.json`` when the folder has none; checked against it when it has one (a resume of
    another configuration raises :class:`~kernelgym.runs.manifest.RunConfigMismatch` before any episode)."""
    freeze_gc: bool = False
    """Once the first episode's agent exists (modules, the model client, the selected tasks are loaded),
    collect garbage and leave every object alive then out of the garbage collector's later passes
    (``gc.freeze``). A full pass over a process that imported LangChain, pandas and pydantic stalled
    every episode in flight for up to 125 ms (issue 19); frozen objects are never freed, so this is for a
    process that exits after the run: ``kernelgym run`` sets it. The youngest generation is then
    collected every 20,000 allocations instead of 700."""


Record = Callable[[Instance, int, "EpisodeResult | None", "NotebookNode | None", "str | None"], None]
"""``record(instance, rollout, result, notebook, crash)``: the run's bookkeeping for one finished
episode (``crash``: why an episode produced no result, a traceback if there is one; then ``result``
and ``notebook`` are None, and the episode is recorded as a ``harness_error``)."""


class EpisodeExecutor(Protocol):
    """Runs a run's episodes somewhere else (see :attr:`RunOptions.executor`).

    ``execute`` runs every ``(instance, rollout)`` of ``todo`` once and calls ``record`` exactly once
    per item, in the driver's event loop; ``status(text)`` shows ``text`` next to the progress bar.
    It may raise :class:`~kernelgym.llm.errors.FatalModelError` to stop the run.
    """

    async def execute(
        self, todo: list[tuple[Instance, int]], agent_factory: Callable[[], Agent], config: EpisodeConfig,
        record: Record, status: Callable[[str], None],
    ) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What summary.json records about the backend (``run.backend``)."""
        ...


def _key_hash(task_id: str, rollout: int) -> tuple[int, int]:
    """128 bits of an episode's key (``(task_id, rollout)``): what the index of a results file keeps."""
    digest = hashlib.blake2b(f"{task_id}\0{rollout}".encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


class ResultsIndex:
    """Where each episode's latest record is in ``results.jsonl``, in bounded memory.

    One pass over the file keeps, per readable line, 128 bits of its key and its offset (24 bytes a
    line, in arrays), not the records: 1,000,000 lines take ~24 MB where the records took ~4 KB each.
    The rule is the one of :func:`read_results`: a later line for the same ``(task_id, rollout)``
    supersedes the earlier ones, episodes keep the order of their first line, an unreadable line
    (a killed run's half-written last line) counts in :attr:`bad` and supersedes nothing."""

    def __init__(self, path: Path) -> None:
        import numpy as np

        self.path = path
        self.bad = 0
        hi, lo, offsets = array("Q"), array("Q"), array("Q")
        if path.is_file():
            with open(path, "rb") as fh:
                offset = 0
                for line in fh:
                    start, offset = offset, offset + len(line)
                    if not line.strip():
                        continue
                    try:
                        result = EpisodeResult.model_validate_json(line)
                    except ValueError:
                        self.bad += 1
                        continue
                    h, l = _key_hash(result.task_id, result.rollout)
                    hi.append(h)
                    lo.append(l)
                    offsets.append(start)
        n = len(offsets)
        if not n:
            self._latest = np.zeros(0, dtype=np.uint64)
            self._keys = np.zeros((0, 2), dtype=np.uint64)
            return
        # a few arrays of n entries at a time, each dropped once used (peak ~45 bytes a line over the 24
        # kept while reading): sort the lines by key (lexsort is stable: a key's lines stay in file
        # order), find each key's first and last line
        h_arr, l_arr = np.frombuffer(hi, dtype=np.uint64), np.frombuffer(lo, dtype=np.uint64)
        order = np.lexsort((l_arr, h_arr)).astype(np.uint32 if n < 2**32 else np.uint64)
        new_key = np.ones(n, dtype=bool)
        sorted_part = h_arr[order]
        np.not_equal(sorted_part[1:], sorted_part[:-1], out=new_key[1:])
        del sorted_part
        sorted_part = l_arr[order]
        new_key[1:] |= sorted_part[1:] != sorted_part[:-1]
        del sorted_part
        firsts = np.flatnonzero(new_key)
        del new_key
        first_lines = order[firsts]
        keys = np.empty((len(firsts), 2), dtype=np.uint64)
        keys[:, 0] = h_arr[first_lines]
        keys[:, 1] = l_arr[first_lines]
        self._keys = keys
        """The episodes' key hashes, sorted (for :meth:`__contains__`)."""
        del h_arr, l_arr, hi, lo
        last_lines = order[np.append(firsts[1:], n) - 1]
        del order, firsts
        by_first_line = np.argsort(first_lines, kind="stable")
        del first_lines
        self._latest = np.frombuffer(offsets, dtype=np.uint64)[last_lines[by_first_line]]
        """Offset of each episode's latest line, episodes in the order of their first line."""

    def __len__(self) -> int:
        return len(self._latest)

    def __contains__(self, key: tuple[str, int]) -> bool:
        import numpy as np

        h, l = _key_hash(*key)
        keys = self._keys
        i = int(np.searchsorted(keys[:, 0], np.uint64(h), side="left"))
        while i < len(keys) and int(keys[i, 0]) == h:
            if int(keys[i, 1]) == l:
                return True
            i += 1
        return False

    def __iter__(self) -> Iterator[EpisodeResult]:
        """Every episode's latest record, read from the file one at a time."""
        if not len(self._latest):
            return
        with open(self.path, "rb") as fh:
            for offset in self._latest:
                fh.seek(int(offset))
                yield EpisodeResult.model_validate_json(fh.readline())


def iter_results(out_dir: Path) -> tuple[ResultsIndex, int]:
    """The records of a run folder as a :class:`ResultsIndex` (iterate it for the records, streamed; test
    ``(task_id, rollout) in index``), and how many lines were unreadable. Memory does not grow with the
    records: what resume, the summary, ``kernelgym report`` and exports use."""
    index = ResultsIndex(out_dir / RESULTS)
    return index, index.bad


def stream_results(out_dir: Path) -> Iterator[EpisodeResult]:
    """The records of :func:`iter_results`, lazily: nothing is read until the first is asked for."""
    yield from iter_results(out_dir)[0]


def read_results(out_dir: Path) -> tuple[list[EpisodeResult], int]:
    """The record of every episode of a run folder, and how many lines were unreadable.

    A later line for the same ``(task_id, rollout)`` supersedes the earlier ones (a retried error);
    episodes keep the order of their first line. (A list of them all: for large runs stream them
    with :func:`iter_results`, which applies the same rule.) The file is split at ``\n`` only: JSON
    keeps U+2028, U+0085 and the like raw inside strings, and ``str.splitlines`` cut a record holding
    one in pieces (the episode was lost as unreadable lines)."""
    index, bad = iter_results(out_dir)
    return list(index), bad


def notebook_path(out_dir: Path, task_id: str, rollout: int) -> Path:
    return out_dir / EPISODES / f"{slug(task_id)}__r{rollout}.ipynb"


def episode_notebook(out_dir: Path, result: EpisodeResult, root: Path | None = None) -> Path | None:
    """The real path of an episode's notebook if it is a file inside the run folder, else None.

    ``results.jsonl`` is not trusted to name files: its ``notebook`` field (or a symlink in
    ``episodes/``) may point anywhere, and only a file whose real path lies inside the run folder
    counts (``root``: the folder's real path, if already known)."""
    root = root or Path(os.path.realpath(out_dir))
    candidates = [out_dir / result.notebook] if result.notebook else []
    candidates.append(notebook_path(out_dir, result.task_id, result.rollout))
    for cand in candidates:
        if not os.path.isfile(cand):  # one stat: most episodes of a crashed run have none
            continue
        real = Path(os.path.realpath(cand))
        if real.is_relative_to(root) and real != root:
            return real
    return None


class DiskFull(RuntimeError):
    """The run folder's disk is full: the run stopped; what was recorded is whole and resumable."""


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class FileLimitTooLow(RuntimeError):
    """The process may not open enough files for the run's concurrency; ``str(err)`` says which fits."""


FDS_RESERVE = 96
"""Descriptors kept for everything else of a run (results, notebooks being written, the fork server,
the interpreter's own, and what kernels hold while they start: at most
:data:`~kernelgym.runtime.kernel_manager.MAX_CONCURRENT_STARTS` start at once)."""
FDS_PER_EPISODE = 7
"""Per episode in flight: its kernel's (:data:`~kernelgym.runtime.kernel_manager.HOST_FDS_PER_KERNEL`)
and one HTTP connection to a model server."""


def budget_open_files(concurrency: int, profiles: int = 1, spare: int = 0) -> int:
    """Make sure this process may open the descriptors ``concurrency`` episodes in flight need (kernels of
    ``profiles`` pools with ``spare`` ready kernels each); returns the soft limit now in force.

    Raises the soft ``RLIMIT_NOFILE`` to the hard limit when it is too low (a common default is 1024;
    at 128 episodes in flight the run used to abort with SIGABRT, "Too many open files"), or raises
    :class:`FileLimitTooLow`, one line naming the concurrency that fits, when the hard limit is too low."""
    import resource

    kernels = concurrency * profiles + spare * profiles
    need = FDS_RESERVE + FDS_PER_EPISODE * kernels
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return soft
    if hard != resource.RLIM_INFINITY and hard < need:
        fits = max(0, ((hard - FDS_RESERVE) // FDS_PER_EPISODE - spare * profiles) // max(1, profiles))
        raise FileLimitTooLow(
            f"--concurrency {concurrency} needs about {need} open files, but this process may open at most {hard} "
            f"(ulimit -n); use --concurrency {fits} or less, or raise the limit (ulimit -n {need})")
    new = hard if hard != resource.RLIM_INFINITY else need
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


class _ResultsFile:
    """Append-only results file; starts on a fresh line after a half-written one."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "a+b")
        self.fh.seek(0, os.SEEK_END)
        if self.fh.tell() > 0:
            self.fh.seek(-1, os.SEEK_END)
            if self.fh.read(1) != b"\n":
                self.fh.write(b"\n")
        self.fh.seek(0, os.SEEK_END)

    def append(self, result: EpisodeResult) -> None:
        """Append one whole line, or nothing (a failed write is cut off again)."""
        end = self.fh.tell()
        try:
            self.fh.write(result.model_dump_json().encode() + b"\n")
            self.fh.flush()
            os.fsync(self.fh.fileno())
        except OSError:
            try:
                self.fh.truncate(end)
                self.fh.seek(end)
            except (OSError, ValueError):
                pass
            raise

    def close(self) -> None:
        self.fh.close()


class _Totals:
    """Running totals of a group of episodes (what :func:`summarize` reports of it)."""

    __slots__ = ("n", "passed", "errors", "turns", "duration", "first", "attempts", "reward", "rollouts")

    def __init__(self, rollouts: bool = True) -> None:
        self.n = self.passed = self.errors = self.turns = self.first = self.attempts = 0
        self.duration: float = 0
        self.reward: float = 0
        # 13 bytes an episode for pass@k, best@k, consistency; a group made of others (a family, the run)
        # keeps none and gets its parts' at row() time
        self.rollouts = RolloutStats() if rollouts else None

    def add(self, r: EpisodeResult, key: int | None = None) -> None:
        """Count ``r`` (``key``: its :func:`~kernelgym.grading.metrics.task_key`, if already computed)."""
        self.n += 1
        self.passed += r.passed
        self.first += r.passed and r.attempts <= 1
        self.attempts += r.attempts
        self.reward += r.reward
        self.errors += is_error(r.stop_reason) and not r.passed
        self.turns += r.turns
        self.duration += r.duration_s
        if self.rollouts is not None:
            self.rollouts.add_key(task_key(r.task_id) if key is None else key, r.passed, r.reward)

    def row(self, rollout_stats: RolloutStats | None = None) -> dict[str, Any]:
        """The group's summary row (``rollout_stats``: its episodes' outcomes, when it keeps none itself)."""
        n, passed, errors = self.n, self.passed, self.errors
        row = {
            "episodes": n, "passed": passed, "failed": n - passed - errors, "errors": errors,
            "pass_rate": round(passed / n, 4) if n else 0.0, "error_rate": round(errors / n, 4) if n else 0.0,
            "first_attempt_passed": self.first,
            "first_attempt_pass_rate": round(self.first / n, 4) if n else 0.0,
            "mean_reward": round(self.reward / n, 4) if n else 0.0,
            "mean_attempts": round(self.attempts / n, 3) if n else 0.0,
            "mean_turns": round(self.turns / n, 2) if n else 0.0,
            "mean_duration_s": round(self.duration / n, 3) if n else 0.0,
        }
        stats = self.rollouts if self.rollouts is not None else rollout_stats
        rollouts = stats.row() if stats is not None else {}
        if rollouts:
            row["rollouts"] = rollouts
        return row


def summarize(results: Iterable[EpisodeResult]) -> dict[str, Any]:
    """Totals per run, per family and per category: ``passed``, ``failed`` (the model's failures) and
    ``errors`` (infrastructure errors, :data:`kernelgym.episode.ERROR_STOPS`) add up to ``episodes``.

    ``passed`` counts final verdicts (after any number of attempts with ``--feedback`` or silent
    retries); ``first_attempt_passed`` the passes at the first submission; ``mean_reward`` is the mean
    of the episodes' rewards (score weighted by their reward rule, :mod:`kernelgym.grading.attempts`).
    With several rollouts of a task (``--rollouts K``), ``rollouts`` holds pass@k (unbiased), pass^k,
    best@k (of the rewards) and per-task consistency (:mod:`kernelgym.grading.metrics`).

    One pass over ``results`` (a stream from :func:`iter_results` is fine): memory grows with the
    categories, and by 13 bytes an episode for pass@k (:class:`~kernelgym.grading.metrics.RolloutStats`
    of its category; its family's and the run's are put together from those when their rows are made),
    not with the records."""
    total = _Totals(rollouts=False)
    by_cat: dict[str, _Totals] = defaultdict(_Totals)
    by_fam: dict[str, _Totals] = defaultdict(lambda: _Totals(rollouts=False))
    cats_of: dict[str, set[str]] = defaultdict(set)
    stops: dict[str, int] = defaultdict(int)
    for r in results:
        key = task_key(r.task_id)
        cat = f"{r.family}/{r.category}"
        total.add(r, key)
        by_cat[cat].add(r, key)
        by_fam[r.family].add(r, key)
        cats_of[r.family].add(cat)
        stops[r.stop_reason] += 1

    def stats(cats: Iterable[str]) -> RolloutStats:
        return RolloutStats.merged(s for c in sorted(cats) if (s := by_cat[c].rollouts) is not None)

    return {
        "total": total.row(stats(by_cat)),
        "stop_reasons": dict(sorted(stops.items())),
        "error_stop_reasons": {k: v for k, v in sorted(stops.items()) if is_error(k)},
        "families": {k: v.row(stats(cats_of[k])) for k, v in sorted(by_fam.items())},
        "categories": {k: v.row() for k, v in sorted(by_cat.items())},
    }


def rollouts_text(row: dict[str, Any]) -> str:
    """One line of a group's ``rollouts`` metrics (``pass@1 40.0% pass@2 55.0% ...``), or ``""``."""
    ro = row.get("rollouts") or {}
    if not ro:
        return ""
    ks = ro.get("k", {})
    parts = [f"pass@{k} {v['pass_at_k']:.1%}" for k, v in ks.items()]
    last = ks.get(str(ro.get("rollouts")))
    if last:
        parts.append(f"pass^{ro['rollouts']} {last['pass_hat_k']:.1%}")
        parts.append(f"best@{ro['rollouts']} {last['best_at_k']:.3g}")
    parts.append(f"consistency {ro['consistency']:.1%} ({ro['all_passed']} task(s) always pass, "
                 f"{ro['all_failed']} never, {ro['mixed']} mixed)")
    return ", ".join(parts)


def category_table(summary: dict[str, Any]) -> Table:
    """The run's results by category, as ``kernelgym run`` prints them: pass rate (final verdicts), mean
    reward (by the reward rule), and pass@k of the largest k when tasks had several rollouts."""
    tot = summary["total"]
    k_max = (tot.get("rollouts") or {}).get("rollouts")
    table = Table(title="kernelgym results by category")
    cols = [("category", "left"), ("episodes", "right"), ("passed", "right"), ("errors", "right"),
            ("pass rate", "right"), ("mean reward", "right"), ("mean turns", "right")]
    if k_max:
        cols.insert(6, (f"pass@{k_max}", "right"))
    for col, just in cols:
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def errors(row: dict[str, Any]) -> str:
        return f"[red]{row.get('errors', 0)}[/red]" if row.get("errors") else "0"

    def cells(row: dict[str, Any]) -> list[str]:
        out = [str(row["episodes"]), str(row["passed"]), errors(row), f"{row['pass_rate']:.1%}",
               f"{row.get('mean_reward', 0.0):.3g}", f"{row['mean_turns']:.1f}"]
        if k_max:
            at = ((row.get("rollouts") or {}).get("k") or {}).get(str(k_max))
            out.insert(5, f"{at['pass_at_k']:.1%}" if at else "-")
        return out

    for name, row in summary["categories"].items():
        table.add_row(escape(name), *cells(row))
    table.add_row("[bold]all[/bold]", *cells(tot))
    notes = []
    if tot.get("passed", 0) != tot.get("first_attempt_passed", tot.get("passed", 0)):
        notes.append(f"{tot['passed'] - tot['first_attempt_passed']} pass(es) came after a wrong submission; the "
                     f"reward rule weighs them (mean reward {tot.get('mean_reward', 0):.3g}, first-attempt pass rate "
                     f"{tot['first_attempt_pass_rate']:.1%})")
    if k_max:
        notes.append(escape(rollouts_text(tot)))
    if tot.get("errors"):
        notes.append(f"{tot['errors']} episode(s) ended by an error of the agent or of kernelgym, not by the model "
                     f"({', '.join(f'{k}: {v}' for k, v in summary.get('error_stop_reasons', {}).items())}); "
                     "tracebacks in results.jsonl and the notebooks")
    if notes:
        table.caption = "\n".join(notes)
    return table


class RunFolderLocked(RuntimeError):
    """Another ``kernelgym run`` is writing to the same run folder; ``str(err)`` says what to do."""

    def __init__(self, out_dir: Path, holder: str) -> None:
        super().__init__(f"{out_dir} is in use by another kernelgym run (pid {holder}); wait for it to finish or "
                         "give another --out")


LOCK = ".kernelgym-run.lock"


def run_folder_problem(out_dir: Path) -> str | None:
    """Why ``out_dir`` cannot be a run folder (one line), or None: it must be a folder we can write."""
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        return f"--out {path}: is a file, not a folder; give a folder for the run"
    probe = path if path.is_dir() else next((p for p in path.parents if p.exists()), Path("."))
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return f"--out {path}: {probe} is not writable; choose a folder you can write to"
    return None


def check_run_folder_free(out_dir: Path) -> None:
    """Raise :class:`RunFolderLocked` now if a run holds ``out_dir`` (the CLI asks before any work;
    :func:`locked_run_folder` is what really keeps a second run out)."""
    path = Path(out_dir) / LOCK
    if not path.is_file():
        return
    with contextlib.suppress(FileNotFoundError), locked_run_folder(Path(out_dir)):
        pass


@contextlib.contextmanager
def locked_run_folder(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s run lock (``flock``, released with this process, ``kill -9`` included).

    Two runs writing one folder recorded every episode twice; the second now stops at once with
    :class:`RunFolderLocked`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunFolderLocked(out_dir, os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


async def run_async(
    instances: list[Instance],
    agent_factory: Callable[[], Agent],
    out_dir: Path,
    options: RunOptions | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run every (instance, rollout) not yet in ``out_dir``; returns the run summary."""
    opts = options or RunOptions()
    console = console or Console(stderr=True)
    swept = sweep()  # temp folders of runs killed with SIGKILL (never those of a running process)
    if swept:
        console.print(f"[dim]removed {len(swept)} temp folder(s) left by killed kernelgym processes[/dim]")
    token = follow_run_concurrency(opts.concurrency)  # --max-concurrent-requests follows --concurrency unless given
    try:
        with locked_run_folder(out_dir):
            return await _run_locked(instances, agent_factory, out_dir, opts, console)
    finally:
        reset_run_concurrency(token)
        await close_shared_models()  # the model clients the run's agents shared (llm/client.py)


async def _run_locked(
    instances: list[Instance], agent_factory: Callable[[], Agent], out_dir: Path, opts: RunOptions, console: Console,
) -> dict[str, Any]:
    previous, bad = iter_results(out_dir)  # an index of the records, not the records: memory stays flat
    manifest = opts.manifest
    if manifest is not None:
        label = None
        if previous and not (out_dir / MANIFEST).is_file():
            name, model, _ = agent_label(agent_factory())
            label = (name, model)
        recorded = check_resume(out_dir, manifest, previous, label)
        if recorded is None:
            try:
                write_manifest(out_dir, manifest)
            except OSError as exc:
                if not _is_disk_full(exc):
                    raise
                raise DiskFull(f"the disk of {out_dir} is full ({exc.strerror}); nothing was run; free space "
                               "and run the same command again") from None
        else:
            manifest = recorded
    if bad:
        console.print(f"[yellow]{bad} unreadable line(s) in {escape(str(out_dir / RESULTS))} (a killed run?) are ignored[/yellow]")
    redo = {(r.task_id, r.rollout) for r in previous if is_error(r.stop_reason)} if opts.retry_errors else set()
    retried = len(redo)
    done = len(previous) - retried
    todo = [(inst, k) for inst in instances for k in range(opts.rollouts) if (inst.id, k) in redo or (inst.id, k) not in previous]
    if previous:
        again = f" ({retried} errored episode(s) run again)" if opts.retry_errors else ""
        console.print(f"resuming {escape(str(out_dir))}: {done} episode(s) already done, {len(todo)} to run{again}")
    del previous  # not kept through the run and its summary, which indexes the file again (24 bytes a line each)
    release_free_memory()  # kernelgym._libc: the index's freed arrays
    pool_size = opts.concurrency if opts.pool_size is None else opts.pool_size
    if opts.executor is None and todo:
        from kernelgym.runtime.pool import SPARE

        in_flight = min(opts.concurrency, len(todo))
        budget_open_files(max(in_flight, pool_size), len({inst.profile for inst, _ in todo}), SPARE if pool_size else 0)
    results_file = _ResultsFile(out_dir / RESULTS)
    new = 0  # episodes recorded by this run
    passed = errors = 0
    disk_full: DiskFull | None = None
    t0 = time.monotonic()

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("passed {task.fields[passed]}"), TextColumn("{task.fields[errors]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[hosts]}"),
        console=console, disable=not opts.progress, transient=False,
    )
    bar: Any = None

    def record(inst: Instance, rollout: int, result: EpisodeResult | None, nb: NotebookNode | None,
               crash: str | None = None) -> None:
        nonlocal passed, errors, disk_full, new
        if disk_full is not None:  # the run is stopping: this episode is not recorded, a resume runs it
            return
        try:
            try:
                if result is None or nb is None:
                    raise RuntimeError(crash or "no result")
                path = notebook_path(out_dir, inst.id, rollout)
                nbk.write(nb, path)
                result.notebook = str(path.relative_to(out_dir))
            except Exception as exc:  # a broken episode is recorded, the run goes on
                if _is_disk_full(exc):
                    raise
                trace = crash if result is None and crash else traceback.format_exc()
                result = _harness_error(inst, rollout, trace, out_dir)
            result.source = inst.source  # every record of an imported task says where it comes from
            results_file.append(result)
        except OSError as exc:
            if not _is_disk_full(exc):
                raise
            notebook_path(out_dir, inst.id, rollout).unlink(missing_ok=True)  # no notebook without its record
            disk_full = DiskFull(f"the disk of {out_dir} is full ({exc.strerror}); {new + done} "
                                 f"episode(s) are recorded there; free space and run the same command again to resume")
            raise disk_full from None
        new += 1
        passed += result.passed
        errors += is_error(result.stop_reason) and not result.passed
        progress.update(bar, advance=1, passed=passed, errors=f"[red]errors {errors}[/red]" if errors else "errors 0")

    # Notebooks and records are written by one thread, in the order episodes end: the event loop that
    # drives every kernel and model call does not wait for a notebook's encoding or a record's fsync.
    writer = ThreadPoolExecutor(1, thread_name_prefix="kernelgym-writer")

    freeze_pending = opts.freeze_gc

    async def one(inst: Instance, rollout: int) -> None:
        nonlocal freeze_pending
        try:
            agent = agent_factory()
            if freeze_pending:
                freeze_pending = False
                gc.collect()
                gc.freeze()
                # young collections 30x rarer: at 32 in flight (192 episodes) 0.4 ms of GC per episode
                # instead of 1.1 ms (169 young, 15 middle and one full pass before; 5 young ones after)
                gc.set_threshold(20_000, 10, 10)
            result, nb = await run_episode(inst, agent, config=opts.episode, rollout=rollout)
        except FatalModelError:  # bad credentials, unknown model...: no episode can succeed, stop the run
            raise
        except Exception:
            done = asyncio.get_running_loop().run_in_executor(writer, record, inst, rollout, None, None,
                                                               traceback.format_exc())
        else:
            done = asyncio.get_running_loop().run_in_executor(writer, record, inst, rollout, result, nb)
        await asyncio.shield(done)  # a run that stops still records an episode that has ended

    try:
        with progress:
            bar = progress.add_task("episodes", total=len(todo), passed=0, errors="errors 0", hosts="")
            pending = iter(todo)  # workers share one iterator: memory stays flat for huge runs

            async def worker() -> None:
                for inst, k in pending:
                    await one(inst, k)
                from kernelgym.runtime.pool import active_pools

                pools = active_pools()
                if pools is not None:  # no episode left for this worker: no kernel is started for it
                    pools.retire()

            async def all_workers() -> None:
                """Every worker; when one fails (a full disk, a fatal model error), the others stop too."""
                tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, opts.concurrency))]
                try:
                    await asyncio.gather(*tasks)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)

            if opts.executor is not None:
                if todo:
                    await opts.executor.execute(
                        todo, agent_factory, opts.episode, record,
                        lambda text: progress.update(bar, hosts=text),
                    )
            elif pool_size > 0 and todo:
                from kernelgym.runtime.pool import KernelPools

                async with KernelPools(pool_size, profiles=sorted({inst.profile for inst, _ in todo})):
                    await all_workers()
            else:
                await all_workers()
    finally:
        writer.shutdown(wait=True)  # episodes that ended are recorded before the file closes
        results_file.close()
    if disk_full is not None:
        raise disk_full
    summary = summarize(iter_results(out_dir)[0])  # streamed: memory does not grow with the episodes
    summary["run"] = {
        **(manifest.key_fields() if manifest is not None else {}),
        **opts.meta, "concurrency": opts.concurrency, "rollouts": opts.rollouts,
        "new_episodes": new, "wall_s": round(time.monotonic() - t0, 2),
    }
    if opts.executor is not None:
        summary["run"]["backend"] = opts.executor.describe()
    tmp = out_dir / f".{SUMMARY}.tmp"
    try:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        tmp.replace(out_dir / SUMMARY)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if not _is_disk_full(exc):
            raise
        raise DiskFull(f"the disk of {out_dir} is full ({exc.strerror}) writing {SUMMARY}; every episode is recorded; "
                       "free space and run the same command again to write it") from None
    return summary


def _harness_error(inst: Instance, rollout: int, trace: str, out_dir: Path) -> EpisodeResult:
    """The record (and, if it can be written, the notebook) of an episode that kernelgym itself failed to
    run or to record: ``harness_error``, with the traceback."""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    message = lines[-1].strip() if lines else "no result"
    result = EpisodeResult(
        task_id=inst.id, family=inst.family, category=inst.category, split=inst.split,
        rollout=rollout, agent="?", passed=False, score=0.0, expected=inst.ground_truth,
        turns=0, stop_reason="harness_error", duration_s=0.0,
        error=f"episode crashed: {message}", traceback=trace if len(lines) > 1 else None, started_at="",
    )
    try:
        nb = nbk.new_episode_notebook(inst)
        nb.metadata["kernelgym"]["episode"] = {"rollout": rollout, "stop_reason": "harness_error", "error": result.error}
        nbk.record_verdict(nb, inst, [], no_evidence="the episode crashed before verification",
                           error={"stop_reason": "harness_error", "message": result.error, "traceback": result.traceback})
        path = notebook_path(out_dir, inst.id, rollout)
        nbk.write(nb, path)
        result.notebook = str(path.relative_to(out_dir))
    except Exception:  # the record in results.jsonl is what counts
        pass
    return result


def run(
    instances: list[Instance],
    agent_factory: Callable[[], Agent],
    out_dir: Path,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """Synchronous wrapper of :func:`run_async`."""
    return asyncio.run(run_async(instances, agent_factory, out_dir, options))
