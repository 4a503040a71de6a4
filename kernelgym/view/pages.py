"""The viewer's HTML pages, rendered on the server with every piece of run content escaped.

Pages: the runs (manifest facts, pass rate with a Wilson 95 % interval, errors, tokens, time), the
episodes table (a shell; ``static/view.js`` pages it through the JSON API), one episode (the
notebook as a transcript), and the comparisons (per category across runs, one task across runs and
rollouts). Plots are inline SVG drawn here: no script, no network.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kernelgym.episode import EpisodeResult, is_error
from kernelgym.view.index import Index, RunIndex, short, wilson
from kernelgym.notebook.html import h, pre, transcript

COLORS = ("#3b6ea8", "#e0a030", "#4a9a5b", "#b5534a", "#7a5aa6", "#3a9aa5", "#a07a3a", "#666666")


def page(title: str, body: str, *, script: bool = False, active: str = "") -> str:
    nav = "".join(f'<a href="{href}"{" class=active" if active == key else ""}>{name}</a>'
                  for key, href, name in (("runs", "/", "Runs"), ("episodes", "/episodes", "Episodes"),
                                          ("compare", "/compare", "Compare")))
    js = '<script src="/static/view.js" defer></script>' if script else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{h(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/view.css">{js}</head>'
            f'<body><header><span class="brand">kernelgym view</span><nav>{nav}</nav></header>'
            f"<main>{body}</main></body></html>\n")


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def rate_cell(passed: int, n: int) -> str:
    lo, hi = wilson(passed, n)
    return (f'<span class="rate">{pct(passed / n if n else 0)}</span> <span class="ci" title="Wilson 95 % interval">'
            f"[{100 * lo:.1f}, {100 * hi:.1f}]</span> <span class=\"n\">{passed}/{n}</span>")


def tokens(n: int | float | None) -> str:
    return "-" if n is None else f"{int(n):,}"


def seconds(s: float) -> str:
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def episodes_link(run: int | None = None, **filters: str) -> str:
    params = {k: v for k, v in ({"runs": "" if run is None else str(run)} | filters).items() if v}
    return "/episodes" + ("?" + urlencode(params) if params else "")


# ---------------------------------------------------------------- runs


def runs_page(index: Index) -> str:
    rows = []
    for run in index.runs:
        s, f = run.stats(), run.facts()
        data = ", ".join(x for x in (f["suite"], f["split"] and f"split {f['split']}", f["dataset"] and f"data set {f['dataset']}") if x)
        prints = "; ".join(f"{k}: {str(v)[:19]}" for k, v in (f["datasets"] or {}).items())
        options = json.dumps(f["options"], sort_keys=True, default=str)
        limits = ", ".join(f"{k} {v}" for k, v in (f["limits"] or {}).items())
        per = f" ({tokens(s['total_tokens'] / s['episodes'])} per episode)" if s["total_tokens"] is not None and s["episodes"] else ""
        errors = (f'<a class="bad" href="{h(episodes_link(run.number, outcome="error"))}">{s["errors"]}</a>'
                  if s["errors"] else "0")
        warn = f'<div class="bad">{s["bad_lines"]} unreadable line(s) in results.jsonl</div>' if s["bad_lines"] else ""
        no_manifest = "" if f["manifest"] else '<div class="note">no run.json (a run from before manifests): facts from summary.json</div>'
        rows.append(
            f'<tr data-run="{run.number}"><td class="label"><a href="{h(episodes_link(run.number))}">{h(run.label)}</a>'
            f'<div class="path">{h(run.path)}</div>{warn}{no_manifest}</td>'
            f'<td><div>agent <b>{h(f["agent"])}</b></div><div>model <b>{h(f["model"] or "-")}</b></div>'
            f'<div class="opts" title="options">{h(options)}</div></td>'
            f'<td>{h(data or "-")}<div class="path">{h(prints)}</div><div class="path">{h(limits)}</div></td>'
            f'<td class="num">{s["episodes"]:,}<div class="path">{s["tasks"]:,} tasks</div></td>'
            f'<td class="num pass">{rate_cell(s["passed"], s["episodes"])}</td>'
            f'<td class="num reward">{_reward_cell(s)}</td>'
            f'<td class="num">{errors}</td>'
            f'<td class="num">{tokens(s["total_tokens"])}<div class="path">{h(per)}</div></td>'
            f'<td class="num">{seconds(s["episode_time_s"])}<div class="path">mean turns {s["mean_turns"]:.2f}</div></td>'
            f'<td>{h(f["created_at"] or s["first_start"] or "-")}<div class="path">kernelgym {h(f["kernelgym_version"] or "?")}</div></td>'
            f'<td><a href="{h(episodes_link(run.number, outcome="failed"))}">failed</a> · '
            f'<a href="{h(episodes_link(run.number))}">all</a></td></tr>'
        )
    head = "".join(f"<th>{c}</th>" for c in ("run", "agent", "data set", "episodes", "pass rate [95 % CI]",
                                              "reward · pass@k", "errors", "tokens", "episode time", "started", "episodes"))
    body = (f"<h1>Runs</h1><table id=\"runs\" class=\"grid\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            '<p class="note">Pass rate: passed / episodes (the final verdict, after any retries), with its Wilson score '
            "95 % interval. Reward: the mean of the episodes' rewards (the score weighted by the run's reward rule for "
            "wrong submissions before a pass). pass@k (runs with several rollouts per task): the unbiased estimator "
            "1 - C(n-c, k)/C(n, k) averaged over tasks; best@k: the expected best reward of k rollouts; consistency: "
            "the share of a task's rollouts that agree with its majority outcome. Errors: episodes ended "
            "by the agent's code or by kernelgym (not the model's failures). Episode time: the sum of the episodes' "
            "durations.</p>")
    if len(index.runs) > 1:
        body += f'<p><a href="/compare">Compare these {len(index.runs)} runs per category and per task</a></p>'
    return page("kernelgym view: runs", body, active="runs")


def _reward_cell(s: dict[str, Any]) -> str:
    """Mean reward, passes after retries, and pass@k / best@k / consistency when tasks had several rollouts."""
    parts = [f'<span class="rate">{s["mean_reward"]:.3f}</span>']
    if s.get("retried"):
        parts.append(f'<div class="path">{s["episodes"] and s["first_attempt_passed"]:,} passed at the first '
                     f'submission; {s["retried"]:,} episode(s) submitted more than once</div>')
    ro = s.get("rollouts") or {}
    if ro:
        ks = ro["k"]
        line = " · ".join(f"pass@{k} {pct(v['pass_at_k'])}" for k, v in ks.items())
        last = ks.get(str(ro["rollouts"])) or {}
        parts.append(f'<div class="passk">{h(line)}</div><div class="path">best@{ro["rollouts"]} '
                     f'{last.get("best_at_k", 0):.3f} · pass^{ro["rollouts"]} {pct(last.get("pass_hat_k", 0))} · '
                     f'consistency {pct(ro["consistency"])} ({ro["all_passed"]} always, {ro["all_failed"]} never, '
                     f'{ro["mixed"]} mixed)</div>')
    return "".join(parts)


# ---------------------------------------------------------------- episodes


def _options(values: list[str], chosen: str, empty: str) -> str:
    opts = [f'<option value="">{h(empty)}</option>']
    opts += [f'<option value="{h(v)}"{" selected" if v == chosen else ""}>{h(v)}</option>' for v in values]
    return "".join(opts)


def episodes_page(index: Index, args: dict[str, str]) -> str:
    """The table's shell: filters filled in on the server, rows fetched by view.js from /api/episodes."""
    facets = index.facets([])
    run_opts = [f'<option value="">all {len(index.runs)} runs</option>'] if len(index.runs) > 1 else []
    run_opts += [f'<option value="{r.number}"{" selected" if args.get("runs") == str(r.number) else ""}>'
                 f"{h(r.label)}</option>" for r in index.runs]
    cols = [("run", "run"), ("task_id", "task"), ("family", "family"), ("category", "category"), ("rollout", "rollout"),
            ("passed", "passed"), ("score", "score"), ("stop_reason", "stop reason"), ("turns", "turns"),
            ("attempts", "attempts"), ("reward", "reward"),
            ("duration_s", "duration"), ("tokens", "tokens"), ("", "answer")]
    head = "".join(f'<th data-sort="{k}" tabindex="0">{t}</th>' if k else f"<th>{t}</th>" for k, t in cols)
    body = f"""<h1>Episodes</h1>
<form id="filters" autocomplete="off" onsubmit="return false">
<label>run <select name="runs">{''.join(run_opts)}</select></label>
<label>family <select name="family">{_options(facets["families"], args.get("family", ""), "any")}</select></label>
<label>category <select name="category">{_options(facets["categories"], args.get("category", ""), "any")}</select></label>
<label>outcome <select name="outcome">{_options(facets["outcomes"], args.get("outcome", ""), "any")}</select></label>
<label>stop reason <select name="stop">{_options(facets["stop_reasons"], args.get("stop", ""), "any")}</select></label>
<label>search <input type="search" name="q" value="{h(args.get("q", ""))}" placeholder="prompt, answer, task id"></label>
<input type="hidden" name="task" value="{h(args.get("task", ""))}">
<label>per page <select name="per_page">{''.join(f'<option{" selected" if str(n) == args.get("per_page", "50") else ""}>{n}</option>' for n in (25, 50, 100, 200))}</select></label>
</form>
<div id="status" class="note">loading…</div>
<table id="episodes" class="grid episodes"><thead><tr>{head}</tr></thead><tbody></tbody></table>
<div class="pager"><button data-page="first">« first</button><button data-page="prev">‹ previous</button>
<span id="pageinfo"></span><button data-page="next">next ›</button><button data-page="last">last »</button></div>"""
    return page("kernelgym view: episodes", body, script=True, active="episodes")


