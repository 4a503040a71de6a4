"""Issue 15, item 2: whatever a kernel sends, a run records a graded episode with its notebook.

One real run (fork server, warm pool, sandbox) in which each agent of
``tests/helpers/adversarial_agents.py``'s ``HOSTILE_AGENTS`` makes its kernel send messages that made
the host raise: a 100,000-deep JSON array (``RecursionError``), an integer of 5,001 digits
(``ValueError``), lone surrogates (``UnicodeEncodeError`` when the notebook was written), and hostile
forged evidence in the verifier cell. Before the fix each such episode was recorded as
``agent_error`` with no notebook, and ``kernelgym export`` left it out. The rule itself, without
kernels: tests/runtime/test_messages.py; the Gymnasium and TRL environments: tests/training/test_gym.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from helpers import adversarial_agents
from helpers.adversarial_agents import HOSTILE_AGENTS, HOSTILE_CELLS, HOSTILE_MARKERS, HOSTILE_SENT
from helpers.data import ensure_ehr_data

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


@pytest.fixture(scope="module")
def hostile_run(kg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run: an episode per hostile agent, each on its own answerable ehr task."""
    from kernelgym.runs.runner import RESULTS, RunOptions, read_results, run
    from kernelgym.tasks import select

    ensure_ehr_data()
    tasks = [t for t in select("ehr", split="test") if t.ground_truth not in (None, [], "")][: len(HOSTILE_AGENTS)]
    assert len(tasks) == len(HOSTILE_AGENTS)
    adversarial_agents.ByTask.plan = {t.id: name for t, name in zip(tasks, HOSTILE_AGENTS)}
    out = tmp_path_factory.mktemp("hostile") / "run"
    summary = run(tasks, adversarial_agents.ByTask, out, RunOptions(concurrency=2, progress=False))
    results = {adversarial_agents.ByTask.plan[r.task_id]: r for r in read_results(out)[0]}
    lines = [line for line in (out / RESULTS).read_text().splitlines() if line.strip()]
    return {"out": out, "summary": summary, "results": results, "lines": lines}


def _cells(out: Path, notebook: str | None, tag: str) -> list[Any]:
    assert notebook, "no notebook recorded"
    nb = nbformat.read(out / notebook, as_version=4)
    nbformat.validate(nb)
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def _streams(cell: Any, name: str) -> list[str]:
    return [o["text"] for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name]


def test_each_hostile_episode_is_recorded_once_and_graded_with_a_valid_notebook(hostile_run: dict[str, Any]) -> None:
    """Pins the hole: a hostile message raised in the host, so `kernelgym run` recorded the episode as
    agent_error ("episode crashed") with no notebook. Now each is recorded exactly once, graded by its
    verifier (the agents that then solve their task pass), with a notebook valid per nbformat."""
    results = hostile_run["results"]
    assert sorted(results) == sorted(HOSTILE_AGENTS) and len(hostile_run["lines"]) == len(HOSTILE_AGENTS)
    assert "agent_error" not in hostile_run["summary"]["stop_reasons"]
    for name, r in results.items():
        assert r.stop_reason == "answered" and r.error is None, (name, r)
        assert r.passed is (name != "ForgesHostileEvidence"), (name, r.explanation)
        nb = nbformat.read(hostile_run["out"] / r.notebook, as_version=4)  # strict UTF-8: no lone surrogate
        nbformat.validate(nb)
        assert nb.metadata.kernelgym.result.passed is r.passed


@pytest.mark.parametrize("name", list(HOSTILE_CELLS))
def test_each_hostile_message_is_replaced_by_a_marker_and_the_kernel_goes_on(hostile_run: dict[str, Any], name: str) -> None:
    """Pins the holes one by one (SendsDeepJson: RecursionError on a 100,000-deep array, sent with
    display(..., raw=True) and as raw message bytes; SendsHugeInt: ValueError on a 5,001-digit integer,
    through publish_display_data and submit; SendsLoneSurrogate: UnicodeEncodeError on \\ud800 / \\udfff in
    print, display, a raw stream and a traceback): each hostile message stands in the notebook as a
    stderr marker that says what was dropped and why, and the cell's later output is kept."""
    r = hostile_run["results"][name]
    actions = _cells(hostile_run["out"], r.notebook, "kernelgym-action")
    for cell in actions[: len(HOSTILE_CELLS[name])]:
        markers = [t for t in _streams(cell, "stderr") if t.startswith("[kernelgym: ")]
        assert markers and all("message from the kernel was dropped: " in t for t in markers), cell.outputs
        assert any(HOSTILE_MARKERS[name] in t for t in markers), markers
        assert any(HOSTILE_SENT in t for t in _streams(cell, "stdout")), cell.outputs


def test_hostile_messages_never_count_as_answer_or_evidence(hostile_run: dict[str, Any]) -> None:
    """Pins that sanitising creates no way to forge a pass: an answer and a passing "evidence" sent in
    hostile messages (also from a hook inside the verifier cell) are dropped; the verifier's own
    evidence of the wrong answer is graded."""
    r = hostile_run["results"]["ForgesHostileEvidence"]
    assert r.passed is False and r.answer == "wrong as well", r
    verifier = _cells(hostile_run["out"], r.notebook, "kernelgym-verifier")[0]
    evidence = [o for o in verifier.outputs if "application/vnd.kernelgym.evidence+json" in o.get("data", {})]
    assert [o["data"]["application/vnd.kernelgym.evidence+json"]["answer"] for o in evidence] == ["wrong as well"]
    markers = _streams(verifier, "stderr")
    assert any("lone surrogate" in t for t in markers) and any("5,001 digits" in t for t in markers)


def test_export_keeps_every_hostile_episode(hostile_run: dict[str, Any], tmp_path: Path) -> None:
    """Pins the hole: `kernelgym export` silently dropped the crashed episodes (no notebook). Now every
    one is exported, and the model's view of a hostile cell is the marker."""
    import json

    from typer.testing import CliRunner

    from kernelgym.cli import app

    out = tmp_path / "sft.jsonl"
    res = CliRunner().invoke(app, ["export", "sft", str(hostile_run["out"]), "-o", str(out), "--include-failed"])
    assert res.exit_code == 0, res.output
    assert f"{len(HOSTILE_AGENTS)} sft row(s) from {len(HOSTILE_AGENTS)} episode(s)" in res.output, res.output
    assert "skipped" not in res.output, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    seen = "\n".join(str(m.get("content")) for row in rows for m in row["messages"] if m["role"] == "tool")
    for why in HOSTILE_MARKERS.values():
        assert why in seen
