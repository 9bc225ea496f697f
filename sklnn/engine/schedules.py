"""The learning rate over one fit, chosen in one place for every estimator.

``learning_rate`` names the rule: scikit-learn's "constant", "invscaling" and
"adaptive", which act on ``solver="sgd"`` only (other solvers keep the initial
rate, as scikit-learn's MLPs do), and "cosine" (annealing to zero) and "step"
(a tenth at 50% and 75% of the epochs), which span the ``max_iter`` epochs of one
fit for every stochastic solver. A schedule that spans the fit is *planned*:
reaching ``max_iter`` is its end, not a failure to converge.
"""

from __future__ import annotations

import torch

#: scikit-learn's schedules, which apply to "sgd" only
SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")
#: every ``learning_rate`` value
SCHEDULES = (*SKLEARN_SCHEDULES, "cosine", "step")


def scale_learning_rates(optimizer: torch.optim.Optimizer, factors) -> None:
    """Set each parameter group's rate to its own initial rate times its factor (parameter
    groups with their own rates keep their proportions)."""
    for group, factor in zip(optimizer.param_groups, factors):
        value = group.setdefault("initial_lr", float(group["lr"])) * factor
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def current_learning_rate(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


class Schedule:
    """The learning-rate rule of one fit; the trainer calls it after every epoch.

    "invscaling" sets ``lr = learning_rate_init / (t + 1) ** power_t`` with ``t`` the
    samples seen; "adaptive" divides the rate by 5 each time the stopping rule fires
    and stops once it falls below 1e-6; "cosine" and "step" drive a
    ``torch.optim.lr_scheduler`` over ``max_epochs`` epochs, restarted by every fit
    (each ``partial_fit`` call is one epoch at the initial rate).
    """

    def __init__(self, kind: str, learning_rate_init: float, power_t: float = 0.5,
                 max_epochs: int = 1) -> None:
        if kind not in SCHEDULES:
            raise ValueError(f"learning_rate={kind!r} is not one of {SCHEDULES}.")
        self.kind = kind
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_epochs = max_epochs
        self._torch = None

    @property
    def planned(self) -> bool:
        """Whether the schedule ends at ``max_epochs`` by design."""
        return self.kind in ("cosine", "step")

    def start(self, optimizer) -> None:
        """Called once before the first epoch of a fit."""
        if self.kind == "cosine":
            self._torch = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=self.max_epochs)
        elif self.kind == "step":
            n = self.max_epochs
            self._torch = torch.optim.lr_scheduler.MultiStepLR(
                optimizer, milestones=sorted({max(1, n // 2), max(1, 3 * n // 4)}), gamma=0.1)

    def epoch_end(self, optimizer, samples_seen: int) -> None:
        if self._torch is not None:
            self._torch.step()
        elif self.kind == "invscaling":
            factor = 1.0 / (samples_seen + 1) ** self.power_t
            scale_learning_rates(optimizer, [factor] * len(optimizer.param_groups))

    def on_plateau(self, optimizer) -> bool:
        """Return True if training should stop, else lower the rate and go on."""
        if self.kind != "adaptive":
            return True
        if current_learning_rate(optimizer) <= 1e-6:
            return True
        scale_learning_rates(optimizer, [float(g["lr"]) / 5.0 / g.setdefault(
            "initial_lr", float(g["lr"])) for g in optimizer.param_groups])
        return False

    def state_dict(self) -> dict:
        return {} if self._torch is None else self._torch.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self._torch is not None and state:
            self._torch.load_state_dict(state)


def make_schedule(learning_rate: str, *, solver, learning_rate_init: float, power_t: float,
                  max_epochs: int) -> Schedule:
    """The schedule a fit follows: scikit-learn's rules act on "sgd" only (the other
    solvers keep ``learning_rate_init``, as in scikit-learn); "cosine" and "step" on every
    stochastic solver; "lbfgs" has no epochs to schedule and refuses the last two."""
    if solver == "lbfgs" and learning_rate in ("cosine", "step"):
        raise ValueError(
            f"learning_rate={learning_rate!r} is a schedule over epochs, which solver='lbfgs' "
            "does not have; use a stochastic solver or learning_rate='constant'."
        )
    if learning_rate in SKLEARN_SCHEDULES and solver != "sgd":
        learning_rate = "constant"
    return Schedule(learning_rate, learning_rate_init, power_t, max_epochs)
