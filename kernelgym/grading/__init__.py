"""Grading, pure and host side: rules that compare an answer with the ground truth, and the one
function from a verifier's evidence to a grade. Nothing here starts a kernel or reads a task."""

from kernelgym.grading.evidence import NO_EVIDENCE, VerifierName, grade_evidence
from kernelgym.grading.function import grade_function
from kernelgym.grading.rules import Grade, Grader, Rule, auroc, grade

__all__ = ["NO_EVIDENCE", "Grade", "Grader", "Rule", "VerifierName", "auroc", "grade", "grade_evidence", "grade_function"]
