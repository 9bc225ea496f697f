"""Callbacks: small objects whose hooks the training loop calls by name.

A hook receives the running :class:`~sklnn.engine.Trainer`: its ``module``,
``optimizer``, ``state`` (progress so far) and ``estimator`` (the estimator
being fitted, with its parameters and, for classifiers, ``classes_``).
``on_epoch_end`` gets the epoch's record (the dict that goes to ``history_``)
and stops training by returning True or by setting
``trainer.stop_training = True``; callbacks never stop by raising.

Any object with at least one of the hooks works as a callback (the others are
skipped); :class:`Callback` is a convenient base with do-nothing hooks.
"""

from __future__ import annotations

import math
import os
import sys

import torch

from sklnn._atomic import atomic_write, remove_stale_temporaries
from sklnn.engine.distributed import writes_here
from sklnn.engine.hooks import HOOKS

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochScoring",
    "EpochLogger",
    "LRScheduler",
    "ProgressBar",
]


class Callback:
    """Base class with do-nothing hooks; override the ones you need."""

    def on_train_begin(self, trainer) -> None:
        """Called before the first epoch of every fit."""

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        """Called before each epoch; ``epoch`` counts from 1 across warm starts."""

    def on_batch_begin(self, trainer, batch_index: int) -> None:
        """Called before each batch's forward pass."""

    def on_grad_computed(self, trainer, batch_index: int) -> None:
        """Called after the batch's gradients (L2 term included) are in each ``.grad``,
        before the optimiser steps: clip, inspect or log them here."""

    def on_batch_end(self, trainer, batch_index: int, loss: torch.Tensor) -> None:
        """Called after each optimiser step; ``loss`` stays on the device (no sync)."""

    def on_epoch_end(self, trainer, record: dict) -> bool | None:
        """Called after each epoch with its history record; return True to stop."""

    def on_train_end(self, trainer) -> None:
        """Called once training has stopped, after the best weights are restored."""

    def state_dict(self) -> dict:
        """What this callback has learnt during the fit (tensors and plain values), saved
        by :class:`Checkpoint` so a resumed fit continues exactly; nothing by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s output."""

    def wants_batches(self) -> bool:
        """Whether the per-batch hooks must be called (each costs a call per step); by
        default, when a subclass overrides one of them."""
        return any(
            getattr(type(self), name) is not getattr(Callback, name)
            for name in ("on_batch_begin", "on_grad_computed", "on_batch_end")
        )

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


def _monitored(record: dict, monitor: str, owner: str) -> float:
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


def _lower_is_better(monitor: str) -> bool:
    """Losses are minimised; scores (scikit-learn's scorers, "neg_..." included) maximised."""
    return monitor.endswith("loss") and not monitor.startswith("neg_")


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

    def on_train_begin(self, trainer):
        self.best_ = math.inf if _lower_is_better(self.monitor) else -math.inf
        self.best_epoch_ = None
        self.wait_ = 0
        self.best_weights_ = None

    def on_epoch_end(self, trainer, record):
        value = _monitored(record, self.monitor, "EarlyStopping")
        sign = 1.0 if _lower_is_better(self.monitor) else -1.0
        if sign * (self.best_ - value) > self.min_delta:
            self.best_, self.best_epoch_, self.wait_ = value, record["epoch"], 0
            if self.restore_best_weights:
                self.best_weights_ = {
                    k: v.detach().clone() for k, v in trainer.module.state_dict().items()
                }
        else:
            self.wait_ += 1
        return self.wait_ >= self.patience

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights_ is not None:
            trainer.module.load_state_dict(self.best_weights_)

    def state_dict(self):
        return {"best": self.best_, "best_epoch": self.best_epoch_, "wait": self.wait_,
                "best_weights": self.best_weights_}

    def load_state_dict(self, state):
        self.best_, self.best_epoch_ = state["best"], state["best_epoch"]
        self.wait_, self.best_weights_ = state["wait"], state["best_weights"]