# ---------------------------------------------------------------- one episode


def outcome_of(r: EpisodeResult) -> str:
    return "passed" if r.passed else ("error" if is_error(r.stop_reason) else "failed")


def verdict(run: RunIndex, r: EpisodeResult) -> str:
    outcome = outcome_of(r)
    lines = [
        f'<div class="verdict {outcome}"><div class="badge {outcome}">{outcome.upper()}</div>',
        '<table class="kv">',
        f'<tr><th>submitted</th><td><code class="answer">{h(short(r.answer, 5000) or "(no answer)")}</code></td></tr>',
        f'<tr><th>expected</th><td><code class="expected">{h(short(r.expected, 5000))}</code></td></tr>',
        f"<tr><th>grader said</th><td>{h(r.explanation or '-')}</td></tr>",
        f"<tr><th>score</th><td>{r.score:g}</td></tr>",
        f"<tr><th>reward</th><td>{r.reward:g}"
        + (f" (rule {h(r.reward_rule)})" if r.reward_rule else " (recorded before attempts were counted: the score)")
        + "</td></tr>",
        f"<tr><th>attempts</th><td>{r.attempts}"
        + (": " + ", ".join(f"turn {s.turn} <code>{h(short(s.answer, 200))}</code> "
                            f"{'passed' if s.passed else 'failed' if s.passed is False else 'not graded'}"
                            for s in r.submissions) if r.submissions else "")
        + "</td></tr>",
        f"<tr><th>stop reason</th><td>{h(r.stop_reason)}</td></tr>",
        f"<tr><th>turns</th><td>{r.turns}</td></tr>",
        f"<tr><th>duration</th><td>{r.duration_s:.2f} s</td></tr>",
        f"<tr><th>tokens</th><td>{h(json.dumps(r.usage, default=str)) if r.usage else '-'}</td></tr>",
        f"<tr><th>agent</th><td>{h(r.agent)}{' · ' + h(r.model) if r.model else ''}</td></tr>",
        f"<tr><th>started</th><td>{h(r.started_at)}</td></tr>",
        "</table>",
    ]
    if r.error:
        lines.append(f'<div class="bad">error: {h(r.error)}</div>')
    if r.traceback:
        lines.append(f"<details><summary>traceback</summary>{pre(r.traceback, 'out error')}</details>")
    lines.append("</div>")
    return "".join(lines)


