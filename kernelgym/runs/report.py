"""``kernelgym report RUN_DIR...``: runs side by side.

For each run folder (``results.jsonl`` + ``summary.json``) it computes success per family and per
category, mean turns, token usage, model latency and, when prices are given, cost; then prints the
comparison as terminal tables and writes ``report.png`` (a plot), ``report.html`` (a self-contained
page with the tables, the plot and every episode linked to its notebook) and ``report.json`` (the
numbers). Runs over different task sets are compared with a warning (``data["warnings"]``).

Everything a run recorded (task ids, agent and model names, answers) is text from outside: it is
escaped wherever it is shown (rich markup, HTML, matplotlib's mathtext).
"""

from __future__ import annotations

import base64
import fnmatch
import html
import itertools
import json
import os
from urllib.parse import quote
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from rich.table import Table

from kernelgym.episode import EpisodeResult, is_error
from kernelgym.grading.metrics import RolloutStats
from kernelgym.notebook import NotebookFileError, read_bytes
from kernelgym.notebook.html import CSS, h, transcript
from kernelgym.runs.runner import RESULTS, SUMMARY, episode_notebook, iter_results
from kernelgym.tasks import slug
from rich.markup import escape


class ReportError(ValueError):
    """A run folder cannot be reported on (the message names it and says why)."""


@dataclass
class Price:
    """USD per million prompt and completion tokens."""

    prompt: float
    completion: float


@dataclass
class Group:
    """Episodes and passes of one run in one family or category."""

    episodes: int = 0
    passed: int = 0

    def row(self) -> dict[str, Any]:
        n, passed = self.episodes, self.passed
        return {"episodes": n, "passed": passed, "pass_rate": passed / n if n else 0.0}


@dataclass
class Run:
    """One run folder, read in one streamed pass: totals, not records (a run of millions of episodes
    takes the memory of its categories, and 13 bytes an episode for pass@k). :attr:`results` reads the
    records again, one at a time."""

    path: Path
    results: Iterable[EpisodeResult] = ()
    """Every episode's record, streamed from ``results.jsonl`` at each iteration (:class:`~kernelgym.runs.runner.ResultsIndex`)."""
    meta: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    episodes: int = 0
    passed: int = 0
    errors: int = 0
    turns: int = 0
    duration_s: float = 0
    usage: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_USAGE_KEYS, 0.0))
    has_tokens: bool = False
    stop_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    models: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    families: dict[str, Group] = field(default_factory=lambda: defaultdict(Group))
    categories: dict[str, Group] = field(default_factory=lambda: defaultdict(Group))
    first_attempt_passed: int = 0
    attempts: int = 0
    reward: float = 0.0
    rollouts: RolloutStats = field(default_factory=RolloutStats)
    """Per task: its rollouts' outcomes and rewards (pass@k, best@k, consistency)."""

    def add(self, r: EpisodeResult) -> None:
        self.episodes += 1
        self.passed += r.passed
        self.first_attempt_passed += r.passed and r.attempts <= 1
        self.attempts += r.attempts
        self.reward += r.reward
        self.rollouts.add(r.task_id, r.passed, r.reward)
        self.errors += is_error(r.stop_reason) and not r.passed
        self.turns += r.turns
        self.duration_s += r.duration_s
        for key in _USAGE_KEYS:
            self.usage[key] += float(r.usage.get(key, 0) or 0)
        self.has_tokens = self.has_tokens or "prompt_tokens" in r.usage or "completion_tokens" in r.usage
        self.stop_reasons[r.stop_reason] += 1
        if r.model:
            self.models.add(r.model)
        if r.agent and r.agent != "?":
            self.agents.add(r.agent)
        for table, name in ((self.families, r.family), (self.categories, f"{r.family}/{r.category}")):
            group = table[name]
            group.episodes += 1
            group.passed += r.passed

    @property
    def model(self) -> str | None:
        return ", ".join(sorted(self.models)) if self.models else None

    @property
    def agent(self) -> str:
        return ", ".join(sorted(self.agents)) or str(self.meta.get("agent") or "?")


_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "model_calls", "model_latency_s")


