"""Full-batch L-BFGS through SciPy, with scikit-learn's ``max_iter``, ``max_fun`` and ``tol``."""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from sklnn._sklearn_private import _check_optimize_result
from sklnn.engine.batches import Batches
from sklnn.engine.objectives import Objective
from sklnn.engine.penalty import penalised_parameters
from sklnn.engine.state import ProgressState, TrainingStopped
from sklnn.modules.norm import sample_weights


def fit_lbfgs(
    module: torch.nn.Module,
    objective: Objective,
    train: Batches,
    state: ProgressState,
    *,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool = False,
) -> str:
    """Minimise the penalised loss over all of ``train``; returns a ``TrainingStopped`` reason.

    The gradient is accumulated over ``train``'s batches, so memory stays bounded;
    each evaluation is one pass over the data.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    weights = penalised_parameters(module)
    dtype = params[0].dtype
    module.train()

    batches = list(train.epoch(None))
    if batches[0][2] is None:
        normaliser = float(train.n_samples)
    else:
        normaliser = float(sum(w.sum() for _, _, w in batches))
        normaliser = normaliser if normaliser > 0 else float(train.n_samples)

    def loss_and_grad(flat: np.ndarray):
        _write_parameters(torch.from_numpy(flat).to(params[0].device, dtype), params)
        for p in params:
            p.grad = None
        total = torch.zeros((), dtype=torch.float64, device=params[0].device)
        for X, y, w in batches:
            with sample_weights(w):
                losses = objective.per_sample_loss(module(X), y)
            batch_loss = (losses.sum() if w is None else (losses * w).sum()) / normaliser
            batch_loss.backward()
            total += batch_loss.detach()
        if alpha and weights:
            with torch.no_grad():
                for p in weights:
                    p.grad.add_(p, alpha=alpha / normaliser)
                total += 0.5 * alpha * sum(p.pow(2).sum() for p in weights) / normaliser
        grad = torch.cat([
            (torch.zeros_like(p) if p.grad is None else p.grad).reshape(-1) for p in params
        ])
        return float(total), grad.double().cpu().numpy()

    accepted = []  # the iterates L-BFGS-B accepted, for Ctrl-C

    def record(intermediate_result):
        state.loss_curve.append(float(intermediate_result.fun))
        accepted[:] = [intermediate_result.x.copy(), float(intermediate_result.fun)]

    x0 = torch.cat([p.detach().reshape(-1) for p in params]).double().cpu().numpy()
    curve_before = len(state.loss_curve)
    try:
        result = scipy.optimize.minimize(
            loss_and_grad,
            x0,
            method="L-BFGS-B",
            jac=True,
            callback=record,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        )
    except KeyboardInterrupt:
        if not accepted:
            raise
        # keep the last accepted iterate, as the stochastic solvers keep the last epoch
        result = scipy.optimize.OptimizeResult(
            x=accepted[0], fun=accepted[1], nit=len(state.loss_curve) - curve_before,
            success=False, status=-1, message="Training interrupted by user.",
        )
    n_iter = (result.nit if result.status == -1
              else _check_optimize_result("lbfgs", result, max_iter))
    _write_parameters(torch.from_numpy(result.x).to(params[0].device, dtype), params)
    state.n_iter += n_iter
    state.t += train.n_samples * n_iter
    state.loss = float(result.fun)
    state.history.extend(
        {"epoch": i + 1, "train_loss": loss, "valid_loss": None, "valid_score": None,
         "lr": None, "duration": None}
        for i, loss in enumerate(state.loss_curve[len(state.history):], start=len(state.history))
    )
    if verbose:
        print(f"L-BFGS stopped after {n_iter} iterations, loss = {state.loss:.8f}")
    if not np.isfinite(state.loss):
        state.stop_message = f"L-BFGS produced a non-finite loss ({state.loss})."
        return TrainingStopped.DIVERGED
    if result.status == -1:
        state.stop_message = "Training interrupted by user."
        return TrainingStopped.INTERRUPTED
    return TrainingStopped.CONVERGED if result.success else TrainingStopped.MAX_ITER


@torch.no_grad()
def _write_parameters(vector: torch.Tensor, params) -> None:
    """Copy ``vector`` into the parameters in place, each keeping its memory layout (a
    channels-last convolution weight stays channels-last)."""
    offset = 0
    for p in params:
        p.copy_(vector[offset:offset + p.numel()].view_as(p))
        offset += p.numel()
