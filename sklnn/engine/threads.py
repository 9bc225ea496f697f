"""Intra-op thread count chosen per call and restored afterwards.

Tiny networks run faster on one thread: per-operation dispatch dominates and
two OpenMP threads collapse when another process holds a core. The setting is
process-wide, so nested and concurrent users share one reference count and the
caller's value is restored when the last of them leaves.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import torch

# Below this many floating-point operations per step (or per predict batch) one thread
# is used; above it, as many as there are idle cores. On an idle 2-core machine two
# threads break even at about 1e7 FLOPs per step (a 64-64-64 MLP at batch 200) and win
# 1.5x at 1.6e8 and 2x on the MNIST MLP (20 epochs: 2.0 s against 3.4-4.9 s). On a busy
# machine a second OpenMP thread loses 6-250x at every size (``python -m
# benchmarks.threads_crossover``), which ``idle_cores`` guards against. Results differ in
# the last bits between thread counts, so for bit-identical refits across machines or
# loads, call ``torch.set_num_threads(1)`` first: sklnn never raises the count.
SINGLE_THREAD_FLOPS = 2e7

_lock = threading.Lock()
_depth = 0
_saved = 0


def idle_cores() -> int:
    """Cores not busy with other processes, from the 1-minute load average.

    OpenMP threads spin at every barrier, so one that shares its core with
    another process stalls all the others: on 2 loaded cores a step of a
    64-128-64-10 network took 277 ms with 2 threads and 13 ms with 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        others = os.getloadavg()[0] - 1.0  # this process is one of the runnable ones
    except (OSError, AttributeError):  # no load average (Windows)
        return cores
    return max(1, cores - max(0, round(others)))


def threads_for(flops_per_step: float) -> int | None:
    """The intra-op thread count for a step, or None to keep the caller's setting.

    One thread for tiny steps; never more threads than idle cores.
    """
    if flops_per_step < SINGLE_THREAD_FLOPS:
        return 1
    current = torch.get_num_threads()
    idle = idle_cores()
    return idle if idle < current else None


@contextmanager
def thread_budget(n_threads: int | None):
    """Run the body with ``n_threads`` intra-op threads (None leaves it alone)."""
    global _depth, _saved
    if n_threads is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = torch.get_num_threads()
            if _saved != n_threads:
                torch.set_num_threads(n_threads)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and torch.get_num_threads() != _saved:
                torch.set_num_threads(_saved)
