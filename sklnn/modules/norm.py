"""Batch normalisation whose training statistics honour per-sample weights.

With weights w, the batch mean and variance are the weighted ones, so a sample of
weight k normalises the batch exactly as k copies of it would (and a weight of 0
as its absence); the running statistics follow the same values, with the
unbiased variance counting sum(w) samples. Without weights (the usual case) the
layers are PyTorch's own. The weights of the batch being trained on are set by
the training loop with :func:`sample_weights`; the layers stay plain
``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` subclasses with the same state_dict.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F

_weights: contextvars.ContextVar[torch.Tensor | None] = contextvars.ContextVar(
    "sklnn_sample_weights", default=None
)


@contextmanager
def sample_weights(weight: torch.Tensor | None):
    """Make ``weight`` (one value per row of the batch) the weights of the batch norm
    layers' training statistics inside the block."""
    token = _weights.set(weight)
    try:
        yield
    finally:
        _weights.reset(token)


class _WeightedBatchNorm:
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = _weights.get()
        if not self.training or weight is None or weight.shape[0] != x.shape[0]:
            return super().forward(x)
        self._check_input_dim(x)
        if self.running_mean is not None and not bool(weight.sum() > 0):
            # every row weighs 0: the batch trains nothing and has no statistics, so it is
            # normalised as in evaluation and the running statistics are left alone
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                self.bias, False, 0.0, self.eps)
        dims = [0, *range(2, x.dim())]
        per_row = x[0].numel() // x.shape[1]  # values per channel in one row
        shape = [-1] + [1] * (x.dim() - 1)
        w = weight.to(x.dtype).reshape(shape)
        count = weight.sum().to(x.dtype) * per_row
        mean = (x * w).sum(dim=dims) / count
        centred = x - mean.reshape(1, -1, *[1] * (x.dim() - 2))
        var = (centred.square() * w).sum(dim=dims) / count
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked) if self.momentum is None
                    else self.momentum
                )
                unbiased = var * count / (count - 1).clamp_min(1.0)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            scale = scale * self.weight
        out = centred * scale.reshape(1, -1, *[1] * (x.dim() - 2))
        if self.affine:
            out = out + self.bias.reshape(1, -1, *[1] * (x.dim() - 2))
        return out


class WeightedBatchNorm1d(_WeightedBatchNorm, nn.BatchNorm1d):
    """``nn.BatchNorm1d`` with sample-weighted training statistics (see the module)."""


class WeightedBatchNorm2d(_WeightedBatchNorm, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` with sample-weighted training statistics (see the module)."""
