"""The training loop, written once for every estimator.

Each step is a small method that a subclass may override: ``get_loss`` (the
batch's loss), ``train_step`` (forward, backward, step on one batch),
``validation_step`` and ``run_epoch``. An estimator builds its trainer in one
overridable place (``trainer_class`` / ``_make_trainer``), so a user subclass
changes the loop without touching the estimator. Callbacks get the trainer at
every hook and reach the estimator through ``trainer.estimator``.

The loss is accumulated on the device and read once per epoch; the stopping
rule is scikit-learn's (``tol`` / ``n_iter_no_change`` on the training loss, or
on the validation score with early stopping, restoring the best weights).

Fast paths: plain MLPs get hand-written gradients (autograd costs more than the
arithmetic on small networks), and an epoch whose batch losses nobody reads
combines them once at the end. Both are pure speed-ups with identical results.
They apply only while ``fast_paths`` is True (the one switch) and step aside
for anything that must see every step: an overridden ``get_loss`` or
``train_step``, batch-level callbacks, autocast, ``torch.compile``, and any
module hook, global ones included.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import torch
from torch import nn

from sklnn.engine._ddp_guard import stop_requested
from sklnn.engine.batches import Batches
from sklnn.engine.compile import checked_compiled_forward, compile_module
from sklnn.engine.dense_gradients import DenseGradients
from sklnn.engine.hooks import HOOKS, has_module_hooks, hook_lists
from sklnn.engine.objectives import Objective
from sklnn.engine.penalty import L2Penalty, penalised_parameters
from sklnn.engine.schedules import Schedule, current_learning_rate
from sklnn.engine.solvers import OptimizerStep
from sklnn.engine.state import (
    ProgressState,
    TrainingStopped,
    capture_training_state,
    restore_training_state,
    snapshot,
    state_is_finite,
)
from sklnn.engine.stopping import plateau_reached, update_no_improvement
from sklnn.modules.norm import sample_weights
from sklnn.modules.randomness import fit_generator

__all__ = ["HOOKS", "ProgressState", "Trainer", "TrainingStopped", "snapshot"]

class Trainer:
    """Train ``module`` on mini-batches with an objective and an optimiser.

    Parameters
    ----------
    module : nn.Module
        The network, already on ``device``.
    objective : Objective
        Loss, validation score and output decoding.
    optimizer : torch.optim.Optimizer or None
        Stepped once per batch.
    device : torch.device
    alpha : float
        L2 penalty 0.5 * alpha * ||W||^2 divided by the batch size (or the
        batch's weight sum), as in scikit-learn. Added to the gradient directly.
    max_epochs, tol, n_iter_no_change, early_stopping
        The stopping rule, with scikit-learn's meanings.
    schedule : Schedule
        Learning-rate rule applied at epoch ends and on plateaus
        (:func:`sklnn.engine.schedules.make_schedule`).
    shuffle_generator : torch.Generator or None
        Draws each epoch's permutation; None keeps the data order.
    callbacks : list
        Objects with any of the hooks in ``HOOKS``, called in order.
    verbose : bool
        Print each epoch's loss (and validation score).
    autocast_dtype : torch.dtype or None
        Mixed precision for the forward pass.
    compile : bool
        Train a ``torch.compile``-d forward (checked against eager mode first).
    fast_paths : bool, default=True
        The switch for the speed-ups described in this module's docstring.
    generator : torch.Generator or None
        Owned by the fit: dropout and augmentation draw from it (see
        :mod:`sklnn.modules.randomness`); None leaves them on torch's global RNG.
    estimator : object or None
        The estimator being fitted, for callbacks (``trainer.estimator``).
    """

    def __init__(
        self,
        module: nn.Module,
        objective: Objective,
        optimizer: torch.optim.Optimizer | None,
        *,
        device: torch.device,
        alpha: float = 0.0,
        max_epochs: int = 200,
        tol: float = 1e-4,
        n_iter_no_change: float = 10,
        early_stopping: bool = False,
        schedule: Schedule | None = None,
        shuffle_generator: torch.Generator | None = None,
        callbacks=(),
        verbose: bool = False,
        autocast_dtype: torch.dtype | None = None,
        compile: bool = False,
        fast_paths: bool = True,
        generator: torch.Generator | None = None,
        estimator=None,
    ) -> None:
        self.module = module
        self.objective = objective
        self.optimizer = optimizer
        self.device = device
        self.alpha = float(alpha)
        self.max_epochs = int(max_epochs)
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.schedule = schedule or Schedule("constant", 0.0)
        self.shuffle_generator = shuffle_generator
        self.callbacks = list(callbacks or ())
        self.verbose = verbose
        self.autocast_dtype = autocast_dtype
        self.compile = compile
        self.fast_paths = fast_paths
        self.generator = generator
        self.estimator = estimator
        self.forward = module
        self.stop_training = False
        self.state: ProgressState | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.epochs_in_fit = 0
        self.penalty = L2Penalty(penalised_parameters(module), alpha)
        self._optimizer_step: OptimizerStep | None = None
        self._dense = None
        self._scaler = (
            torch.amp.GradScaler(device.type) if autocast_dtype == torch.float16 else None
        )

    # ------------------------------------------------------------ fast paths
    def _dense_gradients_apply(self) -> bool:
        return (self.fast_paths and self.autocast_dtype is None and not self.compile
                and type(self).get_loss is Trainer.get_loss
                and not has_module_hooks(self.module)
                # a frozen parameter (sklnn.callbacks.Freezer) keeps its gradient None
                and all(p.requires_grad for p in self.module.parameters()))

    def _prepare_epoch(self) -> None:
        """Re-read what may change between epochs: callbacks add hooks or schedulers."""
        self._hooks = hook_lists(self.callbacks)
        if self._optimizer_step is None:
            self._optimizer_step = OptimizerStep(self.optimizer)
        else:
            self._optimizer_step.refresh()  # a failed kernel stays off for the whole fit
        if self._dense_gradients_apply():
            if self._dense is None:
                self._dense = DenseGradients.build(self.module, self.objective) or False
        else:
            self._dense = None

    # ------------------------------------------------------------------ steps
    def autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def get_loss(self, raw, y, weight):
        """Mean (weighted) data loss of a batch and the normaliser of the L2 term."""
        if raw.dtype in (torch.float16, torch.bfloat16):
            raw = raw.float()
        return self.objective.weighted_loss(raw, y, weight)

    def _step_parts(self, X, y, weight, index=None):
        """Forward, backward, L2 gradient, gradient hooks and optimiser step on one batch.

        Returns the detached data loss, its normaliser and the weights' norms
        (None without penalty); the penalty itself is left to the caller.
        """
        step = self._optimizer_step
        if weight is None and self._dense:
            loss = self._dense(X, y)  # overwrites every .grad, no zeroing needed
            loss, normaliser = self._sync_gradients(loss, X.shape[0], X.shape[0])
            norms = self.penalty.add_gradient(normaliser)
            self._grad_computed(index)
            step()
            return loss, normaliser, norms
        step.zero_grad()
        with self.autocast(), sample_weights(weight):
            raw = self.forward(X)
        loss, normaliser = self.get_loss(raw, y, weight)
        if self._scaler is not None:
            self._scaler.scale(loss).backward()
            self._scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        loss, normaliser = self._sync_gradients(
            loss, normaliser, X.shape[0] if weight is None else weight.sum())
        norms = self.penalty.add_gradient(normaliser)
        self._grad_computed(index)
        if self._scaler is not None:
            self._scaler.step(self.optimizer)
            self._scaler.update()
        else:
            step()
        return loss.detach(), normaliser, norms

    def _sync_gradients(self, loss, normaliser, count):
        """Data-parallel fits: the global batch's gradients, mean loss and count (see
        :mod:`sklnn.engine.distributed`); unchanged in a single process."""
        if self.distributed is None:
            return loss, normaliser
        return self.distributed.reduce_gradients(self.module, loss, normaliser, count)

    def _grad_computed(self, index) -> None:
        for hook in self._hooks["on_grad_computed"]:
            hook(self, batch_index=index)

    def train_step(self, X, y, weight) -> torch.Tensor:
        """Forward, backward and optimiser step on one batch; returns the detached loss
        (data loss plus L2 penalty)."""
        loss, normaliser, norms = self._step_parts(X, y, weight, self._batch_index)
        return loss if norms is None else loss + self.penalty.value(norms, normaliser)

    @torch.inference_mode()
    def validation_step(self, batches: Batches) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean loss and score on a validation set, as device tensors."""
        self.module.eval()
        try:
            raws, ys, ws = [], [], []
            for X, y, w in batches.epoch(None):
                with self.autocast():
                    raws.append(self.module(X).float() if self.autocast_dtype else self.module(X))
                ys.append(y)
                ws.append(w)
            raw, y = torch.cat(raws), torch.cat(ys)
            w = None if ws[0] is None else torch.cat(ws)
            if self.distributed is not None:
                raw, y, w = self.distributed.gather_validation(batches, raw, y, w)
            loss, _ = self.objective.weighted_loss(raw, y, w)
            return loss, self.objective.score(raw, y, w)
        finally:
            self.module.train()

    def run_epoch(self, batches: Batches) -> torch.Tensor:
        """One pass over the training batches; returns the mean loss as a device tensor."""
        self._prepare_epoch()
        hooks = self._hooks
        per_batch = hooks["on_batch_begin"] or hooks["on_batch_end"]
        if per_batch or not self.fast_paths or type(self).train_step is not Trainer.train_step:
            total = torch.zeros((), device=self.device, dtype=torch.float64)
            for index, (X, y, w) in enumerate(batches.epoch(self.shuffle_generator)):
                for hook in hooks["on_batch_begin"]:
                    hook(self, batch_index=index)
                self._batch_index = index
                loss = self.train_step(X, y, w)
                total.add_(loss, alpha=X.shape[0])
                for hook in hooks["on_batch_end"]:
                    hook(self, batch_index=index, loss=loss)
            return total / batches.n_samples
        # Nobody looks at a batch's loss: keep the parts and combine them once per epoch.
        losses, normalisers, norms, rows = [], [], [], []
        for index, (X, y, w) in enumerate(batches.epoch(self.shuffle_generator)):
            loss, normaliser, batch_norms = self._step_parts(X, y, w, index)
            losses.append(loss)
            normalisers.append(normaliser)
            norms.append(batch_norms)
            rows.append(X.shape[0])
        return self.penalty.epoch_mean_loss(losses, normalisers, norms, rows, batches.n_samples)

    _batch_index: int | None = None
    #: this process's :class:`~sklnn.engine.distributed.DataParallel` role, or None
    distributed = None

    # ---------------------------------------------------------------- compile
    def compile_module(self, module: nn.Module):
        """The compiled module to train with, or None for eager mode."""
        return compile_module(module)

    def _maybe_compile(self, batches: Batches) -> None:
        if self.compile:
            self.forward = checked_compiled_forward(self, batches) or self.forward

    # -------------------------------------------------------- stopping rules
    def _update_no_improvement(self, state: ProgressState, valid_score) -> None:
        best = update_no_improvement(state, valid_score, self.early_stopping, self.tol,
                                     self.module)
        if best is not None:
            self.best_weights = best

    def _converged(self, state: ProgressState) -> bool:
        """Apply the plateau rule after an epoch; True when training should stop."""
        return plateau_reached(state, self.schedule, self.optimizer, self.early_stopping,
                               self.tol, self.n_iter_no_change, self.verbose)

    # --------------------------------------------------------------- the loop
    def _evaluate(self, train_loss, valid):
        """The epoch's training loss, validation loss and score as floats (one sync)."""
        if self.distributed is not None:  # every rank decides on rank 0's numbers
            train_loss = self.distributed.sum(train_loss)
        if valid is None:
            values = [train_loss.item(), None, None]
        else:
            valid_loss, valid_score = self.validation_step(valid)
            values = torch.stack([train_loss, valid_loss.double(), valid_score.double()])
            values = values.tolist()
        if self.distributed is not None:
            values = self.distributed.agree(values)
        return tuple(values)

    def _record(self, state, train_value, valid_loss, valid_score, lr, started) -> dict:
        record = {
            "epoch": state.n_iter,
            "train_loss": train_value,
            "valid_loss": valid_loss,
            "valid_score": valid_score,
            "lr": lr,
            "duration": time.perf_counter() - started,
        }
        state.history.append(record)
        if self.verbose and (self.distributed is None or self.distributed.rank == 0):
            extra = "" if valid_score is None else f", validation score = {valid_score:.6f}"
            print(f"Iteration {state.n_iter}, loss = {train_value:.8f}{extra}")
        return record

    def _diverged(self, state, train_value) -> None:
        what = (f"The training loss became non-finite ({train_value})"
                if not math.isfinite(train_value) else
                "The weights or batch-norm statistics became non-finite")
        state.stop_message = (
            f"{what} at epoch "
            f"{state.n_iter + 1}; the weights of the last finite epoch were kept. "
            "Lower learning_rate_init, scale the inputs (e.g. StandardScaler) or "
            "raise alpha."
        )

    def fit(self, train: Batches, valid: Batches | None, state: ProgressState, *,
            incremental: bool = False) -> str:
        """Train until a stopping rule fires; return a ``TrainingStopped`` reason.

        On return the module holds the weights to keep: the best validation
        weights with early stopping, else the last weights with a finite loss.
        """
        with fit_generator(self.generator):
            return self._fit(train, valid, state, incremental)

    def _fit(self, train, valid, state, incremental) -> str:
        self.train_batches = train
        self.distributed = getattr(train, "distributed", None)  # set by a data-parallel fit
        self.epochs_wanted = 1 if incremental else self.max_epochs
        self.state = state
        self.stop_training = False
        self.epochs_in_fit = 0
        self.module.train()
        if self.early_stopping and self.best_weights is None:
            self.best_weights = snapshot(self.module)
        reason = TrainingStopped.MAX_ITER
        self._hooks = hook_lists(self.callbacks)
        self.schedule.start(self.optimizer)
        for hook in self._hooks["on_train_begin"]:
            hook(self)  # may load a checkpoint into this trainer
        last_good = snapshot(self.module)
        epochs_wanted = self.epochs_wanted
        try:
            self._maybe_compile(train)
            while self.epochs_in_fit < epochs_wanted:
                for hook in self._hooks["on_epoch_begin"]:
                    hook(self, epoch=state.n_iter + 1)
                started = time.perf_counter()
                lr = current_learning_rate(self.optimizer)
                train_value, valid_loss, valid_score = self._evaluate(self.run_epoch(train), valid)
                # the last step of an epoch can poison weights or batch-norm statistics
                # while the epoch's loss is still finite: check the state, not only the loss
                if not math.isfinite(train_value) or not state_is_finite(self.module):
                    self.module.load_state_dict(last_good)
                    self._diverged(state, train_value)
                    reason = TrainingStopped.DIVERGED
                    break
                self.epochs_in_fit += 1
                last_good = snapshot(self.module)
                state.n_iter += 1
                state.t += train.n_samples
                state.loss = train_value
                state.loss_curve.append(train_value)
                self._update_no_improvement(state, valid_score)
                self.schedule.epoch_end(self.optimizer, state.t)
                converged = self._converged(state)
                record = self._record(state, train_value, valid_loss, valid_score, lr, started)
                for hook in self._hooks["on_epoch_end"]:
                    if hook(self, record=record):
                        self.stop_training = True
                if self.distributed is not None:  # a callback on one rank stops them all
                    if self.distributed.any(stop_requested()):  # Ctrl-C in the parent
                        state.stop_message = "Training interrupted by user."
                        reason = TrainingStopped.INTERRUPTED
                        break
                    self.stop_training = self.distributed.any(self.stop_training)
                if self.stop_training:
                    reason = TrainingStopped.CALLBACK
                    break
                if converged:
                    reason = TrainingStopped.CONVERGED
                    break
        except KeyboardInterrupt:
            if self.epochs_in_fit == 0:
                raise
            self.module.load_state_dict(last_good)
            reason = TrainingStopped.INTERRUPTED
            state.stop_message = "Training interrupted by user."
        if self.early_stopping:
            self.module.load_state_dict(self.best_weights)
        if not state_is_finite(self.module):
            self.module.load_state_dict(last_good)
        for hook in self._hooks["on_train_end"]:
            hook(self)
        return reason

    # ------------------------------------------------------------ checkpoints
    def training_state(self) -> dict:
        """Everything needed to continue this fit exactly: tensors and plain values only."""
        return capture_training_state(self)

    def load_training_state(self, saved: dict) -> None:
        """Continue from ``training_state()``'s output (e.g. read back from a checkpoint)."""
        restore_training_state(self, saved)
