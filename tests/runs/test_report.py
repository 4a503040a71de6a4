"""``kernelgym report``: comparison numbers, labels, prices and errors, on run folders written
record by record (the end-to-end report of two real LLM runs is in test_llm_agent.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from urllib.parse import urlparse
from urllib.request import url2pathname

from helpers import browsers
import pytest
from typer.testing import CliRunner

from kernelgym.cli import app
from kernelgym.episode import EpisodeResult
from kernelgym.runs.report import ReportError, compare, figure, load_run, make_report, parse_price
from kernelgym.runs.runner import RESULTS, SUMMARY


def write_run(path: Path, agent: str, model: str | None, outcomes: dict[str, list[bool]], usage: bool = True,
              notebooks: bool = False) -> Path:
    path.mkdir(parents=True)
    lines = []
    for cat, passes in outcomes.items():
        for i, ok in enumerate(passes):
            notebook = None
            if notebooks:
                notebook = f"episodes/ehr/{cat}/{i:05d}-r0.ipynb"
                (path / notebook).parent.mkdir(parents=True, exist_ok=True)
                (path / notebook).write_text("{}")
            lines.append(EpisodeResult(notebook=notebook,
                task_id=f"ehr/{cat}/{i:05d}", family="ehr", category=cat, split="test", agent=agent, model=model,
                passed=ok, score=float(ok), turns=2 + i, stop_reason="answered", duration_s=1.5,
                started_at="2026-01-01T00:00:00+00:00",
                usage={"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
                       "model_calls": 2, "model_latency_s": 0.5} if usage else {},
            ).model_dump_json())
    (path / RESULTS).write_text("\n".join(lines) + "\n")
    (path / SUMMARY).write_text(json.dumps({"run": {"agent": agent, "agent_options": {"temperature": 0.0}}}))
    return path


def test_numbers_per_run_family_and_category(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", "llm", "openai:m1", {"age": [True, True], "drug": [True, False]})
    b = write_run(tmp_path / "b", "reference", None, {"age": [True, True], "drug": [True, True]}, usage=False)
    data = compare([load_run(a), load_run(b)], [parse_price("openai:*=2/8")])
    ra, rb = data["runs"]
    assert (ra["label"], rb["label"]) == ("openai:m1", "reference")
    assert ra["pass_rate"] == 0.75 and ra["mean_turns"] == 2.5 and ra["prompt_tokens"] == 4000
    assert ra["mean_latency_s"] == pytest.approx(0.25)
    assert ra["cost_usd"] == pytest.approx((4000 * 2 + 400 * 8) / 1e6)
    assert rb["prompt_tokens"] is None and rb["cost_usd"] is None
    assert data["categories"]["ehr/drug"]["openai:m1"] == {"episodes": 2, "passed": 1, "pass_rate": 0.5}
    assert data["families"]["ehr"]["reference"]["pass_rate"] == 1.0


def test_runs_of_the_same_model_get_distinct_labels(tmp_path: Path) -> None:
    runs = [load_run(write_run(tmp_path / n, "llm", "openai:m", {"age": [True]})) for n in ("t0", "t1")]
    data = compare(runs)
    assert [r["label"] for r in data["runs"]] == ["openai:m (t0)", "openai:m (t1)"]


def test_cli_writes_png_html_and_json(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", "llm", "openai:m1", {"age": [True, False]})
    b = write_run(tmp_path / "b", "llm", "openai:m2", {"age": [True, True]})
    res = CliRunner().invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "rep")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "openai:m1" in res.output and "50% (1/2)" in res.output and "100% (2/2)" in res.output
    assert (tmp_path / "rep" / "report.png").read_bytes().startswith(b"\x89PNG")
    assert "<table>" in (tmp_path / "rep" / "report.html").read_text()


def test_a_folder_without_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no results.jsonl"):
        make_report([tmp_path], tmp_path / "rep")
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2


def test_bad_price_is_a_clear_error() -> None:
    with pytest.raises(ReportError, match="PROMPT/COMPLETION"):
        parse_price("gpt=cheap")
    assert parse_price("3/15") == ("*", parse_price("x=3/15")[1])


@pytest.mark.browser
@pytest.mark.skipif(not browsers.CHROMIUM, reason=browsers.SKIP_REASON)
def test_the_html_report_renders_in_a_browser(tmp_path: Path) -> None:
    """report.html opened from disk in headless Chromium: self-contained (the plot is embedded and
    decodes), the runs table and the per-category table show the numbers the runs hold."""
    pytest.importorskip("playwright")
    a = write_run(tmp_path / "a", "llm", "openai:m1", {"age": [True, False], "drug": [True]}, notebooks=True)
    b = write_run(tmp_path / "b", "llm", "openai:m2", {"age": [True, True], "drug": [True]}, notebooks=True)
    _, paths = make_report([a, b], tmp_path / "rep", title="two models")
    with browsers.chromium() as browser:
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(paths["html"].as_uri())
        assert page.title() == "two models"
        assert page.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
        runs = page.locator("table").first
        assert runs.locator("tbody tr").count() == 2
        rows = [r.split("\t") for r in runs.locator("tbody tr").all_inner_texts()]
        assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("openai:m1", "3", "2", "66.7%"), ("openai:m2", "3", "3", "100.0%")]
        assert runs.locator("td.best").all_inner_texts() == ["100.0%"]
        age = page.locator("tr", has=page.locator("td", has_text=re.compile("^ehr/age$")))
        assert age.locator("td").all_inner_texts()[1:] == ["50% (1/2)", "100% (2/2)"]
        assert age.locator("td.best").all_inner_texts() == ["100% (2/2)"]
        # issue 16 (8): every episode row links to its notebook, relative to the page
        links = page.locator("table.episodes a")
        assert links.count() == 6 and all(h and not h.startswith(("/", "file:")) for h in
                                          links.evaluate_all("as => as.map(a => a.getAttribute('href'))"))
        targets = [Path(url2pathname(urlparse(u).path)) for u in links.evaluate_all("as => as.map(a => a.href)")]
        assert sorted(targets) == sorted([*(a / "episodes/ehr").glob("*/*.ipynb"), *(b / "episodes/ehr").glob("*/*.ipynb")])
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # nothing fetched from a network


def test_names_that_look_like_markup_or_math_are_shown_as_written(tmp_path: Path) -> None:
    """Issue 15 (10): rich markup in text that is not ours was interpreted (`[/]` in an agent name, a
    task id or an error crashed `report` and `grade`), and a `$...$` model name crashed the plot."""
    from helpers.cli import kernelgym
    from kernelgym.episode import EpisodeResult

    run = tmp_path / "run"
    run.mkdir()
    lines = [EpisodeResult(task_id=f"ehr/patient_age/0000{i}", family="ehr", category="[/]bad", split="test",
                           agent="[/]agent[bold]", model="$m_1$ [red]x", passed=i == 0, score=float(i == 0),
                           turns=1, stop_reason="answered", duration_s=0.1, started_at="2026-01-01T00:00:00+00:00",
                           ).model_dump_json() for i in range(2)]
    (run / "results.jsonl").write_text("\n".join(lines) + "\n")
    proc = kernelgym("report", str(run), "--out", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[/]bad" in proc.stdout and (tmp_path / "rep" / "report.png").stat().st_size > 0
    shown = kernelgym("tasks", "show", "ehr/[/]x[bold]/00000")
    assert shown.returncode == 2 and "[/]x[bold]" in shown.stderr, shown.stderr[-2000:]


def test_the_plot_prints_every_value_shows_0_and_has_no_empty_token_panel(tmp_path: Path) -> None:
    """Issue 16 (8): a run without token counts drew an empty token panel with a meaningless axis; a
    0 % bar was invisible and no bar said its value. Now: no token panel when no run has token counts
    ("no token counts" beside a run without them otherwise), a value on every bar, a tick at 0, and a
    category a run did not run says "not run"."""
    import matplotlib.pyplot as plt

    a = write_run(tmp_path / "a", "reference", None, {"age": [True, True], "drug": [False, False]}, usage=False)
    b = write_run(tmp_path / "b", "llm", "openai:m", {"age": [True, False]})
    fig = figure(compare([load_run(a)]))
    try:
        [ax] = fig.axes
        texts = [t.get_text() for t in ax.texts]
        assert texts == ["100% (2/2)", "0% (0/2)", "50% (2/4)"]
        [ticks] = ax.collections  # the 0 % tick
        assert [tuple(x) for x in ticks.get_offsets()] == [(0.0, 1.0)]
    finally:
        plt.close(fig)
    fig = figure(compare([load_run(a), load_run(b)]))
    try:
        ax, tokens = fig.axes
        assert "not run" in [t.get_text() for t in ax.texts]
        assert [t.get_text() for t in tokens.texts] == ["no token\ncounts", "1,100"]
    finally:
        plt.close(fig)


def test_runs_over_different_tasks_are_compared_with_a_warning(tmp_path: Path) -> None:
    """Issue 16 (8): runs over different task sets were compared without a word. The report warns on
    stderr and on the page, with the pass rates over the shared tasks; the same tasks: no warning."""
    a = write_run(tmp_path / "a", "llm", "openai:m1", {"age": [True, False], "drug": [True]})
    b = write_run(tmp_path / "b", "llm", "openai:m2", {"age": [True, True]})
    c = write_run(tmp_path / "c", "llm", "openai:m3", {"age": [False, False], "drug": [True]})
    res = CliRunner().invoke(app, ["report", str(a), str(b), "-o", str(tmp_path / "rep")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    [warning] = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert "different task sets (openai:m1: 3 tasks, openai:m2: 2 tasks; 2 in all of them)" in warning
    assert "on the 2 shared tasks: openai:m1: 50.0%, openai:m2: 100.0%" in warning
    assert '<p class="warning">warning: the runs cover different task sets' in (tmp_path / "rep" / "report.html").read_text()
    same = CliRunner().invoke(app, ["report", str(a), str(c), "--output", str(tmp_path / "rep2")])
    assert same.exit_code == 0 and "warning" not in same.stderr and compare([load_run(a), load_run(c)])["warnings"] == []


def test_wide_tables_are_printed_whole(tmp_path: Path) -> None:
    """Issue 16 (8): tables were cut at 80 columns (a pipe's width): names ended in an ellipsis."""
    name = "openai:a-model-name-long-enough-to-need-more-than-eighty-columns-in-a-table"
    a = write_run(tmp_path / "a", "llm", name, {"a_category_with_a_rather_long_name": [True, False]})
    res = CliRunner().invoke(app, ["report", str(a), "-o", str(tmp_path / "rep")], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert "\u2026" not in res.stdout and name in res.stdout and "ehr/a_category_with_a_rather_long_name" in res.stdout
    assert max(len(line) for line in res.stdout.splitlines()) > 80


def test_the_html_escapes_what_runs_recorded_and_links_stay_in_the_run(tmp_path: Path) -> None:
    """Issue 16 (8): task ids, names and answers are text from outside: escaped on the page; a notebook
    link is relative, URL-quoted, and only to a file inside the run folder."""
    run = tmp_path / "run"
    run.mkdir()
    bad = [("ehr/<script>alert(1)</script>/00000", "episodes/a b#c?.ipynb"), ("ehr/x/00001", "../../etc/passwd"),
           ("ehr/x/00002", "javascript:alert(1)")]
    (run / "results.jsonl").write_text("".join(EpisodeResult(
        task_id=task, family="ehr", category="<i>cat</i>", split="test", agent="<b>agent</b>", model=None,
        passed=False, score=0.0, answer="<img src=x onerror=alert(1)>", turns=1, stop_reason="answered",
        duration_s=0.1, started_at="", notebook=notebook).model_dump_json() + "\n" for task, notebook in bad))
    _, paths = make_report([run], tmp_path / "rep")
    page = paths["html"].read_text()
    for raw in ("<script>alert", "<img src=x", "<b>agent", "<i>cat"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<a href="../run/episodes/a%20b%23c%3F.ipynb">' in page
    assert page.count("<a href=") == 2 and '<a href="../run/javascript%3Aalert%281%29">' in page


@pytest.mark.slow  # over 2.5 s on a quiet 2-core machine: not in the quick tier
@pytest.mark.browser
@pytest.mark.skipif(not browsers.CHROMIUM, reason=browsers.SKIP_REASON)
def test_episodes_are_listed_and_each_opens_as_a_static_transcript(tmp_path: Path) -> None:
    """``kernelgym report --episodes``: report.html lists every episode, each with a notebook inside its
    run folder linked to its own HTML transcript (the record whose notebook field leaves the folder, and
    the symlink out of it, get no link); in Chromium the hostile episode's markup shows as text, its
    kernel HTML runs no script, and nothing is fetched."""
    from helpers.view_runs import HOSTILE_ANSWER, HOSTILE_ID, golden_runs

    a, b = golden_runs(tmp_path / "runs")
    res = CliRunner().invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "rep"), "--episodes"],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    pages = sorted(p.name for p in (tmp_path / "rep" / "episodes").glob("*.html"))
    assert len(pages) == 5 + 3  # run a: 3 sum rollouts, double, hostile; run b: 2 sum rollouts, double
    with browsers.chromium() as browser:
        page = browser.new_page()
        requests: list[str] = []
        dialogs: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((tmp_path / "rep" / "report.html").as_uri())
        rows = page.locator("h3 + table tbody tr")
        assert rows.count() == 7 + 4
        escape = rows.filter(has=page.locator("td", has_text="golden/escape/00000"))
        assert escape.count() == 1 and escape.locator("a").count() == 0
        hostile = rows.filter(has=page.locator("td", has_text="<b>cat</b>"))
        assert hostile.locator("td").nth(4).inner_text() == HOSTILE_ANSWER
        hostile.locator("a").click()
        page.wait_for_selector(".transcript, .cell.prompt")
        assert page.locator("h1").inner_text() == f"{HOSTILE_ID} · rollout 0"
        assert page.locator("iframe.html-out").get_attribute("sandbox") == ""
        assert page.locator("body > script, body img:not(.out)").count() == 0
        page.wait_for_timeout(300)
        assert page.title().startswith(HOSTILE_ID) and page.locator(".long details").get_attribute("open") is None
    assert dialogs == []
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests


def write_rollouts(path: Path, outcomes: dict[str, list[bool]], rewards: dict[str, list[float]] | None = None) -> Path:
    """A run folder whose tasks have several rollouts (``outcomes[task]``: each rollout's verdict)."""
    path.mkdir(parents=True)
    lines = []
    for task, passes in outcomes.items():
        for k, ok in enumerate(passes):
            reward = (rewards or {}).get(task, [float(p) for p in passes])[k]
            lines.append(EpisodeResult(
                task_id=f"ehr/age/{task}", family="ehr", category="age", split="test", rollout=k, agent="llm",
                model="openai:m", passed=ok, score=float(ok), reward=reward, reward_rule="first",
                attempts=1 + (ok and reward == 0), turns=2, stop_reason="answered", duration_s=1.0,
                started_at="2026-01-01T00:00:00+00:00").model_dump_json())
    (path / RESULTS).write_text("\n".join(lines) + "\n")
    return path


def test_rollouts_show_pass_at_k_best_at_k_and_consistency(tmp_path: Path) -> None:
    """Issue 17, item 5: --rollouts K ran K episodes per task, but neither the run summary nor the
    report gave pass@k (the unbiased estimator), best@k or per-task consistency."""
    from kernelgym.runs.runner import category_table, read_results, summarize

    run = write_rollouts(tmp_path / "r", {"t1": [True, True, True, True], "t2": [False, False, False, False],
                                          "t3": [True, False, False, False]},
                         rewards={"t3": [0.0, 0.0, 0.0, 0.0]})  # t3's pass came after a wrong submission
    summary = summarize(read_results(run)[0])
    ro = summary["total"]["rollouts"]
    assert ro["rollouts"] == 4 and list(ro["k"]) == ["1", "2", "4"]
    assert ro["k"]["1"]["pass_at_k"] == round(1.25 / 3, 4) and ro["k"]["4"]["pass_at_k"] == round(2 / 3, 4)
    assert ro["k"]["4"]["best_at_k"] == round(1 / 3, 4)  # best@k is of the rewards: t3's pass earned 0
    assert ro["consistency"] == round(2.75 / 3, 4) and (ro["all_passed"], ro["all_failed"], ro["mixed"]) == (1, 1, 1)
    assert summary["categories"]["ehr/age"]["rollouts"] == ro
    assert summary["total"]["first_attempt_passed"] == 4 and summary["total"]["mean_reward"] == round(4 / 12, 4)
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(category_table(summary))
    printed = console.export_text()
    assert "pass@4" in printed and "66.7%" in printed and "consistency 91.7%" in printed
    data = compare([load_run(run)])
    stats = data["runs"][0]
    assert stats["pass_at_k"] == round(2 / 3, 4) and stats["k"] == 4 and stats["rollouts"] == ro
    res = CliRunner().invoke(app, ["report", str(run), "-o", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "pass@2" in res.stdout and "pass^4" in res.stdout and "best@4 (reward)" in res.stdout
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "Rollouts: pass@k" in page and "<td class=\"\">pass@4</td><td class=\"num\">66.7%</td>" in page
    one = write_run(tmp_path / "one", "llm", "openai:m", {"age": [True, False]})
    assert summarize(read_results(one)[0])["total"].get("rollouts") is None  # one rollout a task: no pass@k
