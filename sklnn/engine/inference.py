"""Batched prediction on the device under ``torch.inference_mode``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
import torch

from sklnn.engine.batches import as_tensor


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
    densified one batch at a time.
    """
    n = X.shape[0]
    outputs = []
    dense = None if sp.issparse(X) else as_tensor(X)
    context = (
        torch.autocast(device_type=device.type, dtype=autocast) if autocast else nullcontext()
    )
    for start in range(0, n, batch_rows):
        stop = min(start + batch_rows, n)
        if dense is None:
            batch = torch.from_numpy(np.asarray(X[start:stop].toarray()))
        else:
            batch = dense[start:stop]
        batch = batch.to(device=device, dtype=dtype, non_blocking=True)
        with context:
            out = module(batch)
        outputs.append(decode(out.to(dtype)))
    result = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
    return result.cpu().numpy()
