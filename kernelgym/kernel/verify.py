"""Verifier helpers, called by the locked verifier cell at the end of every episode notebook.

They report *evidence* (what the agent submitted) as a display message; the host compares it with
the ground truth, which is never in the kernel. Nothing here ever raises: a sabotaged kernel
produces missing or wrong evidence, which the host grades as a failure.
"""

from __future__ import annotations

from typing import Any


def emit_answer_evidence() -> None:
    """Emit ``{"submitted": bool, "answer": ...}`` under the evidence MIME type."""
    evidence: dict[str, Any]
    try:
        from kernelgym.kernel import EVIDENCE_MIME, _state, to_jsonable

        evidence = {"submitted": bool(_state.submitted), "answer": to_jsonable(_state.answer)}
    except BaseException as exc:  # noqa: BLE001 - the verifier must never raise
        EVIDENCE_MIME = "application/vnd.kernelgym.evidence+json"
        evidence = {"submitted": False, "answer": None, "error": f"{type(exc).__name__}: {exc}"}
    try:
        from IPython.display import display

        display({EVIDENCE_MIME: evidence, "text/plain": f"kernelgym evidence: {evidence!r}"}, raw=True)
    except BaseException as exc:  # noqa: BLE001
        print(f"kernelgym verifier could not emit evidence: {exc}")