@dataclass
class Nav:
    """Where an episode sits in the table it was opened from: previous and next episode, position."""

    prev: str | None
    next: str | None
    pos: int
    total: int
    back: str


def nav_bar(nav: Nav | None) -> str:
    if nav is None:
        return ""
    prev = f'<a id="prev" href="{h(nav.prev)}">‹ previous</a>' if nav.prev else '<span class="off">‹ previous</span>'
    nxt = f'<a id="next" href="{h(nav.next)}">next ›</a>' if nav.next else '<span class="off">next ›</span>'
    where = f"{nav.pos:,} of {nav.total:,} in the table" if nav.pos else "not in the table's filter"
    return f'<div class="nav">{prev} <span class="where">{where}</span> {nxt} · <a href="{h(nav.back)}">back to the table</a></div>'


def episode_page(index: Index, run: RunIndex, i: int, nb: dict[str, Any] | None, problem: str | None,
                 lab_url: str | None = None, nav: Nav | None = None) -> str:
    r = run.results[i]
    links = []
    if run.notebook_file(i) is not None:
        links.append(f'<a class="download" href="/run/{run.number}/notebook/{i}" download>download the notebook</a>')
        if lab_url:
            links.append(f'<a class="lab" href="{h(lab_url)}" target="_blank" rel="noopener noreferrer">open in JupyterLab</a>')
    others = sum(len(x.by_task.get(r.task_id, [])) for x in index.runs)
    if others > 1:
        links.append(f'<a href="/compare/task?{urlencode({"id": r.task_id})}">compare this task across runs and rollouts '
                     f"({others} episodes)</a>")
    crumbs = (f'<div class="crumbs"><a href="/">runs</a> › <a href="{h(episodes_link(run.number))}">{h(run.label)}</a> › '
              f"{h(r.task_id)} · rollout {r.rollout}</div>")
    body = crumbs + nav_bar(nav) + f'<h1 class="task-id">{h(r.task_id)}</h1>' + f'<div class="links">{" · ".join(links)}</div>'
    body += verdict(run, r)
    if problem:
        body += f'<div class="bad">notebook not shown: {h(problem)}</div>'
    if nb is not None:
        body += f'<div class="transcript">{transcript(nb)}</div>'
    return page(f"{r.task_id} · {run.label}", body, script=nav is not None)


