"""Run BioCoder reference programs at import time, as the verifier will run the agent's (host side).

A :class:`ProgramRunner` starts one worker process (``python -m kernelgym.importers.medagentgym_programs``)
that forks a fresh child for every program, as kernelgym forks a fresh kernel per episode: no
program sees another's state. The worker imports the modules a program imports before forking it
(once per module), so that the time measured is the program's own work.
The child runs the program with :func:`kernelgym.kernel.medagentgym.run_source` (the function the
kernel uses), its file descriptors 1 and 2 sent to /dev/null, and reports the output's hash and
preview, or the error, and the seconds it took. A child that runs past the time limit is killed.

Two runners with different ``PYTHONHASHSEED`` values (two processes, hence different random
states too) tell deterministic programs from the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProgramResult:
    ok: bool
    evidence: dict[str, str] | None
    error: str | None
    seconds: float


class ProgramRunner:
    """A worker process that runs programs one by one, each in a forked child."""

    def __init__(self, hash_seed: int = 0, timeout: float = 30.0) -> None:
        self.timeout = timeout
        env = dict(os.environ, PYTHONHASHSEED=str(hash_seed), PYTHONDONTWRITEBYTECODE="1")
        self._cwd = tempfile.TemporaryDirectory(prefix="kg-medagentgym-")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "kernelgym.importers.medagentgym_programs"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env, cwd=self._cwd.name,
        )

    def run(self, program: str) -> ProgramResult:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"program": program, "timeout": self.timeout}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the program runner stopped")
        data = json.loads(line)
        return ProgramResult(ok=data["ok"], evidence=data.get("evidence"), error=data.get("error"),
                             seconds=float(data.get("seconds", 0.0)))

    def close(self) -> None:
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            self._proc.wait(timeout=10)
        except Exception:
            self._proc.kill()
        self._cwd.cleanup()

    def __enter__(self) -> ProgramRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------- the worker


def _child(program: str, result_path: str) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import random

    from kernelgym.kernel.medagentgym import run_source

    random.seed()  # a fresh random state per run (a forked child inherits its parent's)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(int.from_bytes(os.urandom(4), "little"))
    t0 = time.perf_counter()
    try:
        evidence = run_source(program)
        out: dict[str, Any] = {"ok": True, "evidence": evidence}
    except BaseException as exc:  # noqa: BLE001 - the program's error is the result
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    out["seconds"] = round(time.perf_counter() - t0, 4)
    Path(result_path).write_text(json.dumps(out))


def _run_one(program: str, timeout: float) -> dict[str, Any]:
    fd, result_path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                _child(program, result_path)
            finally:
                os._exit(0)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return {"ok": False, "error": f"TimeoutError: ran longer than {timeout:g} s", "seconds": timeout}
            time.sleep(0.005)
        text = Path(result_path).read_text()
        if not text:
            return {"ok": False, "error": f"the program ended the process (status {status})", "seconds": 0.0}
        return json.loads(text)
    finally:
        os.unlink(result_path)


def _imported_modules(program: str) -> list[str]:
    import ast

    try:
        tree = ast.parse(program)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def main() -> None:
    import importlib

    importlib.import_module("kernelgym.kernel.medagentgym")  # imported once: the children run programs with it

    tried: set[str] = set()
    for line in sys.stdin:
        job = json.loads(line)
        # the modules the program imports are imported here once, so that a program's time counts its
        # own work, as in the biomed kernel, which has its libraries imported before the verifier runs
        for name in _imported_modules(job["program"]):
            if name not in tried:
                tried.add(name)
                try:
                    importlib.import_module(name)
                except BaseException:  # noqa: BLE001 - the program will report it
                    pass
        sys.stdout.write(json.dumps(_run_one(job["program"], float(job["timeout"]))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
