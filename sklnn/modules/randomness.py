"""Random draws during training from a generator owned by the fit, not torch's global one.

The training loop sets the fit's generator with :func:`fit_generator`; sklnn's
:class:`Dropout` and augmentation layers draw from it, so two fits running in
threads at once are each reproducible and the caller's global RNG is left
alone. Outside such a block (a module used on its own) they draw from torch's
global generator, like PyTorch's own layers.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import torch
from torch import nn

_generator: contextvars.ContextVar[torch.Generator | None] = contextvars.ContextVar(
    "sklnn_fit_generator", default=None
)


@contextmanager
def fit_generator(generator: torch.Generator | None):
    """Make ``generator`` the source of sklnn layers' random draws inside the block."""
    token = _generator.set(generator)
    try:
        yield
    finally:
        _generator.reset(token)


def current_generator(device: torch.device) -> torch.Generator | None:
    """The fit's generator when it lives on ``device``'s type, else None (global RNG)."""
    generator = _generator.get()
    if generator is None or generator.device.type != torch.device(device).type:
        return None
    return generator


class Dropout(nn.Dropout):
    """``nn.Dropout`` drawing its mask from the fit's generator (see the module)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        generator = current_generator(x.device)
        if not self.training or self.p == 0.0 or generator is None:
            return super().forward(x)
        keep = 1.0 - self.p
        if keep == 0.0:
            return torch.zeros_like(x)
        mask = torch.empty_like(x).bernoulli_(keep, generator=generator)
        return x * mask / keep
