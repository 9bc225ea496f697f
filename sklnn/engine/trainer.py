"""The training loop, written once for every estimator.

Each step is a small method (``get_loss``, ``train_step``, ``validation_step``,
``run_epoch``) that a subclass may override. The loss is accumulated on the
device and read once per epoch; the stopping rule is scikit-learn's
(``tol`` / ``n_iter_no_change`` on the training loss, or on the validation
score with early stopping, restoring the best weights).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from sklnn.engine.batches import Batches
from sklnn.engine.dense_gradients import DenseGradients
from sklnn.engine.objectives import Objective
from sklnn.engine.solvers import LearningRateSchedule, OptimizerStep, current_learning_rate


class TrainingStopped:
    """Why ``Trainer.fit`` returned."""

    MAX_ITER = "max_iter"
    CONVERGED = "converged"
    CALLBACK = "callback"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"


@dataclass
class ProgressState:
    """What training has done so far; carried across ``warm_start`` and ``partial_fit``."""

    n_iter: int = 0
    t: int = 0
    loss: float | None = None
    loss_curve: list = field(default_factory=list)
    validation_scores: list | None = None
    best_loss: float | None = None
    best_validation_score: float | None = None
    no_improvement_count: int = 0
    history: list = field(default_factory=list)
    stop_message: str = ""

    @classmethod
    def start(cls, early_stopping: bool) -> ProgressState:
        if early_stopping:
            return cls(validation_scores=[], best_validation_score=-math.inf)
        return cls(best_loss=math.inf)

    def switch_stopping_rule(self, early_stopping: bool) -> None:
        """Make a continued fit's counters fit its stopping rule (it may differ from the last)."""
        if early_stopping and self.validation_scores is None:
            self.validation_scores, self.best_validation_score = [], -math.inf
            self.no_improvement_count = 0
        elif not early_stopping and self.best_loss is None:
            self.best_loss = min(self.loss_curve, default=math.inf)
            self.no_improvement_count = 0


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def penalised_parameters(module: nn.Module) -> list[torch.Tensor]:
    """Weights that get the L2 penalty: matrices and kernels, not biases or norms."""
    params = []
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            params.append(m.weight)
        elif isinstance(m, nn.RNNBase):
            params.extend(p for name, p in m.named_parameters() if name.startswith("weight"))
    return params


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
    alpha : float
        L2 penalty 0.5 * alpha * ||W||^2 divided by the batch size (or the
        batch's weight sum), as in scikit-learn. Added to the gradient directly.
    schedule : LearningRateSchedule
        Learning-rate rule applied at epoch ends and on plateaus.
    shuffle_generator : torch.Generator or None
        Draws each epoch's permutation; None keeps the data order.
    callbacks : list of Callback
        Hooks called at train begin/end, epoch begin/end and batch end.
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
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        schedule: LearningRateSchedule | None = None,
        shuffle_generator: torch.Generator | None = None,
        callbacks=(),
        verbose: bool = False,
        autocast_dtype: torch.dtype | None = None,
        compile: bool = False,
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
        self.schedule = schedule or LearningRateSchedule("constant", 0.0, 0.0)
        self.shuffle_generator = shuffle_generator
        self.callbacks = list(callbacks or ())
        self.verbose = verbose
        self.autocast_dtype = autocast_dtype
        self.compile = compile
        self.forward = module
        self.stop_training = False
        self.state: ProgressState | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._penalised = penalised_parameters(module)
        self._optimizer_step: OptimizerStep | None = None
        # Gradients written out by hand for plain MLPs (autograd costs more than the
        # arithmetic on small networks); not with autocast, compile or a get_loss override.
        self._dense = None
        if (autocast_dtype is None and not compile
                and type(self).get_loss is Trainer.get_loss):
            self._dense = DenseGradients.build(module, objective)
        self._scaler = (
            torch.amp.GradScaler(device.type) if autocast_dtype == torch.float16 else None
        )

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

    def _add_l2_gradient_norms(self, normaliser) -> list[torch.Tensor] | None:
        """Add d/dW of 0.5 * alpha * ||W||^2 / n to the gradients; return the weights' norms
        (the penalty itself is summed by ``_penalty``), or None without penalty."""
        if self.alpha == 0.0 or not self._penalised:
            return None
        weights = [p for p in self._penalised if p.grad is not None]
        grads = [p.grad for p in weights]
        if isinstance(normaliser, torch.Tensor):
            torch._foreach_add_(grads, torch._foreach_mul(weights, self.alpha / normaliser))
        else:
            torch._foreach_add_(grads, weights, alpha=self.alpha / normaliser)
        return torch._foreach_norm(weights)

    def _penalty(self, norms, normaliser) -> torch.Tensor:
        return (0.5 * self.alpha) * torch.stack(norms).square().sum() / normaliser

    def _step_parts(self, X, y, weight):
        """Forward, backward, L2 gradient and optimiser step on one batch.

        Returns the detached data loss, its normaliser and the weights' norms
        (None without penalty); the penalty itself is left to the caller.
        """
        step = self._optimizer_step
        if step is None:
            step = self._optimizer_step = OptimizerStep(self.optimizer)
        if weight is None and self._dense is not None:
            loss = self._dense(X, y)  # overwrites every .grad, no zeroing needed
            norms = self._add_l2_gradient_norms(X.shape[0])
            step()
            return loss, X.shape[0], norms
        step.zero_grad()
        with self.autocast():
            raw = self.forward(X)
        loss, normaliser = self.get_loss(raw, y, weight)
        if self._scaler is not None:
            self._scaler.scale(loss).backward()
            self._scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        norms = self._add_l2_gradient_norms(normaliser)
        if self._scaler is not None:
            self._scaler.step(self.optimizer)
            self._scaler.update()
        else:
            step()
        return loss.detach(), normaliser, norms

    def train_step(self, X, y, weight) -> torch.Tensor:
        """Forward, backward and optimiser step on one batch; returns the detached loss."""
        loss, normaliser, norms = self._step_parts(X, y, weight)
        return loss if norms is None else loss + self._penalty(norms, normaliser)

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
            loss, _ = self.objective.weighted_loss(raw, y, w)
            return loss, self.objective.score(raw, y, w)
        finally:
            self.module.train()

    def run_epoch(self, batches: Batches) -> torch.Tensor:
        """One pass over the training batches; returns the mean loss as a device tensor."""
        self._optimizer_step = OptimizerStep(self.optimizer)
        batch_hooks = [cb for cb in self.callbacks if cb.wants_batches()]
        if batch_hooks or type(self).train_step is not Trainer.train_step:
            total = torch.zeros((), device=self.device, dtype=torch.float64)
            for index, (X, y, w) in enumerate(batches.epoch(self.shuffle_generator)):
                loss = self.train_step(X, y, w)
                total.add_(loss, alpha=X.shape[0])
                for cb in batch_hooks:
                    cb.on_batch_end(self, index, loss)
            return total / batches.n_samples
        # Nobody looks at a batch's loss: keep the parts and combine them once per epoch,
        # which saves about eight small ops per step.
        losses, normalisers, norms, rows = [], [], [], []
        for X, y, w in batches.epoch(self.shuffle_generator):
            loss, normaliser, batch_norms = self._step_parts(X, y, w)
            losses.append(loss)
            normalisers.append(normaliser)
            norms.append(batch_norms)
            rows.append(X.shape[0])
        return self._epoch_mean_loss(losses, normalisers, norms, rows, batches.n_samples)

    def _epoch_mean_loss(self, losses, normalisers, norms, rows, n_samples) -> torch.Tensor:
        """Sample-weighted mean of (batch loss + batch penalty), computed as ``train_step`` does."""
        loss = torch.stack(losses)
        if norms[0] is not None:
            if len({len(n) for n in norms}) == 1:
                squares = torch.stack([t for n in norms for t in n]).reshape(len(norms), -1)
                squares = squares.square().sum(dim=1)
            else:
                squares = torch.stack([torch.stack(n).square().sum() for n in norms])
            if isinstance(normalisers[0], torch.Tensor):
                divisor = torch.stack(normalisers).to(squares.dtype)
            else:
                divisor = torch.tensor(normalisers, dtype=squares.dtype, device=squares.device)
            loss = loss + (0.5 * self.alpha) * squares / divisor
        weights = torch.tensor(rows, dtype=torch.float64, device=loss.device)
        return (loss.double() * weights).sum() / n_samples

    # --------------------------------------------------------------- the loop
    def _maybe_compile(self, batches: Batches) -> None:
        if not self.compile:
            return
        X, y, w = next(iter(batches.epoch(None)))
        compiled = self.compile_module(self.module)
        if compiled is None:
            return
        if gradients_match(self, self.module, compiled, X, y, w):
            self.forward = compiled
        else:
            warnings.warn(
                "torch.compile produced gradients that differ from eager mode on the first "
                "batch; training continues without compilation.",
                RuntimeWarning,
                stacklevel=4,
            )

    def compile_module(self, module: nn.Module):
        try:
            return torch.compile(module)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means eager mode
            warnings.warn(
                f"torch.compile is unavailable ({exc}); training in eager mode.",
                RuntimeWarning,
                stacklevel=5,
            )
            return None

    def _update_no_improvement(self, state: ProgressState, valid_score) -> None:
        """scikit-learn's rule: count epochs that improve by less than ``tol``."""
        if self.early_stopping:
            state.validation_scores.append(valid_score)
            if valid_score < state.best_validation_score + self.tol:
                state.no_improvement_count += 1
            else:
                state.no_improvement_count = 0
            if valid_score > state.best_validation_score:
                state.best_validation_score = valid_score
                self.best_weights = snapshot(self.module)
        else:
            if state.loss_curve[-1] > state.best_loss - self.tol:
                state.no_improvement_count += 1
            else:
                state.no_improvement_count = 0
            if state.loss_curve[-1] < state.best_loss:
                state.best_loss = state.loss_curve[-1]

    def _plateau_message(self) -> str:
        what = "Validation score" if self.early_stopping else "Training loss"
        return (
            f"{what} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )

    def fit(
        self,
        train: Batches,
        valid: Batches | None,
        state: ProgressState,
        *,
        incremental: bool = False,
    ) -> str:
        """Train until a stopping rule fires; return a ``TrainingStopped`` reason.

        On return the module holds the weights to keep: the best validation
        weights with early stopping, else the last weights with a finite loss.
        """
        self.state = state
        self.stop_training = False
        self.epochs_in_fit = 0
        self.module.train()
        if self.early_stopping and self.best_weights is None:
            self.best_weights = snapshot(self.module)
        reason = TrainingStopped.MAX_ITER
        for cb in self.callbacks:
            cb.on_train_begin(self)  # may load a checkpoint into this trainer
        last_good = snapshot(self.module)
        epochs_wanted = 1 if incremental else self.max_epochs
        try:
            self._maybe_compile(train)
            while self.epochs_in_fit < epochs_wanted:
                for cb in self.callbacks:
                    cb.on_epoch_begin(self, state.n_iter + 1)
                started = time.perf_counter()
                lr = current_learning_rate(self.optimizer)
                train_loss = self.run_epoch(train)
                if valid is not None:
                    valid_loss, valid_score = self.validation_step(valid)
                    values = torch.stack([train_loss, valid_loss.double(), valid_score.double()])
                    train_value, valid_loss_value, valid_score_value = values.tolist()
                else:
                    train_value, valid_loss_value, valid_score_value = train_loss.item(), None, None
                if not math.isfinite(train_value):
                    self.module.load_state_dict(last_good)
                    state.stop_message = (
                        f"The training loss became non-finite ({train_value}) at epoch "
                        f"{state.n_iter + 1}; the weights of the last finite epoch were kept. "
                        "Lower learning_rate_init, scale the inputs (e.g. StandardScaler) or "
                        "raise alpha."
                    )
                    reason = TrainingStopped.DIVERGED
                    break
                self.epochs_in_fit += 1
                last_good = snapshot(self.module)
                state.n_iter += 1
                state.t += train.n_samples
                state.loss = train_value
                state.loss_curve.append(train_value)
                self._update_no_improvement(state, valid_score_value)
                self.schedule.epoch_end(self.optimizer, state.t)
                converged = False
                if state.no_improvement_count > self.n_iter_no_change:
                    converged = self.schedule.on_plateau(self.optimizer)
                    if converged:
                        state.stop_message = self._plateau_message()
                        if self.verbose:
                            print(state.stop_message + " Stopping.")
                    else:
                        state.no_improvement_count = 0
                record = {
                    "epoch": state.n_iter,
                    "train_loss": train_value,
                    "valid_loss": valid_loss_value,
                    "valid_score": valid_score_value,
                    "lr": lr,
                    "duration": time.perf_counter() - started,
                }
                state.history.append(record)
                if self.verbose:
                    print(f"Iteration {state.n_iter}, loss = {train_value:.8f}")
                for cb in self.callbacks:
                    if cb.on_epoch_end(self, record):
                        self.stop_training = True
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
        if not all(torch.isfinite(p).all() for p in self.module.parameters()):
            self.module.load_state_dict(last_good)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return reason

    # ------------------------------------------------------------ checkpoints
    def training_state(self) -> dict:
        """Everything needed to continue this fit exactly: tensors and plain values only."""
        cuda = self.device.type == "cuda"
        return {
            "module": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "progress": dataclasses.asdict(self.state),
            "epochs_in_fit": self.epochs_in_fit,
            "shuffle_rng": (
                None if self.shuffle_generator is None else self.shuffle_generator.get_state()
            ),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
            "best_weights": self.best_weights,
        }

    def load_training_state(self, saved: dict) -> None:
        """Continue from ``training_state()``'s output (e.g. read back from a checkpoint)."""
        self.module.load_state_dict(saved["module"])
        self.optimizer.load_state_dict(saved["optimizer"])
        for name, value in saved["progress"].items():
            setattr(self.state, name, value)
        self.epochs_in_fit = saved["epochs_in_fit"]
        if self.shuffle_generator is not None and saved["shuffle_rng"] is not None:
            self.shuffle_generator.set_state(saved["shuffle_rng"].cpu())
        torch.set_rng_state(saved["torch_rng"].cpu())
        if saved.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), self.device)
        if saved["best_weights"] is not None:
            self.best_weights = saved["best_weights"]


def gradients_match(trainer: Trainer, eager: nn.Module, compiled, X, y, w, rtol=1e-3) -> bool:
    """Compare compiled and eager gradients of the loss on one batch."""
    rng_state = torch.get_rng_state()

    def grads(forward):
        torch.set_rng_state(rng_state)
        eager.zero_grad(set_to_none=True)
        loss, _ = trainer.get_loss(forward(X), y, w)
        loss.backward()
        return [
            torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
            for p in eager.parameters()
        ]

    saved = copy.deepcopy(eager.state_dict())  # batch norm statistics move in train mode
    try:
        reference = grads(eager)
        candidate = grads(compiled)
    except Exception as exc:  # noqa: BLE001 - a compiler failure means eager mode
        warnings.warn(f"torch.compile failed ({exc}); training in eager mode.", RuntimeWarning,
                      stacklevel=5)
        return False
    finally:
        eager.load_state_dict(saved)
        eager.zero_grad(set_to_none=True)
    for a, b in zip(reference, candidate):
        scale = a.abs().max().clamp_min(1e-12)
        if not torch.allclose(a, b, rtol=rtol, atol=rtol * scale.item()):
            return False
    return True
