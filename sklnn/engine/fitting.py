"""The engine's front door: what one fit and one prediction need from the process.

An estimator translates its parameters into :class:`TrainingSettings` once and asks
this module for the rest: where to compute (:func:`placement`), a network built and
initialised reproducibly (:func:`new_module`), a trained network (:func:`train`),
data-parallel worker processes (:func:`wants_processes`, :func:`fit_in_processes`), and
the scope a prediction runs in (:func:`prediction_scope`). Threads, the heap, random
numbers, devices and processes are handled here, not in the estimators.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from sklnn._warnings import warn_user
from sklnn.engine import distributed
from sklnn.engine._ddp_worker import fit_in_processes
from sklnn.engine.batches import Batches
from sklnn.engine.devices import autocast_dtype, compute_dtype, place_module, resolve_device
from sklnn.engine.heap import heap_for_batches
from sklnn.engine.inference import OutOfMemoryError, is_out_of_memory
from sklnn.engine.lbfgs import fit_lbfgs
from sklnn.engine.objectives import Objective
from sklnn.engine.penalty import penalised_parameters
from sklnn.engine.schedules import make_schedule
from sklnn.engine.seeding import fit_generator_for, seeded_global_rng, training_rng
from sklnn.engine.solvers import is_stochastic, make_optimizer, parameter_groups
from sklnn.engine.state import ProgressState, TrainingStopped
from sklnn.engine.threads import thread_budget, threads_for, worker_share
from sklnn.engine.trainer import Trainer

__all__ = [
    "Placement",
    "Trained",
    "TrainingSettings",
    "continued_module",
    "fit_in_processes",
    "fit_scope",
    "new_module",
    "placement",
    "prediction_scope",
    "random_state",
    "train",
    "wants_processes",
]


@dataclass(frozen=True)
class Placement:
    """Where a fit computes: the device, the parameters' dtype and the autocast dtype."""

    device: torch.device
    dtype: torch.dtype
    autocast: torch.dtype | None


def placement(device, precision: str, input_dtype) -> Placement:
    """The device a ``device`` parameter names (this rank's GPU in a data-parallel fit) and
    the dtypes ``precision`` gives for input of ``input_dtype`` there."""
    device = distributed.rank_device(resolve_device(device))
    return Placement(device, compute_dtype(precision, input_dtype, device),
                     autocast_dtype(precision, device))


@contextmanager
def fit_scope():
    """Around a whole fit: in a parallel worker (joblib, Dask) it keeps to its share of
    the cores, weight initialisation included."""
    with thread_budget(worker_share()):
        yield


def wants_processes(n_processes, settings: TrainingSettings, X, *, uses_batch_norm: bool,
                    precision: str) -> bool:
    """Whether the fit launches worker processes (``n_processes``); raises, before any
    process starts, for what a data-parallel fit cannot honour (also under torchrun)."""
    launch = distributed.wanted(n_processes)
    if launch or distributed.active():
        distributed.check_supported(X, stochastic=settings.stochastic,
                                    uses_batch_norm=uses_batch_norm, precision=precision)
        world = n_processes if launch else torch.distributed.get_world_size()
        rows = X.shape[0] if hasattr(X, "shape") else len(X)
        if rows < world:
            raise ValueError(
                f"{rows} training rows cannot be shared by {world} data-parallel processes "
                "(each needs at least one). Train in one process (n_processes=None) or use "
                "fewer processes.")
    return launch


def random_state(random_state) -> np.random.RandomState:
    """The fit's RandomState, the same on every rank of a data-parallel fit."""
    return distributed.agreed_random_state(random_state)


def new_module(build: Callable[[], nn.Module], seed: int, where: Placement,
               init: Callable[[nn.Module, torch.Generator], None] | None = None) -> nn.Module:
    """``build()`` with torch's global RNG seeded (PyTorch's default initialisation draws
    from it, and is restored after), then ``init(module, generator)``, then placed."""
    with seeded_global_rng(seed, torch.device("cpu")):
        module = build()
    if init is not None:
        init(module, torch.Generator().manual_seed(seed))
    return place_module(module, where.device, where.dtype)


