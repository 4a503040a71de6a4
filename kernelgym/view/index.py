"""The viewer's in-memory index of run folders: one row per episode, filtered, sorted and paged on the
server so that a run of 100,000 episodes answers a page in milliseconds.

A run folder is read once, read-only, through :func:`kernelgym.runs.runner.read_results` (the one
reader: a later line for the same task and rollout supersedes an earlier one). Prompts live only in
the episode notebooks; a background thread reads them (one notebook per task) so that the text search
covers them too, while the pages already answer.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelgym import notebook as nbk
from kernelgym.episode import EpisodeResult, is_error
from kernelgym.grading.metrics import RolloutStats
from kernelgym.runs.manifest import RunManifest, read_manifest
from kernelgym.runs.runner import RESULTS, SUMMARY, episode_notebook, read_results

SORT_KEYS = ("run", "task_id", "family", "category", "rollout", "passed", "score", "reward", "attempts", "stop_reason", "turns",
             "duration_s", "tokens")
"""Columns the episodes table sorts by."""
OUTCOMES = ("passed", "failed", "error")
"""``passed``; ``failed``: the model's failures; ``error``: infrastructure errors (:func:`is_error`)."""
MAX_PER_PAGE = 500


class ViewError(ValueError):
    """A folder the viewer cannot show (the message names it and says why)."""


