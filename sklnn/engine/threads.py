"""Intra-op thread count chosen per call and restored afterwards.

Tiny networks run faster on one thread: per-operation dispatch dominates and
two OpenMP threads collapse when another process holds a core. Inside a
parallel worker (a joblib process or thread, a Dask worker) a fit also keeps
to its share of the cores, so that concurrent fits do not oversubscribe them.

torch's intra-op count belongs to the calling OS thread once that thread has
used it (it is OpenMP's per-thread ``nthreads-var``); ``set_num_threads`` also
sets the default a thread picks up on first use. A budget therefore saves and
restores the calling thread's own count, and the first budget to start in the
process and the last to end keep that default: concurrent fits in joblib's
threading backend never change the parent thread's setting.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

# Below this many floating-point operations per step (or per predict batch) one thread
# is used; above it, as many as there are idle cores. On an idle machine a second thread
# breaks even near 1e7 FLOPs per step and pays off above; on a busy one it loses at every
# size, which ``idle_cores`` guards against (measurements: docs/benchmarks.md and
# ``python -m benchmarks.threads_crossover``). Results differ in
# the last bits between thread counts, so for bit-identical refits across machines or
# loads, call ``torch.set_num_threads(1)`` first: sklnn never raises the count.
SINGLE_THREAD_FLOPS = 2e7

_lock = threading.Lock()
_local = threading.local()  # this thread's budget depth and saved count
_holders: dict[int, int] = {}  # thread id -> budget depth, for threads inside a budget
_process_saved = 0  # the default count when the first of the current budgets started


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
    another process stalls all the others (an order of magnitude slower per
    step; docs/benchmarks.md).

    Other processes' CPU time is the busy time of the cores this process may run
    on (``/proc/stat``) less this process's own, since the previous call. Neither
    the load average nor a count of runnable threads serves: the average still
    holds this process's own recent work (after a two-threaded fit it reads about
    2), and both counted a phantom runnable task on an idle development machine.
    A core counts as busy once others use a quarter of it: too few threads costs
    at most a factor of the core count, too many costs far more.
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

    One thread for tiny steps; never more threads than idle cores, nor than this
    worker's share of the cores (:func:`worker_share`).
    """
    if flops_per_step < SINGLE_THREAD_FLOPS:
        return 1
    current = torch.get_num_threads()
    limit = current
    share = worker_share()
    if share is not None:
        limit = min(limit, share)
    if limit > 1:
        limit = min(limit, idle_cores())
    return limit if limit < current else None


# ------------------------------------------------------------------ parallel workers
def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as joblib's loky backend and Dask's nanny set it in workers."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return value if value > 0 else None


def _dask_worker():
    """The Dask worker running this task, or None (Dask is never imported here)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:  # "No worker found": not inside a task
        return None


def _in_loky_worker() -> bool:
    executor = sys.modules.get("joblib.externals.loky.process_executor")
    return getattr(executor, "_CURRENT_DEPTH", 0) > 0


def _in_joblib_thread() -> bool:
    """Whether this is one of joblib's worker threads (its threading backend, n_jobs >= 2)."""
    if threading.current_thread() is threading.main_thread():
        return False
    parallel = sys.modules.get("joblib.parallel")
    if parallel is None:
        return False
    backend, _ = parallel.get_active_backend()
    return getattr(backend, "nesting_level", 0) >= 1


def _forked_from_parent() -> bool:
    """Whether this process has its parent's command line: forked, not spawned."""
    try:
        with open("/proc/self/cmdline", "rb") as mine, open(
            f"/proc/{os.getppid()}/cmdline", "rb"
        ) as parents:
            return mine.read() == parents.read()
    except OSError:
        return False


def _pool_share(cores: int) -> int:
    """Threads for a fit in a ``multiprocessing.Pool`` worker (joblib's multiprocessing backend).

    A forked worker gets one thread: GNU OpenMP's thread pool does not survive
    ``fork``, and a parallel region in the child of a parent that had used it
    blocks for ever (two threads hung, one ran, in a 2-worker pool). A spawned
    worker gets the cores over the pool's size; joblib passes its workers no
    thread limit and only starts a pool for n_jobs >= 2, so at least two are assumed.
    """
    if _forked_from_parent():
        return 1
    parent, count = os.getppid(), 0
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            mine = handle.read()
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        entries, mine = [], b""
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    count += handle.read() == mine
        except (OSError, ValueError, IndexError):
            continue
    return max(1, cores // max(2, count))


def worker_share() -> int | None:
    """Intra-op threads one fit may use in this worker, or None outside parallel workers.

    - a Dask worker: the cores over its task threads, at most ``OMP_NUM_THREADS``
      (which Dask's nanny sets to 1 unless configured otherwise);
    - a joblib loky worker: ``OMP_NUM_THREADS``, which joblib sets to
      ``inner_max_num_threads`` or ``cpu_count() // n_jobs``;
    - a joblib multiprocessing worker: one thread if forked, else the cores over
      the pool's processes;
    - a joblib worker thread: the cores over the threads fitting at once (at least 2).

    Within one process, concurrent fits in several threads split its share.
    """
    cores = _usable_cores()
    me = threading.get_ident()
    with _lock:
        concurrent = 1 + sum(1 for ident in _holders if ident != me)
    worker = _dask_worker()
    if worker is not None:
        tasks = max(concurrent, int(getattr(worker.state, "nthreads", 1) or 1))
        env = _env_threads()
        share = cores // tasks if env is None else min(env, cores // tasks)
        return max(1, share)
    if _in_loky_worker():
        return max(1, (_env_threads() or cores) // concurrent)
    if multiprocessing_worker():
        return max(1, _pool_share(cores) // concurrent)
    if _in_joblib_thread():
        return max(1, cores // max(2, concurrent))
    if concurrent > 1:
        return max(1, cores // concurrent)
    return None


def multiprocessing_worker() -> bool:
    """Whether this process is a daemonic ``multiprocessing`` worker (not loky, not Dask)."""
    import multiprocessing

    process = multiprocessing.current_process()
    return bool(process.daemon) and multiprocessing.parent_process() is not None


@contextmanager
def thread_budget(n_threads: int | None):
    """Run the body with ``n_threads`` intra-op threads on this thread (None leaves it alone).

    A budget inside another on the same thread may lower the count, never raise it,
    and gives the enclosing budget's count back when it ends.
    """
    global _process_saved
    if n_threads is None:
        yield
        return
    me = threading.get_ident()
    depth = getattr(_local, "depth", 0)
    current = torch.get_num_threads()
    if depth == 0:
        _local.saved = current
    with _lock:
        if not _holders:
            _process_saved = current
        _holders[me] = depth + 1
    _local.depth = depth + 1
    change = n_threads < current if depth else n_threads != current
    if change:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        _local.depth = depth
        with _lock:
            if depth:
                _holders[me] = depth
                last = False
            else:
                del _holders[me]
                last = not _holders
        if depth:
            if change:
                torch.set_num_threads(current)
        else:
            # The last budget out leaves torch's default for new threads as it found it;
            # the main thread always gets its own count back.
            main = threading.current_thread() is threading.main_thread()
            target = _process_saved if last and not main else _local.saved
            if torch.get_num_threads() != target:
                torch.set_num_threads(target)
