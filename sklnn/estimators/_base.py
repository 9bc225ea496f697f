"""What every sklnn estimator shares: the fit transaction around the engine.

An estimator subclass supplies ``_build_module`` (the network), ``_make_objective``
(loss and decoding), ``_encode_targets`` (labels to tensors) and its input checks;
its parameters are declared once (:mod:`~sklnn.estimators._declarations`). Everything
else (devices, seeds, splits, the loop, warm starts, partial fits, pickling, summaries)
is here, once, on top of the engine's front door (:mod:`sklnn.engine.fitting`).

A fit either completes and commits every fitted attribute at the end, or raises and
leaves the estimator as it was before the call.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if

from sklnn._sklearn_private import _fit_context
from sklnn._warnings import attributed_to_user
from sklnn.callbacks._base import callback_params, check_callbacks, set_callback_params
from sklnn.engine import fitting
from sklnn.engine.budget import EpochBudget, resolve_max_iter
from sklnn.engine.solvers import is_stochastic
from sklnn.engine.state import ProgressState
from sklnn.engine.trainer import Trainer
from sklnn.estimators._data import TrainingData
from sklnn.estimators._declarations import ENGINE, declare
from sklnn.estimators._export import ExportableModel
from sklnn.estimators._fit_lock import one_fit_at_a_time
from sklnn.estimators._fitted import FittedNetwork
from sklnn.estimators._sklearn_callbacks import (
    SklearnCallbacks,
    epoch_tasks,
    with_sklearn_callbacks,
)
from sklnn.history import History
from sklnn.persistence._registry import register as register_saveable
from sklnn.validation import (
    check_features,
    check_features_and_targets,
    check_sample_weight,
)


def _stochastic(estimator) -> bool:
    if not is_stochastic(estimator._solver()):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator._solver()} "
            "is not stochastic."
        )
    return True


class NeuralNetBase(ExportableModel, FittedNetwork, SklearnCallbacks, TrainingData,
                    BaseEstimator):
    """Engine plumbing shared by all estimators; not for direct use."""

    #: set by subclasses: whether the estimator is a classifier (stratified splits)
    _stratify = False
    #: the loop that trains stochastic solvers; a subclass may substitute its own
    trainer_class = Trainer
    #: working attributes of a fit that are not part of the fitted model (the data stays
    #: the user's): the validated data for scoring callbacks, the loader settings, the
    #: fit's sample weights (for validation hooks that compute statistics)
    _fit_only_attributes = frozenset({"_scoring_data", "_stream_loader", "_fit_sample_weight"})

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_declared_params" in cls.__dict__:
            declare(cls)
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

    #: the rule behind ``max_iter="auto"`` (estimators that declare it); see engine.budget
    _epoch_budget: EpochBudget | None = None

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

    def _restore_derived(self) -> None:
        """Fitted state a model file does not hold because it follows from what it holds
        (called when loading, before the network is rebuilt)."""

    def _check_params(self) -> None:
        """Checks beyond each parameter's scikit-learn constraint: the declared
        element-level checks, then (in subclasses) those involving several parameters."""
        for param in self._declared_params:
            if param.check is not None:
                param.check(param.name, getattr(self, param.name))

    # ------------------------------------------------------------ parameters
    def get_params(self, deep=True):
        """Parameters of this estimator; with ``deep``, also ``callbacks__NAME__PARAM``
        for the named callbacks."""
        params = super().get_params(deep=deep)
        if deep:
            params.update(callback_params(self.callbacks))
        return params

    def set_params(self, **params):
        """Set parameters; ``callbacks__NAME`` replaces a named callback and
        ``callbacks__NAME__PARAM`` sets one of its parameters."""
        nested = {k: params.pop(k) for k in list(params) if k.startswith("callbacks__")}
        super().set_params(**params)
        if nested:
            self.callbacks = set_callback_params(self.callbacks, nested)
        return self

    # --------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, *, validation_data=None):
        """Train the network on (X, y).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or Dataset
            A ``torch.utils.data.Dataset`` or a ``numpy.memmap`` is streamed a
            batch at a time (see :mod:`sklnn.data`).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets: labels (or a binary indicator matrix for multilabel
            problems) for classifiers, values for regressors. None only when X
            is a Dataset of ``(x, y)`` pairs: they are read from it.
        sample_weight : array-like of shape (n_samples,), default=None
        validation_data : tuple (X_val, y_val), default=None
            Validation set (``X_val`` may be a Dataset or memmap) used instead
            of a split of X when scoring epochs and for early stopping. It is
            used exactly as given: inside a ``Pipeline``
            (``pipe.fit(X, y, est__validation_data=...)``) the estimator receives
            transformed X but untransformed ``X_val``, so transform it first
            (``pipe[:-1].transform(X_val)`` after fitting the steps) or monitor a
            held-out share instead with ``early_stopping=True,
            n_iter_no_change=np.inf`` (scores every epoch on
            ``validation_fraction`` of the transformed data and never stops early;
            the best-scoring weights are kept). A validation set whose feature
            scale differs grossly from X raises a warning.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, validation_data=validation_data)

    @available_if(_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like, default=None
            Classifiers: every label the model will see, required on the first
            call. Regressors take none.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    @with_sklearn_callbacks
    def _fit(self, X, y, sample_weight=None, *, incremental=False, validation_data=None,
             classes=None):
        with one_fit_at_a_time(self):  # concurrent fits would drop each other's updates
            return self._fit_one(X, y, sample_weight, incremental=incremental,
                                 validation_data=validation_data, classes=classes)

    def _fit_one(self, X, y, sample_weight=None, *, incremental=False, validation_data=None,
                 classes=None):
        self._check_params()
        settings = self._training_settings()  # checks the callbacks
        if not settings.stochastic and (self.callbacks or validation_data is not None):
            given = "callbacks" if self.callbacks else "validation_data"
            raise ValueError(
                f"solver='lbfgs' cannot use {given}: it runs SciPy's L-BFGS-B over the whole "
                "data set, with no epochs for callbacks to follow and no validation scoring. "
                "Use a stochastic solver ('adam', 'adamw' or 'sgd'), or drop " + given + "."
            )
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        settings.schedule()  # raises for a schedule the solver cannot follow
        launch = fitting.wants_processes(self.n_processes, settings, X, precision=self.precision,
                                         uses_batch_norm=self._uses_batch_norm())
        fitted = hasattr(self, "module_")
        first_pass = not fitted or (not self.warm_start and not incremental)
        # The fit works on a shallow copy and commits every fitted attribute at once at the
        # end: a fit that raises leaves this estimator as it was, and a predict running in
        # another thread meanwhile sees the old model or the new one, never a mix.
        work = self._view()
        with attributed_to_user(), fitting.fit_scope():
            if launch:  # worker processes train; rank 0's fitted estimator comes back
                work = fitting.fit_in_processes(work, self.n_processes, X, y, sample_weight,
                                                incremental=incremental,
                                                validation_data=validation_data,
                                                classes=classes)
            else:
                work._fit_transaction(X, y, sample_weight, incremental, first_pass,
                                      validation_data, classes)
        fitted_state = {k: v for k, v in vars(work).items()
                        if _is_state(k) and k not in self._fit_only_attributes}
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

    def _solver(self):
        """The solver: a name or a ``torch.optim.Optimizer`` class."""
        return self.solver

    def _optimizer_options(self) -> dict:
        """Further arguments of the optimiser; none for scikit-learn's vocabulary."""
        return {}

    def _param_groups(self) -> list | None:
        """Parameter groups with their own optimiser settings; one group by default."""
        return None

    def _training_settings(self) -> fitting.TrainingSettings:
        """The parameters in the engine's terms (the callbacks are checked at fit)."""
        return fitting.TrainingSettings(
            solver=self._solver(), optimizer_options=self._optimizer_options(),
            param_groups=self._param_groups(),
            learning_rate_init=self.learning_rate_init, alpha=self.alpha,
            momentum=self.momentum, nesterovs_momentum=self.nesterovs_momentum,
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            learning_rate=self.learning_rate, power_t=self.power_t, max_iter=self.max_iter,
            max_fun=self.max_fun, tol=self.tol, n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping, shuffle=self.shuffle,
            verbose=bool(self.verbose), compile=self.compile,
            callbacks=[*check_callbacks(self.callbacks), *epoch_tasks(self)],
            make_trainer=self._make_trainer, estimator=self,
        )

    def _make_trainer(self, module, objective, optimizer, **settings) -> Trainer:
        """The trainer for one fit: ``trainer_class(module, objective, optimizer, ...)``.

        Override ``trainer_class`` (or this method) in a subclass to change the
        training loop, e.g. a ``Trainer`` subclass whose ``train_step`` clips
        gradients.
        """
        return self.trainer_class(module, objective, optimizer, **settings)

    def _fit_transaction(self, X, y, sample_weight, incremental, first_pass, validation_data,
                         classes):
        self._stream_loader = self._loader_settings(streamed=self._streams(X))
        self._fit_sample_weight = sample_weight
        X, y = self._validate_targets_and_features(X, y, incremental=incremental,
                                                   reset=first_pass, classes=classes)
        sample_weight = check_sample_weight(sample_weight, X)
        sample_weight = self._combine_weights(y, sample_weight)
        y_encoded = self._encode_targets(y)
        n_outputs = y_encoded.shape[1] if y_encoded.ndim == 2 else self._n_outputs_for(y_encoded)

        settings = self._training_settings()
        where = fitting.placement(self.device, self.precision, X.dtype)
        rng = fitting.random_state(self.random_state)
        # drawn first from the estimator's RandomState, as scikit-learn draws its weights
        initial = self._draw_initial_weights(rng, X.shape[1], n_outputs) if first_pass else None
        seed = int(rng.randint(np.iinfo(np.int32).max))

        if first_pass:
            module = fitting.new_module(
                lambda: self._build_module(X.shape[1], n_outputs), seed, where,
                init=lambda module, generator: self._init_module(module, generator, initial))
            X, y_encoded, n_outputs = self._fit_output_layout(module, X, y, y_encoded,
                                                              n_outputs)
            self._remember_network_params()
            state = ProgressState.start(self.early_stopping and settings.stochastic)
            optimizer_state = None
        else:
            module = fitting.continued_module(self.module_, where)
            state = copy.deepcopy(self._progress)
            state.switch_stopping_rule(self.early_stopping and not incremental)
            # a copy: the optimiser updates its state tensors in place
            optimizer_state = copy.deepcopy(self._optimizer_state) if incremental else None

        # callbacks get this working copy (trainer.estimator): it predicts, mid-fit, with
        # the weights as they are
        self.module_, self.device_, self._compute_dtype = module, where.device, where.dtype
        self.n_outputs_ = n_outputs
        epochs_before = state.n_iter
        # max_iter="auto": the engine's training budget for this many rows and this network
        settings.max_iter = resolve_max_iter(self.max_iter, self._epoch_budget, len(y_encoded),
                                             self._predict_flops_per_sample(module))
        train, valid = self._split(X, y, y_encoded, sample_weight, rng, validation_data,
                                   where.device, where.dtype)
        trained = fitting.train(
            module, self._make_objective(), train, valid, state, settings, where=where,
            seed=seed, flops_per_sample=self._flops_per_sample(module),
            optimizer_state=optimizer_state, incremental=incremental)
        self._commit(module, state, trained.optimizer, where, n_outputs, epochs_before)
        self.n_threads_ = trained.n_threads  # intra-op threads this fit trained with

    def _remember_network_params(self) -> None:
        """Record the parameters the network is built from (all but the engine's): a
        later ``set_params`` does not change the fitted network, and ``save`` writes these
        so that the file rebuilds the network that was trained."""
        self._network_params = {k: v for k, v in self.get_params(deep=False).items()
                                if k not in ENGINE}

    def _n_outputs_for(self, y_encoded) -> int:
        return 1

    def _fit_output_layout(self, module, X, y, y_encoded, n_outputs):
        """The training rows, encoded targets and output count for a newly built
        ``module``: as validated and as the targets asked for, unless the network decides
        (a user's own module)."""
        return X, y_encoded, n_outputs

    def _commit(self, module, state, optimizer, where, n_outputs, epochs_before) -> None:
        self.module_ = module
        self.device_ = where.device
        self._compute_dtype = where.dtype
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags


def _is_state(name: str) -> bool:
    """Fitted attributes and private state, as opposed to parameters."""
    return name.endswith("_") or name.startswith("_")

