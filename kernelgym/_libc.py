"""The C library of a kernelgym process: one handle to it (the sandbox's system calls use it too), and
its heap (glibc's allocator; nothing happens on other C libraries).

Indexing a results file of a million lines makes and frees tens of MB of numpy arrays at a time. glibc
raises its mmap threshold each time such a block is freed (up to 32 MB), so later blocks of that size come
from its heap, whose freed pages stay resident: a resume of a 1,000,000-line run folder (two indexes, one
summary) peaked at 304-319 MB, 279 MB with the threshold fixed (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
"""Blocks of 1 MiB and more are mapped on their own and unmapped when freed."""


_loaded: Any = None


def libc() -> Any:
    """The C library of this process (``ctypes.CDLL(None)``: the symbols already loaded, no library
    search), with ``errno`` kept for the caller; loaded once. None off Linux."""
    global _loaded
    if _loaded is None and sys.platform.startswith("linux"):
        _loaded = ctypes.CDLL(None, use_errno=True)
    return _loaded


def fix_mmap_threshold() -> None:
    """Keep :data:`MMAP_THRESHOLD` as glibc's mmap threshold for the rest of the process (setting it turns
    off glibc's dynamic threshold)."""
    lib = libc()
    try:
        if lib is not None:
            lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except AttributeError:  # not glibc
        pass


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (``malloc_trim``)."""
    lib = libc()
    try:
        if lib is not None:
            lib.malloc_trim(0)
    except AttributeError:
        pass
