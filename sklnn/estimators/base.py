"""What every sklnn estimator shares: the fit transaction around the engine.

An estimator subclass supplies four things: ``_build_module`` (the network),
``_make_objective`` (loss and decoding), ``_encode_targets`` (labels to
tensors) and its input checks. Everything else (devices, seeds, splits, the
loop, warm starts, partial fits, pickling, summaries) is here, once.

A fit either completes and commits every fitted attribute at the end, or
raises and leaves the estimator as it was before the call.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from sklnn._warnings import attributed_to_user, warn_user
from sklnn.callbacks._base import check_callbacks
from sklnn.engine import distributed
from sklnn.engine._ddp_worker import fit_in_processes
from sklnn.engine.devices import (
    autocast_dtype,
    compute_dtype,
    place_module,
    resolve_device,
    saved_device,
)
from sklnn.engine.heap import heap_for_batches
from sklnn.engine.inference import OutOfMemoryError, predict_batch_rows, predict_outputs
from sklnn.engine.lbfgs import fit_lbfgs
from sklnn.engine.seeding import fit_generator_for, seeded_global_rng, training_rng
from sklnn.engine.solvers import (
    STOCHASTIC_SOLVERS,
    make_optimizer,
)
from sklnn.engine.state import ProgressState, TrainingStopped
from sklnn.engine.threads import thread_budget, threads_for, worker_share
from sklnn.engine.trainer import Trainer
from sklnn.estimators._settings import EngineSettings
from sklnn.estimators._sklearn_callbacks import (
    SklearnCallbacks,
    epoch_tasks,
    with_sklearn_callbacks,
)
from sklnn.estimators._split import TrainingData
from sklnn.estimators._streaming import StreamedInput
from sklnn.history import History
from sklnn.persistence import save as save_estimator
from sklnn.persistence._registry import register as register_saveable
from sklnn.summary import Summary, summarize
from sklnn.validation import check_features, check_features_and_targets, check_sample_weight


@contextmanager
def _explain_out_of_memory(batch_size: int):
    try:
        yield
    except OutOfMemoryError as exc:
        raise MemoryError(
            f"The device ran out of memory while training with batch_size={batch_size}. Use a "
            "smaller batch_size (or a smaller network, or precision='bfloat16')."
        ) from exc


class NeuralNetBase(SklearnCallbacks, EngineSettings, TrainingData, StreamedInput,
                    BaseEstimator):
    """Engine plumbing shared by all estimators; not for direct use.

    Parameters are declared once per estimator (see :class:`EngineSettings`).
    """

    #: set by subclasses: whether the estimator is a classifier (stratified splits)
    _stratify = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_saveable(cls)  # persistence's explicit table decides which classes count

    # ----------------------------------------------------------- subclasses
    def _build_module(self, n_features: int, n_outputs: int) -> torch.nn.Module:
        raise NotImplementedError

    def _make_objective(self):
        raise NotImplementedError

    def _encode_targets(self, y) -> np.ndarray:
        raise NotImplementedError

    def _draw_initial_weights(self, rng, n_features: int, n_outputs: int):
        """Initial weights drawn from the estimator's numpy RandomState (None: use
        ``_init_module``'s torch generator instead)."""
        return None

    def _init_module(self, module, generator, initial=None) -> None:
        """Initialise weights reproducibly; the default keeps PyTorch's own init."""

    def _flops_per_sample(self, module) -> float:
        """Multiply-adds of one forward pass, used to choose the thread count."""
        return 2.0 * sum(p.numel() for p in module.parameters())

    def _predict_flops_per_sample(self, module) -> float:
        """FLOPs per row that decide prediction's thread count; training's by default."""
        return self._flops_per_sample(module)

    def _input_shape(self) -> tuple[int, ...]:
        """Shape of one sample as the module sees it (for summaries)."""
        return (self.n_features_in_,)

    def _validate_X(self, X, *, reset: bool):
        """Validated 2-D float rows. Image and sequence estimators flatten here."""
        return check_features(self, X, reset=reset)

    def _validate_X_y(self, X, y, *, reset: bool, y_numeric: bool):
        """Validated 2-D float rows and targets."""
        return check_features_and_targets(self, X, y, reset=reset, y_numeric=y_numeric)

    # --------------------------------------------------------------- fitting
    @with_sklearn_callbacks
    def _fit(self, X, y, sample_weight=None, *, incremental=False, validation_data=None,
             classes=None):
        self._check_params()
        check_callbacks(self.callbacks)
        if self.solver == "lbfgs" and self.learning_rate in ("cosine", "step"):
            raise ValueError(
                f"learning_rate={self.learning_rate!r} is a schedule over epochs, "
                "which solver='lbfgs' does not have; use a stochastic solver or "
                "learning_rate='constant'."
            )
        if self.solver == "lbfgs" and (self.callbacks or validation_data is not None):
            given = "callbacks" if self.callbacks else "validation_data"
            raise ValueError(
                f"solver='lbfgs' cannot use {given}: it runs SciPy's L-BFGS-B over the whole "
                "data set, with no epochs for callbacks to follow and no validation scoring. "
                "Use a stochastic solver ('adam', 'adamw' or 'sgd'), or drop " + given + "."
            )
        if incremental and self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                "stochastic."
            )
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        launch = distributed.wanted(self.n_processes)  # raises when it cannot be honoured
        if launch or distributed.active():
            distributed.check_supported(self, X, uses_batch_norm=self._uses_batch_norm())
        fitted = hasattr(self, "module_")
        first_pass = not fitted or (not self.warm_start and not incremental)
        # The fit works on a shallow copy and commits every fitted attribute at once at the
        # end: a fit that raises leaves this estimator as it was, and a predict running in
        # another thread meanwhile sees the old model or the new one, never a mix.
        work = self._view()
        # In a parallel worker the whole fit (weight init included) keeps to its share.
        with attributed_to_user(), thread_budget(worker_share()):
            if launch:  # worker processes train; rank 0's fitted estimator comes back
                work = fit_in_processes(work, self.n_processes, X, y, sample_weight,
                                        incremental=incremental,
                                        validation_data=validation_data, classes=classes)
            else:
                work._fit_transaction(X, y, sample_weight, incremental, first_pass,
                                      validation_data, classes)
        fitted_state = {k: v for k, v in vars(work).items()
                        if _is_state(k) and k not in _FIT_ONLY}
        stale = [k for k in vars(self) if _is_state(k) and k not in fitted_state]
        vars(self).update(fitted_state)
        for key in stale:
            delattr(self, key)
        return self

    def _view(self):
        """A shallow copy sharing every attribute: one consistent snapshot of the fitted
        state for a prediction, or the working copy of a fit."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        return view

    def _fit_transaction(self, X, y, sample_weight, incremental, first_pass, validation_data,
                         classes):
        self._stream_loader = self._loader_settings(streamed=self._streams(X))
        X, y = self._validate_targets_and_features(X, y, incremental=incremental,
                                                   reset=first_pass, classes=classes)
        sample_weight = check_sample_weight(sample_weight, X)
        sample_weight = self._combine_weights(y, sample_weight)
        y_encoded = self._encode_targets(y)
        n_outputs = y_encoded.shape[1] if y_encoded.ndim == 2 else self._n_outputs_for(y_encoded)

        device = distributed.rank_device(resolve_device(self.device))
        dtype = compute_dtype(self.precision, X.dtype, device)
        mixed = autocast_dtype(self.precision, device)
        rng = distributed.agreed_random_state(self.random_state)
        # drawn first from the estimator's RandomState, as scikit-learn draws its weights
        initial = self._draw_initial_weights(rng, X.shape[1], n_outputs) if first_pass else None
        seed = int(rng.randint(np.iinfo(np.int32).max))

        if first_pass:
            # PyTorch's default initialisation draws from the global RNG (then overwritten)
            with seeded_global_rng(seed, torch.device("cpu")):
                module = self._build_module(X.shape[1], n_outputs)
            self._init_module(module, torch.Generator().manual_seed(seed), initial)
            module = place_module(module, device, dtype)
            state = ProgressState.start(self.early_stopping and self.solver in STOCHASTIC_SOLVERS)
            optimizer_state = None
        else:
            module = place_module(copy.deepcopy(self.module_), device, dtype)
            state = copy.deepcopy(self._progress)
            state.switch_stopping_rule(self.early_stopping and not incremental)
            # a copy: the optimiser updates its state tensors in place
            optimizer_state = copy.deepcopy(self._optimizer_state) if incremental else None

        epochs_before = state.n_iter
        train, valid = self._split(X, y, y_encoded, sample_weight, rng, validation_data,
                                   device, dtype)
        train, valid = distributed.DataParallel.prepare(module, train, valid)
        objective = self._make_objective()
        flops = 3 * train.batch_size * self._flops_per_sample(module)
        with training_rng(module, seed, device), thread_budget(threads_for(flops)), \
                heap_for_batches(), _explain_out_of_memory(train.batch_size):
            n_threads = torch.get_num_threads()
            if self.solver == "lbfgs":
                reason = self._run_lbfgs(module, objective, train, state, device)
                optimizer = None
            else:
                reason, optimizer = self._run_stochastic(
                    module, objective, train, valid, state, device, mixed, seed,
                    optimizer_state, incremental,
                )

        module.eval()
        if (reason == TrainingStopped.DIVERGED and state.n_iter == epochs_before) or (
                not _predicts_finite(module, train)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed. " + state.stop_message
            )
        self._commit(module, state, optimizer, device, dtype, n_outputs, epochs_before)
        self.n_threads_ = n_threads  # intra-op threads this fit trained with
        self._warn_on_stop(reason, state, incremental)

    def _n_outputs_for(self, y_encoded) -> int:
        return 1

    def _run_stochastic(self, module, objective, train, valid, state, device, mixed, seed,
                        optimizer_state, incremental):
        optimizer = make_optimizer(self.solver, module.parameters(), **self._solver_kwargs())
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
        trainer = self._make_trainer(
            module,
            objective,
            optimizer,
            device=device,
            alpha=0.0 if self.solver == "adamw" else self.alpha,
            max_epochs=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping and not incremental,
            schedule=self._schedule(),
            shuffle_generator=(
                torch.Generator().manual_seed(seed + 1) if self.shuffle else None
            ),
            callbacks=[*self._builtin_callbacks(), *check_callbacks(self.callbacks),
                       *epoch_tasks(self)],
            verbose=bool(self.verbose),
            autocast_dtype=mixed,
            compile=self.compile,
            generator=fit_generator_for(seed + 2, device),
            estimator=self,
        )
        reason = trainer.fit(train, valid, state, incremental=incremental)
        return reason, optimizer

    def _make_trainer(self, module, objective, optimizer, **settings) -> Trainer:
        """The trainer for one fit: ``trainer_class(module, objective, optimizer, ...)``.

        Override ``trainer_class`` (or this method) in a subclass to change the
        training loop, e.g. a ``Trainer`` subclass whose ``train_step`` clips
        gradients.
        """
        return self.trainer_class(module, objective, optimizer, **settings)

    def _run_lbfgs(self, module, objective, train, state, device):
        return fit_lbfgs(
            module,
            objective,
            train,
            state,
            alpha=self.alpha,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            verbose=bool(self.verbose),
        )

    def _warn_on_stop(self, reason, state, incremental) -> None:
        planned = self.learning_rate in ("cosine", "step")  # a schedule ends there
        if (reason == TrainingStopped.MAX_ITER and not incremental and self.solver != "lbfgs"
                and not planned):
            warn_user(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning)
        elif reason in (TrainingStopped.DIVERGED, TrainingStopped.INTERRUPTED):
            warn_user(state.stop_message, RuntimeWarning)
        curve = state.loss_curve
        if self.solver != "lbfgs" and len(curve) >= 2 and curve[-1] > 10.0 * max(curve[0], 1e-12):
            warn_user(
                f"Training diverged: the loss rose from {curve[0]:.4g} (first epoch) to "
                f"{curve[-1]:.4g}. Lower learning_rate_init or scale the inputs "
                "(e.g. StandardScaler).",
                RuntimeWarning,
            )

    def _commit(self, module, state, optimizer, device, dtype, n_outputs, epochs_before) -> None:
        self.module_ = module
        self.device_ = device
        self._compute_dtype = dtype
        self._progress = state
        self._optimizer_state = None if optimizer is None else optimizer.state_dict()
        # as in scikit-learn, the epochs (iterations) of this call; history_ counts them all
        self.n_iter_ = state.n_iter - epochs_before
        self.t_ = state.t
        self.loss_ = state.loss
        self.loss_curve_ = list(state.loss_curve)
        self.history_ = History(state.history)
        self.validation_scores_ = (
            None if state.validation_scores is None else list(state.validation_scores)
        )
        self.best_validation_score_ = state.best_validation_score
        self.best_loss_ = state.best_loss
        self.n_outputs_ = n_outputs
        self.n_layers_ = self._n_layers()
        self.out_activation_ = self._make_objective().out_activation

    def _n_layers(self) -> int:
        return sum(isinstance(m, torch.nn.Linear) for m in self.module_.modules()) + 1

    # ------------------------------------------------------------ prediction
    def _forward(self, X) -> np.ndarray:
        """Validated input to decoded outputs (probabilities or values), as numpy."""
        check_is_fitted(self)
        if self._streams(X):
            return self._streamed_outputs(X, self._forward_rows)
        with attributed_to_user():
            X = self._validate_X(X, reset=False)
        return self._forward_rows(X)

    def _forward_rows(self, X) -> np.ndarray:
        """Validated rows to decoded outputs."""
        objective = self._make_objective()
        batch_rows = self._predict_batch_rows()
        flops = min(X.shape[0], batch_rows) * self._predict_flops_per_sample(self.module_)
        with thread_budget(threads_for(flops)), heap_for_batches():
            out = predict_outputs(
                self.module_, X, device=self.device_, dtype=self._compute_dtype,
                batch_rows=batch_rows, decode=objective.decode,
                autocast=self._inference_autocast(),
            )
        return out.astype(X.dtype if X.dtype in (np.float32, np.float64) else np.float64,
                          copy=False)

    def _inference_autocast(self) -> torch.dtype | None:
        """Autocast for prediction; float16 falls back to full precision off CUDA (a model
        trained on a GPU and loaded on a CPU-only machine still predicts)."""
        if self.precision == "float16" and self.device_.type != "cuda":
            return None
        return autocast_dtype(self.precision, self.device_)

    def _predict_batch_rows(self) -> int:
        return predict_batch_rows(self._largest_activation(), self.device_)

    def _largest_activation(self) -> int:
        """Values per row of the widest tensor a forward pass makes (input included)."""
        widths = [self.n_features_in_]
        for layer in self.module_.modules():
            if isinstance(layer, torch.nn.Linear):
                widths += [layer.in_features, layer.out_features]
        return max(widths)

    # ------------------------------------------------------------- utilities
    def summary(self, print_fn=None) -> Summary:
        """Each layer with its output shape and parameter count, and the total.

        Returns a :class:`~sklnn.summary.Summary` whose text is the table, so a notebook
        or REPL shows it once; in a script, ``print(clf.summary())``. ``print_fn``, when
        given, also receives the table (e.g. ``print_fn=print`` or a logger's method).
        """
        check_is_fitted(self)
        result = summarize(self.module_, self._input_shape(), device=self.device_,
                           dtype=self._compute_dtype)
        if print_fn is not None:
            print_fn(str(result))
        return result

    def save(self, path) -> None:
        """Write the fitted estimator to ``path`` without pickle; read it with ``sklnn.load``.

        The file is safe to load from an untrusted source (see ``sklnn.persistence``).
        """
        save_estimator(self, path)

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = copy.deepcopy(self.module_).to("cpu")
            state["_optimizer_state"] = _to_cpu(state.get("_optimizer_state"))
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        if "module_" in state:
            device = saved_device(state["device_"])
            state["device_"] = device
            state["module_"] = place_module(state["module_"], device)
        self.__dict__.update(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags


@torch.no_grad()
def _predicts_finite(module, train) -> bool:
    """Whether the kept weights give finite outputs on (a batch of) the training data."""
    X = next(iter(train.epoch(None)))[0][:256]
    return bool(torch.isfinite(module(X).float()).all())


#: working attributes of a fit that are not part of the fitted model (the data stays the user's)
_FIT_ONLY = frozenset({"_scoring_data", "_stream_loader"})


def _is_state(name: str) -> bool:
    """Fitted attributes and private state, as opposed to parameters."""
    return name.endswith("_") or name.startswith("_")


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