def continued_module(module: nn.Module, where: Placement) -> nn.Module:
    """A copy of a fitted network to train further (the fitted one stays as it is)."""
    return place_module(copy.deepcopy(module), where.device, where.dtype)


@dataclass
class TrainingSettings:
    """What an estimator's parameters ask of one fit, in the engine's terms."""

    #: "adam", "adamw", "sgd", "lbfgs" or a torch.optim.Optimizer class
    solver: object
    learning_rate_init: float
    alpha: float = 0.0
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    learning_rate: str = "constant"
    power_t: float = 0.5
    max_iter: int = 200
    max_fun: int = 15000
    tol: float = 1e-4
    n_iter_no_change: float = 10
    early_stopping: bool = False
    shuffle: bool = True
    verbose: bool = False
    compile: bool = False
    callbacks: list = field(default_factory=list)
    #: further arguments of the optimiser (``optimizer__*``), and parameter groups as
    #: :func:`~sklnn.engine.solvers.parameter_groups` reads them
    optimizer_options: dict = field(default_factory=dict)
    param_groups: list | None = None
    #: ``make_trainer(module, objective, optimizer, **settings)`` builds the loop
    make_trainer: Callable[..., Trainer] = Trainer
    #: the estimator being fitted, for callbacks (``trainer.estimator``)
    estimator: object = None

    @property
    def stochastic(self) -> bool:
        return is_stochastic(self.solver)

    def schedule(self):
        """The learning-rate schedule (raises for one the solver cannot follow)."""
        return make_schedule(self.learning_rate, solver=self.solver,
                             learning_rate_init=self.learning_rate_init,
                             power_t=self.power_t, max_epochs=self.max_iter)


@dataclass
class Trained:
    """What :func:`train` leaves besides the trained module and the progress state."""

    reason: str
    optimizer: torch.optim.Optimizer | None
    n_threads: int  # intra-op threads the fit trained with


def train(module: nn.Module, objective: Objective, train: Batches, valid: Batches | None,
          state: ProgressState, settings: TrainingSettings, *, where: Placement, seed: int,
          flops_per_sample: float, optimizer_state: dict | None = None,
          incremental: bool = False) -> Trained:
    """Train ``module`` in place, leave it in eval mode, and warn as scikit-learn does
    when training stops short.

    Holds the fit's threads, heap settings and random numbers meanwhile; turns a device
    out of memory into a MemoryError that says what to change, and raises when no epoch
    kept finite weights (a fit never returns a model that predicts NaN).
    """
    epochs_before = state.n_iter
    objective.place(where.device, where.dtype)
    train, valid = distributed.DataParallel.prepare(module, train, valid)
    flops = 3 * train.batch_size * flops_per_sample
    with training_rng(module, seed, where.device), thread_budget(threads_for(flops)), \
            heap_for_batches(), _explain_out_of_memory(train.batch_size):
        n_threads = torch.get_num_threads()
        fresh = settings.stochastic and not incremental and state.n_iter == 0
        alpha = 0.0 if settings.solver == "adamw" else settings.alpha  # as the trainer's
        initial = _initial_loss(module, objective, train, alpha) if fresh else None
        reason, optimizer = _run(module, objective, train, valid, state, settings, where,
                                 seed, optimizer_state, incremental)
    module.eval()
    if (reason == TrainingStopped.DIVERGED and state.n_iter == epochs_before) or (
            not _predicts_finite(module, train)):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may contain large "
            "values and need to be preprocessed. " + state.stop_message
        )
    _warn_on_stop(reason, state, settings, incremental, initial)
    return Trained(reason, optimizer, n_threads)


