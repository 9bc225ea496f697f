"""Where tensors live and in which floating-point type they are computed."""

from __future__ import annotations

import os

import numpy as np
import torch

PRECISIONS = ("auto", "float32", "float64", "bfloat16", "float16")
#: environment variable that ``device="auto"`` follows in this process (one device per worker)
DEVICE_ENV = "SKLNN_DEVICE"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn the ``device`` parameter into a ``torch.device``.

    ``"auto"`` (or None) follows the ``SKLNN_DEVICE`` environment variable when it is
    set (``sklnn.parallel.assign_devices`` sets it in each worker), else picks CUDA
    (the first device ``CUDA_VISIBLE_DEVICES`` leaves visible), else Apple's MPS,
    else the CPU. Only ``fit`` calls this: building, cloning and pickling an
    unfitted estimator never touch ``torch.cuda``.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        override = os.environ.get(DEVICE_ENV, "").strip()
        if override and override != "auto":
            try:
                return resolve_device(override)
            except ValueError as exc:
                raise ValueError(
                    f"{DEVICE_ENV}={override!r} in this process's environment: {exc}"
                ) from exc
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device name; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available in this PyTorch build or "
            "machine; use device='auto' to fall back to the CPU."
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return resolved


def compute_dtype(precision: str, input_dtype: np.dtype, device: torch.device) -> torch.dtype:
    """The dtype of weights and activations.

    ``"auto"`` follows scikit-learn: float64 input is computed in float64 and
    float32 input in float32, on the CPU. Accelerators compute in float32
    (MPS has no float64 and float64 is slow on CUDA). ``"bfloat16"`` and
    ``"float16"`` keep float32 weights and autocast the forward pass.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}.")
    if precision == "float64":
        if device.type == "mps":
            raise ValueError("precision='float64' is not supported on MPS; use 'float32'.")
        return torch.float64
    if precision == "auto" and device.type == "cpu" and np.dtype(input_dtype) == np.float64:
        return torch.float64
    return torch.float32


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for mixed precision, or None when autocast is off."""
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "float16":
        if device.type != "cuda":
            raise ValueError("precision='float16' needs a CUDA device; use 'bfloat16' on the CPU.")
        return torch.float16
    return None


def place_module(
    module: torch.nn.Module, device: torch.device, dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """Move ``module`` to ``device`` (and ``dtype``) in the layout it runs fastest in there.

    Convolution weights go channels-last (NHWC), and activations follow the weights'
    layout: on CUDA the layout of cuDNN's tensor-core kernels, on the CPU the one oneDNN
    trains and predicts convolutional networks fastest in (docs/benchmarks.md), for sklnn's
    own networks except those that :func:`channels_last_trains_safely` rejects. Parameters
    other than 4-D weights are never touched by the layout, so other networks move as they
    are.
    """
    return module.to(device=device, dtype=dtype, memory_format=training_layout(module, device))


def training_layout(module: torch.nn.Module, device: torch.device) -> torch.memory_format:
    """``torch.channels_last`` where :func:`place_module` trains ``module`` in it, else
    ``torch.contiguous_format``."""
    if device.type == "cuda":
        return torch.channels_last
    if device.type == "cpu" and _built_by_sklnn(module) and channels_last_trains_safely(module):
        return torch.channels_last
    return torch.contiguous_format


def _built_by_sklnn(module: torch.nn.Module) -> bool:
    """Only sklnn's own layers and torch's: a user's module may reshape its activations with
    ``view``, which a channels-last tensor refuses, so it trains as it was written for."""
    return all(type(m).__module__.startswith(("sklnn.", "torch.")) for m in module.modules())


def channels_last_trains_safely(module: torch.nn.Module) -> bool:
    """False for a network with a 2-D convolution on the CPU that oneDNN's channels-last
    weight gradient gets wrong, and True for every other network with a 2-D convolution.

    The wrong case (oneDNN issue #6035): a 1x1 convolution with a stride above 1 and fewer
    input channels per group than oneDNN's channel block (8 with AVX2, 16 with AVX-512)
    writes past a workspace in the backward pass for the weights, in the channels-last
    layout only: wrong gradients, a hang or a corrupted heap. Such a network (a ResNet
    projection shortcut from a narrow stage, say) trains in the default layout.
    """
    convolutions = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    return bool(convolutions) and not any(
        m.kernel_size == (1, 1) and max(m.stride) > 1 and m.in_channels // m.groups < 16
        for m in convolutions
    )


def saved_device(device: str | torch.device) -> torch.device:
    """Where a saved or pickled model goes on load: the device it was saved from when this
    machine has it (CUDA with that index, or MPS), else the CPU.

    One rule for ``sklnn.load`` and unpickling, so that the same model lands in the same
    place whichever way it travelled.
    """
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available() and (
        device.index is None or device.index < torch.cuda.device_count()
    ):
        return device
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and mps is not None and mps.is_available():
        return device
    return torch.device("cpu")


def to_cpu(obj):
    """Tensors in nested dicts, lists and tuples (an optimiser's state) moved to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
