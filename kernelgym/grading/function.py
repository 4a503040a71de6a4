"""Grading a ``function`` verifier's evidence: the agent's function on hidden inputs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
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


# ---------------------------------------------------------------- solution independence


@dataclass(frozen=True)
class Dummy:
    """A function that does not solve anything: the body of ``def f(*args, **kwargs)``."""

    label: str
    body: str

    def source(self, name: str, *, method: bool = False, decorators: Sequence[str] = ()) -> str:
        """The dummy as a definition of ``name`` (a method takes ``self`` first; ``decorators``, e.g.
        ``@property``, are kept from the solution it stands for, so the context calls it the same way)."""
        params = "self, *args, **kwargs" if method else "*args, **kwargs"
        return "\n".join([*decorators, f"def {name}({params}):", f"    {self.body}"])

    def call(self, args: Sequence[Any]) -> Any:
        """What the dummy returns (or raises) for the positional arguments ``args``."""
        return _compiled(self.body)(*args)


@cache
def _compiled(body: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(Dummy("", body).source("dummy"), namespace)  # noqa: S102 - a dummy's own constant source
    fn: Callable[..., Any] = namespace["dummy"]
    return fn


DUMMIES: tuple[Dummy, ...] = (
    Dummy("return True", "return True"),
    Dummy("return False", "return False"),
    Dummy("return 0", "return 0"),
    Dummy('return ""', 'return ""'),
    Dummy("return None", "return None"),
    Dummy("return the first input", "return args[0] if args else next(iter(kwargs.values()), None)"),
    Dummy("raise", "raise NotImplementedError('a function that does not solve the task')"),
)
"""The functions that no code-writing task may accept: constants an agent can guess without reading
the task (``True``, ``False``, ``0``, ``""``, ``None``), its first input handed back, and raising.
A task one of them passes does not measure whether the agent can write the function (issue 17)."""


def dummy_evidence(dummy: Dummy, inputs: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The ``function`` verifier's evidence for ``dummy`` called on each argument list of ``inputs``,
    as the kernel would emit it (a call that raises: output ``None`` and its error)."""
    outputs: list[Any] = []
    errors: list[str | None] = []
    for args in inputs:
        try:
            out, err = dummy.call(copy.deepcopy(list(args))), None
        except Exception as exc:  # noqa: BLE001 - the raising dummy
            out, err = None, f"{type(exc).__name__}: {exc}"
        outputs.append(out)
        errors.append(err)
    return {"kind": "function", "name": "dummy", "defined": True, "outputs": outputs, "errors": errors}


def passing_dummies(expected: Sequence[Any], inputs: Sequence[Sequence[Any]], grader: Grader) -> list[str]:
    """The labels of the :data:`DUMMIES` that pass a function task whose hidden ``inputs`` expect
    ``expected`` under ``grader`` (empty: the task needs a real solution)."""
    return [d.label for d in DUMMIES if grade_function(dummy_evidence(d, inputs), list(expected), grader).passed]
