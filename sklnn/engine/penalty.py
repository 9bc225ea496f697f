"""scikit-learn's L2 penalty: 0.5 * alpha * ||W||^2 divided by the batch size.

The penalty's gradient is added to the weights' gradients directly (no autograd
graph for it), and the penalty itself is summed from the weights' norms only
when the loss is read.
"""

from __future__ import annotations

import torch
from torch import nn


def penalised_parameters(module: nn.Module) -> list[torch.Tensor]:
    """Weights that get the L2 penalty: matrices and kernels, not biases or norms."""
    params = []
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            params.append(m.weight)
        elif isinstance(m, nn.RNNBase):
            params.extend(p for name, p in m.named_parameters() if name.startswith("weight"))
    return params


class L2Penalty:
    """The penalty on ``weights`` with strength ``alpha`` (nothing when alpha is 0)."""

    def __init__(self, weights: list[torch.Tensor], alpha: float) -> None:
        self.weights = weights
        self.alpha = float(alpha)

    def __bool__(self) -> bool:
        return self.alpha != 0.0 and bool(self.weights)

    def add_gradient(self, normaliser) -> list[torch.Tensor] | None:
        """Add d/dW of the penalty to the gradients; return the weights' norms (None
        without penalty) for :meth:`value`."""
        if not self:
            return None
        weights = [p for p in self.weights if p.grad is not None]
        grads = [p.grad for p in weights]
        if isinstance(normaliser, torch.Tensor):
            torch._foreach_add_(grads, torch._foreach_mul(weights, self.alpha / normaliser))
        else:
            torch._foreach_add_(grads, weights, alpha=self.alpha / normaliser)
        return torch._foreach_norm(weights)

    def value(self, norms, normaliser) -> torch.Tensor:
        return (0.5 * self.alpha) * torch.stack(norms).square().sum() / normaliser

    def epoch_mean_loss(self, losses, normalisers, norms, rows, n_samples) -> torch.Tensor:
        """Sample-weighted mean of (batch loss + batch penalty) over an epoch's batches,
        equal to averaging what ``Trainer.train_step`` returns."""
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