class EpochScoring(Callback):
    """Score the model after every epoch with a scikit-learn scorer, into ``history_``.

    The score is computed on the validation set (``validation_data`` or the
    ``early_stopping`` split) or, with ``on_train=True``, on the training data,
    with the estimator as it is after the epoch (its ``predict``,
    ``predict_proba`` and ``classes_``), and written to each epoch's record
    under ``name``: ``EarlyStopping(monitor=name)``, ``Checkpoint`` and
    ``history_[:, name]`` can use it. Put it before the callbacks that read it.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scorer name ("accuracy", "f1_macro", "neg_log_loss",
        "r2", ...) or a callable ``scorer(estimator, X, y)``.
    on_train : bool, default=False
        Score the training data instead of the validation set.
    name : str or None, default=None
        The record's key; ``scoring`` after ``"train_"`` or ``"valid_"`` when None.
    """

    def __init__(self, scoring, on_train=False, name=None):
        self.scoring = scoring
        self.on_train = on_train
        self.name = name

    def on_train_begin(self, trainer):
        from sklearn.metrics import check_scoring

        self.scorer_ = check_scoring(trainer.estimator, scoring=self.scoring)
        if self.name is not None:
            self.name_ = self.name
        else:
            label = self.scoring if isinstance(self.scoring, str) else "score"
            self.name_ = f"{'train' if self.on_train else 'valid'}_{label}"

    def on_epoch_end(self, trainer, record):
        estimator = trainer.estimator
        data = getattr(estimator, "_scoring_data", {}).get("train" if self.on_train else "valid")
        if data is None:
            raise ValueError(
                "EpochScoring scores the validation set but this fit has none; pass "
                "validation_data=(X_val, y_val) to fit, set early_stopping=True, or use "
                "EpochScoring(..., on_train=True)."
            )
        X, y_encoded, weight = data
        dtype = next(trainer.module.parameters()).dtype
        model = estimator._mid_fit_model(trainer.module, trainer.device, dtype)
        kwargs = {} if weight is None else {"sample_weight": weight}
        trainer.module.eval()
        try:
            record[self.name_] = float(
                self.scorer_(model, X, estimator._decode_targets(y_encoded), **kwargs))
        finally:
            trainer.module.train()


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

    def wants_batches(self):
        return self.step_every == "batch"

    def on_train_begin(self, trainer):
        if trainer.optimizer is None:
            raise ValueError("LRScheduler needs a stochastic solver ('adam', 'adamw' or 'sgd').")
        self.scheduler_ = self.scheduler(trainer.optimizer, **self.kwargs)

    def on_batch_end(self, trainer, batch_index, loss):
        self.scheduler_.step()

    def on_epoch_end(self, trainer, record):
        if self.step_every != "epoch":
            return
        if isinstance(self.scheduler_, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler_.step(_monitored(record, self.monitor, "LRScheduler"))
        else:
            self.scheduler_.step()

    def state_dict(self):
        return {"scheduler": self.scheduler_.state_dict()}

    def load_state_dict(self, state):
        self.scheduler_.load_state_dict(state["scheduler"])


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

    def on_train_begin(self, trainer):
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

    def on_epoch_begin(self, trainer, epoch):
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
            value < self.best_ if _lower_is_better(monitor) else value > self.best_
        )
        if better:
            self.best_ = value
        return better

    def on_epoch_end(self, trainer, record):
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


class EpochLogger(Callback):
    """Print one line per epoch: loss, validation loss and score, learning rate, time."""

    def __init__(self, stream=None):
        self.stream = stream

    def on_epoch_end(self, trainer, record):
        if not writes_here(trainer):
            return
        parts = [f"epoch {record['epoch']:4d}", f"train_loss {record['train_loss']:.6f}"]
        if record["valid_loss"] is not None:
            parts.append(f"valid_loss {record['valid_loss']:.6f}")
            parts.append(f"valid_score {record['valid_score']:.4f}")
        parts += [f"lr {record['lr']:.3g}", f"{record['duration']:.2f}s"]
        print("  ".join(parts), file=self.stream or sys.stdout)


class ProgressBar(Callback):
    """A tqdm bar (``tqdm.auto``: a widget in notebooks) that advances every batch.

    It shows the batches done and left with their rate and the time remaining,
    samples per second, and the last epoch's train loss, validation loss and
    score; it stays on screen after the fit. Without tqdm it prints one line per
    epoch. When standard output is not a terminal (a log file, CI) it stays quiet
    unless ``force=True``.

    Parameters
    ----------
    per_batch : bool, default=True
        Advance every batch (False: every epoch, which costs no per-step call).
    leave : bool, default=True
        Keep the finished bar on screen.
    force : bool, default=False
        Show the bar even when standard output is not a terminal.
    """

    def __init__(self, per_batch=True, leave=True, force=False):
        self.per_batch = per_batch
        self.leave = leave
        self.force = force

    def wants_batches(self):
        return self.per_batch

    def on_train_begin(self, trainer):
        self.bar_ = None
        self.quiet_ = (not self.force and not _interactive()) or not writes_here(trainer)
        if self.quiet_:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        batches = len(trainer.train_batches) if self.per_batch else 1
        self.rows_per_step_ = trainer.train_batches.n_samples / batches
        self.bar_ = tqdm(total=trainer.epochs_wanted * batches, leave=self.leave,
                         unit="batch" if self.per_batch else "epoch", file=sys.stdout)

    def on_batch_end(self, trainer, batch_index, loss):
        if self.bar_ is not None:
            self.bar_.update(1)

    def on_epoch_end(self, trainer, record):
        if self.quiet_:
            return
        metrics = {"loss": f"{record['train_loss']:.4f}"}
        if record["valid_loss"] is not None:
            metrics["valid_loss"] = f"{record['valid_loss']:.4f}"
            metrics["valid_score"] = f"{record['valid_score']:.4f}"
        if self.bar_ is None:
            print(f"epoch {record['epoch']}: " + ", ".join(f"{k} {v}" for k, v in metrics.items()))
            return
        if not self.per_batch:
            self.bar_.update(1)
        rate = self.bar_.format_dict.get("rate")
        if rate:
            metrics["samples/s"] = f"{rate * self.rows_per_step_:,.0f}"
        self.bar_.set_postfix(metrics, refresh=True)

    def on_train_end(self, trainer):
        if self.bar_ is not None:
            self.bar_.close()


def _interactive() -> bool:
    """A terminal or a notebook kernel, where a progress bar is read as it moves."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
