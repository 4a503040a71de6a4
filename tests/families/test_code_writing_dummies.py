"""Functions that solve nothing fail every code-writing task of kernelgym's own families (issue 17, item 3).

The dummies are :data:`kernelgym.grading.DUMMIES` (``return True``, ``False``, ``0``, ``""``, ``None``,
the first input handed back, raising); their verifier evidence is what the kernel's
``emit_function_evidence`` would emit. MedAgentGym's BioCoder tasks get the same test in
tests/importers/test_medagentgym_import.py.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import random
from typing import Any

import pytest

from kernelgym import families as families_pkg
from kernelgym.families import bioinfo
from kernelgym.grading import DUMMIES, Grader, grade_function, passing_dummies
from kernelgym.grading.function import dummy_evidence

DRAFTS_PER_CATEGORY = 25


def code_writing_categories() -> list[tuple[str, str]]:
    """``(module, category)`` of every ``*_function`` category of every family module."""
    out = []
    for info in pkgutil.iter_modules(families_pkg.__path__):
        module = importlib.import_module(f"kernelgym.families.{info.name}")
        out += [(info.name, name) for name in getattr(module, "CATEGORIES", {}) if name.endswith("_function")]
    return out


CODE_WRITING = code_writing_categories()


def test_every_code_writing_category_is_covered() -> None:
    assert len(CODE_WRITING) == 8 and {m for m, _ in CODE_WRITING} == {"bioinfo"}


@pytest.mark.parametrize(("module", "name"), CODE_WRITING, ids=[f"{m}/{n}" for m, n in CODE_WRITING])
def test_no_function_that_solves_nothing_passes(module: str, name: str) -> None:
    mod = importlib.import_module(f"kernelgym.families.{module}")
    cat = mod.CATEGORIES[name]
    rng = random.Random(f"dummies/{module}/{name}")
    with contextlib.ExitStack() as stack:
        ctx = stack.enter_context(mod.open_context())
        drafts = [d for d in (cat.generate(ctx, rng) for _ in range(DRAFTS_PER_CATEGORY)) if d is not None]
    assert len(drafts) == DRAFTS_PER_CATEGORY
    for d in drafts:
        assert d.verifier == "function"
        inputs = d.verifier_args["inputs"]
        right = {"defined": True, "outputs": d.answer, "errors": [None] * len(d.answer)}
        assert grade_function(right, d.answer, cat.grader).passed  # the check can tell a solution apart
        assert passing_dummies(d.answer, inputs, cat.grader) == [], d.question


def test_dummies_are_what_they_say() -> None:
    got = {d.label: dummy_evidence(d, [["ACGT", 2]]) for d in DUMMIES}
    assert {k: v["outputs"][0] for k, v in got.items()} == {
        "return True": True, "return False": False, "return 0": 0, 'return ""': "", "return None": None,
        "return the first input": "ACGT", "raise": None}
    assert got["raise"]["errors"][0].startswith("NotImplementedError") and got["return 0"]["errors"] == [None]
    assert DUMMIES[5].source("rc", method=True, decorators=["@property"]).splitlines()[:2] == [
        "@property", "def rc(self, *args, **kwargs):"]


def _gc(seq: str) -> float:
    return sum(c in "GC" for c in seq) / len(seq)


def test_a_draft_a_dummy_passes_gets_more_hidden_inputs() -> None:
    """Regression (issue 17, item 3): a code-writing draft whose hidden inputs all expect 1.0 is passed
    by ``return True`` (True reads as 1); the generator adds inputs until no dummy passes, or rejects
    the draw when it cannot."""
    rng = random.Random(3)
    hidden: list[list[Any]] = [["GGGG"], ["CCGC"]]
    grader: Grader = bioinfo.FUNCTION
    assert passing_dummies([1.0, 1.0], hidden, grader) == ["return True"]
    draft = bioinfo._fn_draft(rng, "gc", "gc(seq: str) -> float", "GC fraction.", ["GC"], hidden, _gc, "def gc(s): ...",
                              more=lambda: [bioinfo.dna(rng, 30)])
    assert draft is not None and len(draft.verifier_args["inputs"]) > 2
    assert draft.verifier_args["inputs"][:2] == hidden
    assert passing_dummies(draft.answer, draft.verifier_args["inputs"], grader) == []
    assert bioinfo._fn_draft(rng, "gc", "gc(seq: str) -> float", "GC fraction.", ["GC"], hidden, _gc, "def gc(s): ...") is None
