"""Each measurement runs in a forked child, so its peak memory is its own.

The parent imports the libraries and builds the data once, but never runs a
torch operation or touches CUDA; every (workload, implementation, repeat)
then forks a fresh child that shares the data copy-on-write. The child first
runs a one-epoch warm-up fit on a few batches and a warm-up predict on the
whole predict set (lazy initialisation and the allocator's first growth are not
timed), then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``),
runs the timed fit and predict, and reports its peak RSS, the growth over its
starting RSS, and CUDA's max allocated bytes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import platform
import traceback

MIB = 2**20


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _child(target, connection) -> None:
    try:
        connection.send(target())
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, not raised
        connection.send({"error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()})
    finally:
        connection.close()


def run_in_child(target, timeout_s: float = 1800.0) -> dict:
    """Run ``target()`` in a forked child and return the dict it returns (or an error)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, sender))
    process.start()
    sender.close()
    if receiver.poll(timeout_s):
        try:
            result = receiver.recv()
        except EOFError:
            result = {"error": "the child exited without a result"}
    else:
        process.kill()
        result = {"error": f"timed out after {timeout_s:.0f} s"}
    process.join()
    if process.exitcode not in (0, None) and "error" not in result:
        result["error"] = f"child exit code {process.exitcode}"
    return result


def measure(implementation, workload, data, device_name: str) -> dict:
    """The body of one measurement; runs inside the child."""
    import gc

    import torch

    from sklnn.engine import resolve_device

    device = resolve_device(device_name)
    warm = dataclasses.replace(workload, epochs=1)
    rows = min(4 * workload.batch_size, data["X_train"].shape[0])
    # The whole predict set: after a partial warm-up (16,384 rows) the hand-written loop's
    # RNN predict still took 220,000 page faults (glibc handing freed batches back to the
    # kernel) and 1.5x its steady time in one repeat but not in another. Predict is
    # timed in its steady state; fit, which runs for many batches, warms up on four.
    warm_data = dict(data, X_train=data["X_train"][:rows], y_train=data["y_train"][:rows])
    implementation(warm, warm_data, device)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    peak_resettable = _reset_peak_rss()
    rss_before = _status_kib("VmRSS")
    load_before = os.getloadavg()[0]
    result = implementation(workload, data, device)
    peak = _status_kib("VmHWM")
    result.update(
        device=str(device),
        peak_rss_mb=None if peak is None else peak / 1024,
        rss_growth_mb=(None if peak is None or rss_before is None or not peak_resettable
                       else (peak - rss_before) / 1024),
        load_before=load_before,
        load_after=os.getloadavg()[0],
    )
    if device.type == "cuda":
        result["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / MIB
    return result


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device_name: str) -> dict:
    """Versions, CPU, threads and (from a child, so the parent never touches CUDA) the device."""

    def probe():
        import numpy
        import sklearn
        import torch
        from threadpoolctl import threadpool_info

        from sklnn.engine import resolve_device

        device = resolve_device(device_name)
        info = dict(
            device=str(device),
            torch=torch.__version__,
            torch_cuda=torch.version.cuda,
            numpy=numpy.__version__,
            sklearn=sklearn.__version__,
            torch_threads=torch.get_num_threads(),
            torch_interop_threads=torch.get_num_interop_threads(),
            blas=[{k: p.get(k) for k in ("internal_api", "num_threads", "version")}
                  for p in threadpool_info()],
        )
        if device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(device)
        try:
            import skorch

            info["skorch"] = skorch.__version__
        except ImportError:
            info["skorch"] = None
        return info

    info = run_in_child(probe)
    try:
        import psutil

        memory_gib = psutil.virtual_memory().total / 2**30
    except ImportError:
        memory_gib = None
    info.update(
        cpu=_cpu_model(),
        cores=os.cpu_count(),
        memory_gib=memory_gib,
        python=platform.python_version(),
        platform=platform.platform(),
        omp_num_threads=os.environ.get("OMP_NUM_THREADS"),
    )
    return info
