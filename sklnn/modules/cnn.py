"""A configurable 2-D convolutional network: conv blocks, then the dense head.

The default is a classic small MNIST network: conv 32 3x3 -> conv 64 3x3 ->
2x2 max pooling -> dense 64 ReLU -> one output per class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sklnn.modules.activations import make_activation
from sklnn.modules.images import Flatten
from sklnn.modules.mlp import DenseBlock
from sklnn.modules.norm import WeightedBatchNorm2d
from sklnn.modules.randomness import Dropout

PADDINGS = ("same", "valid")
POOLINGS = ("max", "avg", "none")


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def conv_padding(
    size: tuple[int, int], kernel: tuple[int, int], stride: int, padding: str | int
) -> tuple[int, int]:
    """Zero padding per axis for one convolution on a ``size`` feature map.

    "valid" is no padding and "same" keeps the size at stride 1 (k // 2 per side,
    so odd kernels are exact). A map smaller than the kernel gets just enough
    extra padding for one output position, so any input size (down to 1x1)
    passes through the network.
    """
    if padding == "valid":
        base = (0, 0)
    elif padding == "same":
        base = (kernel[0] // 2, kernel[1] // 2)
    else:
        base = (int(padding), int(padding))
    return tuple(
        max(pad, math.ceil((k - s) / 2)) for s, k, pad in zip(size, kernel, base)
    )  # type: ignore[return-value]


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class ConvBlock(nn.Sequential):
    """Convolution, optional batch norm, activation, optional pooling and dropout."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int],
        stride: int,
        padding: tuple[int, int],
        activation: str = "relu",
        batch_norm: bool = False,
        pooling: nn.Module | None = None,
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = [
            # batch norm's shift makes a conv bias redundant
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                      bias=not batch_norm)
        ]
        if batch_norm:
            layers.append(WeightedBatchNorm2d(out_channels))
        layers.append(make_activation(activation))
        if pooling is not None:
            layers.append(pooling)
            if dropout > 0:
                layers.append(Dropout(dropout))
        super().__init__(*layers)


class CNN(nn.Module):
    """Convolutional classifier network returning raw outputs (logits).

    Parameters
    ----------
    input_shape : (channels, height, width)
    n_outputs : int
    filters : sequence of int
        Output channels of each convolutional layer.
    kernel_size : int or (int, int)
    stride : int
    padding : "same", "valid" or int
        Zero padding of every convolution (see :func:`conv_padding`).
    activation : str
        A name from :data:`sklnn.modules.ACTIVATIONS`, used after every
        convolution and hidden dense layer.
    pooling : "max", "avg" or "none"
    pool_size : int
        Side of the pooling window (and its stride); windows larger than the
        feature map shrink to it.
    pool_after : "last", "each" or sequence of int
        Indices of the convolutional layers followed by pooling.
    batch_norm : bool
        Batch normalisation after each convolution and hidden dense layer.
    dropout : float
        Dropout after every pooling layer and every hidden dense layer.
    dense_layers : sequence of int
        Units of the hidden dense layers between the flattened maps and the output.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        n_outputs: int,
        filters: Sequence[int] = (32, 64),
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        padding: str | int = "valid",
        activation: str = "relu",
        pooling: str = "max",
        pool_size: int = 2,
        pool_after: str | Sequence[int] = "last",
        batch_norm: bool = False,
        dropout: float = 0.0,
        dense_layers: Sequence[int] = (64,),
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}; got {pooling!r}.")
        if isinstance(padding, str) and padding not in PADDINGS:
            raise ValueError(f"padding must be 'same', 'valid' or an int; got {padding!r}.")
        filters = [int(f) for f in filters]
        pooled = pooled_layers(pool_after, len(filters))
        kernel = _pair(kernel_size)
        channels, height, width = (int(s) for s in input_shape)
        blocks = []
        for index, out_channels in enumerate(filters):
            pad = conv_padding((height, width), kernel, stride, padding)
            height = conv_output_size(height, kernel[0], stride, pad[0])
            width = conv_output_size(width, kernel[1], stride, pad[1])
            pool = None
            if index in pooled and pooling != "none":
                window = (min(pool_size, height), min(pool_size, width))
                pool = (nn.MaxPool2d if pooling == "max" else nn.AvgPool2d)(window)
                height, width = height // window[0], width // window[1]
            blocks.append(ConvBlock(channels, out_channels, kernel, stride, pad, activation,
                                    batch_norm, pool, dropout))
            channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.flatten = Flatten()
        sizes = [channels * height * width, *(int(d) for d in dense_layers)]
        self.dense = nn.Sequential(
            *(
                DenseBlock(n_in, n_out, activation, dropout, batch_norm)
                for n_in, n_out in zip(sizes[:-1], sizes[1:])
            )
        )
        self.output = nn.Linear(sizes[-1], n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.dense(self.flatten(self.features(x))))


def pooled_layers(pool_after: str | Sequence[int], n_layers: int) -> set[int]:
    """Indices of the convolutional layers that ``pool_after`` selects."""
    if isinstance(pool_after, str):
        if pool_after == "last":
            return {n_layers - 1}
        if pool_after == "each":
            return set(range(n_layers))
        raise ValueError(
            f"pool_after must be 'last', 'each' or a sequence of layer indices; got {pool_after!r}."
        )
    try:
        indices = {int(i) for i in pool_after}
    except (TypeError, ValueError):
        raise ValueError(
            f"pool_after must be 'last', 'each' or a sequence of layer indices; got {pool_after!r}."
        ) from None
    if any(i < 0 or i >= n_layers for i in indices):
        raise ValueError(
            f"pool_after={list(pool_after)} names layers outside 0..{n_layers - 1}."
        )
    return indices
