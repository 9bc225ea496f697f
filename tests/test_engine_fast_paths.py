"""The engine's fast paths compute what the plain paths compute (no timing here)."""

import pytest
import torch

from sklnn.engine.objectives import BinaryLogLoss, RegressionLoss, SoftmaxLogLoss


@pytest.mark.parametrize(
    "objective, n_outputs",
    [(BinaryLogLoss(), 1), (BinaryLogLoss(), 3), (SoftmaxLogLoss(), 4)]
    + [(RegressionLoss(loss), 2) for loss in RegressionLoss.LOSSES],
)
def test_mean_loss_is_the_mean_of_per_sample_losses(objective, n_outputs):
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(50, n_outputs, generator=g, dtype=torch.float64)
    if isinstance(objective, SoftmaxLogLoss):
        y = torch.randint(0, n_outputs, (50,), generator=g)
    elif isinstance(objective, BinaryLogLoss):
        y = (torch.rand(50, n_outputs, generator=g) > 0.5).double()
    else:
        y = torch.rand(50, n_outputs, generator=g, dtype=torch.float64) * 3
    expected = objective.per_sample_loss(raw, y).mean()
    torch.testing.assert_close(objective.mean_loss(raw, y), expected, rtol=1e-12, atol=0)
