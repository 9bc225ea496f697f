"""Batched prediction on the device under ``torch.inference_mode``."""

from __future__ import annotations

import copy
import itertools
import threading
import weakref
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from sklnn.engine.batches import as_tensor

OutOfMemoryError = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure: a device's ``OutOfMemoryError``, or the
    plain RuntimeError PyTorch's CPU allocator raises."""
    return isinstance(exc, OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))

# Values of the largest activation one prediction batch may make. On a CPU the fastest
# batch keeps a layer's output in cache (2 MiB L2 per core, 32 MiB L3 here): ResNet-20
# on 28x28 images predicted 1,849 images/s in batches of 128 and 615 in batches of 2,048,
# the MNIST MLP 251,000 rows/s at 2,048 and 209,000 at 8,192. An accelerator only gains
# from bigger batches; there the bound is memory, 128 MiB of float32 for the three maps
# (input, output, shortcut) a residual block holds at once.
CPU_BATCH_VALUES = 2**21
ACCELERATOR_BATCH_VALUES = 2**25 // 3
MAX_BATCH_ROWS = 8192


def predict_batch_rows(values_per_row: int, device: torch.device) -> int:
    """Rows per prediction batch for a network whose largest activation has this many
    values per row."""
    budget = CPU_BATCH_VALUES if device.type == "cpu" else ACCELERATOR_BATCH_VALUES
    return int(np.clip(budget // max(1, values_per_row), 16, MAX_BATCH_ROWS))


# Rows from which a prediction builds a channels-last copy (see inference_module): the
# copy costs about one and a half one-image forward passes and saves a fifth or so per
# image (docs/benchmarks.md), so it pays off from a few dozen rows.
MIN_ROWS_FOR_COPY = 32
_channels_last_copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_copies_lock = threading.Lock()


def _state_key(module: nn.Module) -> tuple:
    """Changes whenever a tensor of ``module`` is replaced or written in place."""
    tensors = itertools.chain(module.parameters(), module.buffers())
    return module.training, tuple((t.data_ptr(), t._version) for t in tensors)


def inference_module(module: nn.Module, device: torch.device, n_rows: int = MIN_ROWS_FOR_COPY
                     ) -> nn.Module:
    """The module to predict with: ``module`` itself, or on the CPU a channels-last copy of
    a convolutional network that is not channels-last already.

    oneDNN's channels-last convolutions predict convolutional networks faster than the
    default layout on the CPU (docs/benchmarks.md), but a few networks train in the
    default layout (see :func:`~sklnn.engine.devices.place_module`). For those prediction
    uses a copy, kept while the module lives and rebuilt when any of its tensors changes. A
    network with forward hooks is used as is, so that the hooks see its own layers. The
    copy costs about 1.5 single-image forward passes, so a prediction of fewer than
    ``MIN_ROWS_FOR_COPY`` rows uses the copy only when it is already up to date.
    """
    if device.type != "cpu":
        return module
    layers = list(module.modules())
    if not any(isinstance(m, nn.Conv2d) for m in layers) or any(
        m._forward_hooks or m._forward_pre_hooks for m in layers
    ):
        return module
    if all(p.is_contiguous(memory_format=torch.channels_last)
           for p in module.parameters() if p.dim() == 4):
        return module
    key = _state_key(module)
    with _copies_lock:
        cached = _channels_last_copies.get(module)
    if cached is not None and cached[0] == key:
        return cached[1]
    if n_rows < MIN_ROWS_FOR_COPY:
        return module
    with torch.inference_mode(False):
        channels_last = copy.deepcopy(module).to(memory_format=torch.channels_last)
    with _copies_lock:
        _channels_last_copies[module] = (key, channels_last)
    return channels_last


@torch.inference_mode()
def predict_outputs(
    module: torch.nn.Module,
    X,
    *,
    device: torch.device,
    dtype: torch.dtype,
    batch_rows: int,
    decode: Callable[[torch.Tensor], torch.Tensor],
    autocast: torch.dtype | None = None,
) -> np.ndarray:
    """Run ``module`` in eval mode over the rows of X in batches; return numpy outputs.

    A module caught in training (a callback predicting mid-fit) is switched to eval mode
    for the call and back after it. The batches go through :func:`inference_module`'s
    choice of the module.

    Memory stays bounded by ``batch_rows`` rows of activations plus the output:
    each batch's decoded output is written into one array allocated after the first
    batch (a list of per-batch outputs joined at the end held the outputs twice and,
    interleaved with the activations' buffers, fragmented the heap). Sparse rows are
    densified one batch at a time. When the device runs out of memory the batch is
    halved and retried, down to a single row.
    """
    if module.training:
        module.eval()
        try:
            return predict_outputs(module, X, device=device, dtype=dtype,
                                   batch_rows=batch_rows, decode=decode, autocast=autocast)
        finally:
            module.train()
    n = X.shape[0]
    module = inference_module(module, device, n)
    result = None
    dense = None if sp.issparse(X) else as_tensor(X)
    context = (
        torch.autocast(device_type=device.type, dtype=autocast) if autocast else nullcontext()
    )
    start = 0
    while start < n or result is None:  # an empty X still gets a (0, ...) output
        stop = min(start + batch_rows, n)
        if dense is None:
            batch = torch.from_numpy(np.asarray(X[start:stop].toarray()))
        else:
            batch = dense[start:stop]
        try:
            batch = batch.to(device=device, non_blocking=True,
                             dtype=dtype if batch.is_floating_point() else None)
            with context:
                out = module(batch)
            decoded = decode(out.to(dtype))
            if result is None:
                # On the device it was computed on: an accelerator copies it back once.
                result = torch.empty((n, *decoded.shape[1:]), dtype=decoded.dtype,
                                     device=decoded.device)
            result[start:stop] = decoded
            del out, decoded
        except (OutOfMemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            if batch_rows == 1:
                advice = ("free memory, or use a smaller input" if device.type == "cpu" else
                          "free device memory or predict on the CPU (estimator.module_.cpu())")
                raise MemoryError(
                    f"The {device} device ran out of memory predicting a single row; "
                    f"{advice}.") from None
            del batch
            if device.type == "cuda":
                torch.cuda.empty_cache()
            batch_rows = max(1, batch_rows // 2)
            continue
        start = stop
    return result.cpu().numpy()
