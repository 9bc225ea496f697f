"""``fit(n_processes=N)``: start N worker processes, train data-parallel, bring rank 0's
model back.

Both sides of the hand-over live here. The caller (:func:`fit_in_processes`) writes
into a private temporary folder (mode 0700): each numeric array as a ``.npy`` file
that the workers memory-map, and the estimator with its remaining arguments,
serialised with cloudpickle (so callbacks and trainer classes defined in a script or
in ``python -c`` travel by value). It then runs ``python -m sklnn.engine._ddp_worker
FOLDER RANK WORLD`` N times. The workers meet through a file in that folder (no
port to pick), train with :mod:`sklnn.engine.distributed`, and rank 0 writes the
fitted estimator and the warnings it raised. Only the worker processes run sklnn's
entry point, never the user's script, so code after ``fit`` runs once and no
``if __name__ == "__main__"`` guard is needed.

A worker that fails writes its traceback and exits; the caller, which polls its
workers, then stops the others at once and raises with that traceback, so a failure
never leaves ``fit`` waiting on a collective that cannot complete.
"""

from __future__ import annotations

import datetime
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import cloudpickle
import numpy as np

from sklnn._atomic import atomic_write
from sklnn.engine import _ddp_guard

#: Seconds a collective may wait for another rank before the worker gives up; the
#: caller stops all workers as soon as one exits with an error, long before this.
COLLECTIVE_TIMEOUT = 1800
_POLL_SECONDS = 0.05


class WorkerFailed(RuntimeError):
    """A data-parallel worker process failed; the message holds its traceback."""


class _Stored:
    """A placeholder for an array written to ``path`` as ``.npy``."""

    def __init__(self, path: str) -> None:
        self.path = path


class _Mapped:
    """A placeholder for a ``numpy.memmap`` the workers map from its own file."""

    def __init__(self, value: np.memmap) -> None:
        self.path, self.offset, self.shape = value.filename, value.offset, value.shape
        self.dtype, self.order = value.dtype.str, "F" if value.flags.f_contiguous and not \
            value.flags.c_contiguous else "C"


def _whole_memmap(value) -> bool:
    """A memmap of a file as opened (not a slice: a slice's ``offset`` is its base's)."""
    import mmap

    return (isinstance(value, np.memmap) and isinstance(value.base, mmap.mmap)
            and value.filename is not None and value.dtype != object
            and (value.flags.c_contiguous or value.flags.f_contiguous))


def _store(folder: str, name: str, value):
    if _whole_memmap(value):  # already on disk: the workers map the same file, no copy
        return _Mapped(value)
    if isinstance(value, np.ndarray) and value.dtype != object:
        path = os.path.join(folder, f"{name}.npy")
        np.save(path, value, allow_pickle=False)
        return _Stored(path)
    if isinstance(value, (tuple, list)) and name == "validation_data":
        return type(value)(_store(folder, f"{name}{i}", v) for i, v in enumerate(value))
    return value


def _load(value):
    if isinstance(value, _Mapped):
        return np.asarray(np.memmap(value.path, dtype=np.dtype(value.dtype), mode="c",
                                    offset=value.offset, shape=value.shape, order=value.order))
    if isinstance(value, _Stored):
        # copy-on-write: torch can wrap the mapped pages without a copy; nothing is written.
        # A plain ndarray view: a memmap would be streamed through a DataLoader, unsharded.
        return np.asarray(np.load(value.path, mmap_mode="c", allow_pickle=False))
    if isinstance(value, (tuple, list)):
        return type(value)(_load(v) for v in value)
    return value


