"""``kernelgym ARGS`` run inside the test process (typer's CliRunner on ``kernelgym.cli:app``).

A ``python -m kernelgym`` subprocess costs about 1.4 s of CPU (0.7 s of it imports) and, for a run,
a fork server of its own (1-3 s: pandas and the profile's data preloaded). In the test process the
imports are done and the worker's fork server (``kernelgym.runtime.forkclient`` keeps one per
process) is reused. Tests about the process itself (signals, kill -9, the installed entry point,
ulimit, the environment or current folder of a fresh interpreter) keep a subprocess.

The result has the fields of ``subprocess.CompletedProcess`` the tests read: ``returncode``,
``stdout``, ``stderr``. An exception the command did not handle is appended to ``stderr`` as its
traceback, as the real command's interpreter would print it, and gives return code 1.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass


@dataclass
class Ran:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def kernelgym(*args: str, env: dict[str, str] | None = None) -> Ran:
    """Run ``kernelgym ARGS`` in this process. ``env``: variables set for the command only. What the
    command changes in ``os.environ`` (``--specs`` sets ``$KERNELGYM_SPECS``), ``sys.path`` (the
    current folder, for ``--agent module:Class``) and ``sys.argv`` (recorded in run.json) is put back
    afterwards, and the task caches are cleared around a command given other task specs."""
    from typer.testing import CliRunner

    from kernelgym import tasks
    from kernelgym.cli import app

    argv = [str(a) for a in args]
    saved_env, saved_path, saved_argv = dict(os.environ), list(sys.path), sys.argv
    other_specs = "--specs" in argv or (env is not None and "KERNELGYM_SPECS" in env)
    if other_specs:
        tasks.clear_caches()
    try:
        sys.argv = ["kernelgym", *argv]  # what `kernelgym ARGS` has in sys.argv[1:]
        res = CliRunner().invoke(app, argv, env=env, prog_name="kernelgym")
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)
        if other_specs:
            tasks.clear_caches()
    stderr = res.stderr
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        exc = res.exception
        stderr += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Ran(argv, res.exit_code, res.stdout, stderr)
