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
from sklnn.modules.rnn import real_steps, sequence_lengths


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


class ResidualConvBlock1d(nn.Module):
    """Convolution blocks of one width, the last without activation, plus a shortcut.

    The shortcut is the identity when the width is unchanged, else a 1x1
    convolution and ``norm_layer`` (the ResNet of Wang, Yan and Oates, 2017).
    ``mask`` (batch, 1, steps) zeroes padded steps before every convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int], *,
                 norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
                 act_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        widths = [in_channels, *(out_channels for _ in kernel_sizes)]
        self.convs = nn.ModuleList(
            ConvBlock1d(c_in, out_channels, int(k), norm_layer=norm_layer,
                        act_layer=act_layer if i < len(kernel_sizes) - 1 else nn.Identity)
            for i, (c_in, k) in enumerate(zip(widths[:-1], kernel_sizes))
        )
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, bias=norm_layer is None),
                norm_layer(out_channels) if norm_layer is not None else nn.Identity())
        self.act = act_layer()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = conv(h if mask is None else h * mask)
        return self.act(h + self.shortcut(x))


class _MaskedPoolingNetwork(nn.Module):
    """What both sequence networks share: padding masks, the mean over real steps, the head."""

    blocks: nn.ModuleList

    def __init__(self, n_steps: int, n_inputs: int, n_outputs: int, width: int,
                 dropout: float, padding_value: float | None) -> None:
        super().__init__()
        self.n_steps = n_steps
        self.n_inputs = n_inputs
        self.padding_value = padding_value
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, n_outputs)

    def _block(self, block: nn.Module, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unflatten(1, (self.n_steps, self.n_inputs))  # an exported batch stays dynamic
        mask = None
        if self.padding_value is not None:
            lengths = sequence_lengths(x, self.padding_value)
            mask = real_steps(lengths, x.shape[1], x.dtype).unsqueeze(1)  # (b, 1, t)
            if math.isnan(self.padding_value):
                x = torch.nan_to_num(x)
        h = x.transpose(1, 2)  # (batch, features, steps): channels first for Conv1d
        for block in self.blocks:
            h = self._block(block, h, mask)
        if mask is None:
            pooled = h.mean(dim=2)
        else:
            pooled = (h * mask).sum(dim=2) / mask.sum(dim=2)
        return self.head(self.dropout(pooled))


def _check_blocks(filters: Sequence[int], kernel_sizes: Sequence[int], *, paired: bool) -> None:
    if not filters or not kernel_sizes or (paired and len(filters) != len(kernel_sizes)):
        need = "one value per block each" if paired else "at least one value each"
        raise ValueError(f"filters and kernel_sizes need {need}; got {list(filters)} and "
                         f"{list(kernel_sizes)}.")


class ConvSequenceNetwork(_MaskedPoolingNetwork):
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
        _check_blocks(filters, kernel_sizes, paired=True)
        channels = [n_inputs, *(int(f) for f in filters)]
        super().__init__(n_steps, n_inputs, n_outputs, channels[-1], dropout, padding_value)
        self.blocks = nn.ModuleList(
            ConvBlock1d(c_in, c_out, int(k), norm_layer=norm_layer, act_layer=act_layer)
            for c_in, c_out, k in zip(channels[:-1], channels[1:], kernel_sizes)
        )

    def _block(self, block: nn.Module, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return block(h if mask is None else h * mask)


class ResidualConvSequenceNetwork(_MaskedPoolingNetwork):
    """Residual blocks over ``(batch, steps, features)`` sequences, mean over steps, linear head.

    The ResNet of Wang, Yan and Oates (2017): each entry of ``filters`` is a
    :class:`ResidualConvBlock1d` of that width whose convolutions have the
    ``kernel_sizes`` (three blocks of three convolutions by default: nine
    convolutions against :class:`ConvSequenceNetwork`'s three). Parameters
    and padding as in :class:`ConvSequenceNetwork`.
    """

    def __init__(self, n_steps: int, n_inputs: int, n_outputs: int, *,
                 filters: Sequence[int] = (64, 128, 128),
                 kernel_sizes: Sequence[int] = (8, 5, 3),
                 norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
                 act_layer: Callable[[], nn.Module] = nn.ReLU,
                 dropout: float = 0.0,
                 padding_value: float | None = None) -> None:
        _check_blocks(filters, kernel_sizes, paired=False)
        channels = [n_inputs, *(int(f) for f in filters)]
        super().__init__(n_steps, n_inputs, n_outputs, channels[-1], dropout, padding_value)
        kernels = [int(k) for k in kernel_sizes]
        self.blocks = nn.ModuleList(
            ResidualConvBlock1d(c_in, c_out, kernels, norm_layer=norm_layer, act_layer=act_layer)
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )

    def _block(self, block: nn.Module, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return block(h, mask)