def _threads_per_worker(n_processes: int) -> int:
    from sklnn.engine.threads import _usable_cores

    return max(1, _usable_cores() // n_processes)


def fit_in_processes(estimator, n_processes: int, X, y, sample_weight, *, incremental,
                     validation_data, classes):
    """Fit a copy of ``estimator`` in ``n_processes`` data-parallel worker processes and
    return rank 0's fitted copy; raise :class:`WorkerFailed` when a worker fails."""
    _check_gpus(estimator.device, n_processes)
    _ddp_guard.remove_stale_folders()  # left by fits whose parent was killed
    with tempfile.TemporaryDirectory(prefix=_ddp_guard.folder_prefix()) as folder:
        callbacks = estimator.callbacks
        estimator.n_processes = None  # a working copy: the caller's estimator keeps its value
        job = {
            "estimator": estimator,
            "X": _store(folder, "X", X),
            "y": _store(folder, "y", y),
            "sample_weight": _store(folder, "sample_weight", sample_weight),
            "validation_data": _store(folder, "validation_data", validation_data),
            "incremental": incremental,
            "classes": classes,
        }
        try:
            with open(os.path.join(folder, "job.pkl"), "wb") as handle:
                cloudpickle.dump(job, handle)
        except (TypeError, pickle.PicklingError, AttributeError) as exc:
            raise TypeError(
                f"n_processes={n_processes} sends the estimator, its callbacks and the data "
                f"to worker processes, but they cannot be serialised ({exc}). Keep open "
                "files, locks and connections out of the callbacks (e.g. EpochLogger(stream=...)"
                "), or train in one process."
            ) from exc
        env = dict(os.environ)
        # classes pickled by reference (a user's module) import in the workers as here
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env["OMP_NUM_THREADS"] = str(_threads_per_worker(n_processes))
        env[_ddp_guard.PARENT_ENV] = str(os.getpid())
        env[_ddp_guard.STOP_ENV] = _ddp_guard.stop_path(folder)
        workers = []
        try:
            for rank in range(n_processes):
                log = open(os.path.join(folder, f"stderr-{rank}.txt"), "wb")  # noqa: SIM115
                workers.append((subprocess.Popen(
                    [sys.executable, "-m", "sklnn.engine._ddp_worker", folder, str(rank),
                     str(n_processes)],
                    env={**env, "LOCAL_RANK": str(rank)}, stdout=None, stderr=log,
                    stdin=subprocess.DEVNULL), log))
            _wait(workers, folder)
        finally:
            for process, log in workers:
                if process.poll() is None:
                    process.kill()
                process.wait()
                log.close()
        with open(os.path.join(folder, "result.pkl"), "rb") as handle:
            result = pickle.load(handle)
    # the callbacks ran in the workers: what rank 0's learnt (best epoch, saved epochs)
    for mine, theirs in zip(_objects(callbacks), _objects(result["estimator"].callbacks)):
        if type(mine) is type(theirs):
            vars(mine).update(vars(theirs))
    for category, message in result["warnings"]:
        warnings.warn(message, category, stacklevel=2)  # re-attributed by the caller
    return result["estimator"]


def _objects(callbacks) -> list:
    """The callback objects of a ``callbacks`` parameter (entries may be named pairs)."""
    return [cb[1] if isinstance(cb, tuple) else cb for cb in callbacks or ()]


def _check_gpus(device, n_processes: int) -> None:
    import torch

    from sklnn.engine.devices import resolve_device

    if resolve_device(device).type != "cuda":
        return
    available = torch.cuda.device_count()
    if n_processes > available:
        raise ValueError(
            f"n_processes={n_processes} on CUDA needs one GPU per process, but {available} "
            f"{'is' if available == 1 else 'are'} visible. Lower n_processes, or set "
            "device='cpu' to train in CPU processes."
        )


def _wait(workers, folder: str) -> None:
    """Return when every worker has succeeded; raise at the first failure. A first Ctrl-C
    asks the workers to stop after this epoch (the weights are kept, as in one process);
    a second one stops them at once."""
    stopping = False
    while True:
        try:
            codes = [process.poll() for process, _ in workers]
            failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                for process, _ in workers:
                    if process.poll() is None:
                        process.kill()
                raise WorkerFailed(_failure_text(failed[0], codes[failed[0]], folder))
            if all(code == 0 for code in codes):
                return
            time.sleep(_POLL_SECONDS)
        except KeyboardInterrupt:
            if stopping:
                raise
            stopping = True
            _ddp_guard.request_stop(folder)
            print("Stopping the data-parallel fit at the end of this epoch; press Ctrl-C "
                  "again to abort it (its progress is then lost).", file=sys.stderr)


def _failure_text(rank: int, code: int, folder: str) -> str:
    error = os.path.join(folder, f"error-{rank}.txt")
    if os.path.exists(error):
        with open(error) as handle:
            detail = handle.read()
    else:  # killed by a signal, or failed before it could write
        with open(os.path.join(folder, f"stderr-{rank}.txt"), "rb") as handle:
            detail = handle.read()[-4000:].decode(errors="replace") or "(no output)"
    return (f"Data-parallel training failed: worker process {rank} exited with code {code}; "
            f"the other workers were stopped and the estimator is unchanged. The worker "
            f"reported:\n{detail}")


def _run(folder: str, rank: int, world: int) -> None:
    import torch
    import torch.distributed as dist

    from sklnn.engine.devices import resolve_device

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with open(os.path.join(folder, "job.pkl"), "rb") as handle:
        job = pickle.load(handle)
    estimator = job["estimator"]
    cuda = resolve_device(estimator.device).type == "cuda"
    dist.init_process_group(
        "nccl" if cuda else "gloo", init_method=f"file://{folder}/rendezvous", rank=rank,
        world_size=world, timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator._fit(_load(job["X"]), _load(job["y"]), _load(job["sample_weight"]),
                           incremental=job["incremental"],
                           validation_data=_load(job["validation_data"]),
                           classes=job["classes"])
        if rank == 0:
            estimator.__dict__.pop("_scoring_data", None)  # memory-mapped inputs stay here
            result = {"estimator": estimator,
                      "warnings": [(w.category, str(w.message)) for w in caught]}
            atomic_write(os.path.join(folder, "result.pkl"),
                         lambda handle: cloudpickle.dump(result, handle))
    finally:
        dist.destroy_process_group()


def main(argv=None) -> None:
    folder, rank, world = (argv or sys.argv)[1:4]
    _ddp_guard.die_with_parent()
    try:
        _run(folder, int(rank), int(world))
    except BaseException:
        with open(os.path.join(folder, f"error-{rank}.txt"), "w") as handle:
            handle.write(traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    # run the imported module's main, whose classes are the ones the job was pickled with
    from sklnn.engine._ddp_worker import main as imported_main

    imported_main()