def load_run(path: Path) -> Run:
    """Read one run folder (its records streamed: :func:`~kernelgym.runs.runner.iter_results`); raises
    :class:`ReportError` if it holds no results."""
    path = Path(path)
    if not (path / RESULTS).is_file():
        raise ReportError(f"{path}: no {RESULTS} here (is it a run folder written by `kernelgym run`?)")
    meta: dict[str, Any] = {}
    summary = path / SUMMARY
    if summary.is_file():
        try:
            meta = dict(json.loads(summary.read_text()).get("run") or {})
        except (ValueError, AttributeError):
            meta = {}
    index = iter_results(path)[0]
    run = Run(path=path, results=index, meta=meta)
    for r in index:
        run.add(r)
    if not run.episodes:
        raise ReportError(f"{path}: {RESULTS} holds no finished episode")
    return run


def unique_labels(names: list[str], folders: list[str]) -> list[str]:
    """The runs' labels: each its name (model, else agent); the folder name added where two would
    clash, then a number where they still do. The one rule for report and viewer."""
    labels = [name if names.count(name) == 1 else f"{name} ({folder})" for name, folder in zip(names, folders)]
    return [label if labels.count(label) == 1 else f"{label} #{i + 1}" for i, label in enumerate(labels)]


def label_runs(runs: list[Run]) -> None:
    """Name each run (see :func:`unique_labels`)."""
    for run, label in zip(runs, unique_labels([r.model or r.agent for r in runs], [r.path.name for r in runs])):
        run.label = label


def parse_price(text: str) -> tuple[str, Price]:
    """``[PATTERN=]PROMPT/COMPLETION`` in USD per million tokens, e.g. ``openai:gpt-4o=2.5/10``.

    PATTERN (a glob) is matched against a run's label, model, agent and folder name; none: every run.
    """
    pattern, sep, prices = text.rpartition("=")
    if not sep:
        pattern, prices = "*", text
    try:
        p_in, p_out = (float(x) for x in prices.split("/"))
    except ValueError:
        raise ReportError(f"--price {text!r}: write [PATTERN=]PROMPT/COMPLETION in USD per million tokens, "
                          "e.g. openai:gpt-4o=2.5/10") from None
    return pattern or "*", Price(p_in, p_out)


def _price_for(run: Run, prices: list[tuple[str, Price]]) -> Price | None:
    names = [run.label, run.model or "", run.agent, run.path.name]
    for pattern, price in prices:  # the first matching pattern wins
        if any(n and fnmatch.fnmatchcase(n, pattern) for n in names):
            return price
    return None


def run_stats(run: Run, price: Price | None) -> dict[str, Any]:
    n = run.episodes
    stats = Group(n, run.passed).row()
    prompt, completion = run.usage["prompt_tokens"], run.usage["completion_tokens"]
    calls, latency = run.usage["model_calls"], run.usage["model_latency_s"]
    has_tokens = run.has_tokens
    stats.update({
        "label": run.label, "path": str(run.path), "model": run.model, "agent": run.agent,
        "sampling": run.meta.get("agent_options") or {},
        "mean_turns": run.turns / n,
        "mean_duration_s": run.duration_s / n,
        "prompt_tokens": int(prompt) if has_tokens else None,
        "completion_tokens": int(completion) if has_tokens else None,
        "mean_tokens": (prompt + completion) / n if has_tokens else None,
        "model_calls": int(calls) if calls else None,
        "mean_latency_s": latency / calls if calls else None,
        "cost_usd": (prompt * price.prompt + completion * price.completion) / 1e6 if price and has_tokens else None,
        "errors": run.errors,
        "stop_reasons": dict(sorted(run.stop_reasons.items())),
        "first_attempt_pass_rate": run.first_attempt_passed / n,
        "mean_reward": run.reward / n,
        "mean_attempts": run.attempts / n,
        "rollouts": run.rollouts.row(),
    })
    ro = stats["rollouts"]
    k = str(ro.get("rollouts", ""))
    stats["pass_at_k"] = ro["k"][k]["pass_at_k"] if ro and k in ro.get("k", {}) else None
    stats["k"] = ro.get("rollouts") if ro else None
    return stats


