"""Runs at scale: many episodes in flight within a process's file limit, and bookkeeping whose memory
does not grow with the number of finished episodes."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from helpers.openai_stub import OpenAIStub, Reply, calls, tool_call
from kernelgym.runs.runner import FileLimitTooLow, budget_open_files


def _limit_files(n: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))  # soft and hard, as `ulimit -n N` does

    return apply


def _fake_limits(monkeypatch: pytest.MonkeyPatch, soft: int, hard: int) -> list[tuple[int, int]]:
    set_to: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, hard))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: set_to.append(limits))
    return set_to


def test_a_concurrency_that_does_not_fit_the_file_limit_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    set_to = _fake_limits(monkeypatch, 512, 512)
    with pytest.raises(FileLimitTooLow) as err:
        budget_open_files(128, 1, 2)
    message = str(err.value)
    assert "\n" not in message and message.startswith("--concurrency 128 needs about ")
    assert "at most 512 (ulimit -n); use --concurrency 62 or less" in message  # (512 - 64) // 7 - 2
    assert budget_open_files(62, 1, 2) == 512 and set_to == []  # what it names fits, and nothing was changed


def test_the_soft_file_limit_is_raised_to_the_hard_one_when_the_run_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    set_to = _fake_limits(monkeypatch, 256, 4096)
    assert budget_open_files(64, 1, 2) == 4096 and set_to == [(4096, 4096)]
    set_to.clear()
    assert budget_open_files(8, 1, 2) == 256 and set_to == []  # enough already: left alone


@pytest.mark.kernel
@pytest.mark.slow
def test_128_episodes_in_flight_complete_under_ulimit_n_1024(tmp_path: Path, ehr_data: Path) -> None:
    """128 LLM episodes at once, each holding its kernel while its model call waits (the server answers
    only once all 128 calls are in flight), in a process limited to 1,024 open files: every episode is
    recorded (the run used to abort with SIGABRT, "Too many open files", at 32 in flight)."""
    n = 128
    everyone = threading.Event()
    count = [0]
    lock = threading.Lock()

    def script(body: dict[str, Any]) -> Reply:
        with lock:
            count[0] += 1
            if count[0] >= n:
                everyone.set()
        everyone.wait(timeout=120)
        return calls(tool_call("submit_answer", {"answer": 0}))

    with OpenAIStub(script, api_key=None) as stub:
        proc = subprocess.run(
            [sys.executable, "-m", "kernelgym", "run", "--suite", "ehr", "--split", "all", "--limit", "32",
             "--rollouts", "4", "--model", "openai:stub-model", "--base-url", stub.url, "--concurrency", str(n),
             "--max-turns", "1", "--no-progress", "--fail-on-error", "1", "--out", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=600, preexec_fn=_limit_files(1024),
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert everyone.is_set() and stub.max_in_flight == n  # all 128 at once: the request cap followed --concurrency
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == n
    records = [json.loads(line) for line in lines]
    assert {r["stop_reason"] for r in records} == {"answered"}
    assert all((tmp_path / "run" / r["notebook"]).is_file() for r in records)
    assert "warning" not in proc.stderr
