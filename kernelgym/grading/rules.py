"""Grading rules: compare a submitted answer with the ground truth under a stated rule.

The kernel never sees the ground truth; everything here runs in the host process.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Rule = Literal["exact", "numeric", "range", "set", "list", "date", "datetime", "boolean", "auroc"]


class Grader(BaseModel):
    """How an answer is compared with the ground truth.

    - ``exact``: strings compared after trimming (and case-folding unless ``case_sensitive``);
      numbers compared as numbers.
    - ``numeric``: ``|a - e| <= max(abs_tol, rel_tol * |e|)``; a one-item list counts as its item.
    - ``range``: a number within ``[lower, upper]`` (bounds included), e.g. MedCalc-Bench's
      [Lower Limit, Upper Limit]; the ground truth is shown but not used for the comparison.
    - ``set``: both sides as sets of normalised items (order and duplicates ignored); a single value
      is a one-item set, and a number written as text matches the number (``"5"`` and ``[5]`` agree
      under ``set`` as under ``numeric``).
    - ``list``: element-wise, order matters, each element normalised as under ``exact``
      (numbers with the tolerances).
    - ``date`` / ``datetime``: parsed and compared at that precision.
    - ``boolean``: yes/no, true/false, 1/0.
    - ``auroc``: predictions for a cohort, graded by the area under the ROC curve against the
      ground truth, a mapping ``{id: 0 or 1}``. The answer maps every id to a score (a dict, ids as
      strings or numbers) or is a list of scores in the ground truth's id order; passes when the
      AUROC is at least ``threshold``. The grade's score is the AUROC.

    A ground truth of ``None`` means "the data do not contain it": only ``None`` (or an empty
    string / "none" / "null" / "unanswerable") passes.
    """

    model_config = ConfigDict(extra="forbid")

    rule: Rule = "exact"
    abs_tol: float = Field(default=0.0, ge=0)
    rel_tol: float = Field(default=0.0, ge=0)
    case_sensitive: bool = False
    lower: float | None = Field(default=None, description="``range``: smallest accepted number")
    upper: float | None = Field(default=None, description="``range``: largest accepted number")
    threshold: float | None = Field(default=None, ge=0, le=1, description="``auroc``: smallest passing AUROC")

    def describe(self) -> str:
        """One line a human (or a model) can read: how answers are compared."""
        if self.rule == "numeric":
            parts = []
            if self.abs_tol:
                parts.append(f"absolute tolerance {self.abs_tol:g}")
            if self.rel_tol:
                parts.append(f"relative tolerance {self.rel_tol:g}")
            return "a number, " + (" or ".join(parts) if parts else "exact") + " accepted"
        if self.rule == "range":
            if self.lower is None or self.upper is None:
                return "a number within a range (no bounds given: nothing passes)"
            return f"a number from {self.lower:g} to {self.upper:g}"
        if self.rule == "auroc":
            return f"a score for every id, graded by AUROC (at least {self.threshold or 0.5:g} passes)"
        return {
            "exact": "exact match (whitespace and case ignored)",
            "set": "a list compared as a set (order and duplicates ignored)",
            "list": "a list compared in order",
            "date": "a date (YYYY-MM-DD)",
            "datetime": "a date and time (YYYY-MM-DD HH:MM:SS)",
            "boolean": "yes or no (true/false)",
        }[self.rule]


class Grade(BaseModel):
    """The verdict on one answer."""

    passed: bool
    score: float
    explanation: str


_NULLS = {"", "none", "null", "nan", "n/a", "unanswerable", "unknown"}
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def is_null(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, float) and math.isnan(x):
        return True
    return isinstance(x, str) and x.strip().lower() in _NULLS


def _as_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str):
        s = x.strip().replace(",", "")
        try:
            return float(s)
        except ValueError:
            return None
    return None


def _norm_text(x: Any, case_sensitive: bool) -> str:
    s = re.sub(r"\s+", " ", str(x).strip())
    return s if case_sensitive else s.casefold()


def answer_class(answer: Any, grader: Grader) -> str:
    """A key that answers ``grader`` takes as the same share (generators balance their answers by it):
    null, a yes/no, a set in any order, text up to case and whitespace, numbers in bins twice the
    tolerance wide (those within the tolerance pass alike)."""
    if is_null(answer):
        return "null"
    if grader.rule == "set" and isinstance(answer, (list, tuple, set)):
        return json.dumps(sorted({_class_text(x) for x in answer}))
    if grader.rule == "boolean":
        return "true" if str(answer).strip().casefold() in _TRUE else "false"
    if grader.rule == "numeric" and isinstance(answer, (int, float)) and math.isfinite(answer):
        if grader.rel_tol and answer:
            return f"~{'-' if answer < 0 else ''}{math.floor(math.log(abs(answer)) / math.log1p(2 * grader.rel_tol))}"
        if grader.abs_tol:
            return f"~{math.floor(answer / (2 * grader.abs_tol))}"
    return _class_text(answer)


def _class_text(x: Any) -> str:
    if isinstance(x, str):
        return _norm_text(x, case_sensitive=False)
    if isinstance(x, float) and math.isfinite(x) and x == int(x):
        x = int(x)
    return json.dumps(x, sort_keys=True, default=str)


def values_equal(a: Any, e: Any, g: Grader) -> bool:
    # nested values (outputs of a function: lists of k-mers, dicts of counts) compare structurally
    if isinstance(e, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(e) and all(
            values_equal(x, y, g) for x, y in zip(a, e)
        )
    if isinstance(e, dict):
        if not isinstance(a, dict):
            return False
        a_items, e_items = {str(k): v for k, v in a.items()}, {str(k): v for k, v in e.items()}
        return a_items.keys() == e_items.keys() and all(values_equal(a_items[k], v, g) for k, v in e_items.items())
    if is_null(e) or is_null(a):
        return is_null(e) and is_null(a)
    en = _as_number(e) if not isinstance(e, str) else None
    if en is not None:
        an = _as_number(a)
        if an is None:
            return False
        # relative to the expected value, as documented (math.isclose is relative to the larger of the
        # two, which would accept 5.2 % above a +/-5 % band)
        return abs(an - en) <= max(g.abs_tol, g.rel_tol * abs(en), 1e-9)
    return _norm_text(a, g.case_sensitive) == _norm_text(e, g.case_sensitive)


def _single(x: Any) -> Any:
    """The item of a one-item list, else ``x``."""
    return x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x


def _as_list(x: Any) -> list[Any] | None:
    if isinstance(x, (list, tuple, set, frozenset)):
        return list(x)
    return None


def _parse_when(x: Any, *, date_only: bool) -> dt.datetime | dt.date | None:
    if isinstance(x, dt.datetime):
        return x.date() if date_only else x.replace(microsecond=0)
    if isinstance(x, dt.date):
        return x if date_only else dt.datetime(x.year, x.month, x.day)
    if not isinstance(x, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(x.strip().replace("T", " "))
    except ValueError:
        try:  # US month/day/year, as MedCalc-Bench asks for (08/31/2023)
            parsed = dt.datetime.strptime(x.strip(), "%m/%d/%Y")
        except ValueError:
            return None
    return parsed.date() if date_only else parsed.replace(microsecond=0, tzinfo=None)


def grade(answer: Any, expected: Any, grader: Grader) -> Grade:
    """Compare ``answer`` with ``expected`` under ``grader``; never raises."""
    if grader.rule == "auroc":
        return _grade_auroc(answer, expected, grader)
    try:
        ok, why = _compare(answer, expected, grader)
    except Exception as exc:  # a malformed answer is a wrong answer, not a crash
        ok, why = False, f"could not compare: {type(exc).__name__}: {exc}"
    return Grade(passed=ok, score=1.0 if ok else 0.0, explanation=why)


def _id_key(x: Any) -> str:
    n = _as_number(x)
    return str(int(n)) if n is not None and math.isfinite(n) and n == int(n) else str(x).strip()


def auroc(labels: list[int], scores: list[float]) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic; tied scores count one half)."""
    pairs = sorted(zip(scores, labels), key=lambda p: p[0])
    n_pos = sum(1 for _, y in pairs if y)
    n_neg = len(pairs) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("the ground truth needs both classes")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2  # 1-based ranks i+1 .. j share their mean
        rank_sum += mid_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _grade_auroc(answer: Any, expected: Any, g: Grader) -> Grade:
    def fail(why: str) -> Grade:
        return Grade(passed=False, score=0.0, explanation=why)

    try:
        if not isinstance(expected, dict) or not expected:
            return fail("the ground truth is not a mapping of ids to labels")
        ids = [_id_key(k) for k in expected]
        labels = [1 if bool(int(v)) else 0 for v in expected.values()]
        if isinstance(answer, dict):
            given = {_id_key(k): v for k, v in answer.items()}
            missing = [i for i in ids if i not in given]
            if missing:
                return fail(f"no prediction for {len(missing)} of {len(ids)} ids (e.g. {missing[:3]})")
            raw = [given[i] for i in ids]
        elif isinstance(answer, (list, tuple)):
            if len(answer) != len(ids):
                return fail(f"{len(answer)} predictions for {len(ids)} ids")
            raw = list(answer)
        else:
            return fail(f"expected a dict of id -> score (or a list of scores), got {type(answer).__name__}")
        scores = []
        for r in raw:
            n = _as_number(r)
            if n is None or not math.isfinite(n):
                return fail(f"every prediction must be a finite number, got {r!r}")
            scores.append(n)
        value = auroc(labels, scores)
    except Exception as exc:  # a malformed answer is a wrong answer, not a crash
        return fail(f"could not compare: {type(exc).__name__}: {exc}")
    threshold = 0.5 if g.threshold is None else g.threshold
    ok = value >= threshold
    return Grade(
        passed=ok, score=round(value, 6),
        explanation=f"AUROC {value:.4f} over {len(ids)} ids ({sum(labels)} positive); "
                    f"{'passes' if ok else 'below'} the threshold {threshold:g}",
    )


