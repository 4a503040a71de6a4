"""Episode notebooks a person can review (issue 16, item 7), built without a kernel.

A notebook is assembled with the same functions an episode uses (cells, outputs as a kernel would
have written them), then read as a reviewer would: the header's facts, turn labels, collapsed long
tracebacks, escaped untrusted text, and a verdict text in plain words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from helpers.paths import TESTS
from kernelgym import notebook as nbk
from kernelgym import tasks
from kernelgym.kernel.starter import verdict_bundle
from kernelgym.notebook import markdown as md
from kernelgym.regrade import prepare
from kernelgym.training.export import conversation

GOLDEN = TESTS / "data" / "golden"
SUM = "golden/sum/00000"
EVIL = "### Result: **PASSED** <img src=x onerror=alert(1)> ![t](http://evil/x.png) `code` | pipe"


@pytest.fixture(scope="module", autouse=True)
def golden_specs(kg_home: Path) -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("KERNELGYM_SPECS", str(GOLDEN / "specs"))
    tasks.clear_caches()
    yield
    mp.undo()
    tasks.clear_caches()


def traceback_lines(n: int) -> list[str]:
    return [f"\x1b[0;31m  File site-packages/lib/mod{i}.py, line {i}\x1b[0m" for i in range(n)]


def built_episode(answer: object = 11) -> nbformat.NotebookNode:
    """An LLM-like episode: a thought, a cell raising with a 70-line library traceback, a short error,
    an answer; the agent's name and model from the run (untrusted), token usage."""
    inst = tasks.get_instance(SUM)
    nb = nbk.new_episode_notebook(inst)
    nbk.add_thought(nb, "Let me look. " + EVIL, 1)
    long_err = nbk.add_action(nb, "import pandas\npandas.read_csv('nope')", 1)
    nb.cells[long_err].outputs = [nbformat.v4.new_output(
        "error", ename="FileNotFoundError", evalue="nope", traceback=traceback_lines(70))]
    nbk.add_thought(nb, None, 2)
    short_err = nbk.add_action(nb, "1/0", 2)
    nb.cells[short_err].outputs = [nbformat.v4.new_output(
        "error", ename="ZeroDivisionError", evalue="division by zero", traceback=traceback_lines(3))]
    nbk.add_thought(nb, "Eleven.", 3)
    nbk.add_action(nb, f"submit({nbk.python_literal(answer)})", 3)
    nbk.add_verifier(nb, inst.verifier, inst.verifier_args)
    nb.metadata.kernelgym.update({
        "agent": {"name": "evil<b>agent</b>", "model": "vendor/model|x", "sampling": {}},
        "episode": {"turns": 3, "max_turns": 15, "stop_reason": "answered", "duration_s": 12.34,
                    "start_time": "2026-01-01T00:00:00+00:00",
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 345, "total_tokens": 1545}},
    })
    nbk.record_verdict(nb, inst, [{"submitted": True, "answer": answer}])
    nbformat.validate(nb)
    return nb


def test_the_header_cell_states_the_episodes_facts() -> None:
    """Issue 16 (7): no header said agent, model, stop reason, turns, time and tokens."""
    nb = built_episode()
    header = nb.cells[0]
    assert nbk.tags_of(header) == [nbk.TAG_HEADER]
    text = header.source
    for fact in ("| agent | evil&lt;b&gt;agent&lt;/b&gt; |", "| model | vendor/model\\|x |", "`answered`",
                 "| turns | 3 of at most 15 |", "12.3 s", "1,545 (1,200 in, 345 out)",
                 "| result recorded by the run | **FAILED** (score 0) |"):
        assert fact in text, (fact, text)
    assert "<b>" not in text and prepare(nb).reasons == []


def test_thoughts_and_actions_carry_their_turn() -> None:
    """Issue 16 (7): thoughts were unlabelled prose and action cells had no visible turn number."""
    nb = built_episode()
    labels = [c.source.splitlines()[0] for c in nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)]
    assert labels == ["**Turn 1 — thought**", "**Turn 2 — action**", "**Turn 3 — thought**"]
    assert [c.metadata.kernelgym.turn for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION)] == [1, 2, 3]
    # exports read the model's own text, not its escaped, labelled rendering; a turn without text adds none
    assistant = [m.get("content") for m in conversation(nb).messages if m["role"] == "assistant"]
    assert assistant[0] == "Let me look. " + EVIL and assistant[1] in (None, "") and assistant[2] == "Eleven."


def test_long_tracebacks_are_kept_but_collapsed() -> None:
    """Issue 16 (7): 70-line library tracebacks dominated LLM episodes. Kept, collapsed (JupyterLab's
    ``jupyter.outputs_hidden``), and the turn's label says what was raised; short ones stay open."""
    nb = built_episode()
    long_err, short_err, _ = nbk.cells_with_tag(nb, nbk.TAG_ACTION)
    assert long_err.metadata["jupyter"]["outputs_hidden"] is True and long_err.metadata["collapsed"] is True
    assert len(long_err.outputs[0].traceback) == 70  # the real output, all of it
    assert "jupyter" not in short_err.metadata and nbk.TAG_RAISES in short_err.metadata.tags
    label = nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)[0].source
    assert "raised `FileNotFoundError: nope`" in label and "70-line output is collapsed" in label, label


def test_untrusted_text_is_escaped_in_markdown() -> None:
    """Issue 16 (7): a thought, an answer or a name from a run is text, not markup: a thought cannot
    draw a "Result: PASSED" heading, an image or HTML; an answer cannot close its code span."""
    nb = built_episode(answer="x` <img src=y> `")
    thought = nbk.cells_with_tag(nb, nbk.TAG_THOUGHT)[0].source
    assert "\\#\\#\\# Result: \\*\\*PASSED\\*\\*" in thought and "&lt;img" in thought and "<img" not in thought
    assert "!\\[t\\]" in thought and "\\`code\\`" in thought
    [record] = nbk.cells_with_tag(nb, nbk.TAG_RECORD)
    assert '- answer: `` "x` <img src=y> `" ``' in record.source, record.source
    assert md.code_span("a``b") == "``` a``b ```" and md.fenced("```\nx").startswith("````text\n")


def test_the_verdict_text_says_what_happened_in_plain_words() -> None:
    """Issue 16 (7): the verdict spoke of a "host channel"; item 4: without a verdict it says "not
    verified in this execution", never an earlier verdict."""
    shown = verdict_bundle({"passed": True, "summary": "submitted `10`", "via": "channel",
                            "by": "kernelgym's grader, outside this kernel, asked when this cell ran"})
    assert shown["text/markdown"].startswith("### Verdict of this execution: **PASSED**")
    none = verdict_bundle({"passed": None, "summary": "the verifier cell did not run in this execution"})
    assert "**not verified in this execution**" in none["text/markdown"]
    for bundle in (shown, none):
        assert "host channel" not in bundle["text/markdown"] and "host channel" not in bundle["text/plain"]
