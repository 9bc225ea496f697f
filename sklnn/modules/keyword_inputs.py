"""Several named inputs carried as one tensor, handed to a module's ``forward`` by name."""

from __future__ import annotations

import math

from torch import nn


class KeywordInputs:
    """A forward pre-hook that unpacks one packed batch into the module's keyword inputs.

    The packed batch holds each input flattened, side by side, in ``layout`` order
    (``(name, shape of one sample, integer)``); integer inputs (token indices) were
    carried as exact floats and come back as int64. A call with keyword arguments, or
    with more than one positional argument, is left as it is.
    """

    def __init__(self, layout) -> None:
        self.layout = [(str(name), tuple(int(s) for s in shape), bool(integer))
                       for name, shape, integer in layout]

    def __call__(self, module: nn.Module, args: tuple, kwargs: dict):
        if kwargs or len(args) != 1:
            return None
        packed, inputs, start = args[0], {}, 0
        for name, shape, integer in self.layout:
            size = math.prod(shape)
            part = packed[:, start:start + size].reshape(packed.shape[0], *shape)
            inputs[name] = part.round().long() if integer else part
            start += size
        return (), inputs

    def attach(self, module: nn.Module) -> nn.Module:
        module.register_forward_pre_hook(self, with_kwargs=True)
        return module