# ---------------------------------------------------------------- comparisons


def svg_bars(names: list[str], series: list[tuple[str, list[float | None]]], title: str) -> str:
    """Horizontal grouped bars (0-100 %), one group per name, one bar per series."""
    bar, gap, left, width = 9, 8, 230, 360
    group = bar * len(series) + gap
    height = 30 + group * len(names) + 20 * len(series)
    out = [f'<svg class="plot" role="img" aria-label="{h(title)}" width="{left + width + 60}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" class="t">{h(title)}</text>']
    for x in (0, 25, 50, 75, 100):
        gx = left + width * x / 100
        out.append(f'<line x1="{gx}" y1="22" x2="{gx}" y2="{22 + group * len(names)}" class="grid"/>'
                   f'<text x="{gx}" y="{34 + group * len(names)}" class="ax">{x}</text>')
    for gi, name in enumerate(names):
        y0 = 24 + gi * group
        out.append(f'<text x="{left - 6}" y="{y0 + bar * len(series) / 2 + 4}" class="lab">{h(name[-36:])}</text>')
        for si, (_, values) in enumerate(series):
            v = values[gi]
            if v is None:
                continue
            out.append(f'<rect x="{left}" y="{y0 + si * bar}" width="{width * v / 100:.1f}" height="{bar - 1}" '
                       f'fill="{COLORS[si % len(COLORS)]}"><title>{h(name)}: {v:.1f} %</title></rect>')
    ly = 44 + group * len(names)
    for si, (label, _) in enumerate(series):
        out.append(f'<rect x="{left}" y="{ly + si * 18 - 9}" width="10" height="10" fill="{COLORS[si % len(COLORS)]}"/>'
                   f'<text x="{left + 16}" y="{ly + si * 18}" class="leg">{h(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def svg_hist(series: list[tuple[str, list[float]]], title: str, bins: int = 20) -> str:
    """Overlaid step histograms of ``series`` (shares of each run's episodes per bin)."""
    values = [v for _, vs in series for v in vs]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    step = (hi - lo) / bins or 1.0
    w, ht, left = 420, 140, 40
    out = [f'<svg class="plot" role="img" aria-label="{h(title)}" width="{w + left + 20}" height="{ht + 60 + 18 * len(series)}" '
           f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" class="t">{h(title)}</text>']
    shares = []
    for _, vs in series:
        counts = Counter(min(bins - 1, int((v - lo) / step)) for v in vs)
        shares.append([counts.get(b, 0) / max(1, len(vs)) for b in range(bins)])
    top = max(max(s) for s in shares) or 1.0
    for si, s in enumerate(shares):
        pts = []
        for b, share in enumerate(s):
            y = 20 + ht - ht * share / top
            pts += [f"{left + w * b / bins:.1f},{y:.1f}", f"{left + w * (b + 1) / bins:.1f},{y:.1f}"]
        out.append(f'<polyline fill="none" stroke="{COLORS[si % len(COLORS)]}" stroke-width="2" points="{" ".join(pts)}"/>')
    out.append(f'<line x1="{left}" y1="{20 + ht}" x2="{left + w}" y2="{20 + ht}" class="grid"/>'
               f'<text x="{left}" y="{34 + ht}" class="ax">{lo:g}</text><text x="{left + w}" y="{34 + ht}" class="ax">{hi:g}</text>')
    for si, (label, vs) in enumerate(series):
        y = 52 + ht + si * 18
        out.append(f'<rect x="{left}" y="{y - 9}" width="10" height="10" fill="{COLORS[si % len(COLORS)]}"/>'
                   f'<text x="{left + 16}" y="{y}" class="leg">{h(label)} ({len(vs):,} episodes)</text>')
    out.append("</svg>")
    return "".join(out)


def compare_page(index: Index, chosen: list[int]) -> str:
    runs = index.chosen(chosen)
    cats = index.categories(chosen)
    head = "<th>category</th>" + "".join(f'<th>{h(r.label)}</th>' for r in runs) + ("<th>spread</th>" if len(runs) > 1 else "")
    rows = []
    for cat, per in cats.items():
        rates = {n: c["pass_rate"] for n, c in per.items()}
        differs = len(runs) > 1 and len(per) > 1 and max(rates.values()) != min(rates.values())
        cells = []
        for run in runs:
            c = per.get(run.number)
            if c is None:
                cells.append('<td class="num missing">-</td>')
                continue
            cls = "num"
            if differs and rates[run.number] == max(rates.values()):
                cls += " best"
            elif differs and rates[run.number] == min(rates.values()):
                cls += " worst"
            link = episodes_link(run.number, category=cat)
            cells.append(f'<td class="{cls}"><a href="{h(link)}">{rate_cell(c["passed"], c["episodes"])}</a></td>')
        spread = f"{100 * (max(rates.values()) - min(rates.values())):.0f} pts" if differs else ""
        tail = f'<td class="num">{spread}</td>' if len(runs) > 1 else ""
        rows.append(f'<tr class="{"differs" if differs else "same"}"><td>{h(cat)}</td>{"".join(cells)}{tail}</tr>')
    all_cells = "".join(f'<td class="num"><b>{rate_cell(r.stats()["passed"], len(r.rows))}</b></td>' for r in runs)
    rows.append(f'<tr class="total"><td><b>all</b></td>{all_cells}{"<td></td>" if len(runs) > 1 else ""}</tr>')
    picks = "".join(f'<label><input type="checkbox" name="run" value="{r.number}"'
                    f'{" checked" if not chosen or r.number in chosen else ""}> {h(r.label)}</label>' for r in index.runs)
    body = (f'<h1>Compare runs</h1><form id="pick" method="get" action="/compare">{picks} <button>compare</button></form>'
            "<h2>Pass rate by category</h2>"
            '<p class="note">Rows where the runs differ are marked; the best run of such a row is green, the worst red. '
            "In brackets: the Wilson 95 % interval.</p>"
            f'<table id="categories" class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    names = list(cats)
    series = [(r.label, [100 * cats[c][r.number]["pass_rate"] if r.number in cats[c] else None for c in names]) for r in runs]
    body += '<h2>Plots</h2><div class="plots">' + svg_bars(names, series, "pass rate by category (%)")
    body += svg_hist([(r.label, [float(x.turns) for x in r.rows]) for r in runs], "turns per episode")
    tok = [(r.label, [float(x.tokens) for x in r.rows if x.tokens is not None]) for r in runs]
    if any(vs for _, vs in tok):
        body += svg_hist([t for t in tok if t[1]], "tokens per episode")
    body += "</div>"
    ro = index.rollouts(chosen)
    if ro:
        k_max = max(row["rollouts"] for per in ro.values() for row in per.values())
        th = "<th>category</th>" + "".join(f"<th>{h(r.label)}</th>" for r in runs)
        trs = []
        for cat, per in ro.items():
            tds = []
            for r in runs:
                row = per.get(r.number)
                at = ((row or {}).get("k") or {}).get(str(k_max)) if row else None
                tds.append('<td class="missing">-</td>' if not row else
                           f'<td class="num">pass@{row["rollouts"]} '
                           f'{pct(row["k"][str(row["rollouts"])]["pass_at_k"])} · pass@1 {pct(row["k"]["1"]["pass_at_k"])}'
                           f'<div class="path">best@{row["rollouts"]} {row["k"][str(row["rollouts"])]["best_at_k"]:.3f} · '
                           f'consistency {pct(row["consistency"])}{"" if at else " (fewer rollouts)"}</div></td>')
            trs.append(f"<tr><td>{h(cat)}</td>{''.join(tds)}</tr>")
        body += (f"<h2>Rollouts: pass@k, best@k, consistency by category</h2>"
                 '<p class="note">pass@k: the unbiased estimator 1 - C(n-c, k)/C(n, k) (Chen et al. 2021) averaged '
                 "over the category's tasks; best@k: the expected best reward of k rollouts; consistency: the share "
                 "of a task's rollouts that agree with its majority outcome.</p>"
                 f'<table id="rollouts" class="grid"><thead><tr>{th}</tr></thead><tbody>{"".join(trs)}</tbody></table>')
    found, count = index.disagreements(chosen)
    if len(runs) > 1:
        body += f"<h2>Tasks the runs disagree on ({count:,})</h2>"
        if found:
            th = "<th>task</th>" + "".join(f"<th>{h(r.label)}</th>" for r in runs)
            trs = []
            for task, counts in found:
                tds = []
                for r in runs:
                    if r.number not in counts:
                        tds.append('<td class="missing">-</td>')
                        continue
                    ok, eps = counts[r.number]
                    tds.append(f'<td class="num {"best" if ok == eps else "worst" if ok == 0 else ""}">{ok}/{eps} passed</td>')
                trs.append(f'<tr><td><a href="/compare/task?{h(urlencode({"id": task}))}">{h(task)}</a></td>{"".join(tds)}</tr>')
            more = f'<p class="note">the first {len(found)} shown</p>' if count > len(found) else ""
            body += f'<table id="disagreements" class="grid"><thead><tr>{th}</tr></thead><tbody>{"".join(trs)}</tbody></table>{more}'
        else:
            body += '<p class="note">none: every task has the same pass rate in every run</p>'
    return page("kernelgym view: compare", body, active="compare")


def task_page(index: Index, task_id: str, notebooks: list[tuple[RunIndex, int, dict[str, Any] | None]]) -> str:
    """One task across runs and rollouts: a summary table (answers that differ from the most common one
    marked), then the transcripts side by side."""
    answers = Counter(short(run.results[i].answer, 5000) for run, i, _ in notebooks)
    common = answers.most_common(1)[0][0] if answers else ""
    trs, cols = [], []
    for run, i, nb in notebooks:
        r = run.results[i]
        outcome = outcome_of(r)
        ans = short(r.answer, 5000)
        differs = len(answers) > 1 and ans != common
        link = f"/run/{run.number}/episode/{i}"
        trs.append(f'<tr class="{outcome}"><td>{h(run.label)}</td><td class="num">{r.rollout}</td>'
                   f'<td class="{outcome}">{outcome}</td><td class="{"differs" if differs else ""}"><code>{h(ans or "(none)")}</code></td>'
                   f'<td><code>{h(short(r.expected, 5000))}</code></td><td>{h(r.stop_reason)}</td><td class="num">{r.turns}</td>'
                   f'<td><a href="{link}">open</a></td></tr>')
        cols.append(f'<div class="column"><div class="colhead {outcome}"><b>{h(run.label)}</b> · rollout {r.rollout} · '
                    f'{outcome} · answer <code>{h(ans or "(none)")}</code></div>'
                    f'{transcript(nb) if nb is not None else "<p class=note>no notebook</p>"}</div>')
    head = "".join(f"<th>{c}</th>" for c in ("run", "rollout", "outcome", "answer", "expected", "stop reason", "turns", ""))
    body = (f'<div class="crumbs"><a href="/compare">compare</a> › {h(task_id)}</div><h1 class="task-id">{h(task_id)}</h1>'
            f'<table id="task-episodes" class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(trs)}</tbody></table>'
            '<p class="note">An answer that differs from the most common one is marked.</p>'
            f'<div class="side-by-side">{"".join(cols)}</div>')
    return page(f"{task_id} across runs", body, active="compare")