def breakdown(runs: list[Run], key: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``{family or family/category: {run label: {episodes, passed, pass_rate}}}``."""
    table: dict[str, dict[str, Group]] = defaultdict(dict)
    for run in runs:
        for name, group in (run.families if key == "family" else run.categories).items():
            table[name][run.label] = group
    return {name: {label: g.row() for label, g in per.items()} for name, per in sorted(table.items())}


def task_set_warnings(runs: list[Run]) -> list[str]:
    """One warning when the runs did not run the same tasks: their pass rates are then not over the same
    tasks (and the pass rate of each run over the tasks they share)."""
    if len(runs) < 2:
        return []
    sets = [{r.task_id for r in run.results} for run in runs]
    if all(s == sets[0] for s in sets):
        return []
    common = set.intersection(*sets)
    sizes = ", ".join(f"{run.label}: {len(s)} tasks" for run, s in zip(runs, sets))
    text = (f"the runs cover different task sets ({sizes}; {len(common)} in all of them): their pass rates "
            f"are not over the same tasks")
    if common:
        rates = []
        for run in runs:
            shared = [r for r in run.results if r.task_id in common]
            rates.append(f"{run.label}: {sum(r.passed for r in shared) / len(shared):.1%}")
        text += f"; on the {len(common)} shared tasks: {', '.join(rates)}"
    return [text]


MAX_LISTED = 10_000
"""Episodes of a run listed in report.json and the HTML page (the first ones); a larger run's others are
counted in the tables and browsed with ``kernelgym view``."""


def episodes(run: Run) -> list[dict[str, Any]]:
    """One row per episode, the first :data:`MAX_LISTED`: what the episodes table of the HTML page shows
    (``notebook`` relative to the run folder, as ``results.jsonl`` has it)."""
    return [{"task_id": r.task_id, "rollout": r.rollout, "family": r.family, "category": r.category,
             "passed": r.passed, "stop_reason": r.stop_reason, "turns": r.turns, "answer": r.answer,
             "attempts": r.attempts, "reward": r.reward,
             "notebook": r.notebook} for r in itertools.islice(run.results, MAX_LISTED)]


def listing_notes(runs: list[Run]) -> list[str]:
    """A note for each run whose episodes are not all listed."""
    return [f"{run.label}: {run.episodes:,} episodes; the episodes table lists the first {MAX_LISTED:,} "
            f"(`kernelgym view {run.path}` browses them all)" for run in runs if run.episodes > MAX_LISTED]


def compare(runs: list[Run], prices: list[tuple[str, Price]] | None = None) -> dict[str, Any]:
    """Every number of the report, JSON-serialisable."""
    label_runs(runs)
    return {
        "runs": [run_stats(r, _price_for(r, prices or [])) for r in runs],
        "families": breakdown(runs, "family"),
        "categories": breakdown(runs, "category"),
        "warnings": task_set_warnings(runs) + listing_notes(runs),
        "episodes": {r.label: episodes(r) for r in runs},
    }


# ---------------------------------------------------------------- rendering


def _pct(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "-"
    return f"{cell['pass_rate']:.0%} ({cell['passed']}/{cell['episodes']})"


def _num(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


OVERVIEW_COLUMNS = (
    ("run", "label", None), ("episodes", "episodes", "d"), ("passed", "passed", "d"), ("pass rate", "pass_rate", ".1%"),
    ("mean reward", "mean_reward", ".3f"), ("pass@K (K rollouts)", "pass_at_k", ".1%"),
    ("mean turns", "mean_turns", ".2f"), ("prompt tok", "prompt_tokens", ",d"), ("completion tok", "completion_tokens", ",d"),
    ("tok/episode", "mean_tokens", ",.0f"), ("s/call", "mean_latency_s", ".2f"), ("cost $", "cost_usd", ".4f"),
)


def tables(data: dict[str, Any]) -> list[Table]:
    """The comparison as rich tables: runs overview, per family, per category."""
    overview = Table(title="kernelgym report: runs")
    for title, _, fmt in OVERVIEW_COLUMNS:  # never an ellipsis: the CLI prints the tables at their full width
        overview.add_column(title, justify="left" if fmt is None else "right", overflow="fold")
    for s in data["runs"]:
        overview.add_row(*(escape(str(s[k])) if fmt is None else _num(s[k], fmt) for _, k, fmt in OVERVIEW_COLUMNS))
    labels = [s["label"] for s in data["runs"]]
    out = [overview]
    if any(s.get("rollouts") for s in data["runs"]):
        out.append(rollouts_table(data))
    for key, title in (("families", "family"), ("categories", "category")):
        t = Table(title=f"success by {title}")
        t.add_column(title, overflow="fold")
        for label in labels:
            t.add_column(escape(label), justify="right", overflow="fold")
        for name, per in data[key].items():
            t.add_row(escape(name), *(_pct(per.get(label)) for label in labels))
        out.append(t)
    return out


def rollout_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The pass@k table (headers, rows) of the runs with several rollouts per task: per k, pass@k
    (the unbiased estimator), pass^k and best@k; then per-task consistency."""
    runs = [s for s in data["runs"] if s.get("rollouts")]
    ks = sorted({int(k) for s in runs for k in s["rollouts"]["k"]})
    rows: list[list[str]] = []
    for k in ks:
        for name, key, fmt in ((f"pass@{k}", "pass_at_k", ".1%"), (f"pass^{k}", "pass_hat_k", ".1%"),
                               (f"best@{k} (reward)", "best_at_k", ".3f")):
            rows.append([name] + [_num((s["rollouts"]["k"].get(str(k)) or {}).get(key), fmt) for s in runs])
    rows.append(["consistency"] + [_num(s["rollouts"]["consistency"], ".1%") for s in runs])
    rows.append(["tasks: always / never / mixed"] + [
        f"{s['rollouts']['all_passed']} / {s['rollouts']['all_failed']} / {s['rollouts']['mixed']}" for s in runs])
    return ["metric", *[s["label"] for s in runs]], rows


def rollouts_table(data: dict[str, Any]) -> Table:
    """:func:`rollout_rows` as a rich table."""
    headers, rows = rollout_rows(data)
    t = Table(title="rollouts: pass@k (unbiased, Chen et al. 2021), pass^k, best@k, consistency")
    t.add_column(headers[0], overflow="fold")
    for label in headers[1:]:
        t.add_column(escape(label), justify="right", overflow="fold")
    for row in rows:
        t.add_row(*(escape(c) for c in row))
    return t


def _plain(text: str) -> str:
    """``text`` shown as written by matplotlib (a model named ``$x$`` is not math, and a lone ``$``
    made the plot raise)."""
    return text.replace("$", r"\$")


def _has_tokens(stats: dict[str, Any]) -> bool:
    return stats.get("prompt_tokens") is not None or stats.get("completion_tokens") is not None


def figure(data: dict[str, Any]) -> Any:
    """The plot, as a matplotlib figure: the pass rate of each run per category (and overall), its value
    printed on every bar, 0 % drawn as a visible tick, a category a run did not run marked "not run";
    beside it the tokens per episode, only when some run has token counts ("no token counts" for a run
    without)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    runs = data["runs"]
    labels = [s["label"] for s in runs]
    cats = list(data["categories"]) + ["all"]
    tokens = any(_has_tokens(s) for s in runs)
    height = max(3.0, 0.32 * len(cats) * max(1, len(labels)) + 1.5) + 0.25 * (1 + (len(labels) - 1) // 3)
    if tokens:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, height), gridspec_kw={"width_ratios": [3, 1.3]})
    else:
        fig, ax = plt.subplots(1, 1, figsize=(9.5, height))
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["#1f77b4"])
    bar = 0.8 / max(1, len(labels))
    for i, s in enumerate(runs):
        color = colors[i % len(colors)]
        ys = [j + i * bar for j in range(len(cats))]
        cells = [{"pass_rate": s["pass_rate"], "passed": s["passed"], "episodes": s["episodes"]} if cat == "all"
                 else data["categories"][cat].get(s["label"]) for cat in cats]
        rates = [100 * c["pass_rate"] if c else 0.0 for c in cells]
        ax.barh(ys, rates, height=bar, label=_plain(s["label"]), color=color)
        zeros = [y for y, c in zip(ys, cells) if c and c["passed"] == 0]
        if zeros:  # a bar of width 0 is invisible: a tick at 0 in the run's colour
            ax.scatter([0] * len(zeros), zeros, marker="|", s=(72 * bar * 0.8) ** 2 / 4, linewidths=3,
                       color=color, clip_on=False, zorder=3)
        for y, rate, c in zip(ys, rates, cells):
            text = f"{rate:.0f}% ({c['passed']}/{c['episodes']})" if c else "not run"
            ax.text(rate + 1.5, y, text, va="center", fontsize=7, color="#333" if c else "#999")
    ax.set_yticks([j + bar * (len(labels) - 1) / 2 for j in range(len(cats))])
    ax.set_yticklabels([_plain(c) for c in cats], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 125)  # room for the values printed after a 100 % bar
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("pass rate (%)")
    ax.set_title("success by category")
    legend_rows = 1 + (len(labels) - 1) // 3  # the runs' legend goes below the plot: never over a bar or its value
    fig.legend(*ax.get_legend_handles_labels(), loc="lower left", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    if tokens:
        xs = range(len(labels))
        prompt = [(s["prompt_tokens"] or 0) / s["episodes"] for s in runs]
        completion = [(s["completion_tokens"] or 0) / s["episodes"] for s in runs]
        ax2.bar(xs, prompt, label="prompt", color="#8c9bb0")
        ax2.bar(xs, completion, bottom=prompt, label="completion", color="#e0b050")
        top = max(p + c for p, c in zip(prompt, completion)) or 1.0
        for x, s, p, c in zip(xs, runs, prompt, completion):
            text = f"{p + c:,.0f}" if _has_tokens(s) else "no token\ncounts"
            ax2.text(x, p + c + top * 0.02, text, ha="center", va="bottom", fontsize=7,
                     color="#333" if _has_tokens(s) else "#999")
        ax2.set_ylim(0, top * 1.2)
        ax2.set_xticks(list(xs), [_plain(label) for label in labels])
        ax2.set_ylabel("tokens per episode")
        ax2.set_title("tokens per episode")
        ax2.tick_params(axis="x", labelrotation=20, labelsize=8)
        ax2.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.3 * legend_rows / height, 1, 1))
    return fig


def write_png(data: dict[str, Any], path: Path) -> Path:
    """:func:`figure`, saved as a PNG."""
    import matplotlib.pyplot as plt

    fig = figure(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0 2rem}th,td{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:600;background:#eef8ee}img{max-width:100%}code{font-size:90%}
td.pass{color:#1a7f37}td.fail{color:#b3261e}.warning{background:#fff4d6;border:1px solid #e0b050;padding:.5rem .8rem}
details{margin:.5rem 0 1.5rem}summary{cursor:pointer;font-weight:600}
"""


def _html_table(headers: list[str], rows: list[list[tuple[str, ...]]], cls: str = "") -> str:
    """Cells are ``(text, class)`` or ``(text, class, href)`` (a link); every text and href is escaped here."""
    def cell(text: str, klass: str, href: str | None = None) -> str:
        inner = html.escape(text) if href is None else f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'
        return f'<td class="{klass}">{inner}</td>'

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(*c) for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _relative_href(target: Path, base: Path) -> str:
    """A relative link from a page in ``base`` to ``target`` (each path segment URL-quoted)."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(base))
    return "/".join(quote(part) for part in Path(rel).parts)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _episode_rows(stats: dict[str, Any], rows: list[dict[str, Any]], base: Path) -> list[list[tuple[str, ...]]]:
    out: list[list[tuple[str, ...]]] = []
    for e in rows:
        nb = Path(e["notebook"]) if e.get("notebook") else None
        inside = nb is not None and not nb.is_absolute() and ".." not in nb.parts  # links stay in the run folder
        notebook: tuple[str, ...] = ((nb.name, "", _relative_href(Path(stats["path"]) / nb, base))
                                     if inside and nb else (str(nb or "-"), ""))
        out.append([(e["task_id"], ""), (str(e["rollout"]), "num"), (e["category"], ""),
                    ("passed" if e["passed"] else "failed", "pass" if e["passed"] else "fail"),
                    (e["stop_reason"], ""), (str(e["turns"]), "num"), (str(e.get("attempts", 0)), "num"),
                    (format(float(e.get("reward", 0.0)), "g"), "num"), (_short(e["answer"]), ""), notebook])
    return out


def view_link(view_url: str | None, run_path: str, **filters: str) -> str | None:
    """The URL of a run's episodes (filtered) in a running ``kernelgym view`` that shows its folder."""
    if not view_url:
        return None
    params = {"folder": str(Path(run_path).resolve()), **{k: v for k, v in filters.items() if v}}
    return f"{view_url.rstrip('/')}/episodes?{urlencode(params)}"


def write_html(data: dict[str, Any], path: Path, png: Path | None = None, title: str = "kernelgym report",
               view_url: str | None = None, extra: str = "") -> Path:
    """A self-contained page: the tables and the plot (embedded); with ``view_url`` (a running
    ``kernelgym view`` of the same run folders) each run and each category cell links to its episodes."""
    runs = data["runs"]
    labels = [s["label"] for s in runs]
    paths = {s["label"]: s["path"] for s in runs}
    best = max(s["pass_rate"] for s in runs)
    rows = []
    for s in runs:
        row = []
        for _, key, fmt in OVERVIEW_COLUMNS:
            cls = "" if fmt is None else "num"
            if key == "pass_rate" and s[key] == best and len(runs) > 1:
                cls += " best"
            row.append((str(s[key]) if fmt is None else _num(s[key], fmt), cls,
                        view_link(view_url, s["path"]) if key == "label" else None))
        rows.append(row)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<p class="warning">warning: {html.escape(w)}</p>' for w in data.get("warnings", [])]
    parts += ["<h2>Runs</h2>", _html_table([c[0] for c in OVERVIEW_COLUMNS], rows)]
    details = [[(s["label"], ""), (s["path"], ""), (s["model"] or "-", ""), (s["agent"], ""),
                (json.dumps(s["sampling"], sort_keys=True), ""),
                (", ".join(f"{k}: {v}" for k, v in s["stop_reasons"].items()), "")] for s in runs]
    parts.append(_html_table(["run", "folder", "model", "agent", "options", "stop reasons"], details))
    if any(s.get("rollouts") for s in runs):
        headers, ro_rows = rollout_rows(data)
        parts.append("<h2>Rollouts: pass@k, best@k, consistency</h2>"
                     "<p>pass@k: the unbiased estimator 1 - C(n-c, k)/C(n, k) (Chen et al. 2021), averaged over "
                     "tasks; pass^k: all k rollouts pass; best@k: the expected best reward of k rollouts; "
                     "consistency: the share of a task's rollouts that agree with its majority outcome.</p>"
                     + _html_table(headers, [[(c, "num" if i else "") for i, c in enumerate(r)] for r in ro_rows]))
    if png is not None and png.is_file():
        b64 = base64.b64encode(png.read_bytes()).decode()
        parts.append(f'<h2>Plot</h2><img alt="pass rate by category" src="data:image/png;base64,{b64}">')
    for key, name in (("families", "family"), ("categories", "category")):
        rows = []
        for cat, per in data[key].items():
            top = max((c["pass_rate"] for c in per.values()), default=0)
            rows.append([(cat, "")] + [
                (_pct(per.get(label)), "num" + (" best" if per.get(label) and per[label]["pass_rate"] == top and len(runs) > 1 and top > 0 else ""),
                 view_link(view_url, paths[label], **{name: cat}) if per.get(label) else None)
                for label in labels
            ])
        parts.append(f"<h2>Success by {name}</h2>" + _html_table([name, *labels], rows))
    parts.append("<h2>Episodes</h2>")
    for s in runs:
        rows = data.get("episodes", {}).get(s["label"], [])
        parts.append(f"<details><summary>{html.escape(s['label'])}: {len(rows)} episode(s)</summary>"
                     + _html_table(["task", "rollout", "category", "result", "stop reason", "turns", "attempts",
                                    "reward", "answer", "notebook"], _episode_rows(s, rows, path.parent), cls="episodes")
                     + "</details>")
    parts.append(extra)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path


def _outcome(r: EpisodeResult) -> str:
    return "passed" if r.passed else ("error" if is_error(r.stop_reason) else "failed")


def _answer(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)


_EPISODE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'"


def write_episode_pages(runs: list[Run], out_dir: Path) -> dict[tuple[int, int], str]:
    """An HTML transcript of every episode that has a notebook inside its run folder, in
    ``out_dir/episodes/``; returns ``{(run number, result number): path relative to out_dir}``.

    The pages are static: run content escaped, kernel HTML in no-permission sandboxes, and a CSP that
    forbids every script and every fetch."""
    folder = out_dir / "episodes"
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[tuple[int, int], str] = {}
    for n, run in enumerate(runs):
        root = Path(os.path.realpath(run.path))
        for i, r in enumerate(run.results):
            path = episode_notebook(run.path, r, root)
            if path is None:
                continue
            try:
                nb = json.loads(read_bytes(path))
            except (NotebookFileError, ValueError):
                continue
            if not isinstance(nb, dict):
                continue
            name = f"{n}-{slug(r.task_id)}__r{r.rollout}.html"
            facts = "".join(f"<tr><th>{h(k)}</th><td><code>{h(v)}</code></td></tr>" for k, v in (
                ("outcome", _outcome(r)), ("submitted", _answer(r.answer)), ("expected", _answer(r.expected)),
                ("grader said", r.explanation), ("stop reason", r.stop_reason), ("turns", r.turns),
                ("run", run.label), ("notebook", str(path))))
            page = (f'<!doctype html><html><head><meta charset="utf-8">'
                    f'<meta http-equiv="Content-Security-Policy" content="{_EPISODE_CSP}">'
                    f"<title>{h(r.task_id)} · {h(run.label)}</title><style>{CSS}</style></head><body>"
                    f'<p><a href="../report.html">report</a></p><h1>{h(r.task_id)} · rollout {r.rollout}</h1>'
                    f'<table class="kv">{facts}</table>{transcript(nb)}</body></html>\n')
            (folder / name).write_text(page)
            written[(n, i)] = f"episodes/{name}"
    return written


def _episode_tables(runs: list[Run], pages: dict[tuple[int, int], str]) -> str:
    parts = []
    for n, run in enumerate(runs):
        rows = []
        for i, r in sorted(enumerate(run.results), key=lambda x: (x[1].task_id, x[1].rollout)):
            rows.append([(r.task_id, "", pages.get((n, i))), (f"{r.family}/{r.category}", ""), (str(r.rollout), "num"),
                         (_outcome(r), ""), (_answer(r.answer)[:200], ""), (_answer(r.expected)[:200], ""),
                         (r.stop_reason, ""), (str(r.turns), "num")])
        parts.append(f"<h3>{html.escape(run.label)}</h3>" + _html_table(
            ["task", "category", "rollout", "outcome", "answer", "expected", "stop reason", "turns"], rows))
    return "<h2>Episodes</h2>" + "".join(parts)


def make_report(
    run_dirs: list[Path], out_dir: Path, prices: list[str] | None = None, title: str = "kernelgym report",
    view_url: str | None = None, episodes: bool = False,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Load the runs, compare them and write ``report.png``, ``report.html`` and ``report.json``
    (``view_url``: link the HTML's runs and categories into that running ``kernelgym view``;
    ``episodes``: also an HTML transcript of every episode in ``episodes/``, listed in report.html)."""
    if not run_dirs:
        raise ReportError("give at least one run folder")
    parsed = [parse_price(p) for p in prices or []]
    runs = [load_run(Path(d)) for d in run_dirs]
    data = compare(runs, parsed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    try:
        paths["png"] = write_png(data, out_dir / "report.png")
    except ImportError:  # matplotlib comes with the llm extra; the tables do not need it
        data["notes"] = ["no plot: matplotlib is not installed (pip install 'kernelgym[llm]')"]
    extra = ""
    if episodes:
        pages = write_episode_pages(runs, out_dir)
        paths["episodes"] = out_dir / "episodes"
        extra = _episode_tables(runs, pages)
    paths["html"] = write_html(data, out_dir / "report.html", paths.get("png"), title, view_url, extra)
    paths["json"] = out_dir / "report.json"
    paths["json"].write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data, paths
