"""Runs at scale: many episodes in flight within a process's file limit, and bookkeeping whose memory
does not grow with the number of finished episodes."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
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
    assert "at most 512 (ulimit -n); use --concurrency 57 or less" in message  # (512 - 96) // 7 - 2
    assert budget_open_files(57, 1, 2) == 512 and set_to == []  # what it names fits, and nothing was changed


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
    assert everyone.is_set() and stub.max_in_flight == n, stub.max_in_flight  # all 128 at once: the request cap followed --concurrency
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == n
    records = [json.loads(line) for line in lines]
    assert {r["stop_reason"] for r in records} == {"answered"}, [r.get("error") for r in records if r["stop_reason"] != "answered"]
    assert all((tmp_path / "run" / r["notebook"]).is_file() for r in records)
    assert "warning" not in proc.stderr, proc.stderr[-3000:]


def _record(task_id: str, rollout: int = 0, **kw: Any) -> str:
    family, category, _ = task_id.split("/")
    rec = {"task_id": task_id, "family": family, "category": category, "split": "test", "rollout": rollout,
           "agent": "reference", "passed": True, "score": 1.0, "answer": [1, "mmol/L"], "expected": [1, "mmol/L"],
           "explanation": "answer matches the expected value", "turns": 3, "stop_reason": "answered",
           "duration_s": 1.25, "started_at": "2026-12-07T10:00:00+00:00", "usage": {"prompt_tokens": 4100}}
    return json.dumps({**rec, **kw}) + "\n"


def test_the_results_index_applies_the_one_rule(tmp_path: Path) -> None:
    from kernelgym.runs.runner import iter_results, read_results

    (tmp_path / "results.jsonl").write_text(
        _record("f/a/1", stop_reason="agent_error", passed=False) + _record("f/a/2") + _record("f/a/1", 1)
        + "\n" + _record("f/a/1", answer=7) + _record("f/b/3") + '{"task_id": "f/a/2", "half-written')
    index, bad = iter_results(tmp_path)
    records = list(index)
    assert bad == 1 and len(index) == 4
    assert [(r.task_id, r.rollout) for r in records] == [("f/a/1", 0), ("f/a/2", 0), ("f/a/1", 1), ("f/b/3", 0)]
    assert records[0].answer == 7 and records[0].stop_reason == "answered"  # the later line supersedes
    assert ("f/a/1", 1) in index and ("f/a/2", 0) in index and ("f/a/2", 1) not in index and ("x/y/z", 0) not in index
    assert read_results(tmp_path) == (records, 1)
    assert list(iter_results(tmp_path / "nowhere")[0]) == []


def test_summary_and_report_memory_does_not_grow_with_the_episodes(tmp_path: Path) -> None:
    """Reading 5,000 records keeps an index of 24 bytes a line, not the records (~4 KB each before)."""
    import tracemalloc

    from kernelgym.runs.report import load_run
    from kernelgym.runs.runner import iter_results, summarize

    with open(tmp_path / "results.jsonl", "w") as fh:
        for i in range(5_000):
            fh.write(_record(f"fam/cat{i % 20}/{i:06d}", passed=i % 3 != 0))
    # first a run of 3 lines: the modules and caches this loads (numpy, pydantic's validators...) are
    # not what is measured; run alone, without it, the test failed on them (5.8 MB)
    warm = tmp_path / "warm"
    warm.mkdir()
    (warm / "results.jsonl").write_text("".join(_record(f"fam/cat/{i:06d}", passed=True) for i in range(3)))
    summarize(iter_results(warm)[0])
    load_run(warm)
    tracemalloc.start()
    try:
        summary = summarize(iter_results(tmp_path)[0])
        run = load_run(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary["total"]["episodes"] == run.episodes == 5_000 and len(summary["categories"]) == 20
    assert summary["total"]["passed"] == run.passed == 3_333
    assert peak < 1_000_000, peak  # the records alone would be ~20 MB


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_ray_address_fails_at_once_in_one_line() -> None:
    from kernelgym.runs.ray_backend import RayBackendError, check_reachable

    port = _free_port()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(RayBackendError) as err:
            check_reachable(address, timeout=0.5)
        assert str(err.value).startswith(f"cannot reach the Ray cluster at {address} (connection refused")
        assert "\n" not in str(err.value)
    check_reachable("auto")  # left to Ray


@pytest.mark.slow
def test_kernelgym_run_on_an_unreachable_ray_cluster_stops_within_seconds(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kernelgym", "run", "--suite", "ehr", "--limit", "1", "--backend", "ray",
         "--address", f"127.0.0.1:{_free_port()}", "--out", str(tmp_path / "run"), "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and time.monotonic() - t0 < 30
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the Ray cluster at 127.0.0.1:" in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()
