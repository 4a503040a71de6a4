"""Grading a ``function`` verifier's evidence: the agent's function on hidden inputs."""

from __future__ import annotations

from typing import Any

from kernelgym.grading.rules import Grade, Grader, is_null, values_equal


def grade_function(evidence: dict[str, Any], expected: list[Any], grader: Grader) -> Grade:
    """Grade the outputs of an agent's function on hidden inputs (``function`` verifier evidence).

    Each output is compared with its expected output under ``grader`` (nested lists and dicts
    element by element). Passed only if every output matches; the score is the fraction that match.
    Never raises.
    """
    try:
        if not evidence.get("defined"):
            name = evidence.get("name")
            return Grade(passed=False, score=0.0, explanation=f"no function named {name!r} was defined")
        outputs = list(evidence.get("outputs") or [])
        errors = list(evidence.get("errors") or [])
        if len(outputs) != len(expected):
            return Grade(passed=False, score=0.0, explanation=f"{len(outputs)} outputs for {len(expected)} inputs")
        errors += [None] * (len(outputs) - len(errors))
        ok = [err is None and values_equal(out, exp, grader) if not is_null(exp) else is_null(out) and err is None
              for out, exp, err in zip(outputs, expected, errors)]
        n_ok = sum(ok)
        parts = [f"{n_ok}/{len(ok)} hidden inputs correct"]
        for i, (good, out, exp, err) in enumerate(zip(ok, outputs, expected, errors)):
            if not good:
                got = f"raised {err}" if err else f"returned {out!r}"
                parts.append(f"input {i + 1}: {got}, expected {exp!r}")
                break
        return Grade(passed=n_ok == len(ok) and bool(ok), score=n_ok / len(ok) if ok else 0.0, explanation="; ".join(parts))
    except Exception as exc:
        return Grade(passed=False, score=0.0, explanation=f"could not compare: {type(exc).__name__}: {exc}")
