"""glibc's heap during training: freed batch memory handed back, and reused.

Training allocates and frees a few batch-sized buffers per step. glibc keeps the
freed space in its heap, where holes between longer-lived small allocations are
neither reused in full nor returned; over an epoch of thousands of batches the
process's memory grows with the data although each buffer is freed
(``release_freed_memory``).

The opposite problem appears where the process was started with one of glibc's
``MALLOC_*_`` thresholds set, as Dask's nanny does for every worker
(``MALLOC_TRIM_THRESHOLD_=65536``): a fixed threshold turns off glibc's dynamic
mmap threshold, so every buffer above 128 KiB is mapped on allocation and unmapped
on free, and each step pays page faults for all its activations
(``heap_for_batches``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from contextlib import contextmanager

#: Batches between two hand-backs of freed heap memory (see ``release_freed_memory``).
RELEASE_EVERY = 32


def _glibc(name: str):
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c")), name, None)
    except OSError:
        return None


_MALLOC_TRIM = _glibc("malloc_trim")
_MALLOPT = _glibc("mallopt")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024  # both thresholds' start values in glibc
# What glibc's dynamic thresholds reach at most on 64-bit systems: the mmap threshold
# rises to the largest freed mapped buffer, up to 32 MiB, and the trim threshold to twice it.
_TRAINING_MMAP_THRESHOLD = 32 * 2**20
_TRAINING_TRIM_THRESHOLD = 64 * 2**20
_FIXED_BY = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
             "MALLOC_MMAP_MAX_")
_heap_lock = threading.Lock()
_heap_users = 0


def fixed_thresholds(environ=os.environ) -> tuple[int, int] | None:
    """The (trim, mmap) thresholds the process started with, if the environment fixed them.

    None where glibc's dynamic thresholds are in effect (no ``MALLOC_*_`` variable
    set), which already keep batch buffers in the heap.
    """
    if not any(environ.get(name) for name in _FIXED_BY):
        return None

    def value(name):
        try:
            return int(environ.get(name, ""))
        except ValueError:
            return _GLIBC_DEFAULT_THRESHOLD

    return value("MALLOC_TRIM_THRESHOLD_"), value("MALLOC_MMAP_THRESHOLD_")


@contextmanager
def heap_for_batches():
    """While a fit or prediction runs, keep freed batch buffers in glibc's heap for reuse.

    Only acts where the environment fixed glibc's thresholds (``fixed_thresholds``):
    it sets the values the dynamic thresholds would reach, and the first of concurrent
    users (threads of one process) to enter and the last to leave set and restore them;
    the freed heap is then handed back, which is what the fixed thresholds were for.
    ``release_freed_memory`` keeps the heap from growing in between.
    """
    global _heap_users
    restore = fixed_thresholds() if _MALLOPT is not None else None
    if restore is None:
        yield
        return
    with _heap_lock:
        if _heap_users == 0:
            _MALLOPT(_M_MMAP_THRESHOLD, _TRAINING_MMAP_THRESHOLD)
            _MALLOPT(_M_TRIM_THRESHOLD, _TRAINING_TRIM_THRESHOLD)
        _heap_users += 1
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                _MALLOPT(_M_TRIM_THRESHOLD, restore[0])
                _MALLOPT(_M_MMAP_THRESHOLD, restore[1])
                release_freed_memory()


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc only).

    Each batch's buffers are freed, but glibc keeps the holes they leave between
    longer-lived allocations: without this, one epoch grew the process by a third
    to a half of the bytes its batches read (docs/scaling.md), growth that scales
    with the data rather than with the batch.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
