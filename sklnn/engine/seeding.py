"""Seeding for one fit without touching the caller's global torch RNG.

Training draws from a generator the fit owns (``Trainer(generator=...)``, see
:mod:`sklnn.modules.randomness`). Two things still use torch's global generator:
PyTorch's default initialisation while a module is built, and layers that cannot
take a generator (dropout inside ``nn.LSTM``/``nn.GRU``/``nn.RNN`` stacks, plain
``nn.Dropout`` in a user's module). Around those the global generator is seeded
and restored afterwards, under one process-wide lock, so concurrent fits in
threads neither disturb each other nor leave the caller's RNG changed.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from sklnn.modules.randomness import Dropout

_GLOBAL_RNG = threading.RLock()
_GLOBAL_DRAWING = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                   nn.FeatureAlphaDropout, nn.RReLU)


@contextmanager
def seeded_global_rng(seed: int, device: torch.device):
    """Seed torch's global RNG inside the block, restore it after, one thread at a time."""
    devices = [device] if device.type == "cuda" else []
    with _GLOBAL_RNG, torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            torch.cuda.manual_seed(seed)
        yield


def draws_from_global_rng(module: nn.Module) -> bool:
    """Whether training ``module`` draws from torch's global RNG."""
    for layer in module.modules():
        if isinstance(layer, nn.RNNBase) and layer.dropout > 0 and layer.num_layers > 1:
            return True
        if isinstance(layer, _GLOBAL_DRAWING) and not isinstance(layer, Dropout):
            if getattr(layer, "p", 1.0) > 0 or isinstance(layer, nn.RReLU):
                return True
    return False


def training_rng(module: nn.Module, seed: int, device: torch.device):
    """The global-RNG guard a fit of ``module`` needs: none for sklnn's own layers."""
    return seeded_global_rng(seed, device) if draws_from_global_rng(module) else nullcontext()


def fit_generator_for(seed: int, device: torch.device) -> torch.Generator:
    """The generator a fit owns, on ``device``."""
    return torch.Generator(device=device).manual_seed(seed)
