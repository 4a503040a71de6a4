"""Stage 4 of ``kernelgym grade``: grade the evidence of the restored verifier on the host, compare the
replayed answer with the recorded one, and write the graded notebook's verdict and
``metadata.kernelgym.grade``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from kernelgym import notebook as nbk
from kernelgym.grading.attempts import attempt_fields
from kernelgym.notebook.readers import answers_of, evidence_of, tags_of
from kernelgym.regrade.execute import clean_papermill_markers
from kernelgym.regrade.records import GradeRecord
from kernelgym.regrade.restore import Prepared, digest, same_answer


def finish(
    prep: Prepared,
    executed: NotebookNode | None,
    *,
    source: Path,
    error: str | None,
    handle: Any = None,
) -> tuple[GradeRecord, NotebookNode]:
    """Grade the executed notebook and build its record and graded notebook."""
    inst = prep.inst
    nb = executed if executed is not None else prep.nb
    clean_papermill_markers(nb)
    verifiers = nbk.cells_with_tag(nb, nbk.TAG_VERIFIER)
    evidence = evidence_of(verifiers[-1]) if verifiers else []
    if handle is not None and error is None:
        if handle.timed_out:
            error = "timed out: the notebook ran past its time limit and its kernel was killed"
        elif handle.dead_at is not None:
            error = f"the kernel died while running cell {handle.dead_at}"
    answer, verdict = inst.verdict(evidence)
    if error and not evidence:
        verdict = verdict.model_copy(update={"explanation": f"{verdict.explanation} ({error})"})
    reasons = list(prep.reasons)
    completed = len(evidence) == 1
    reproducible = None
    if prep.has_recorded_answer and completed:
        reproducible = same_answer(inst, answer, prep.recorded_answer)
    elif prep.has_recorded_answer:
        reproducible = False
    if prep.claimed_passed and completed and not verdict.passed:
        reasons.append("claims passed, but the re-executed notebook fails")
    diverged = [
        idx for idx, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and prep.recorded_outputs.get(cell.get("id", ""))
        and digest(cell.get("outputs", [])) != prep.recorded_outputs[cell.get("id", "")]
    ]
    reasons = list(dict.fromkeys(reasons))
    record = GradeRecord(
        task_id=inst.id, notebook=str(source), passed=verdict.passed, score=verdict.score, answer=answer,
        expected=inst.ground_truth, explanation=verdict.explanation, reproducible=reproducible,
        recorded_answer=prep.recorded_answer, claimed_passed=prep.claimed_passed, tampered=bool(reasons),
        tamper_reasons=reasons, warnings=prep.warnings, diverged_cells=diverged, kind=prep.kind, error=error,
    )
    nbk.mark_errored_actions(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and nbk.TAG_ACTION not in tags_of(cell) and any(
            o.get("output_type") == "error" for o in cell.get("outputs", [])
        ) and nbk.TAG_VERIFIER not in tags_of(cell):
            cell.metadata.setdefault("tags", []).append(nbk.TAG_RAISES)
    graded_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    nb.metadata["kernelgym"]["grade"] = {  # before the verdict cells: the header shows it
        "graded_at": graded_at,
        "source": str(source), "tampered": record.tampered, "tamper_reasons": reasons,
        "warnings": record.warnings, "reproducible": reproducible, "diverged_cells": diverged,
        "recorded_result": prep.recorded_result, "error": error,
    }
    counted: dict[str, Any] = {}
    recorded = prep.recorded_result if isinstance(prep.recorded_result, dict) else {}
    if "reward_rule" in recorded:  # the run counted attempts: count them again in this execution
        attempts = sum(1 for c in nbk.cells_with_tag(nb, nbk.TAG_ACTION) if answers_of(c))
        try:
            counted = attempt_fields(attempts, verdict.score, recorded["reward_rule"])
        except ValueError:  # an unknown rule in an edited notebook: the default one
            counted = attempt_fields(attempts, verdict.score)
    nbk.write_result(nb, nbk.result_record(inst, answer, verdict) | counted
                     | {"recorded_by": f"kernelgym grade ({graded_at})"})
    pm = nb.metadata.get("papermill")
    if isinstance(pm, dict):
        pm["input_path"] = str(source)
        pm["output_path"] = None
    return record, nb
