"""Layers shared by the image networks: input reshaping, augmentation, init, cost."""

from __future__ import annotations

import torch
from torch import nn

from sklnn.modules.randomness import current_generator


class ImageInput(nn.Module):
    """Reshape flat rows of ``C*H*W`` values to ``(C, H, W)`` images; pass images through.

    The estimators feed flat rows (the engine batches 2-D arrays), while a
    user holding the bare network may call it on image tensors directly.
    """

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x.unflatten(1, self.image_shape)
        return x

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}"


class Flatten(nn.Flatten):
    """``nn.Flatten`` whose gradient goes back in the memory layout of its input.

    A channels-last feature map flattens into a copy in the usual (C, H, W) order, so
    the flattened values are the same in either layout, but autograd hands the gradient
    back in the default layout. A max-pooling layer before it then converted two
    activation-sized tensors per step in its backward pass, which cost the lecture CNN
    more than channels-last gained; returning the gradient channels-last avoids both.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() == 4 and x.requires_grad and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            return _FlattenChannelsLast.apply(x, self.start_dim, self.end_dim)
        return super().forward(x)


class _FlattenChannelsLast(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, start_dim, end_dim):
        ctx.shape = x.shape
        return x.flatten(start_dim, end_dim)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last), None, None


class RandomShiftFlip(nn.Module):
    """Training-time augmentation on the device: random translations and horizontal flips.

    Each image is zero-padded by ``max_shift`` pixels on every side and a window
    of the original size is cropped at a random offset (the "pad and random
    crop" of He et al.), then mirrored left-right with probability 0.5 when
    ``horizontal_flip``. In eval mode the layer is the identity, so prediction
    never sees augmented images. Randomness comes from the fit's generator (see
    :mod:`sklnn.modules.randomness`), else torch's global generator,
    which the estimators seed per fit.
    """

    def __init__(self, max_shift: int = 0, horizontal_flip: bool = False) -> None:
        super().__init__()
        self.max_shift = int(max_shift)
        self.horizontal_flip = bool(horizontal_flip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n, _, height, width = x.shape
        if self.max_shift > 0:
            s = self.max_shift
            padded = nn.functional.pad(x, (s, s, s, s))
            offsets = torch.randint(0, 2 * s + 1, (2, n), device=x.device,
                                    generator=current_generator(x.device))
            rows = offsets[0, :, None] + torch.arange(height, device=x.device)
            cols = offsets[1, :, None] + torch.arange(width, device=x.device)
            batch = torch.arange(n, device=x.device)[:, None, None, None]
            channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
            x = padded[batch, channels, rows[:, None, :, None], cols[:, None, None, :]]
        if self.horizontal_flip:
            flip = torch.rand(n, device=x.device, generator=current_generator(x.device)) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}, horizontal_flip={self.horizontal_flip}"


@torch.no_grad()
def kaiming_normal_init_(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """He et al. (2015) normal initialisation of every conv and linear layer, reproducibly.

    Weights ~ N(0, 2 / fan_in); biases zero; batch-norm scales one and shifts zero.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu",
                                    generator=generator)
            if layer.bias is not None:
                layer.bias.zero_()
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            layer.weight.fill_(1.0)
            layer.bias.zero_()


@torch.no_grad()
def forward_cost(
    module: nn.Module, input_shape: tuple[int, ...]
) -> tuple[float, float, int]:
    """Rough cost of one sample: (total FLOPs, FLOPs of the largest layer, largest activation).

    Counts 2 FLOPs per weight use in convolutions (transposed ones too) and linear
    layers (the rest is cheap by comparison), measured with hooks on one zero sample on
    the CPU.
    Activations are counted in values.
    """
    flops = 0.0
    largest = 0.0
    peak = 1
    hooks = []

    def hook(layer, inputs, output):
        nonlocal flops, largest, peak
        if isinstance(output, torch.Tensor):
            peak = max(peak, output[0].numel())
        cost = 0.0
        if isinstance(layer, nn.Conv2d):
            kernel = layer.kernel_size[0] * layer.kernel_size[1]
            cost = 2.0 * output[0].numel() * kernel * layer.in_channels // layer.groups
        elif isinstance(layer, nn.ConvTranspose2d):  # each input value meets a kernel
            kernel = layer.kernel_size[0] * layer.kernel_size[1]
            cost = 2.0 * inputs[0][0].numel() * kernel * layer.out_channels // layer.groups
        elif isinstance(layer, nn.Linear):
            cost = 2.0 * layer.in_features * layer.out_features
        flops += cost
        largest = max(largest, cost)

    for layer in module.modules():
        if next(layer.children(), None) is None:
            hooks.append(layer.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    first = next(module.parameters(), None)
    device, dtype = (first.device, first.dtype) if first is not None else ("cpu", torch.float32)
    try:
        with torch.no_grad():
            module(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        module.train(was_training)
        for handle in hooks:
            handle.remove()
    return flops, largest, peak
