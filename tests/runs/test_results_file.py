"""``results.jsonl`` as :func:`kernelgym.runs.runner.read_results` reads it (no kernel)."""

from __future__ import annotations

from pathlib import Path

from kernelgym.episode import EpisodeResult
from kernelgym.runs.runner import RESULTS, read_results


def _result(task_id: str, answer: object, passed: bool = False) -> EpisodeResult:
    return EpisodeResult(task_id=task_id, family="ehr", category="c", split="test", agent="llm", passed=passed,
                         score=float(passed), answer=answer, turns=1, stop_reason="answered", duration_s=1.0,
                         started_at="2026-01-01T00:00:00+00:00")


def test_an_answer_holding_a_unicode_line_break_stays_one_episode(tmp_path: Path) -> None:
    """Issue 18: JSON keeps U+2028 (line separator), U+0085 (next line) and U+001E raw inside strings,
    and read_results split the file with ``str.splitlines``, which breaks lines there too: the
    episode vanished as unreadable lines (and a resume would run it again)."""
    lines = [_result("ehr/c/00000", "a\u2028b\x85c\x1ed").model_dump_json(), _result("ehr/c/00001", 1).model_dump_json(),
             _result("ehr/c/00000", "a\u2028b", passed=True).model_dump_json(), '{"task_id": "cut']
    (tmp_path / RESULTS).write_text("\n".join(lines) + "\n")
    results, bad = read_results(tmp_path)
    assert bad == 1  # the half-written last line only
    assert [(r.task_id, r.answer, r.passed) for r in results] == [("ehr/c/00000", "a\u2028b", True), ("ehr/c/00001", 1, False)]
