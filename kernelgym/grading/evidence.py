"""The one path from a verifier's evidence to a grade (episodes, regrading, starters, tools)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from kernelgym.grading.function import grade_function
from kernelgym.grading.rules import Grade, Grader, grade

VerifierName = Literal["answer", "function"]
"""``answer``: grade the value passed to ``submit()``. ``function``: call the agent's named function
on hidden inputs and grade its outputs against the expected outputs."""


NO_EVIDENCE = "no verifier evidence (the verifier did not run)"
"""Why a verifier cell with no evidence record fails (callers may say more precisely why it did not run)."""


def grade_evidence(
    evidence: Sequence[dict[str, Any]],
    *,
    verifier: VerifierName,
    truth: Any,
    grader: Grader,
    no_evidence: str = NO_EVIDENCE,
) -> tuple[Any, Grade]:
    """The answer and the host-side grade of the evidence a verifier cell emitted.

    The one rule every path uses (``kernelgym run`` episodes, ``kernelgym grade``, starter
    notebooks, the LangChain task-kernel tools): exactly one evidence record is required. With a
    ``function`` ``verifier`` the record's outputs on the hidden inputs are graded
    (:func:`grade_function`); with an ``answer`` verifier the submitted answer is (:func:`grade`),
    and a record saying nothing was submitted fails. No record fails with ``no_evidence`` as the
    explanation; several records (something besides the verifier emitted one) are rejected.
    Never raises for what is in the evidence.
    """
    if len(evidence) == 1 and verifier == "function":
        return evidence[0].get("outputs"), grade_function(evidence[0], list(truth or []), grader)
    if len(evidence) == 1 and evidence[0].get("submitted"):
        answer = evidence[0].get("answer")
        return answer, grade(answer, truth, grader)
    why = (
        "no answer was submitted" if len(evidence) == 1
        else no_evidence if not evidence
        else f"{len(evidence)} evidence records where the verifier emits one: rejected"
    )
    return None, Grade(passed=False, score=0.0, explanation=why)
