"""Grading rules: right answers pass, wrong ones fail, under the rule each category states."""

from __future__ import annotations

import pytest

from kernelgym.grading import Grader, grade


@pytest.mark.parametrize(
    ("answer", "expected", "grader", "ok"),
    [
        ("Male", "male", Grader(rule="exact"), True),
        ("  EMERGENCY ", "EMERGENCY", Grader(rule="exact"), True),
        ("URGENT", "EMERGENCY", Grader(rule="exact"), False),
        ("EMERGENCY", "emergency", Grader(rule="exact", case_sensitive=True), False),
        (3, 3, Grader(rule="exact"), True),
        ("3", 3, Grader(rule="exact"), True),
        (4, 3, Grader(rule="exact"), False),
        (1.004, 1.0, Grader(rule="numeric", abs_tol=0.01), True),
        (1.02, 1.0, Grader(rule="numeric", abs_tol=0.01), False),
        (101, 100, Grader(rule="numeric", rel_tol=0.05), True),
        (106, 100, Grader(rule="numeric", rel_tol=0.05), False),
        ("about 100", 100, Grader(rule="numeric", rel_tol=0.05), False),
        (["b", "a", "a"], ["a", "b"], Grader(rule="set"), True),
        (["a"], ["a", "b"], Grader(rule="set"), False),
        (["a", "b", "c"], ["a", "b"], Grader(rule="set"), False),
        ([1, 2.0], [2, 1], Grader(rule="set"), True),
        (["a", "b"], ["a", "b"], Grader(rule="list"), True),
        (["b", "a"], ["a", "b"], Grader(rule="list"), False),
        ("2150-03-01", "2150-03-01 00:00:00", Grader(rule="date"), True),
        ("2150-03-02", "2150-03-01", Grader(rule="date"), False),
        ("2150-03-01T10:00:00", "2150-03-01 10:00:00", Grader(rule="datetime"), True),
        ("2150-03-01 10:00:01", "2150-03-01 10:00:00", Grader(rule="datetime"), False),
        ("yes", True, Grader(rule="boolean"), True),
        (False, True, Grader(rule="boolean"), False),
        ("maybe", True, Grader(rule="boolean"), False),
        (None, None, Grader(rule="exact"), True),
        ("unanswerable", None, Grader(rule="numeric"), True),
        (0, None, Grader(rule="numeric"), False),
        (None, 5, Grader(rule="numeric"), False),
        ({"weird": "object"}, 5, Grader(rule="numeric"), False),
    ],
)
def test_rules(answer: object, expected: object, grader: Grader, ok: bool) -> None:
    verdict = grade(answer, expected, grader)
    assert verdict.passed is ok, verdict.explanation
    assert verdict.score == (1.0 if ok else 0.0)
    assert verdict.explanation


@pytest.mark.parametrize(
    ("answer", "expected", "ok"),
    [
        ("5", [5], True), ([5], 5, True), ("5", 5, True), ([5], "5", True), (5, ["5"], True), (["5"], [5], True),
        ("5.0", [5], True), ([5.0], 5, True),
        ("6", [5], False), ([5, 6], [5], False), ("five", [5], False), ("05", ["5"], False), ("0389", ["389"], False),
    ],
)
def test_set_and_numeric_agree_on_a_number_and_its_one_item_list(answer: object, expected: object, ok: bool) -> None:
    """Regression (issue 17, item 8): ``set`` failed "5" against [5] (text never matched a number) while
    ``numeric`` passed "5" against 5 and failed anything against [5]. Both rules now read a one-item list
    as its item and a number written as text as the number; identifiers written as text stay text."""
    assert grade(answer, expected, Grader(rule="set")).passed is ok
    assert grade(answer, expected, Grader(rule="numeric")).passed is ok
