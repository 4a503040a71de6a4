"""The one writer of an episode's verdict: the header, record and result cells and ``metadata.kernelgym.result``.

Episodes (``kernelgym run``), ``kernelgym grade`` and the LangChain task-kernel tools all write their
verdict here, so the markdown that ``kernelgym grade`` re-renders to spot a forged result cell is
produced in exactly one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nbformat import NotebookNode

from kernelgym.grading import NO_EVIDENCE, Grade
from kernelgym.notebook import markdown as md
from kernelgym.notebook.cells import (
    TAG_ACTION,
    TAG_HEADER,
    TAG_RAISES,
    TAG_RECORD,
    TAG_RESULT,
    TAG_THOUGHT,
    cells_with_tag,
    checksum,
    code_cell,
    markdown_cell,
    tagged,
    thought_markdown,
)
from kernelgym.notebook.readers import kernelgym_meta
from kernelgym.tasks import Instance


def result_record(inst: Instance, answer: Any, verdict: Grade, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """``metadata.kernelgym.result``: the verdict, the answer and what it was compared with; ``error``
    (``{"stop_reason", "message", "traceback"}``) when an error of the agent or of kernelgym ended the
    episode (:data:`kernelgym.episode.ERROR_STOPS`)."""
    record = {
        "passed": verdict.passed, "score": verdict.score, "answer": answer, "expected": inst.ground_truth,
        "explanation": verdict.explanation, "grader": inst.grader.model_dump(),
    }
    if error:
        record["error"] = error
    return record


RESULT_SOURCE = (
    "# kernelgym verdict (locked): grades the evidence the verifier cell above produced in this execution.\n"
    "# The result recorded by the run is in the markdown cell above; `kernelgym grade` re-grades on the host.\n"
    "try:\n"
    "    import kernelgym.kernel.starter as _kg_starter\n"
    "    _kg_starter.show_verdict(task_id)\n"
    "except BaseException as _kg_error:\n"
    "    print(f'kernelgym verdict unavailable: {_kg_error!r}')"
)
"""The result cell of an episode notebook (schema 3): code, so that every execution of the notebook
(plain papermill, ``papermill --engine kernelgym``, JupyterLab's Run All) replaces its output with the
verdict on that execution's evidence, or with "not verified in this execution"; it never shows the
verdict of an earlier execution as current. The run's own verdict is in the record cell above it."""

LONG_OUTPUT_LINES = 25
"""An errored action cell whose outputs are longer than this (in lines) is collapsed (its outputs hidden
as JupyterLab's ``metadata.jupyter.outputs_hidden`` hides them; a click shows them)."""

STOP_REASONS = {
    "answered": "the agent submitted an answer",
    "max_turns": "the turn limit was reached",
    "time_budget": "the time budget was spent",
    "kernel_died": "the kernel died while running the agent's cell",
    "timeout_killed": "a cell did not stop after an interrupt; the kernel was killed",
    "agent_stopped": "the agent stopped without a further cell",
    "agent_error": "the agent's code raised an error (an infrastructure error, not a model failure)",
    "harness_error": "kernelgym itself failed (an infrastructure error, not a model failure)",
    "setup_error": "the task's setup cell failed (an infrastructure error, not a model failure)",
    "kernel_start_failed": "no kernel started (an infrastructure error, not a model failure)",
}
"""What each stop reason means, as the header cell says it."""


def verdict_word(result: dict[str, Any]) -> str:
    """PASSED, FAILED or ERROR (an episode ended by an infrastructure error, not by the model)."""
    error = result.get("error") or None
    return "ERROR" if error and not result.get("passed") else "PASSED" if result.get("passed") else "FAILED"


def _recorded_by(result: dict[str, Any]) -> str:
    by = result.get("recorded_by")
    return f"by {md.escape(by)}" if isinstance(by, str) and by else "by the run"


def result_markdown(result: dict[str, Any]) -> str:
    """The text of the record cell: the verdict recorded when the episode ran (or was graded), clearly
    labelled as that record (``kernelgym grade`` re-renders it to spot a forged one)."""
    error = result.get("error") or None
    text = (f"### Result recorded {_recorded_by(result)}: **{verdict_word(result)}** "
            f"(score {float(result.get('score', 0) or 0):g})\n\n"
            "*This is the record of that execution; re-running the notebook does not change it. "
            "The next cell grades the evidence of each new execution.*\n\n")
    if error:
        text += (f"The episode was ended by an error ({md.escape(error.get('stop_reason'))}), not by the model's answer: "
                 f"a run counts it as an error, apart from the model's failures.\n\n"
                 f"- error: {md.code_span(error.get('message'))}\n")
    text += (
        f"- answer: {md.code_span(json.dumps(result.get('answer')))}\n"
        f"- expected: {md.code_span(json.dumps(result.get('expected')))}\n"
        f"- {md.escape(result.get('explanation', ''))}\n"
    )
    if "reward" in result:  # schema 3 records of episodes that counted attempts
        text += f"- {attempts_text(result)}\n"
    if error and error.get("traceback"):
        text += "\n" + md.fenced(error["traceback"]) + "\n"
    return text


def attempts_text(result: dict[str, Any]) -> str:
    """``attempts: N; reward R (rule RULE)`` of a result record that counted attempts (escaped)."""
    attempts = result.get("attempts")
    reward = result.get("reward")
    n = int(attempts) if isinstance(attempts, int) and not isinstance(attempts, bool) else 0
    r = float(reward) if isinstance(reward, (int, float)) and not isinstance(reward, bool) else 0.0
    return (f"attempts: {n} submission{'s' if n != 1 else ''} graded; reward {r:g} "
            f"(rule {md.escape(result.get('reward_rule'))}: a pass after wrong submissions is weighted by it)")


def legacy_result_markdown(result: dict[str, Any]) -> str:
    """The markdown result cell of schema 1 and 2 notebooks (what :func:`is_result_record` also accepts)."""
    error = result.get("error") or None
    text = f"### Result: **{verdict_word(result)}** (score {result.get('score', 0):g})\n\n"
    if error:
        text += (f"The episode was ended by an error ({error.get('stop_reason')}), not by the model's answer: "
                 f"a run counts it as an error, apart from the model's failures.\n\n"
                 f"- error: `{error.get('message')}`\n")
    text += (
        f"- answer: `{json.dumps(result.get('answer'))}`\n"
        f"- expected: `{json.dumps(result.get('expected'))}`\n"
        f"- {result.get('explanation', '')}\n"
    )
    if error and error.get("traceback"):
        fence = "````" if "```" in error["traceback"] else "```"
        text += f"\n{fence}text\n{error['traceback'].rstrip()}\n{fence}\n"
    return text


def is_result_record(source: str, result: dict[str, Any] | None, *, legacy: bool = False) -> bool:
    """Whether a markdown cell's ``source`` is the rendering of ``result`` (with ``legacy``: also the
    schema 1-2 rendering)."""
    if result is None:
        return False
    renderings = [result_markdown(result)] + ([legacy_result_markdown(result)] if legacy else [])
    return source.strip() in {r.strip() for r in renderings}


def _tokens(usage: Any) -> str:
    if not isinstance(usage, dict) or not usage:
        return "not recorded"
    num = {k: v for k, v in usage.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    total = num.get("total_tokens")
    prompt, completion = num.get("prompt_tokens"), num.get("completion_tokens")
    if total is None and prompt is None and completion is None:
        return md.escape(", ".join(f"{k}: {v:,}" for k, v in sorted(num.items()))) or "not recorded"
    parts = [f"{int(total or (prompt or 0) + (completion or 0)):,}"]
    if prompt is not None or completion is not None:
        parts.append(f"({int(prompt or 0):,} in, {int(completion or 0):,} out)")
    return " ".join(parts)


def _seconds(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "not recorded"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def header_markdown(meta: dict[str, Any]) -> str:
    """The header cell: the episode's facts (agent, model, stop reason, turns, time, tokens) and the
    result recorded, from ``metadata.kernelgym``. Names and models come from the run: escaped. (The task
    cell below it names the task, as it always did.)"""
    agent = meta.get("agent") or {}
    episode = meta.get("episode") or {}
    result = meta.get("result") or {}
    grade = meta.get("grade") or {}

    def text(value: Any) -> str:
        return md.escape(value) if value not in (None, "") else "—"

    stop = episode.get("stop_reason")
    stop_text = f"{md.code_span(stop)}: {md.escape(STOP_REASONS.get(str(stop), 'see the metadata'))}" if stop else "—"
    turns = episode.get("turns")
    max_turns = episode.get("max_turns")
    turns_text = "—" if turns is None else f"{turns}" + (f" of at most {max_turns}" if max_turns else "")
    started = episode.get("start_time")
    time_text = _seconds(episode.get("duration_s")) + (f" (started {md.escape(started)})" if started else "")
    rows = [
        ("agent", text(agent.get("name"))),
        ("model", text(agent.get("model"))),
        ("stop reason", stop_text),
        ("turns", turns_text),
        ("time", time_text),
        ("tokens", _tokens(episode.get("usage"))),
    ]
    if result:
        rows.append((f"result recorded {_recorded_by(result)}",
                     f"**{verdict_word(result)}** (score {float(result.get('score', 0) or 0):g})"))
        if "reward" in result:
            rows.append(("attempts", attempts_text(result)))
    if grade:
        rows.append(("graded", "tampering found" if grade.get("tampered") else "no tampering found"))
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (
        "# Episode\n\n"
        f"| | |\n|---|---|\n{table}\n\n"
        "*The result above is the record of the run; the last cell of the notebook grades each new execution.*"
    )


def mark_errored_actions(nb: NotebookNode) -> None:
    """Tag action cells that raised with ``raises-exception`` (nbclient's and papermill's convention),
    so a plain ``papermill`` re-run goes on past them and still reaches the verifier; collapse the
    outputs of those whose outputs are long (a library traceback), and say so on their turn's label."""
    labels = {kernelgym_meta(c).get("turn"): c for c in cells_with_tag(nb, TAG_THOUGHT)}
    for cell in cells_with_tag(nb, TAG_ACTION):
        tags = cell.metadata.setdefault("tags", [])
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and TAG_RAISES not in tags:
            tags.append(TAG_RAISES)
        lines = _output_lines(cell)
        if not errors or lines <= LONG_OUTPUT_LINES:
            continue
        cell.metadata["collapsed"] = True
        cell.metadata.setdefault("jupyter", {})["outputs_hidden"] = True
        turn = kernelgym_meta(cell).get("turn")
        label = labels.get(turn)
        if label is not None and isinstance(turn, int):
            err = errors[-1]
            name = f"{err.get('ename', 'Error')}: {err.get('evalue', '')}".strip().rstrip(":")
            note = (f"The cell below raised {md.code_span(name[:300])}; its {lines}-line output is collapsed "
                    "(click the ellipsis under the cell to show it).")
            label.source = thought_markdown(turn, kernelgym_meta(label).get("text"), note)


def _output_lines(cell: NotebookNode) -> int:
    n = 0
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            n += sum(str(line).count("\n") + 1 for line in out.get("traceback", []))
        elif out.get("output_type") == "stream":
            n += str(out.get("text", "")).count("\n")
    return n


def write_header(nb: NotebookNode) -> None:
    """(Re)write the header cell, first in ``nb``, from ``metadata.kernelgym``."""
    nb.cells = [c for c in nb.cells if TAG_HEADER not in c.get("metadata", {}).get("tags", [])]
    cell = markdown_cell(header_markdown(nb.metadata.get("kernelgym", {}) or {}))
    cell.metadata["editable"] = False
    nb.cells.insert(0, tagged(cell, TAG_HEADER))


def write_result(nb: NotebookNode, result: dict[str, Any]) -> None:
    """Set ``metadata.kernelgym.result`` to ``result`` (a :func:`result_record`) and write the verdict
    cells: the header (first), the record cell and the result cell (last; :data:`RESULT_SOURCE`, no
    output until the notebook is executed again). This ends the episode, so errored action cells are
    tagged (and long ones collapsed) too. Set the episode's other metadata first: the header shows it."""
    mark_errored_actions(nb)
    nb.metadata.setdefault("kernelgym", {})["result"] = result
    record = markdown_cell(result_markdown(result))
    record.metadata["editable"] = False
    nb.cells.append(tagged(record, TAG_RECORD))
    live = code_cell(RESULT_SOURCE)
    live.metadata["editable"] = False
    live.metadata["deletable"] = False
    nb.cells.append(tagged(live, TAG_RESULT, verdict=True, checksum=checksum(RESULT_SOURCE)))
    write_header(nb)


def record_verdict(
    nb: NotebookNode, inst: Instance, evidence: Sequence[dict[str, Any]], *, no_evidence: str = NO_EVIDENCE,
    error: dict[str, Any] | None = None,
) -> tuple[Any, Grade, dict[str, Any]]:
    """The verdict step: grade a verifier's ``evidence`` for ``inst`` on the host
    (:meth:`Instance.verdict`) and write it into ``nb``; returns the answer, grade and result record.
    ``error``: see :func:`result_record`."""
    answer, verdict = inst.verdict(evidence, no_evidence=no_evidence)
    result = result_record(inst, answer, verdict, error)
    write_result(nb, result)
    return answer, verdict, result
