"""The callback protocol: hook names, the do-nothing base class and the checks at fit.

The training loop calls each hook with the trainer as its only positional argument
and the rest as keyword arguments (``on_epoch_end(trainer, record=...)``). A hook that
takes ``**kwargs`` keeps working when a later version passes more; one that does not
gets only the keywords it names (see :func:`sklnn.engine.hooks.hook_lists`).
"""

from __future__ import annotations

import torch

from sklnn.engine.hooks import BATCH_HOOKS, HOOKS


class Callback:
    """Base class with do-nothing hooks; override the ones you need.

    Every hook takes the running :class:`~sklnn.engine.Trainer` first and the rest
    as keyword arguments; keep ``**kwargs`` in an override's signature.
    """

    def on_train_begin(self, trainer, **kwargs) -> None:
        """Called before the first epoch of every fit."""

    def on_epoch_begin(self, trainer, *, epoch: int, **kwargs) -> None:
        """Called before each epoch; ``epoch`` counts from 1 across warm starts."""

    def on_batch_begin(self, trainer, *, batch_index: int, **kwargs) -> None:
        """Called before each batch's forward pass."""

    def on_grad_computed(self, trainer, *, batch_index: int, **kwargs) -> None:
        """Called after the batch's gradients (L2 term included) are in each ``.grad``,
        before the optimiser steps: clip, inspect or log them here."""

    def on_batch_end(self, trainer, *, batch_index: int, loss: torch.Tensor, **kwargs) -> None:
        """Called after each optimiser step; ``loss`` stays on the device (no sync)."""

    def on_epoch_end(self, trainer, *, record: dict, **kwargs) -> bool | None:
        """Called after each epoch with its history record; return True to stop."""

    def on_train_end(self, trainer, **kwargs) -> None:
        """Called once training has stopped, after the best weights are restored."""

    def state_dict(self) -> dict:
        """What this callback has learnt during the fit (tensors and plain values), saved
        by :class:`~sklnn.callbacks.Checkpoint` so a resumed fit continues exactly;
        nothing by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s output."""

    def wants_batches(self) -> bool:
        """Whether the per-batch hooks must be called (each costs a call per step); by
        default, when a subclass overrides one of them."""
        return any(getattr(type(self), name) is not getattr(Callback, name)
                   for name in BATCH_HOOKS)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_")
        )
        return f"{type(self).__name__}({fields})"


def check_callbacks(callbacks) -> list:
    """The callbacks as a list, each an instance with at least one hook, or a TypeError
    that says what a callback must provide."""
    checked = []
    for index, cb in enumerate(callbacks or ()):
        if isinstance(cb, type):
            raise TypeError(
                f"callbacks[{index}] is the class {cb.__name__}, not an instance; pass "
                f"{cb.__name__}(...) instead."
            )
        if not any(callable(getattr(cb, name, None)) for name in HOOKS):
            raise TypeError(
                f"callbacks[{index}] ({cb!r}) has none of the hooks a callback provides "
                f"({', '.join(HOOKS)}); subclass sklnn.callbacks.Callback and override the "
                "hooks you need."
            )
        checked.append(cb)
    return checked


def monitored(record: dict, monitor: str, owner: str) -> float:
    """The value ``owner`` monitors in an epoch record, or a ValueError saying why not."""
    if monitor not in record:
        raise ValueError(f"{owner}: monitor={monitor!r} is not one of {sorted(record)}.")
    value = record[monitor]
    if value is None:
        raise ValueError(
            f"{owner} monitors {monitor!r} but this fit has no validation set; pass "
            "validation_data=(X_val, y_val) to fit, set early_stopping=True, or monitor "
            "'train_loss'."
        )
    return value


def lower_is_better(monitor: str) -> bool:
    """Losses are minimised; scores (scikit-learn's scorers, "neg_..." included) maximised."""
    return monitor.endswith("loss") and not monitor.startswith("neg_")
