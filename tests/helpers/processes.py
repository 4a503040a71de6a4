"""Killing a busy ``kernelgym run`` with SIGKILL and watching what it leaves behind."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest


def kill_9_busy_run(out: Path, busy: int) -> tuple[int, list[Any]]:
    """Start ``kernelgym run`` with ``busy`` Sleeper episodes, wait until each cell sleeps next to
    its own ``sleep`` child, then SIGKILL the run (no cleanup code runs in it). Returns the run's pid
    and its process tree as it was just before the kill."""
    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-m", "kernelgym", "run", "--suite", "ehr", "--agent", "helpers.adversarial_agents:Sleeper",
         "--limit", str(busy), "--concurrency", str(busy), "--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            tree = psutil.Process(proc.pid).children(recursive=True)
            if sum(1 for p in tree if _name(p) == "sleep") >= busy:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the run never had {busy} busy kernels")
    finally:
        proc.kill()
        proc.wait()
    return proc.pid, tree


def wait_gone(tree: list[Any], timeout: float) -> list[Any]:
    """Wait up to ``timeout`` seconds for the processes of ``tree`` to die; returns those still alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_is_alive(p) for p in tree):
        time.sleep(0.05)
    return [p for p in tree if _is_alive(p)]


def _name(p: Any) -> str:
    try:
        return p.name()
    except Exception:
        return ""


def _is_alive(p: Any) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
