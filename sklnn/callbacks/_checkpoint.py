"""Saving the training state during a fit, and resuming from it."""

from __future__ import annotations

import os
import pickle
from numbers import Integral

import torch

from sklnn._atomic import atomic_write, remove_stale_temporaries
from sklnn.callbacks._base import Callback, check_monitor, lower_is_better, monitored
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
        A key of the epoch record, checked when the fit starts (a misspelt name
        raises). A validation key falls back to "train_loss" when the fit has no
        validation set.
    resume : bool, default=False
        Continue from ``path`` when it exists. A file that is not a checkpoint, or
        was written by a fit with another network or solver, raises a ValueError;
        temporaries left by a writer that was killed are removed.
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
        self._check_params(trainer)
        if not self.resume:
            return
        if "{epoch}" in str(self.path):
            raise ValueError("Checkpoint(resume=True) needs a fixed path, without '{epoch}'.")
        remove_stale_temporaries(self.path)  # left by a run killed while saving
        if trainer.optimizer is None:
            raise ValueError("Checkpoint(resume=True) needs a stochastic solver.")
        if os.path.exists(self.path):
            saved = self._read(trainer)
            trainer.load_training_state(saved)
            self.best_ = saved.get("checkpoint_best")
            self.resumed_from_ = saved["progress"]["n_iter"]
            # restored before the first epoch, once every callback's on_train_begin has run
            self._pending_states = saved.get("callbacks")

    def _check_params(self, trainer) -> None:
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(
                self.every, Integral) or self.every < 1):
            raise ValueError(f"Checkpoint(every={self.every!r}): every must be None or an "
                             "int >= 1.")
        if not self.on_best and not self.every:
            raise ValueError("Checkpoint(on_best=False, every=None) would never save; set "
                             "every=N or on_best=True.")
        if self.on_best:
            check_monitor(trainer, self.monitor, "Checkpoint")

    def _read(self, trainer) -> dict:
        """The checkpoint at ``path``, checked against this fit before anything of it is
        used: a file that is not a checkpoint, or one written by a fit with another
        network or solver, raises a ValueError saying so."""
        try:
            saved = torch.load(self.path, map_location=trainer.device, weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError,
                AttributeError, KeyError, IndexError) as exc:
            raise ValueError(
                f"Checkpoint(resume=True): {self.path} is not a checkpoint sklnn can read "
                f"({type(exc).__name__}: {str(exc)[:200]}); it is corrupt or not written by "
                "sklnn's Checkpoint. Delete it, or point path elsewhere, to start afresh."
            ) from None
        mismatch = _mismatch(saved, trainer)
        if mismatch:
            raise ValueError(
                f"Checkpoint(resume=True): {self.path} was written by another fit ({mismatch}); "
                "resume with the estimator and solver that wrote it, or delete the file to "
                "start afresh.")
        return saved

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
        if self.monitor not in record:  # a typo that only the first record could reveal
            monitored(record, self.monitor, "Checkpoint")
        # documented: without a validation set, valid_* keys are None and train_loss counts
        monitor = self.monitor if record[self.monitor] is not None else "train_loss"
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


_STATE_KEYS = {"module", "optimizer", "progress", "epochs_in_fit", "best_weights"}


def _mismatch(saved, trainer) -> str | None:
    """What makes ``saved`` unusable for this fit, or None."""
    if not isinstance(saved, dict) or not _STATE_KEYS <= set(saved):
        return "it holds no training state"
    module = trainer.module.state_dict()
    weights = saved["module"]
    if not isinstance(weights, dict) or set(weights) != set(module) or any(
            getattr(weights[k], "shape", None) != module[k].shape for k in module):
        return "its network has other layers or shapes"
    mine = trainer.optimizer.state_dict()
    theirs = saved["optimizer"]
    # an optimiser's options name it (SGD's momentum, Adam's betas); a learning-rate
    # schedule adds initial_lr once it starts
    ignored = {"params", "initial_lr"}
    try:
        options = [set(g) - ignored for g in theirs["param_groups"]]
        same = options == [set(g) - ignored for g in mine["param_groups"]]
    except (TypeError, KeyError):
        same = False
    if not same:
        return (f"its optimiser is not this fit's {type(trainer.optimizer).__name__} with "
                f"{len(mine['param_groups'])} parameter group(s)")
    if not isinstance(saved["progress"], dict) or "n_iter" not in saved["progress"]:
        return "its progress counters are missing"
    return None
