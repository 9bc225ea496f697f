"""A fully convolutional network for sequences (FCN of Wang, Yan and Oates, 2017).

Convolution -> normalisation -> activation blocks over time, global average
pooling over the real (unpadded) steps, then a linear head. Padded steps are
zeroed before every convolution, so a sequence padded at the end gives exactly
the output of the unpadded sequence: the convolutions' own zero padding at the
end of a short sequence sees the same zeros.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from sklnn.modules.randomness import Dropout
from sklnn.modules.rnn import sequence_lengths


class ConvBlock1d(nn.Module):
    """Convolution ("same" length), ``norm_layer(channels)``, ``act_layer()``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
                 act_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        # zeros on both sides keep the length ("same"); explicit, because torch's "same"
        # warns about (and copies for) even kernels
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        # a norm's shift makes the conv bias redundant
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, bias=norm_layer is None)
        self.norm = norm_layer(out_channels) if norm_layer is not None else nn.Identity()
        self.act = act_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(F.pad(x, self.pad))))


class ConvSequenceNetwork(nn.Module):
    """Conv blocks over ``(batch, steps, features)`` sequences, mean over steps, linear head.

    Parameters
    ----------
    n_steps : int
        Steps per sequence in the flattened layout (rows of ``n_steps * n_inputs``
        values, as scikit-learn estimators pass them); 3-D input of any length
        is used as it is.
    n_inputs : int
        Features per step.
    n_outputs : int
    filters : sequence of int
        Output channels of each block.
    kernel_sizes : sequence of int
        Kernel of each block (same length as ``filters``).
    norm_layer : callable or None
        Called with the channel count, e.g. ``nn.BatchNorm1d`` (the default).
    act_layer : callable
        Called with no argument, e.g. ``nn.ReLU`` (the default).
    dropout : float
        Dropout before the head.
    padding_value : float or None
        When set, trailing steps whose features all equal it (NaN matches NaN)
        are padding: zeroed before each convolution and left out of the mean.
    """

    def __init__(self, n_steps: int, n_inputs: int, n_outputs: int, *,
                 filters: Sequence[int] = (64, 128, 64),
                 kernel_sizes: Sequence[int] = (8, 5, 3),
                 norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
                 act_layer: Callable[[], nn.Module] = nn.ReLU,
                 dropout: float = 0.0,
                 padding_value: float | None = None) -> None:
        super().__init__()
        if len(filters) != len(kernel_sizes) or not filters:
            raise ValueError(f"filters and kernel_sizes need one value per block each; got "
                             f"{list(filters)} and {list(kernel_sizes)}.")
        self.n_steps = n_steps
        self.n_inputs = n_inputs
        self.padding_value = padding_value
        channels = [n_inputs, *(int(f) for f in filters)]
        self.blocks = nn.ModuleList(
            ConvBlock1d(c_in, c_out, int(k), norm_layer=norm_layer, act_layer=act_layer)
            for c_in, c_out, k in zip(channels[:-1], channels[1:], kernel_sizes)
        )
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(channels[-1], n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unflatten(1, (self.n_steps, self.n_inputs))  # an exported batch stays dynamic
        mask = None
        if self.padding_value is not None:
            lengths = sequence_lengths(x, self.padding_value)
            steps = torch.arange(x.shape[1], device=x.device)
            mask = (steps[None, :] < lengths[:, None]).to(x.dtype).unsqueeze(1)  # (b, 1, t)
            if math.isnan(self.padding_value):
                x = torch.nan_to_num(x)
        h = x.transpose(1, 2)  # (batch, features, steps): channels first for Conv1d
        for block in self.blocks:
            if mask is not None:
                h = h * mask
            h = block(h)
        if mask is None:
            pooled = h.mean(dim=2)
        else:
            pooled = (h * mask).sum(dim=2) / mask.sum(dim=2)
        return self.head(self.dropout(pooled))
