"""Batched prediction on the device under ``torch.inference_mode``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
import torch

from sklnn.engine.batches import as_tensor

OutOfMemoryError = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


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
    """Run ``module`` (in eval mode) over the rows of X in batches; return numpy outputs.

    Memory stays bounded by ``batch_rows`` rows of activations; sparse rows are
    densified one batch at a time. When the device runs out of memory the batch
    is halved and retried, down to a single row.
    """
    n = X.shape[0]
    outputs = []
    dense = None if sp.issparse(X) else as_tensor(X)
    context = (
        torch.autocast(device_type=device.type, dtype=autocast) if autocast else nullcontext()
    )
    start = 0
    while start < n:
        stop = min(start + batch_rows, n)
        if dense is None:
            batch = torch.from_numpy(np.asarray(X[start:stop].toarray()))
        else:
            batch = dense[start:stop]
        try:
            batch = batch.to(device=device, dtype=dtype, non_blocking=True)
            with context:
                out = module(batch)
            outputs.append(decode(out.to(dtype)))
        except OutOfMemoryError:
            if batch_rows == 1:
                raise MemoryError(
                    f"The {device} device ran out of memory predicting a single row; free "
                    "device memory or predict on the CPU (estimator.module_.cpu())."
                ) from None
            del batch
            if device.type == "cuda":
                torch.cuda.empty_cache()
            batch_rows = max(1, batch_rows // 2)
            continue
        start = stop
    result = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    return result.cpu().numpy()
