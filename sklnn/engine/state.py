"""What training has done so far, and why it stopped."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn


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
    """A detached copy of the module's state (weights and buffers)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def state_is_finite(module: nn.Module) -> bool:
    """Whether every parameter and floating-point buffer is finite (one device sync)."""
    tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    if not tensors:
        return True
    return bool(torch.stack([t.isfinite().all() for t in tensors]).all())


def capture_training_state(trainer) -> dict:
    """Everything needed to continue ``trainer``'s fit exactly (a ``Checkpoint`` writes it):
    tensors and plain values only."""
    cuda = trainer.device.type == "cuda"
    return {
        "module": trainer.module.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "progress": dataclasses.asdict(trainer.state),
        "epochs_in_fit": trainer.epochs_in_fit,
        "shuffle_rng": (None if trainer.shuffle_generator is None
                        else trainer.shuffle_generator.get_state()),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(trainer.device) if cuda else None,
        "fit_rng": None if trainer.generator is None else trainer.generator.get_state(),
        "best_weights": trainer.best_weights,
        "schedule": trainer.schedule.state_dict(),
    }


def restore_training_state(trainer, saved: dict) -> None:
    """Put ``trainer`` back where :func:`capture_training_state` found it."""
    trainer.module.load_state_dict(saved["module"])
    trainer.optimizer.load_state_dict(saved["optimizer"])
    for name, value in saved["progress"].items():
        setattr(trainer.state, name, value)
    trainer.epochs_in_fit = saved["epochs_in_fit"]
    if trainer.shuffle_generator is not None and saved["shuffle_rng"] is not None:
        trainer.shuffle_generator.set_state(saved["shuffle_rng"].cpu())
    torch.set_rng_state(saved["torch_rng"].cpu())
    if trainer.generator is not None and saved.get("fit_rng") is not None:
        trainer.generator.set_state(saved["fit_rng"].cpu())
    if saved.get("cuda_rng") is not None and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(saved["cuda_rng"].cpu(), trainer.device)
    if saved["best_weights"] is not None:
        trainer.best_weights = saved["best_weights"]
    trainer.schedule.load_state_dict(saved.get("schedule") or {})
