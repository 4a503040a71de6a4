"""Grading, pure and host side: rules that compare an answer with the ground truth, and the one
function from a verifier's evidence to a grade. Nothing here starts a kernel or reads a task."""

from kernelgym.grading.evidence import NO_EVIDENCE, VerifierName, grade_evidence
from kernelgym.grading.function import DUMMIES, Dummy, grade_function, passing_dummies
from kernelgym.grading.rules import Grade, Grader, Rule, auroc, grade

__all__ = ["DUMMIES", "NO_EVIDENCE", "Dummy", "Grade", "Grader", "Rule", "VerifierName", "auroc", "grade",
           "grade_evidence", "grade_function", "passing_dummies"]
