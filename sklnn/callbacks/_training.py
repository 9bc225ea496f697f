"""Callbacks that steer training: stopping early, scheduling the learning rate, clipping
gradients."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

from sklnn.callbacks._base import Callback, check_monitor, lower_is_better, monitored


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="valid_loss"
        A key of the epoch record: "train_loss", "valid_loss" or "valid_score".
        Names containing "loss" are minimised, others maximised.
    patience : int, default=5
        Epochs without improvement before stopping.
    min_delta : float, default=0.0
        Smallest change that counts as an improvement.
    restore_best_weights : bool, default=True
        Load the weights of the best epoch when training ends.
    """

    def __init__(self, monitor="valid_loss", patience=5, min_delta=0.0,
                 restore_best_weights=True):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, trainer, **kwargs):
        self._monitor_known = check_monitor(trainer, self.monitor, "EarlyStopping")
        if isinstance(self.patience, bool) or not isinstance(self.patience, Integral) or \
                self.patience < 1:
            raise ValueError(f"EarlyStopping(patience={self.patience!r}): patience must be "
                             "an int >= 1 (epochs without improvement before stopping).")
        if isinstance(self.min_delta, bool) or not isinstance(self.min_delta, Real) or \
                not 0 <= self.min_delta < math.inf:
            raise ValueError(f"EarlyStopping(min_delta={self.min_delta!r}): min_delta must be "
                             "a finite number >= 0.")
        self.best_ = math.inf if lower_is_better(self.monitor) else -math.inf
        self.best_epoch_ = None
        self.wait_ = 0
        self.best_weights_ = None

    def on_epoch_end(self, trainer, *, record, **kwargs):
        value = monitored(record, self.monitor, "EarlyStopping")
        sign = 1.0 if lower_is_better(self.monitor) else -1.0
        if sign * (self.best_ - value) > self.min_delta:
            self.best_, self.best_epoch_, self.wait_ = value, record["epoch"], 0
            if self.restore_best_weights:
                self.best_weights_ = {
                    k: v.detach().clone() for k, v in trainer.module.state_dict().items()
                }
        else:
            self.wait_ += 1
        return self.wait_ >= self.patience

    def on_train_end(self, trainer, **kwargs):
        if self.restore_best_weights and self.best_weights_ is not None:
            trainer.module.load_state_dict(self.best_weights_)

    def state_dict(self):
        return {"best": self.best_, "best_epoch": self.best_epoch_, "wait": self.wait_,
                "best_weights": self.best_weights_}

    def load_state_dict(self, state):
        self.best_, self.best_epoch_ = state["best"], state["best_epoch"]
        self.wait_, self.best_weights_ = state["wait"], state["best_weights"]



class LRScheduler(Callback):
    """Drive any ``torch.optim.lr_scheduler`` class from the training loop.

    Parameters
    ----------
    scheduler : type or callable
        Called as ``scheduler(optimizer, **kwargs)``, e.g.
        ``torch.optim.lr_scheduler.StepLR``.
    step_every : {"epoch", "batch"}, default="epoch"
    monitor : str, default="valid_loss"
        Passed to ``ReduceLROnPlateau.step``; ignored by other schedulers.
    **kwargs
        Arguments of the scheduler, e.g. ``step_size=10``.
    """

    def __init__(self, scheduler, step_every="epoch", monitor="valid_loss", **kwargs):
        if step_every not in ("epoch", "batch"):
            raise ValueError(f"step_every={step_every!r} must be 'epoch' or 'batch'.")
        self.scheduler = scheduler
        self.step_every = step_every
        self.monitor = monitor
        self.kwargs = kwargs

    def get_params(self, deep=True):
        return {"scheduler": self.scheduler, "step_every": self.step_every,
                "monitor": self.monitor, **self.kwargs}

    def set_params(self, **params):
        for name, value in params.items():
            if name in ("scheduler", "step_every", "monitor"):
                setattr(self, name, value)
            else:  # the scheduler's own arguments
                self.kwargs[name] = value
        return self

    def wants_batches(self):
        return self.step_every == "batch"

    def on_train_begin(self, trainer, **kwargs):
        if trainer.optimizer is None:
            raise ValueError("LRScheduler needs a stochastic solver ('adam', 'adamw' or 'sgd').")
        self.scheduler_ = self.scheduler(trainer.optimizer, **self.kwargs)

    def on_batch_end(self, trainer, *, batch_index, loss, **kwargs):
        self.scheduler_.step()

    def on_epoch_end(self, trainer, *, record, **kwargs):
        if self.step_every != "epoch":
            return
        if isinstance(self.scheduler_, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler_.step(monitored(record, self.monitor, "LRScheduler"))
        else:
            self.scheduler_.step()

    def state_dict(self):
        return {"scheduler": self.scheduler_.state_dict()}

    def load_state_dict(self, state):
        self.scheduler_.load_state_dict(state["scheduler"])


class GradientNormClipping(Callback):
    """Rescale each batch's gradients to a total norm of at most ``max_norm``.

    Runs after the gradients (the L2 term included; summed across processes in a
    data-parallel fit) are in ``.grad`` and before the optimiser steps, with
    :func:`torch.nn.utils.clip_grad_norm_`.

    Parameters
    ----------
    max_norm : float
        The largest total norm kept.
    norm_type : float, default=2.0
        The norm: 2 for the Euclidean norm, ``float("inf")`` for the largest value.
    """

    def __init__(self, max_norm, norm_type=2.0):
        self.max_norm = max_norm
        self.norm_type = norm_type

    def on_train_begin(self, trainer, **kwargs):
        if not (isinstance(self.max_norm, Real) and self.max_norm > 0):
            raise ValueError(f"GradientNormClipping(max_norm={self.max_norm!r}): max_norm must "
                             "be a positive number.")

    def on_grad_computed(self, trainer, **kwargs):
        torch.nn.utils.clip_grad_norm_(trainer.module.parameters(), self.max_norm,
                                       norm_type=self.norm_type)
