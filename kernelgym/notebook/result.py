"""The one writer of an episode's verdict: the result cell and ``metadata.kernelgym.result``.

Episodes (``kernelgym run``), ``kernelgym grade`` and the LangChain task-kernel tools all write their
verdict here, so the markdown that ``kernelgym grade`` re-renders to spot a forged result cell is
produced in exactly one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import nbformat
from nbformat import NotebookNode

from kernelgym.grading import NO_EVIDENCE, Grade
from kernelgym.notebook.cells import (
    TAG_ACTION,
    TAG_RAISES,
    TAG_RESULT,
    cells_with_tag,
    tagged,
)
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


def result_markdown(result: dict[str, Any]) -> str:
    """The text of a result cell (``kernelgym grade`` re-renders it to spot a forged one)."""
    error = result.get("error") or None
    verdict = "ERROR" if error and not result.get("passed") else "PASSED" if result.get("passed") else "FAILED"
    text = f"### Result: **{verdict}** (score {result.get('score', 0):g})\n\n"
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


def mark_errored_actions(nb: NotebookNode) -> None:
    """Tag action cells that raised with ``raises-exception`` (nbclient's and papermill's convention),
    so a plain ``papermill`` re-run goes on past them and still reaches the verifier."""
    for cell in cells_with_tag(nb, TAG_ACTION):
        tags = cell.metadata.setdefault("tags", [])
        if TAG_RAISES not in tags and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            tags.append(TAG_RAISES)


def write_result(nb: NotebookNode, result: dict[str, Any]) -> None:
    """Append the locked result cell and set ``metadata.kernelgym.result`` to ``result`` (a
    :func:`result_record`). This ends the episode, so errored action cells are tagged too."""
    mark_errored_actions(nb)
    cell = nbformat.v4.new_markdown_cell(result_markdown(result))
    cell.metadata["editable"] = False
    nb.cells.append(tagged(cell, TAG_RESULT))
    nb.metadata.setdefault("kernelgym", {})["result"] = result


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
