"""The C heap of a kernelgym process (glibc's allocator; nothing happens on other C libraries).

Indexing a results file of a million lines makes and frees tens of MB of numpy arrays at a time. glibc
raises its mmap threshold each time such a block is freed (up to 32 MB), so later blocks of that size come
from its heap, whose freed pages stay resident: a resume of a 1,000,000-line run folder (two indexes, one
summary) peaked at 304-319 MB, 279 MB with the threshold fixed (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
"""Blocks of 1 MiB and more are mapped on their own and unmapped when freed."""


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None)
    except OSError:
        return None


def fix_mmap_threshold() -> None:
    """Keep :data:`MMAP_THRESHOLD` as glibc's mmap threshold for the rest of the process (setting it turns
    off glibc's dynamic threshold)."""
    libc = _libc()
    try:
        if libc is not None:
            libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except AttributeError:  # not glibc
        pass


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (``malloc_trim``)."""
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:
        pass
