"""Reading and writing notebook files (validated; written atomically; read safely).

Every notebook a user names (``kernelgym grade``, ``kernelgym export``, the replay agent) is read
through :func:`read_bytes`, the one place the rule lives: open without blocking, ``fstat`` the opened
descriptor (so a file swapped between a check and the open cannot win), refuse anything that is not
a regular file (a FIFO named ``x.ipynb`` would block forever, a symlink to ``/dev/zero`` never ends)
and anything over :func:`max_notebook_bytes`, and never read more than that cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_NOTEBOOK_MB_ENV = "KERNELGYM_MAX_NOTEBOOK_MB"
"""Environment variable: the largest notebook file read, in MiB (default :data:`DEFAULT_MAX_NOTEBOOK_MB`)."""
DEFAULT_MAX_NOTEBOOK_MB = 64
"""Episode notebooks are far smaller (outputs are capped when they are recorded); 64 MiB leaves room
for plots while bounding what one file can make a grader hold in memory (the parsed JSON takes
several times the file's size)."""

_KINDS = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
)


class NotebookFileError(ValueError):
    """A notebook file refused before it is parsed: missing, unreadable, not a regular file, or too large.

    Its message is one line: which file, why, and what to do.
    """


def max_notebook_bytes() -> int:
    """The size cap of notebook files, from ``$KERNELGYM_MAX_NOTEBOOK_MB`` (default 64 MiB)."""
    raw = os.environ.get(MAX_NOTEBOOK_MB_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MAX_NOTEBOOK_MB
    except ValueError:
        mb = DEFAULT_MAX_NOTEBOOK_MB
    if not mb > 0:
        mb = DEFAULT_MAX_NOTEBOOK_MB
    return int(mb * 1024 * 1024)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.4g} MiB"


def _too_large(path: Path | str, size: int, cap: int, *, at_least: bool = False) -> NotebookFileError:
    return NotebookFileError(
        f"{path}: {'more than ' if at_least else ''}{_mib(size)}, over the {_mib(cap)} limit for notebook files; "
        f"set {MAX_NOTEBOOK_MB_ENV} to a larger number of MiB to read it"
    )


def _open_regular(path: Path | str, cap: int) -> tuple[int, int]:
    """Open ``path`` for reading without blocking and check the opened file; returns (fd, size)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        _check_stat(path, os.stat(path), cap)  # devices are never even opened (opening some has effects)
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO swapped in after the stat does not block the open
    except FileNotFoundError:
        raise NotebookFileError(f"{path}: not found (or a broken symlink); give an existing notebook file") from None
    except OSError as exc:
        raise NotebookFileError(f"{path}: cannot be opened ({exc.strerror or exc}); give a readable notebook file") from None
    try:
        st = os.fstat(fd)  # what was opened decides, not what the name points to now
        _check_stat(path, st, cap)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _check_stat(path: Path | str, st: os.stat_result, cap: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise NotebookFileError(f"{path}: {kind}, not a regular file; give a notebook file (.ipynb) instead")
    if st.st_size > cap:
        raise _too_large(path, st.st_size, cap)


def check_file(path: Path | str, max_bytes: int | None = None) -> None:
    """Raise :class:`NotebookFileError` if :func:`read_bytes` would refuse ``path`` (nothing is read)."""
    fd, _ = _open_regular(path, max_notebook_bytes() if max_bytes is None else max_bytes)
    os.close(fd)


def read_bytes(path: Path | str, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (default :func:`max_notebook_bytes`).

    Blocking (file I/O): call it from a worker thread in async code. Raises :class:`NotebookFileError`.
    """
    cap = max_notebook_bytes() if max_bytes is None else max_bytes
    fd, _ = _open_regular(path, cap)
    chunks: list[bytes] = []
    total = 0
    try:
        while True:  # at most cap + 1 bytes: the file may have grown since fstat
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise _too_large(path, total, cap, at_least=True)
    except OSError as exc:
        raise NotebookFileError(f"{path}: read failed ({exc.strerror or exc}); give a readable notebook file") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def write(nb: NotebookNode, path: Path, *, validate: bool = True) -> None:
    """Validate (unless told not to) and write atomically: a killed run or a full disk never leaves half
    a notebook, an empty one, or the temporary file it was written to."""
    if validate:
        nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    # nbformat.write's own bytes, without the second validation it runs (logging, not raising)
    text = nbformat.v4.nbjson.writes(nb)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read(path: Path | str, max_bytes: int | None = None) -> NotebookNode:
    """Read a notebook file as nbformat v4 (safely, see :func:`read_bytes`; blocking).

    Raises :class:`NotebookFileError` for a file refused before parsing; JSON and schema errors as
    ``nbformat.read`` raises them.
    """
    data = read_bytes(path, max_bytes)
    nb: NotebookNode = nbformat.reads(data.decode("utf-8"), as_version=4)
    return nb
