"""Optimisers with scikit-learn's meanings, and a direct step for fused Adam."""

from __future__ import annotations

from fnmatch import fnmatchcase

import torch
from torch import nn

STOCHASTIC_SOLVERS = ("adam", "adamw", "sgd")
SOLVERS = (*STOCHASTIC_SOLVERS, "lbfgs")
#: optimiser arguments that the engine's own parameters set, and which parameter sets each
_ENGINE_ARGUMENTS = {"lr": "learning_rate_init", "betas": "beta_1 and beta_2",
                     "eps": "epsilon", "momentum": "momentum",
                     "nesterov": "nesterovs_momentum", "weight_decay": "alpha"}


def is_stochastic(solver) -> bool:
    """Whether ``solver`` (a name or a ``torch.optim.Optimizer`` class) trains in epochs of
    mini-batches."""
    if isinstance(solver, type):
        return issubclass(solver, torch.optim.Optimizer)
    return solver in STOCHASTIC_SOLVERS


def check_solver(name: str, solver) -> None:
    """A solver name, or a ``torch.optim.Optimizer`` subclass (not an instance: the engine
    builds it for each fit's parameters)."""
    if isinstance(solver, str) and solver in SOLVERS:
        return
    if isinstance(solver, type) and issubclass(solver, torch.optim.Optimizer):
        return
    given = (f"an instance of {type(solver).__name__}" if isinstance(solver, torch.optim.Optimizer)
             else repr(solver))
    raise ValueError(
        f"{name} must be one of {list(SOLVERS)} or a torch.optim.Optimizer class such as "
        f"torch.optim.RMSprop (the class, not an instance: each fit builds it for the "
        f"network's parameters); got {given}.")


def parameter_groups(module: nn.Module, spec) -> list:
    """The module's parameters for the optimiser: one group, or ``spec``'s groups.

    ``spec`` is a list of ``(pattern, options)`` pairs: the parameters whose names match
    the glob ``pattern`` (and no earlier one) form a group with those options (``lr``,
    ``weight_decay``, ...); the others form the first group, with the defaults.
    """
    named = list(module.named_parameters())
    if not spec:
        return [p for _, p in named]
    groups, taken = [], set()
    for index, entry in enumerate(spec):
        if (not isinstance(entry, (tuple, list)) or len(entry) != 2
                or not isinstance(entry[0], str) or not isinstance(entry[1], dict)):
            raise ValueError(
                f"param_groups[{index}] is {entry!r}; each entry is a pair (pattern, options), "
                "e.g. ('body.*', {'lr': 1e-4}).")
        pattern, options = entry
        params = [p for n, p in named if fnmatchcase(n, pattern) and n not in taken]
        if not params:
            names = ", ".join(n for n, _ in named[:8]) + (", ..." if len(named) > 8 else "")
            raise ValueError(
                f"param_groups pattern {pattern!r} matches no parameter (that an earlier "
                f"pattern did not take) of {type(module).__name__}, whose parameters are "
                f"named {names}.")
        taken.update(n for n, p in named if fnmatchcase(n, pattern))
        groups.append({**options, "params": params})
    rest = [p for n, p in named if n not in taken]
    return ([{"params": rest}] if rest else []) + groups


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
    solver,
    params,
    *,
    learning_rate_init: float,
    momentum: float = 0.9,
    nesterovs_momentum: bool = True,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
    options: dict | None = None,
) -> torch.optim.Optimizer:
    """Build the optimiser for a stochastic ``solver``: a name, or a
    ``torch.optim.Optimizer`` class called as ``solver(params, lr=learning_rate_init,
    **options)``.

    ``params`` are tensors or parameter groups (:func:`parameter_groups`). For a name,
    ``options`` are further arguments of its torch optimiser (e.g. ``amsgrad``) and may not
    repeat what the engine's parameters set. ``weight_decay`` is used by "adamw" only
    (decoupled decay); the other names get scikit-learn's L2 penalty through the gradient
    instead.
    """
    params = list(params)
    options = dict(options or {})
    if isinstance(solver, type):
        if "lr" in options:
            raise ValueError("optimizer__lr repeats learning_rate_init; set learning_rate_init.")
        return solver(params, lr=learning_rate_init, **options)
    repeated = sorted(set(options) & set(_ENGINE_ARGUMENTS))
    if repeated:
        raise ValueError(
            f"optimizer options {repeated} repeat what the estimator's parameters set for "
            f"solver {solver!r} (" + ", ".join(f"{k}: {_ENGINE_ARGUMENTS[k]}" for k in repeated)
            + "); set those parameters instead.")
    tensors = [p for entry in params
               for p in (entry["params"] if isinstance(entry, dict) else [entry])]
    if solver == "sgd":
        return torch.optim.SGD(
            params,
            lr=learning_rate_init,
            momentum=momentum,
            nesterov=nesterovs_momentum and momentum > 0,
            **{"foreach": True, **options},
        )
    if solver in ("adam", "adamw"):
        cls = torch.optim.Adam if solver == "adam" else torch.optim.AdamW
        kwargs = dict(lr=learning_rate_init, betas=(beta_1, beta_2), eps=epsilon, **options)
        if solver == "adamw":
            kwargs["weight_decay"] = weight_decay
        try:
            return cls(params, **{**_fast_flags(tensors), **kwargs})
        except (RuntimeError, ValueError):
            return cls(params, **kwargs)
    raise ValueError(f"solver={solver!r} is not one of {SOLVERS}.")


