"""One device per worker when a model search runs on several processes or a Dask cluster.

A search needs nothing from this module to run in parallel: ``GridSearchCV(n_jobs=...)``
and ``joblib.parallel_config(backend="dask")`` work as they are, and each fit keeps
to its worker's share of the cores (``n_threads_`` records what it used). What they
do not do is spread fits over several accelerators: with ``device="auto"`` every
worker would pick the first GPU. :func:`assign_devices` gives each worker process
its own device for the duration of a ``with`` block, through the ``SKLNN_DEVICE``
environment variable that ``device="auto"`` follows (see ``docs/scaling.md``).

Nothing here imports Dask: pass a ``distributed.Client`` to use a cluster.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

from sklnn.engine.devices import DEVICE_ENV

__all__ = ["DEVICE_ENV", "assign_devices", "round_robin"]

# Lease files a worker process holds for its lifetime; the OS releases them when it exits.
_LEASES: list = []


def round_robin(devices, n_workers: int) -> list[str]:
    """The device of each of ``n_workers`` workers: ``devices`` in turn.

    Examples
    --------
    >>> round_robin(["cuda:0", "cuda:1"], 3)
    ['cuda:0', 'cuda:1', 'cuda:0']
    """
    devices = _check_devices(devices)
    if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}.")
    return [devices[i % len(devices)] for i in range(n_workers)]


def _check_devices(devices) -> list[str]:
    if isinstance(devices, str) or not hasattr(devices, "__iter__"):
        raise ValueError(
            f"devices must be a list of device names such as ['cuda:0', 'cuda:1'], got "
            f"{devices!r}."
        )
    devices = [str(d) for d in devices]
    if not devices or not all(d.strip() for d in devices):
        raise ValueError(f"devices must hold at least one non-empty device name, got {devices}.")
    return devices


def visible_devices() -> list[str]:
    """Every accelerator this process can see (``CUDA_VISIBLE_DEVICES`` applies), or ['cpu'].

    ``torch.cuda.device_count()`` counts through NVML where it can, without initialising
    CUDA; pass the device list explicitly to be sure the parent stays CUDA-free.
    """
    import torch

    count = torch.cuda.device_count()
    if count > 0:
        return [f"cuda:{i}" for i in range(count)]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return ["mps"]
    return ["cpu"]


def _claim_device(slots: list[str], lease_dir: str) -> None:
    """Worker initialiser: take the first free slot's device for this process's lifetime."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, share by process id
        fcntl = None
    if fcntl is not None:
        for index, device in enumerate(slots):
            handle = open(os.path.join(lease_dir, f"slot-{index}"), "a")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            _LEASES.append(handle)
            os.environ[DEVICE_ENV] = device
            return
    # More workers than slots (a replacement started before the old worker exited).
    os.environ[DEVICE_ENV] = slots[os.getpid() % len(slots)]


def _set_device(device: str | None) -> str | None:
    """Set (or with None, remove) this process's device override; return the previous one."""
    previous = os.environ.get(DEVICE_ENV)
    if device is None:
        os.environ.pop(DEVICE_ENV, None)
    else:
        os.environ[DEVICE_ENV] = device
    return previous


@contextmanager
def assign_devices(devices=None, *, client=None, backend="loky", n_jobs=None):
    """Run the block with each parallel worker process on its own device, in turn.

    Inside the block, fits with ``device="auto"`` in worker ``i`` use ``devices[i %
    len(devices)]``. The parent process and its own fits are left alone.

    Parameters
    ----------
    devices : list of str, default=None
        Device names such as ``["cuda:0", "cuda:1"]``. None takes every accelerator
        the workers can see (each CUDA device once), or ``["cpu"]``.
    client : distributed.Client, default=None
        With a Dask client, the block runs under ``joblib.parallel_config(backend="dask")``
        and each worker of the cluster as it is when the block starts gets a device
        (workers sorted by address); their previous setting comes back afterwards.
    backend : {"loky", "multiprocessing"}, default="loky"
        Without a client: the joblib process backend the block selects. Each worker
        claims the next free slot of the plan when it starts (a replacement for a
        dead worker takes the slot it freed).
    n_jobs : int, default=None
        Without a client: the number of worker processes (and slots), ``len(devices)``
        by default; set it as a multiple of the device count to put several workers
        on each device.

    Yields
    ------
    plan : dict
        Worker address -> device with a client; slot number -> device otherwise.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklnn import MLPClassifierGPU
    >>> search = GridSearchCV(MLPClassifierGPU(), {"alpha": [1e-4, 1e-3]})
    >>> with assign_devices(["cpu", "cpu"]) as plan:  # ["cuda:0", "cuda:1"] on two GPUs
    ...     pass  # search.fit(X, y): two loky workers, one per device
    >>> plan
    {0: 'cpu', 1: 'cpu'}
    """
    import joblib

    if client is not None:
        with _dask_devices(client, devices) as plan, joblib.parallel_config(backend="dask"):
            yield plan
        return
    if backend not in ("loky", "multiprocessing"):
        raise ValueError(
            f"backend={backend!r}: assign_devices gives devices to worker processes; use "
            "'loky' or 'multiprocessing' (threads share their process's device), or pass a "
            "Dask client."
        )
    devices = visible_devices() if devices is None else _check_devices(devices)
    slots = round_robin(devices, len(devices) if n_jobs is None else n_jobs)
    lease_dir = tempfile.mkdtemp(prefix="sklnn-devices-")
    try:
        with joblib.parallel_config(backend=backend, n_jobs=len(slots),
                                    initializer=_claim_device, initargs=(slots, lease_dir)):
            yield dict(enumerate(slots))
    finally:
        shutil.rmtree(lease_dir, ignore_errors=True)


@contextmanager
def _dask_devices(client, devices):
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ValueError("The Dask client has no workers yet; wait for them "
                         "(client.wait_for_workers(n)) before assigning devices.")
    if devices is None:
        devices = client.run(visible_devices, workers=workers[:1])[workers[0]]
    plan = dict(zip(workers, round_robin(devices, len(workers))))
    previous = {}
    try:
        for address, device in plan.items():
            previous.update(client.run(_set_device, device, workers=[address]))
        yield plan
    finally:
        for address, value in previous.items():
            client.run(_set_device, value, workers=[address], on_error="ignore")