def wilson(passed: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of ``passed`` out of ``n`` (95 % by default); ``(0, 0)`` when n is 0."""
    if n <= 0:
        return 0.0, 0.0
    p = passed / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def short(value: Any, limit: int = 200) -> str:
    """An answer as one line of text (JSON for anything that is not a string), cut at ``limit``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tokens(usage: dict[str, Any]) -> int | None:
    try:
        if "total_tokens" in usage:
            return int(usage["total_tokens"] or 0)
        if "prompt_tokens" in usage or "completion_tokens" in usage:
            return int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        return None
    return None


class Row:
    """One episode in the index (what the table shows and what the filters read)."""

    __slots__ = ("run", "i", "task_id", "family", "category", "cat", "rollout", "passed", "score", "reward", "attempts", "stop_reason",
                 "outcome", "turns", "duration_s", "tokens", "answer", "haystack", "prompt")

    def __init__(self, run: int, i: int, r: EpisodeResult) -> None:
        self.run, self.i = run, i
        self.task_id, self.family, self.category = r.task_id, r.family, r.category
        self.cat = f"{r.family}/{r.category}"
        self.rollout, self.passed, self.score = r.rollout, bool(r.passed), float(r.score)
        self.reward, self.attempts = float(r.reward), int(r.attempts)
        self.stop_reason = r.stop_reason
        self.outcome = "passed" if r.passed else ("error" if is_error(r.stop_reason) else "failed")
        self.turns, self.duration_s = r.turns, float(r.duration_s)
        self.tokens = _tokens(r.usage)
        self.answer = short(r.answer)
        self.haystack = " ".join(
            [r.task_id, short(r.answer, 10_000), short(r.expected, 10_000), r.explanation or "", r.error or ""]
        ).lower()
        self.prompt = ""

    def json(self, label: str) -> dict[str, Any]:
        return {"run": self.run, "run_label": label, "i": self.i, "task_id": self.task_id, "family": self.family,
                "category": self.category, "rollout": self.rollout, "passed": self.passed, "score": self.score,
                "reward": self.reward, "attempts": self.attempts, "stop_reason": self.stop_reason, "outcome": self.outcome, "turns": self.turns,
                "duration_s": round(self.duration_s, 3), "tokens": self.tokens, "answer": self.answer}


@dataclass
class RunIndex:
    """One run folder, loaded."""

    path: Path
    number: int
    results: list[EpisodeResult]
    rows: list[Row]
    bad_lines: int
    manifest: RunManifest | None
    summary_run: dict[str, Any]
    load_s: float
    label: str = ""
    prompts_done: int = 0
    prompts_total: int = 0
    by_task: dict[str, list[int]] = field(default_factory=dict)
    root: Path = Path("/nonexistent")
    """The run folder's real path (notebooks must lie inside it)."""

    @property
    def model(self) -> str | None:
        if self.manifest is not None and self.manifest.config.agent.model:
            return self.manifest.config.agent.model
        models = sorted({r.model for r in self.results if r.model})
        return ", ".join(models) if models else (self.summary_run.get("model") or None)

    @property
    def agent(self) -> str:
        if self.manifest is not None:
            return self.manifest.config.agent.name
        agents = sorted({r.agent for r in self.results if r.agent and r.agent != "?"})
        return ", ".join(agents) or str(self.summary_run.get("agent") or "?")

    def notebook_file(self, i: int) -> Path | None:
        """The episode notebook of row ``i`` if it is a file inside this run folder, else None
        (:func:`kernelgym.runs.runner.episode_notebook`: results.jsonl does not decide what is served)."""
        return episode_notebook(self.path, self.results[i], self.root)

    def stats(self) -> dict[str, Any]:
        """The runs page's numbers: pass rate with its Wilson interval, errors, tokens, time."""
        n = len(self.rows)
        passed = sum(r.passed for r in self.rows)
        errors = sum(r.outcome == "error" for r in self.rows)
        lo, hi = wilson(passed, n)
        usage = [r.usage for r in self.results]
        prompt = sum(_num(u.get("prompt_tokens")) for u in usage)
        completion = sum(_num(u.get("completion_tokens")) for u in usage)
        has_tokens = any("prompt_tokens" in u or "completion_tokens" in u or "total_tokens" in u for u in usage)
        starts = sorted(r.started_at for r in self.results if r.started_at)
        rollouts = RolloutStats()
        for r in self.results:
            rollouts.add(r.task_id, r.passed, r.reward)
        return {
            "mean_reward": sum(r.reward for r in self.results) / n if n else 0.0,
            "first_attempt_passed": sum(1 for r in self.results if r.passed and r.attempts <= 1),
            "retried": sum(1 for r in self.results if r.attempts > 1),
            "rollouts": rollouts.row(),
            "episodes": n, "passed": passed, "failed": n - passed - errors, "errors": errors,
            "pass_rate": passed / n if n else 0.0, "ci_low": lo, "ci_high": hi,
            "tasks": len(self.by_task),
            "prompt_tokens": int(prompt) if has_tokens else None,
            "completion_tokens": int(completion) if has_tokens else None,
            "total_tokens": int(sum(r.tokens or 0 for r in self.rows)) if has_tokens else None,
            "episode_time_s": sum(r.duration_s for r in self.rows),
            "mean_turns": sum(r.turns for r in self.rows) / n if n else 0.0,
            "first_start": starts[0] if starts else None, "last_start": starts[-1] if starts else None,
            "stop_reasons": dict(sorted(Counter(r.stop_reason for r in self.rows).items())),
            "bad_lines": self.bad_lines,
        }

    def facts(self) -> dict[str, Any]:
        """The manifest's facts (agent, model, options, data set, limits), else what summary.json says."""
        m = self.manifest
        if m is None:
            s = self.summary_run
            return {"agent": self.agent, "model": self.model, "options": s.get("agent_options") or {},
                    "suite": s.get("suite"), "split": s.get("split"), "dataset": s.get("dataset"),
                    "datasets": s.get("datasets") or {}, "limits": {}, "created_at": s.get("created_at"),
                    "kernelgym_version": s.get("kernelgym_version"), "command": None, "manifest": False}
        c = m.config
        return {"agent": c.agent.name, "model": c.agent.model, "options": c.agent.options,
                "suite": c.selection.suite, "split": c.selection.split, "dataset": c.selection.dataset,
                "datasets": c.datasets, "limits": c.episode.model_dump(), "created_at": m.created_at,
                "kernelgym_version": c.kernelgym_version, "command": m.command, "manifest": True}


def _num(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def load_run(path: Path, number: int) -> RunIndex:
    """Read one run folder (read-only); raises :class:`ViewError` if it is not one."""
    path = Path(path)
    if not (path / RESULTS).is_file():
        raise ViewError(f"{path}: no {RESULTS} here (is it a run folder written by `kernelgym run`?)")
    t0 = time.perf_counter()
    results, bad = read_results(path)
    rows = [Row(number, i, r) for i, r in enumerate(results)]
    by_task: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_task[row.task_id].append(row.i)
    try:
        manifest = read_manifest(path)
    except (OSError, ValueError):
        manifest = None
    summary_run: dict[str, Any] = {}
    if (path / SUMMARY).is_file():
        try:
            with open(path / SUMMARY, "rb") as fh:
                summary_run = dict(json.load(fh).get("run") or {})
        except (OSError, ValueError, AttributeError, TypeError):
            summary_run = {}
    return RunIndex(path=path, number=number, results=results, rows=rows, bad_lines=bad, manifest=manifest,
                    summary_run=summary_run, load_s=time.perf_counter() - t0, by_task=dict(by_task),
                    root=Path(os.path.realpath(path)))


def label_runs(runs: Sequence[RunIndex]) -> None:
    """Name each run as ``kernelgym report`` does (:func:`kernelgym.runs.report.unique_labels`)."""
    from kernelgym.runs.report import unique_labels

    for run, label in zip(runs, unique_labels([r.model or r.agent for r in runs], [r.path.name for r in runs])):
        run.label = label


def prompt_of(path: Path) -> str:
    """The task prompt of an episode notebook (its ``kernelgym-task`` cell), or "" when unreadable."""
    try:
        nb = json.loads(nbk.read_bytes(path))
        for cell in nb.get("cells", []):
            tags = (cell.get("metadata") or {}).get("tags") or []
            if nbk.TAG_TASK in tags:
                src = cell.get("source", "")
                return "".join(src) if isinstance(src, list) else str(src)
    except (nbk.NotebookFileError, ValueError, AttributeError, TypeError):
        pass
    return ""


@dataclass(frozen=True)
class Query:
    """A filtered, sorted page of the episodes table."""

    runs: tuple[int, ...] = ()
    family: str = ""
    category: str = ""
    outcome: str = ""
    stop_reason: str = ""
    task: str = ""
    q: str = ""
    sort: str = "task_id"
    desc: bool = False
    page: int = 1
    per_page: int = 50

    def key(self) -> tuple[Any, ...]:
        return (self.runs, self.family, self.category, self.outcome, self.stop_reason, self.task, self.q,
                self.sort, self.desc)


class Index:
    """Every run the viewer was given; answers :class:`Query` pages (the last few orderings cached)."""

    def __init__(self, runs: list[RunIndex]) -> None:
        self.runs = runs
        label_runs(runs)
        self._cache: OrderedDict[tuple[Any, ...], list[Row]] = OrderedDict()
        self._lock = threading.Lock()
        self._prompt_thread: threading.Thread | None = None
        self._facets: dict[tuple[int, ...], dict[str, list[str]]] = {}

    @classmethod
    def load(cls, paths: Iterable[Path]) -> Index:
        return cls([load_run(Path(p), n) for n, p in enumerate(paths)])

    # ---------------------------------------------------------------- prompts

    def start_prompt_index(self) -> threading.Thread:
        """Read the prompts in a background thread (one notebook per task of each run)."""
        if self._prompt_thread is None:
            self._prompt_thread = threading.Thread(target=self.index_prompts, name="kernelgym-view-prompts",
                                                   daemon=True)
            self._prompt_thread.start()
        return self._prompt_thread

    def index_prompts(self) -> None:
        for run in self.runs:
            run.prompts_total = len(run.by_task)
        for run in self.runs:
            for task_id, rows in run.by_task.items():
                path = next((p for i in rows if (p := run.notebook_file(i)) is not None), None)
                prompt = prompt_of(path).lower() if path is not None else ""
                for i in rows:
                    run.rows[i].prompt = prompt
                run.prompts_done += 1
        self.clear_cache()  # a search made before the prompts were read may now match more

    def clear_cache(self) -> None:
        """Forget the cached orderings (the next query of each is computed again)."""
        with self._lock:
            self._cache.clear()

    def prompts_ready(self) -> bool:
        return all(r.prompts_done >= len(r.by_task) for r in self.runs)

    # ---------------------------------------------------------------- queries

    def facets(self, runs: Sequence[int]) -> dict[str, list[str]]:
        """The values the table's filters offer (computed once per set of runs)."""
        key = tuple(runs)
        if key not in self._facets:
            self._facets[key] = self._facets_of(runs)
        return self._facets[key]

    def _facets_of(self, runs: Sequence[int]) -> dict[str, list[str]]:
        chosen = [self.runs[n] for n in runs] if runs else self.runs
        fams: set[str] = set()
        cats: set[str] = set()
        stops: set[str] = set()
        for run in chosen:
            for row in run.rows:
                fams.add(row.family)
                cats.add(row.cat)
                stops.add(row.stop_reason)
        return {"families": sorted(fams), "categories": sorted(cats), "stop_reasons": sorted(stops),
                "outcomes": list(OUTCOMES)}

    def matching(self, query: Query) -> list[Row]:
        """Every row the query's filters keep, in its order (cached; the page fields are ignored)."""
        key = query.key()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        chosen = [self.runs[n] for n in query.runs] if query.runs else self.runs
        rows: Iterable[Row] = (row for run in chosen for row in run.rows)
        if query.family:
            rows = (r for r in rows if r.family == query.family)
        if query.category:
            rows = (r for r in rows if r.cat == query.category or r.category == query.category)
        if query.outcome:
            rows = (r for r in rows if r.outcome == query.outcome)
        if query.stop_reason:
            rows = (r for r in rows if r.stop_reason == query.stop_reason)
        if query.task:
            rows = (r for r in rows if r.task_id == query.task)
        for word in query.q.lower().split():
            rows = (r for r in rows if word in r.haystack or word in r.prompt)
        out = list(rows)
        sort = query.sort if query.sort in SORT_KEYS else "task_id"
        if sort == "tokens":
            out.sort(key=lambda r: -1 if r.tokens is None else r.tokens, reverse=query.desc)
        elif sort == "run":
            out.sort(key=lambda r: (r.run, r.i), reverse=query.desc)
        else:
            out.sort(key=lambda r: getattr(r, sort), reverse=query.desc)
        if query.q and not self.prompts_ready():
            return out  # not cached: the prompts still being read may match more
        with self._lock:
            self._cache[key] = out
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return out

    def neighbours(self, query: Query, run: int, i: int) -> tuple[Row | None, Row | None, int, int]:
        """The rows before and after episode ``(run, i)`` in the query's order, its 1-based position
        (0 if the query does not keep it) and how many rows the query keeps."""
        rows = self.matching(query)
        pos = next((k for k, r in enumerate(rows) if r.run == run and r.i == i), -1)
        if pos < 0:
            return None, None, 0, len(rows)
        return (rows[pos - 1] if pos > 0 else None, rows[pos + 1] if pos + 1 < len(rows) else None, pos + 1,
                len(rows))

    def page(self, query: Query) -> dict[str, Any]:
        """One page of the table as JSON: ``matched`` rows in all, ``rows`` of this page."""
        t0 = time.perf_counter()
        rows = self.matching(query)
        per = max(1, min(MAX_PER_PAGE, query.per_page))
        pages = max(1, math.ceil(len(rows) / per))
        page = max(1, min(pages, query.page))
        chunk = rows[(page - 1) * per: page * per]
        chosen = [self.runs[n] for n in query.runs] if query.runs else self.runs
        return {
            "total": sum(len(r.rows) for r in chosen), "matched": len(rows), "page": page, "pages": pages,
            "per_page": per, "rows": [r.json(self.runs[r.run].label) for r in chunk],
            "prompts_indexed": self.prompts_ready(), "elapsed_ms": round(1000 * (time.perf_counter() - t0), 2),
        }

    def chosen(self, runs: Sequence[int] = ()) -> list[RunIndex]:
        """The runs numbered ``runs`` (all when empty)."""
        return [self.runs[n] for n in runs] if runs else list(self.runs)

    def categories(self, runs: Sequence[int] = ()) -> dict[str, dict[int, dict[str, Any]]]:
        """``{family/category: {run number: {episodes, passed, pass_rate, ci_low, ci_high}}}``."""
        table: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for run in self.chosen(runs):
            for row in run.rows:
                cell = table[row.cat][run.number]
                cell[0] += 1
                cell[1] += row.passed
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for cat in sorted(table):
            out[cat] = {}
            for n, (eps, ok) in table[cat].items():
                lo, hi = wilson(ok, eps)
                out[cat][n] = {"episodes": eps, "passed": ok, "pass_rate": ok / eps, "ci_low": lo, "ci_high": hi}
        return out

    def rollouts(self, runs: Sequence[int] = ()) -> dict[str, dict[int, dict[str, Any]]]:
        """``{family/category: {run number: RolloutStats.row()}}`` for the runs whose tasks have several
        rollouts (pass@k, pass^k, best@k, consistency per category)."""
        out: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        for run in self.chosen(runs):
            per: dict[str, RolloutStats] = defaultdict(RolloutStats)
            for r in run.results:
                per[f"{r.family}/{r.category}"].add(r.task_id, r.passed, r.reward)
            for cat, stats in per.items():
                row = stats.row()
                if row:
                    out[cat][run.number] = row
        return dict(sorted(out.items()))

    def disagreements(self, runs: Sequence[int] = (), limit: int = 200
                      ) -> tuple[list[tuple[str, dict[int, tuple[int, int]]]], int]:
        """Tasks that some run passed and another failed: ``[(task id, {run: (passed, episodes)})]`` (the
        first ``limit``) and how many there are."""
        chosen = self.chosen(runs)
        if len(chosen) < 2:
            return [], 0
        tasks = sorted(set().union(*(run.by_task for run in chosen)))
        found: list[tuple[str, dict[int, tuple[int, int]]]] = []
        count = 0
        for task in tasks:
            per: dict[int, tuple[int, int]] = {}
            for run in chosen:
                idx = run.by_task.get(task)
                if idx:
                    per[run.number] = (sum(run.rows[i].passed for i in idx), len(idx))
            rates = {ok / eps for ok, eps in per.values()}
            if len(per) > 1 and len(rates) > 1:
                count += 1
                if len(found) < limit:
                    found.append((task, per))
        return found, count