class OptimizerStep:
    """``optimizer.step()`` for the training loop, with a direct path for fused Adam.

    For small networks torch.optim's ``step`` costs several times its kernel:
    Python bookkeeping (hooks, profiler records, grouping tensors by device)
    around one ``_fused_adam_`` call (measured in docs/benchmarks.md).
    When the optimiser is a single-group fused Adam or AdamW with plain
    settings, no hooks and every gradient present, this calls the same kernel
    on the optimiser's own state tensors, so the update and ``state_dict()``
    are identical. Anything else goes through ``optimizer.step()``.
    Build one per fit and call :meth:`refresh` before each epoch: step hooks and
    ``lr_scheduler`` wrappers added by callbacks are seen then, while a kernel
    that failed once stays off for the rest of the fit.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.failed = False
        self.direct = _direct_adam_applies(optimizer)
        self._state_lists = None

    def refresh(self) -> None:
        """Re-check whether the direct path applies (callbacks may have added hooks)."""
        self.direct = not self.failed and _direct_adam_applies(self.optimizer)
        self._state_lists = None  # a callback may have loaded other state tensors

    def zero_grad(self) -> None:
        """``optimizer.zero_grad(set_to_none=True)`` without its per-call overhead."""
        for p in self.params:
            p.grad = None

    def __call__(self) -> None:
        if not self.direct:
            self.optimizer.step()
            return
        grads = [p.grad for p in self.params]
        if self._state_lists is None or any(g is None for g in grads):
            # The first step creates the state; a missing gradient is skipped by torch.optim.
            self.optimizer.step()
            self._state_lists = self._collect_state()
            return
        exp_avgs, exp_avg_sqs, steps, kernel = self._state_lists
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        try:
            kernel(self.params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                   lr=group["lr"], beta1=beta1, beta2=beta2,
                   weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                   grad_scale=None, found_inf=None)
        except (TypeError, RuntimeError):
            # A private kernel whose signature differs in this torch version: the schema
            # check fails before anything is written, so undo the count and use torch.optim.
            torch._foreach_sub_(steps, 1)
            self.direct = False
            self.failed = True
            self.optimizer.step()

    def _collect_state(self):
        states = [self.optimizer.state.get(p) for p in self.params]
        if any(not s or "exp_avg" not in s for s in states):
            return None
        group = self.optimizer.param_groups[0]
        decoupled = group.get("decoupled_weight_decay",
                              isinstance(self.optimizer, torch.optim.AdamW))
        kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
        return ([s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                [s["step"] for s in states], kernel)


def _direct_adam_applies(optimizer: torch.optim.Optimizer) -> bool:
    from torch.optim import optimizer as optim_module

    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW):
        return False
    if len(optimizer.param_groups) != 1 or "step" in vars(optimizer):
        return False  # an instance-level step (lr_scheduler's wrapper) must be called
    if not hasattr(torch, "_fused_adam_") or not hasattr(torch, "_fused_adamw_"):
        return False
    hooks = (optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks,
             getattr(optim_module, "_global_optimizer_pre_hooks", None),
             getattr(optim_module, "_global_optimizer_post_hooks", None))
    if any(hooks):
        return False
    group = optimizer.param_groups[0]
    params = group["params"]
    return bool(
        params
        and group.get("fused")
        and not group.get("amsgrad")
        and not group.get("maximize")
        and not group.get("capturable")
        and not group.get("differentiable")
        and not isinstance(group["lr"], torch.Tensor)
        and not any(isinstance(b, torch.Tensor) for b in group["betas"])
        and len({(p.device, p.dtype) for p in params}) == 1
    )