def _compare(answer: Any, expected: Any, g: Grader) -> tuple[bool, str]:
    if is_null(expected):
        ok = is_null(answer) or (_as_list(answer) == [])
        return ok, "expected no answer (the data do not contain it)" + ("" if ok else f", got {answer!r}")
    if answer is None:
        return False, "no answer was submitted"
    if g.rule == "range":
        a = _as_number(answer)
        if a is None or math.isnan(a) or g.lower is None or g.upper is None:
            return False, f"expected a number, got {answer!r}"
        eps = 1e-9 * max(1.0, abs(g.lower), abs(g.upper))
        ok = g.lower - eps <= a <= g.upper + eps
        return ok, f"{'match' if ok else 'mismatch'}: got {answer!r}, expected {expected!r} ({g.describe()})"
    if g.rule == "numeric":  # a one-item list and its item are one answer, as under ``set``
        answer, expected = _single(answer), _single(expected)
    if g.rule in ("exact", "numeric"):
        if g.rule == "numeric" and _as_number(answer) is None:
            return False, f"expected a number, got {answer!r}"
        ok = values_equal(answer, expected, g)
        return ok, f"{'match' if ok else 'mismatch'}: got {answer!r}, expected {expected!r} ({g.describe()})"
    if g.rule == "boolean":
        def as_bool(x: Any) -> bool | None:
            if isinstance(x, bool):
                return x
            s = str(x).strip().lower()
            return True if s in _TRUE else False if s in _FALSE else None
        a, e = as_bool(answer), as_bool(expected)
        ok = a is not None and a == e
        return ok, f"{'match' if ok else 'mismatch'}: got {answer!r}, expected {expected!r}"
    if g.rule in ("date", "datetime"):
        date_only = g.rule == "date"
        got, want = _parse_when(answer, date_only=date_only), _parse_when(expected, date_only=date_only)
        if got is None:
            return False, f"could not read {answer!r} as a {g.rule}"
        ok = got == want
        return ok, f"{'match' if ok else 'mismatch'}: got {got}, expected {want}"
    # set / list
    exp_list = _as_list(expected)
    ans_list = _as_list(answer)
    if exp_list is None:
        exp_list = [expected]
    if ans_list is None:
        ans_list = [answer]
    if g.rule == "set":
        def key(x: Any) -> str:
            n = _as_number(x) if not isinstance(x, str) else None
            return f"#{round(n, 6)}" if n is not None else _norm_text(x, g.case_sensitive)

        e_set = {key(x) for x in exp_list}

        def answer_key(x: Any) -> str:
            # as under ``exact`` and ``numeric``: a number written as text matches an expected number,
            # and a number matches expected text that reads the same ("5" expects 5 or "5")
            n = _as_number(x)
            as_number = f"#{round(n, 6)}" if n is not None and math.isfinite(n) else None
            for k in (key(x), as_number, _norm_text(x, g.case_sensitive)):
                if k is not None and k in e_set:
                    return k
            return key(x)

        a_set = {answer_key(x) for x in ans_list}
        ok = a_set == e_set
        if ok:
            return True, f"match: {len(e_set)} item(s)"
        missing, extra = sorted(e_set - a_set), sorted(a_set - e_set)
        return False, f"set mismatch: missing {missing[:5]}, unexpected {extra[:5]}"
    ok = len(ans_list) == len(exp_list) and all(
        values_equal(a, e, g) for a, e in zip(ans_list, exp_list)
    )
    return ok, f"{'match' if ok else 'mismatch'}: got {ans_list!r}, expected {exp_list!r} (in order)"