def _run(module, objective, train, valid, state, settings, where, seed, optimizer_state,
         incremental):
    """The solver's loop: L-BFGS over the whole data, or epochs of mini-batches."""
    if not settings.stochastic:
        reason = fit_lbfgs(module, objective, train, state, alpha=settings.alpha,
                           max_iter=settings.max_iter, max_fun=settings.max_fun,
                           tol=settings.tol, verbose=settings.verbose)
        return reason, None
    optimizer = make_optimizer(
        settings.solver, parameter_groups(module, settings.param_groups),
        learning_rate_init=settings.learning_rate_init, momentum=settings.momentum,
        nesterovs_momentum=settings.nesterovs_momentum, beta_1=settings.beta_1,
        beta_2=settings.beta_2, epsilon=settings.epsilon, weight_decay=settings.alpha,
        options=settings.optimizer_options)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    trainer = settings.make_trainer(
        module, objective, optimizer, device=where.device,
        alpha=0.0 if settings.solver == "adamw" else settings.alpha,
        max_epochs=settings.max_iter, tol=settings.tol,
        n_iter_no_change=settings.n_iter_no_change,
        early_stopping=settings.early_stopping and not incremental,
        schedule=settings.schedule(),
        shuffle_generator=(torch.Generator().manual_seed(seed + 1)
                           if settings.shuffle else None),
        callbacks=settings.callbacks, verbose=settings.verbose,
        autocast_dtype=where.autocast, compile=settings.compile,
        generator=fit_generator_for(seed + 2, where.device), estimator=settings.estimator,
    )
    return trainer.fit(train, valid, state, incremental=incremental), optimizer


def _warn_on_stop(reason, state, settings, incremental, initial=None) -> None:
    if (reason == TrainingStopped.MAX_ITER and not incremental and settings.stochastic
            and not settings.schedule().planned):  # a planned schedule ends there
        warn_user(
            f"Stochastic Optimizer: Maximum iterations ({settings.max_iter}) reached and the "
            "optimization hasn't converged yet.",
            ConvergenceWarning)
    elif reason in (TrainingStopped.DIVERGED, TrainingStopped.INTERRUPTED):
        warn_user(state.stop_message, RuntimeWarning)
    curve = state.loss_curve
    # compared with the loss at initialisation: a fit can diverge within its first epoch
    # (the first epoch's mean loss is then already huge)
    start, when = ((initial, "at initialisation") if initial is not None
                   and (len(curve) < 2 or initial < curve[0]) else
                   (curve[0] if curve else None, "first epoch"))
    if settings.stochastic and start is not None and len(curve) >= (1 if initial else 2) \
            and curve[-1] > 10.0 * max(start, 1e-12):
        warn_user(
            f"Training diverged: the loss rose from {start:.4g} ({when}) to "
            f"{curve[-1]:.4g}. Lower learning_rate_init or scale the inputs "
            "(e.g. StandardScaler).",
            RuntimeWarning,
        )


@torch.no_grad()
def _initial_loss(module, objective, train, alpha: float) -> float | None:
    """The loss of the untrained network on (a batch of) the training data, with the L2
    term as an epoch's loss counts it, or None when it is not finite or cannot be computed
    this way (a diagnostic only)."""
    was_training = module.training
    module.eval()  # no dropout draws: the fit's random numbers are untouched
    try:
        X, y, w = next(iter(train.epoch(None)))
        rows = slice(0, 256)
        raw = module(X[rows])
        raw = raw.float() if raw.dtype in (torch.float16, torch.bfloat16) else raw
        value = float(objective.weighted_loss(raw, y[rows], None if w is None else w[rows])[0])
        squares = sum(float(p.detach().double().square().sum())
                      for p in penalised_parameters(module))
        value += 0.5 * alpha * squares / train.batch_size
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError, StopIteration):
        return None
    finally:
        module.train(was_training)
    return value if math.isfinite(value) else None


@torch.no_grad()
def _predicts_finite(module, train) -> bool:
    """Whether the kept weights give finite outputs on (a batch of) the training data."""
    X = next(iter(train.epoch(None)))[0][:256]
    return bool(torch.isfinite(module(X).float()).all())


@contextmanager
def prediction_scope(flops: float):
    """Threads and heap settings for one prediction of ``flops`` per batch."""
    with thread_budget(threads_for(flops)), heap_for_batches():
        yield


@contextmanager
def _explain_out_of_memory(batch_size: int):
    try:
        yield
    except (OutOfMemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        raise MemoryError(
            f"The device ran out of memory while training with batch_size={batch_size}. Use a "
            "smaller batch_size (or a smaller network, or precision='bfloat16')."
        ) from exc
