"""The engine's fast paths compute what the plain paths compute (no timing here)."""

import numpy as np
import pytest
import torch

from sklnn.callbacks import Callback
from sklnn.engine.batches import Batches
from sklnn.engine.objectives import BinaryLogLoss, RegressionLoss, SoftmaxLogLoss
from sklnn.engine.solvers import OptimizerStep, make_optimizer
from sklnn.engine.trainer import ProgressState, Trainer
from sklnn.modules.mlp import MLP


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


def _two_copies(solver, weight_decay=0.0):
    torch.manual_seed(0)
    a = MLP(5, (7,), 3)
    b = MLP(5, (7,), 3)
    b.load_state_dict(a.state_dict())
    make = lambda m: make_optimizer(solver, m.parameters(), learning_rate_init=0.01,  # noqa: E731
                                    weight_decay=weight_decay)
    return a, make(a), b, make(b)


@pytest.mark.parametrize("solver, weight_decay", [("adam", 0.0), ("adamw", 0.1)])
def test_direct_adam_step_matches_optimizer_step(solver, weight_decay):
    a, opt_a, b, opt_b = _two_copies(solver, weight_decay)
    step_b = OptimizerStep(opt_b)
    assert step_b.direct
    X, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    for _ in range(4):
        opt_a.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(a(X), y).backward()
        opt_a.step()
        step_b.zero_grad()
        torch.nn.functional.cross_entropy(b(X), y).backward()
        step_b()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    for key in sa:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(sa[key][name], sb[key][name])


def test_direct_step_steps_aside_for_hooks_and_other_optimisers():
    _, _, b, opt_b = _two_copies("adam")
    opt_b.register_step_post_hook(lambda *args: None)
    assert not OptimizerStep(opt_b).direct
    _, _, b, opt_b = _two_copies("sgd")
    assert not OptimizerStep(opt_b).direct


class _BatchHook(Callback):
    def on_batch_end(self, trainer, batch_index, loss):
        pass


@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_loss_without_batch_hooks_matches_per_step_accumulation(weighted):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = rng.integers(0, 3, 300)
    w = rng.uniform(0.5, 2.0, 300) if weighted else None
    results = []
    for callbacks in ([], [_BatchHook()]):
        torch.manual_seed(0)
        module = MLP(4, (8, 6), 3).double()
        optimizer = make_optimizer("adam", module.parameters(), learning_rate_init=0.01)
        trainer = Trainer(module, SoftmaxLogLoss(), optimizer, device=torch.device("cpu"),
                          alpha=0.01, max_epochs=3, tol=0.0, n_iter_no_change=100,
                          shuffle_generator=torch.Generator().manual_seed(1),
                          callbacks=callbacks)
        batches = Batches(X, [y, w], device=torch.device("cpu"), dtype=torch.float64,
                          other_dtypes=[torch.long, torch.float64], batch_size=64)
        state = ProgressState.start(False)
        trainer.fit(batches, None, state)
        results.append((state.loss_curve, [p.detach().clone() for p in module.parameters()]))
    (curve_fast, params_fast), (curve_plain, params_plain) = results
    np.testing.assert_allclose(curve_fast, curve_plain, rtol=1e-13, atol=1e-13)
    for a, b in zip(params_fast, params_plain):
        assert torch.equal(a, b)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize(
    "objective, n_outputs",
    [(BinaryLogLoss(), 1), (BinaryLogLoss(), 3), (SoftmaxLogLoss(), 4),
     (RegressionLoss("squared_error"), 2)],
)
def test_dense_gradients_match_autograd(activation, objective, n_outputs):
    from sklnn.engine.dense_gradients import DenseGradients

    g = torch.Generator().manual_seed(0)
    module = MLP(5, (7, 6), n_outputs, activation=activation).double()
    X = torch.randn(33, 5, generator=g, dtype=torch.float64)
    if isinstance(objective, SoftmaxLogLoss):
        y = torch.randint(0, n_outputs, (33,), generator=g)
    elif isinstance(objective, BinaryLogLoss):
        y = (torch.rand(33, n_outputs, generator=g) > 0.5).double()
    else:
        y = torch.randn(33, n_outputs, generator=g, dtype=torch.float64)
    expected_loss = objective.mean_loss(module(X), y)
    expected_loss.backward()
    expected = [p.grad.clone() for p in module.parameters()]
    module.zero_grad(set_to_none=True)
    dense = DenseGradients.build(module, objective)
    assert dense is not None
    loss = dense(X, y)
    torch.testing.assert_close(loss, expected_loss.detach(), rtol=1e-12, atol=0)
    for p, grad in zip(module.parameters(), expected):
        assert p.grad.shape == p.shape
        torch.testing.assert_close(p.grad, grad, rtol=1e-10, atol=1e-14)


def test_dense_gradients_step_aside_for_dropout_batch_norm_and_other_losses():
    from sklnn.engine.dense_gradients import DenseGradients

    assert DenseGradients.build(MLP(3, (4,), 2, dropout=0.5), SoftmaxLogLoss()) is None
    assert DenseGradients.build(MLP(3, (4,), 2, batch_norm=True), SoftmaxLogLoss()) is None
    assert DenseGradients.build(MLP(3, (4,), 2, activation="gelu"), SoftmaxLogLoss()) is None
    assert DenseGradients.build(MLP(3, (4,), 2), RegressionLoss("huber")) is None
    assert DenseGradients.build(torch.nn.Linear(3, 2), SoftmaxLogLoss()) is None
