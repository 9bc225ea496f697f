"""What training has done so far, and why it stopped."""

from __future__ import annotations

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
