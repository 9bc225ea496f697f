"""Transfer learning: freezing and unfreezing parameters by name during a fit."""

from __future__ import annotations

from fnmatch import fnmatchcase

from sklnn.callbacks._base import Callback


def _matching(trainer, patterns, owner: str) -> list:
    """The parameters of the trained module whose names match any glob pattern; every
    pattern must match one, or the error lists the names there are."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    named = list(trainer.module.named_parameters())
    for pattern in patterns:
        if not any(fnmatchcase(name, pattern) for name, _ in named):
            names = ", ".join(n for n, _ in named[:8]) + (", ..." if len(named) > 8 else "")
            raise ValueError(
                f"{owner}: pattern {pattern!r} matches no parameter of "
                f"{type(trainer.module).__name__}, whose parameters are named {names}.")
    return [p for name, p in named if any(fnmatchcase(name, pat) for pat in patterns)]


class Freezer(Callback):
    """Keep the parameters whose names match ``patterns`` fixed during the fit.

    The parameters are frozen (``requires_grad=False``) before the first epoch, so
    they get no gradient: neither the optimiser, its weight decay, nor the L2 penalty
    changes them, and they stay bit-identical. They are unfrozen when the fit ends.
    Batch-normalisation statistics of frozen layers still follow the data; freeze
    those too by putting such layers in eval mode in the module's ``train``.

    Parameters
    ----------
    patterns : str or list of str
        Glob patterns over the module's parameter names (``module_.named_parameters()``),
        e.g. ``"body.*"`` or ``["conv1.*", "bn1.*"]``.
    """

    def __init__(self, patterns):
        self.patterns = patterns

    def on_train_begin(self, trainer, **kwargs):
        self.frozen_ = [p for p in _matching(trainer, self.patterns, "Freezer")
                        if p.requires_grad]
        for p in self.frozen_:
            p.requires_grad_(False)

    def on_train_end(self, trainer, **kwargs):
        for p in self.frozen_:
            p.requires_grad_(True)


class Unfreezer(Callback):
    """Let the parameters matching ``patterns`` train from epoch ``at_epoch`` on.

    With :class:`Freezer` (or parameters the module freezes itself), this gives the
    usual fine-tuning schedule: train the new head first, then the whole network.

    Parameters
    ----------
    patterns : str or list of str
        Glob patterns over the module's parameter names.
    at_epoch : int, default=1
        The epoch (counted as ``history_`` counts, from 1) from which they train.
    """

    def __init__(self, patterns, at_epoch=1):
        self.patterns = patterns
        self.at_epoch = at_epoch

    def on_train_begin(self, trainer, **kwargs):
        self.params_ = _matching(trainer, self.patterns, "Unfreezer")

    def on_epoch_begin(self, trainer, *, epoch, **kwargs):
        if epoch >= self.at_epoch:
            for p in self.params_:
                p.requires_grad_(True)
