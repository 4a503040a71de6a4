"""Folders made once per test session and shared by its xdist workers (data sets, a reference run)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SESSION_ENV = "KG_TEST_SESSION_DIR"
"""Set by tests/conftest.py: the folder the workers of this test session share."""


def session_dir() -> Path:
    return Path(os.environ[SESSION_ENV])


@contextmanager
def made_once(name: str) -> Iterator[Path | None]:
    """The shared folder ``name``. Under a lock, yields the empty folder to the one caller that must
    make it (then it is marked done), or None when it is made already: the other workers wait for it,
    then reuse it (and must not change it)."""
    root = session_dir()
    folder = root / name
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"{name}.done"
        if done.exists():
            yield None
        else:
            shutil.rmtree(folder, ignore_errors=True)  # made part way by a failure
            folder.mkdir()
            yield folder
            done.touch()
