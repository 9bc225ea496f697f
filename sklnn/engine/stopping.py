"""scikit-learn's stopping rule: ``n_iter_no_change`` epochs without a ``tol`` improvement."""

from __future__ import annotations

from torch import nn

from sklnn.engine.schedules import Schedule
from sklnn.engine.state import ProgressState, snapshot


def update_no_improvement(state: ProgressState, valid_score, early_stopping: bool, tol: float,
                          module: nn.Module):
    """Count epochs that improve by less than ``tol`` (the validation score with early
    stopping, else the training loss); returns the module's weights when the validation
    score is the best so far, else None."""
    best = None
    if early_stopping:
        state.validation_scores.append(valid_score)
        if valid_score < state.best_validation_score + tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if valid_score > state.best_validation_score:
            state.best_validation_score = valid_score
            best = snapshot(module)
    else:
        if state.loss_curve[-1] > state.best_loss - tol:
            state.no_improvement_count += 1
        else:
            state.no_improvement_count = 0
        if state.loss_curve[-1] < state.best_loss:
            state.best_loss = state.loss_curve[-1]
    return best


def plateau_reached(state: ProgressState, schedule: Schedule, optimizer,
                    early_stopping: bool, tol: float, n_iter_no_change, verbose: bool) -> bool:
    """True when training should stop; "adaptive" schedules lower the rate instead.

    A planned schedule ("cosine", "step") is not cut short by the training loss: its
    last epochs, at small rates, are where it converges (on a UCR set of 36 sequences
    the rule stopped a 200-epoch cosine after 64-76 epochs, 0.49-0.70 test accuracy,
    against 0.78-0.83 at its end). Early stopping on a validation score still stops it.
    """
    if state.no_improvement_count <= n_iter_no_change:
        return False
    if schedule.planned and not early_stopping:
        return False
    if not schedule.on_plateau(optimizer):
        state.no_improvement_count = 0
        return False
    what = "Validation score" if early_stopping else "Training loss"
    state.stop_message = (
        f"{what} did not improve more than tol={tol:f} for {n_iter_no_change} consecutive "
        "epochs."
    )
    if verbose:
        print(state.stop_message + " Stopping.")
    return True
