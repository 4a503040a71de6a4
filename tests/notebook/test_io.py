"""The one safe reader of notebook files (``kernelgym.notebook.io``), no kernel: what it refuses and why.

``kernelgym grade``, ``kernelgym export`` and the replay agent read user-given notebooks through it;
the CLI tests of ``tests/regrade/test_grade_inputs.py`` pin the same holes end to end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helpers.paths import TESTS
from kernelgym import notebook as nbk
from kernelgym.notebook import io

GOLDEN = TESTS / "data" / "golden" / "passed.ipynb"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Issue 15 (9): opening a FIFO named ``*.ipynb`` for reading blocked until a writer came, forever."""
    fifo = tmp_path / "x.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(nbk.NotebookFileError, match=r"x\.ipynb: a FIFO .*not a regular file"):
        nbk.read(fifo)


def test_a_symlink_to_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    """Issue 15 (9): a symlink to ``/dev/zero`` named ``*.ipynb`` was read until memory ran out."""
    link = tmp_path / "zero.ipynb"
    link.symlink_to("/dev/zero")
    with pytest.raises(nbk.NotebookFileError, match="a character device"):
        nbk.read_bytes(link)


def test_a_file_over_the_cap_is_refused_and_the_cap_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.ipynb"
    with open(big, "wb") as fh:  # sparse: costs no disk
        fh.truncate(io.DEFAULT_MAX_NOTEBOOK_MB * 1024 * 1024 + 1)
    with pytest.raises(nbk.NotebookFileError, match=r"over the 64 MiB limit.*KERNELGYM_MAX_NOTEBOOK_MB"):
        nbk.read_bytes(big)
    monkeypatch.setenv(io.MAX_NOTEBOOK_MB_ENV, "0.001")
    assert io.max_notebook_bytes() == 1048
    with pytest.raises(nbk.NotebookFileError, match="over the 0.0009995 MiB limit"):
        nbk.read(GOLDEN)
    monkeypatch.setenv(io.MAX_NOTEBOOK_MB_ENV, "not a number")
    assert io.max_notebook_bytes() == 64 * 1024 * 1024
    assert len(nbk.read(GOLDEN).cells) == 11


def test_a_fifo_swapped_in_after_the_check_is_refused_by_the_opened_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check of the name and an open of the name are two steps: the file may change in between. The
    stat of the name is made to lie (as if a regular file had been replaced by a FIFO after it); the
    ``fstat`` of the opened descriptor still refuses it, and the open itself does not block."""
    fifo = tmp_path / "swapped.ipynb"
    os.mkfifo(fifo)
    regular = os.stat(GOLDEN)
    real_stat = os.stat
    monkeypatch.setattr(io.os, "stat", lambda p, *a, **k: regular if Path(p) == fifo else real_stat(p, *a, **k))
    with pytest.raises(nbk.NotebookFileError, match="a FIFO"):
        nbk.read_bytes(fifo)


def test_a_file_that_grows_after_the_check_is_read_only_up_to_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size the descriptor reports is not trusted alone: never more than cap + 1 bytes are read."""
    big = tmp_path / "grows.ipynb"
    big.write_bytes(b"x" * 5000)
    (tmp_path / "small").write_bytes(b"{}")
    small = os.stat(tmp_path / "small")
    real_fstat = os.fstat
    monkeypatch.setattr(io.os, "fstat", lambda fd: small if stat.S_ISREG(real_fstat(fd).st_mode) else real_fstat(fd))
    monkeypatch.setattr(io.os, "stat", lambda *a, **k: small)
    with pytest.raises(nbk.NotebookFileError, match="more than"):
        nbk.read_bytes(big, max_bytes=4096)
