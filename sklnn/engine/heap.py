"""Freed batch memory handed back to the operating system.

Training allocates and frees a few batch-sized buffers per step. glibc keeps the
freed space in its heap, where holes between longer-lived small allocations are
neither reused in full nor returned; over an epoch of thousands of batches the
process's memory grows with the data although each buffer is freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: Batches between two hand-backs of freed heap memory (see ``release_freed_memory``).
RELEASE_EVERY = 32


def _glibc_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim", None)
    except OSError:
        return None


_MALLOC_TRIM = _glibc_malloc_trim()


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc only).

    Each batch's buffers are freed, but glibc keeps the holes they leave between
    longer-lived allocations: without this, one epoch grew the process by a third
    to a half of the bytes its batches read (docs/scaling.md), growth that scales
    with the data rather than with the batch.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
