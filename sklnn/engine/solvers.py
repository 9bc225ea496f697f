"""Optimisers and learning-rate schedules with scikit-learn's meanings."""

from __future__ import annotations

import torch

STOCHASTIC_SOLVERS = ("adam", "adamw", "sgd")
SOLVERS = (*STOCHASTIC_SOLVERS, "lbfgs")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


def _fast_flags(params) -> dict:
    """Fused kernels where this build has them for every parameter, else foreach."""
    devices = {p.device.type for p in params}
    dtypes = {p.dtype for p in params}
    fused_ok = devices <= {"cuda", "cpu", "mps"} and dtypes <= {
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
    }
    return {"fused": True} if fused_ok else {"foreach": True}


def make_optimizer(
    solver: str,
    params,
    *,
    learning_rate_init: float,
    momentum: float = 0.9,
    nesterovs_momentum: bool = True,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """Build the optimiser for a stochastic ``solver``.

    ``weight_decay`` is used by "adamw" only (decoupled decay); the other
    solvers get scikit-learn's L2 penalty through the gradient instead.
    """
    params = [p for p in params if p.requires_grad]
    if solver == "sgd":
        return torch.optim.SGD(
            params,
            lr=learning_rate_init,
            momentum=momentum,
            nesterov=nesterovs_momentum and momentum > 0,
            foreach=True,
        )
    if solver in ("adam", "adamw"):
        cls = torch.optim.Adam if solver == "adam" else torch.optim.AdamW
        kwargs = dict(lr=learning_rate_init, betas=(beta_1, beta_2), eps=epsilon)
        if solver == "adamw":
            kwargs["weight_decay"] = weight_decay
        try:
            return cls(params, **kwargs, **_fast_flags(params))
        except (RuntimeError, ValueError):
            return cls(params, **kwargs)
    raise ValueError(f"solver={solver!r} is not one of {SOLVERS}.")


def set_learning_rate(optimizer: torch.optim.Optimizer, value: float) -> None:
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def current_learning_rate(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


class LearningRateSchedule:
    """scikit-learn's SGD schedules, applied at the end of each epoch.

    "invscaling" sets lr = learning_rate_init / (t + 1) ** power_t with t the
    number of samples seen; "adaptive" divides the rate by 5 each time the
    stopping criterion fires and stops once it falls below 1e-6.
    """

    def __init__(self, kind: str, learning_rate_init: float, power_t: float) -> None:
        if kind not in LEARNING_RATES:
            raise ValueError(f"learning_rate={kind!r} is not one of {LEARNING_RATES}.")
        self.kind = kind
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t

    def epoch_end(self, optimizer, samples_seen: int) -> None:
        if self.kind == "invscaling":
            value = self.learning_rate_init / (samples_seen + 1) ** self.power_t
            set_learning_rate(optimizer, value)

    def on_plateau(self, optimizer) -> bool:
        """Return True if training should stop, else lower the rate and go on."""
        if self.kind != "adaptive":
            return True
        lr = current_learning_rate(optimizer)
        if lr <= 1e-6:
            return True
        set_learning_rate(optimizer, lr / 5.0)
        return False
