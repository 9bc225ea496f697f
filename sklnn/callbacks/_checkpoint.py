"""Saving the training state during a fit, and resuming from it."""

from __future__ import annotations

import os

import torch

from sklnn._atomic import atomic_write, remove_stale_temporaries
from sklnn.callbacks._base import Callback, lower_is_better
from sklnn.engine.distributed import writes_here


class Checkpoint(Callback):
    """Save the training state every ``every`` epochs and/or when ``monitor`` improves.

    The file holds tensors and plain Python values only (weights, optimiser
    state, progress counters, history, random-number-generator states), so
    ``torch.load(path, weights_only=True)`` reads it without running code.
    Writes are atomic: a crash mid-save leaves the previous file intact.

    With ``resume=True`` a fit whose checkpoint file exists continues from it:
    rerunning the same script after a crash finishes the interrupted fit, and
    on the CPU with a fixed ``random_state`` gives the same model as a run that
    was never interrupted.

    In a data-parallel fit (``n_processes`` or ``torchrun``) only rank 0 writes
    the file; every rank reads it when resuming.

    Parameters
    ----------
    path : str or path-like
        Target file; a ``{epoch}`` field is filled in when present (not with ``resume``).
    every : int or None, default=None
        Save every this many epochs.
    on_best : bool, default=True
        Save when ``monitor`` improves.
    monitor : str, default="valid_loss"
        Falls back to "train_loss" when the fit has no validation set.
    resume : bool, default=False
        Continue from ``path`` when it exists.
    """

    def __init__(self, path, every=None, on_best=True, monitor="valid_loss", resume=False):
        self.path = path
        self.every = every
        self.on_best = on_best
        self.monitor = monitor
        self.resume = resume

    def on_train_begin(self, trainer, **kwargs):
        self.best_ = None
        self.saved_epochs_ = []
        self.resumed_from_ = None
        if not self.resume:
            return
        if "{epoch}" in str(self.path):
            raise ValueError("Checkpoint(resume=True) needs a fixed path, without '{epoch}'.")
        remove_stale_temporaries(self.path)  # left by a run killed while saving
        if trainer.optimizer is None:
            raise ValueError("Checkpoint(resume=True) needs a stochastic solver.")
        if os.path.exists(self.path):
            saved = torch.load(self.path, map_location=trainer.device, weights_only=True)
            trainer.load_training_state(saved)
            self.best_ = saved.get("checkpoint_best")
            self.resumed_from_ = saved["progress"]["n_iter"]
            # restored before the first epoch, once every callback's on_train_begin has run
            self._pending_states = saved.get("callbacks")

    def on_epoch_begin(self, trainer, *, epoch, **kwargs):
        states, self._pending_states = getattr(self, "_pending_states", None), None
        if states is None:
            return
        # matched by class, in order, so a callback added or dropped between the runs
        # (a crash simulator, a logger) does not shift the others' states
        by_type: dict[str, list] = {}
        for name, state in states:
            by_type.setdefault(name, []).append(state)
        for cb in trainer.callbacks:
            queue = by_type.get(type(cb).__qualname__)
            if cb is not self and queue:
                state = queue.pop(0)
                if state and hasattr(cb, "load_state_dict"):
                    cb.load_state_dict(state)

    def _improved(self, record) -> bool:
        monitor = self.monitor if record.get(self.monitor) is not None else "train_loss"
        value = record[monitor]
        better = self.best_ is None or (
            value < self.best_ if lower_is_better(monitor) else value > self.best_
        )
        if better:
            self.best_ = value
        return better

    def on_epoch_end(self, trainer, *, record, **kwargs):
        epoch = record["epoch"]
        due = bool(self.every) and epoch % self.every == 0
        improved = self.on_best and self._improved(record)  # tracked on every rank
        if (improved or due) and writes_here(trainer):  # written by rank 0 only
            state = trainer.training_state()
            state["checkpoint_best"] = self.best_
            state["callbacks"] = [
                (type(cb).__qualname__, cb.state_dict() if hasattr(cb, "state_dict") else {})
                for cb in trainer.callbacks if cb is not self
            ]
            atomic_write(str(self.path).format(epoch=epoch),
                         lambda handle: torch.save(state, handle), make_parents=True,
                         suffix=".pt")
            self.saved_epochs_.append(epoch)
