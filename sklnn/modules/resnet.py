"""CIFAR-style residual networks (He et al. 2015, "Deep Residual Learning", section 4.2).

Blocks first, then the network, then constructors (``resnet20()`` ...). The
network has 6n + 2 weighted layers: a 3x3 stem convolution, three stages of n
basic blocks (two 3x3 convolutions each) with 16, 32 and 64 filters on maps of
decreasing size, global average pooling and a linear classifier. Unlike
ImageNet ResNets there is no 7x7 stem or early pooling, which would destroy
8x8 to 32x32 images.
"""

from __future__ import annotations

import torch
from torch import nn

from sklnn.modules.norm import WeightedBatchNorm2d
from sklnn.modules.randomness import Dropout

SHORTCUTS = ("A", "B")
STAGE_FILTERS = (16, 32, 64)


def blocks_per_stage(depth: int) -> int:
    """n in depth = 6n + 2; a ValueError for depths the architecture cannot have."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6n + 2 for an integer n >= 1 (8, 14, 20, 32, 44, 56, 110, ...); "
            f"got {depth!r}."
        )
    return (depth - 2) // 6


class ZeroPadShortcut(nn.Module):
    """Option A: identity that subsamples by ``stride`` and zero-pads the new channels.

    Parameter-free, so ResNets with this shortcut have exactly as many
    parameters as their plain counterparts.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return x


class ProjectionShortcut(nn.Sequential):
    """Option B: a strided 1x1 convolution and batch norm, ``W_s x`` in He et al. (2015),
    eq. 2."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 batch_norm: bool = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=not batch_norm)
        ]
        if batch_norm:
            layers.append(WeightedBatchNorm2d(out_channels))
        super().__init__(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions: y = relu(F(x) + shortcut(x)), or relu(F(x)) when plain.

    Parameters
    ----------
    shortcut : "A" or "B"
        How the skip connection matches shapes when the block changes the
        number of channels or the map size; otherwise it is the identity.
    residual : bool
        False drops the skip connection entirely (the "plain" network).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "A", residual: bool = True, batch_norm: bool = True) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be 'A' or 'B'; got {shortcut!r}.")
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm)
        self.bn1 = WeightedBatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=not batch_norm)
        self.bn2 = WeightedBatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu2 = nn.ReLU()
        self.shortcut: nn.Module | None = None
        if residual:
            if stride == 1 and in_channels == out_channels:
                self.shortcut = nn.Identity()
            elif shortcut == "A":
                self.shortcut = ZeroPadShortcut(in_channels, out_channels, stride)
            else:
                self.shortcut = ProjectionShortcut(in_channels, out_channels, stride, batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu2(out)


class CifarResNet(nn.Module):
    """ResNet of depth 6n + 2 for small images; returns raw outputs (logits).

    Parameters
    ----------
    depth : int
        20, 32, 44, 56, 110 or any 6n + 2.
    n_outputs : int
    in_channels : int
    width : float
        Multiplier of the 16/32/64 filters per stage.
    shortcut : "A" or "B"
    residual : bool
        False builds the plain network of the same depth.
    batch_norm : bool
        Batch normalisation after every convolution (the paper's network).
    dropout : float
        Dropout before the classifier (not in the paper).
    """

    def __init__(self, depth: int = 20, n_outputs: int = 10, in_channels: int = 3,
                 width: float = 1.0, shortcut: str = "A", residual: bool = True,
                 batch_norm: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        n = blocks_per_stage(depth)
        if not width > 0:
            raise ValueError(f"width must be > 0; got {width!r}.")
        channels = [max(1, round(f * width)) for f in STAGE_FILTERS]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=not batch_norm),
            WeightedBatchNorm2d(channels[0]) if batch_norm else nn.Identity(),
            nn.ReLU(),
        )
        stages = []
        previous = channels[0]
        for index, out_channels in enumerate(channels):
            blocks = []
            for position in range(n):
                stride = 2 if index > 0 and position == 0 else 1
                blocks.append(BasicBlock(previous, out_channels, stride, shortcut, residual,
                                         batch_norm))
                previous = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(channels[-1], n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.flatten(self.pool(self.stages(self.stem(x))))
        return self.classifier(self.dropout(features))


def resnet20(n_outputs: int = 10, **kwargs) -> CifarResNet:
    """ResNet-20 (0.27M parameters with 10 classes and option A)."""
    return CifarResNet(20, n_outputs, **kwargs)


def resnet32(n_outputs: int = 10, **kwargs) -> CifarResNet:
    """ResNet-32 (0.46M parameters)."""
    return CifarResNet(32, n_outputs, **kwargs)


def resnet44(n_outputs: int = 10, **kwargs) -> CifarResNet:
    """ResNet-44 (0.66M parameters)."""
    return CifarResNet(44, n_outputs, **kwargs)


def resnet56(n_outputs: int = 10, **kwargs) -> CifarResNet:
    """ResNet-56 (0.85M parameters)."""
    return CifarResNet(56, n_outputs, **kwargs)


def resnet110(n_outputs: int = 10, **kwargs) -> CifarResNet:
    """ResNet-110 (1.7M parameters)."""
    return CifarResNet(110, n_outputs, **kwargs)
