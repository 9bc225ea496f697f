"""Intra-op thread count chosen per call and restored afterwards.

Tiny networks run faster on one thread: per-operation dispatch dominates and
two OpenMP threads collapse when another process holds a core. The setting is
process-wide, so nested and concurrent users share one reference count and the
caller's value is restored when the last of them leaves.
"""

from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

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


# Before a process's first choice there is no earlier sample to compare with: watch the
# machine this long instead. Later choices compare with the previous sample, which is
# reused for this long before the machine is read again.
_FIRST_WINDOW_SECONDS = 0.03
_PROBE_SECONDS = 1.0
try:
    _TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _TICKS_PER_SECOND = 100


@dataclass(frozen=True)
class _CpuSample:
    pid: int
    wall: float
    machine_busy: float  # CPU seconds spent by every process since boot
    own: float  # CPU seconds spent by this process


def _cpu_sample() -> _CpuSample | None:
    """Busy CPU seconds of the cores this process may run on, and of this process; None
    off Linux."""
    try:
        allowed = {f"cpu{core}" for core in os.sched_getaffinity(0)}
    except AttributeError:
        allowed = None
    busy = 0
    try:
        with open("/proc/stat") as handle:
            for line in handle:
                name, *fields = line.split()
                if not name.startswith("cpu"):
                    break  # the per-core lines come first
                if (name in allowed) if allowed is not None else name == "cpu":
                    # user nice system idle iowait irq softirq steal: idle, iowait are free
                    ticks = [int(v) for v in fields[:8]]
                    busy += sum(ticks) - ticks[3] - ticks[4]
    except (OSError, ValueError, IndexError):
        return None
    return _CpuSample(os.getpid(), time.monotonic(), busy / _TICKS_PER_SECOND,
                      time.process_time())


def cores_busy_elsewhere(before: _CpuSample, after: _CpuSample) -> float:
    """Cores used by other processes between two samples (0.0 for an idle machine)."""
    elapsed = after.wall - before.wall
    if elapsed <= 0:
        return 0.0
    others = (after.machine_busy - before.machine_busy) - (after.own - before.own)
    return max(0.0, others / elapsed)


_last_sample: _CpuSample | None = None
_last_idle = 0


def idle_cores() -> int:
    """Cores that other processes left idle, measured by CPU time (re-read at most once a second).

    OpenMP threads spin at every barrier, so one that shares its core with
    another process stalls all the others: on 2 loaded cores a step of a
    64-128-64-10 network took 277 ms with 2 threads and 13 ms with 1.

    Other processes' CPU time is the busy time of the cores this process may run
    on (``/proc/stat``) less this process's own, since the previous call. Neither
    the load average nor a count of runnable threads serves: the average still
    holds this process's own recent work (after a two-threaded fit it reads about
    2), and both counted a phantom runnable task on an idle development machine.
    A core counts as busy once others use a quarter of it: too few threads costs
    at most a factor of the core count, too many can cost 100x.
    """
    global _last_sample, _last_idle
    previous = _last_sample
    if previous is not None and previous.pid != os.getpid():  # a forked child
        previous = None
    if previous is not None and time.monotonic() - previous.wall < _PROBE_SECONDS:
        return _last_idle
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    current = _cpu_sample()
    if current is None:
        return _idle_from_load_average(cores)
    if previous is None:
        previous = current
        time.sleep(_FIRST_WINDOW_SECONDS)
        current = _cpu_sample()
    busy = math.ceil(cores_busy_elsewhere(previous, current) - 0.25)
    _last_sample, _last_idle = current, max(1, cores - max(0, busy))
    return _last_idle


def _idle_from_load_average(cores: int) -> int:
    """Without /proc (macOS): the 1-minute load average less this process."""
    try:
        others = round(os.getloadavg()[0] - 1.0)
    except (OSError, AttributeError):  # no load average (Windows)
        return cores
    return max(1, cores - max(0, others))


def threads_for(flops_per_step: float) -> int | None:
    """The intra-op thread count for a step, or None to keep the caller's setting.

    One thread for tiny steps; never more threads than idle cores.
    """
    if flops_per_step < SINGLE_THREAD_FLOPS:
        return 1
    current = torch.get_num_threads()
    if current == 1:
        return None
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
