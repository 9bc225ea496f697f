"""RNNForecaster and RNNClassifier: recurrent networks on windows of time series.

Sequences enter as ``(n, T)`` (univariate) or ``(n, T, F)`` arrays. The
validation hooks flatten them to 2-D rows of ``T * F`` values and remember
``(T, F)``; the network reshapes the rows back. Everything between (batching,
devices, the training loop) is the shared engine, unchanged.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from sklnn.engine.objectives import RegressionLoss
from sklnn.engine.solvers import LEARNING_RATES
from sklnn.estimators.tasks import NeuralClassifier, NeuralRegressor, _stochastic
from sklnn.modules.rnn import CELLS, RecurrentNetwork, init_recurrent_
from sklnn.validation import (
    FLOAT_DTYPES,
    check_choice,
    check_int,
    check_real,
    check_sample_weight,
    to_host,
)

TRAINING_TARGETS = ("last", "sequence")

_RECURRENT_PARAMS_DOC = """
    cell : {"rnn", "lstm", "gru"}, default="lstm"
        Recurrent cell: Elman RNN (tanh), LSTM or GRU.
    hidden_size : int, default=20
        Units per recurrent layer and direction.
    num_layers : int, default=2
        Stacked recurrent layers (the lecture's deep RNN is 2 layers of 20).
    dropout : float, default=0.0
        Dropout between recurrent layers and before the output layer."""

_ENGINE_PARAMS_DOC = """
    solver : {"adam", "adamw", "sgd", "lbfgs"}, default="adam"
    alpha : float, default=0.0001
        L2 penalty on the weight matrices (not biases), as in scikit-learn's MLP.
    batch_size : int or "auto", default="auto"
        "auto" means min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for ``solver="sgd"``.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs for the stochastic solvers, iterations for "lbfgs".
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, the validation split and dropout.
    tol : float, default=1e-4
        Minimum improvement of the training loss (or validation score with
        early stopping) over ``n_iter_no_change`` epochs.
    verbose : bool, default=False
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the windows (or use
        ``validation_data`` given to ``fit``) and keep the best weights.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
    device : str, default="auto"
        "auto" picks CUDA, else MPS, else the CPU.
    callbacks : list of Callback or None, default=None
    compile : bool, default=False
    precision : {"auto", "float32", "float64", "bfloat16", "float16"}, default="auto"
        "auto" computes in the input's float type on the CPU, float32 elsewhere."""

_ATTRIBUTES_DOC = """
    sequence_shape_ : tuple of int
        ``(T, F)``: steps and features per sequence seen in ``fit``.
    n_features_in_ : int
        ``T * F``, the length of a flattened sequence.
    feature_names_in_ : ndarray
        Defined when X was a DataFrame with string column names.
    loss_ : float
    best_loss_ : float or None
    loss_curve_ : list of float
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
    n_layers_ : int
        ``num_layers + 2`` (input and output layers included, as for MLPs).
    n_outputs_ : int
        Outputs of the network's head (per step for sequence-to-sequence).
    out_activation_ : str
    module_ : RecurrentNetwork
        The trained network; it takes flattened (or 3-D) sequences.
    device_ : torch.device
    history_ : list of dict"""


def _as_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")


class _RecurrentMixin:
    """Sequence validation and the recurrent architecture shared by both estimators."""

    _padding_value = None  # only the classifier packs padded sequences

    def _check_params(self):
        check_choice("cell", self.cell, tuple(CELLS))
        check_int("hidden_size", self.hidden_size, 1)
        check_int("num_layers", self.num_layers, 1)
        _as_bool("bidirectional", self.bidirectional)
        check_choice("learning_rate", self.learning_rate, LEARNING_RATES)
        check_real("momentum", self.momentum, 0.0, 1.0)
        check_real("beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        check_real("beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        check_real("epsilon", self.epsilon, low=0.0, low_open=True)

    # ------------------------------------------------------------- sequences
    def _expected_shape_text(self) -> str:
        steps, features = self.sequence_shape_
        flat = f"(n_samples, {steps})" if features == 1 else f"(n_samples, {steps * features})"
        return f"(n_samples, {steps}, {features}) or {flat}"

    def _to_rows(self, X, reset: bool):
        """3-D sequences become rows of T*F values; 2-D input passes through.

        Returns the rows and the sequence shape they came from (None for 2-D).
        """
        X = to_host(X)
        if sp.issparse(X) or isinstance(X, pd.DataFrame):
            return X, None
        array = X if hasattr(X, "ndim") and hasattr(X, "shape") else np.asarray(X)
        name = type(self).__name__
        fitted = not reset and hasattr(self, "sequence_shape_")
        if array.ndim == 3:
            shape = tuple(int(s) for s in array.shape[1:])
            if fitted and shape != self.sequence_shape_:
                raise ValueError(
                    f"X has sequences of shape {shape} (steps, features), but {name} was fitted "
                    f"on sequences of shape {self.sequence_shape_}; pass an array of shape "
                    f"{self._expected_shape_text()}."
                )
            return np.asarray(array).reshape(array.shape[0], -1), shape
        if fitted and array.ndim == 2 and array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {array.shape[1]} features, but {name} is expecting "
                f"{self.n_features_in_} features as input: sequences of shape "
                f"{self.sequence_shape_} (steps, features), passed as "
                f"{self._expected_shape_text()}."
            )
        return array, None

    def _finite_policy(self):
        padding = self._padding_value
        return "allow-nan" if padding is not None and math.isnan(padding) else True

    def _remember_shape(self, rows, shape, reset):
        if reset:
            self.sequence_shape_ = shape if shape is not None else (int(rows.shape[1]), 1)

    def _validated_rows(self, X, reset):
        rows, shape = self._to_rows(X, reset)
        rows = validate_data(self, rows, reset=reset, dtype=FLOAT_DTYPES,
                             ensure_all_finite=self._finite_policy())
        self._remember_shape(rows, shape, reset)
        self._check_padding(rows)
        return rows

    def _validated_rows_and_targets(self, X, y, reset, y_numeric):
        rows, shape = self._to_rows(X, reset)
        rows, y = validate_data(self, rows, to_host(y), reset=reset, multi_output=True,
                                y_numeric=y_numeric, dtype=FLOAT_DTYPES,
                                ensure_all_finite=self._finite_policy())
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._remember_shape(rows, shape, reset)
        self._check_padding(rows)
        return rows, y

    def _check_padding(self, rows):
        """With NaN padding, NaN is allowed only in the trailing padding steps."""
        if self._finite_policy() is True:
            return
        sequences = rows.reshape(rows.shape[0], *self.sequence_shape_)
        missing = np.isnan(sequences)
        padding_steps = missing.all(axis=2)
        trailing = np.cumprod(padding_steps[:, ::-1], axis=1)[:, ::-1].astype(bool)
        if missing[~trailing].any():
            raise ValueError(
                "Input X contains NaN inside sequences; with padding_value=nan only whole "
                "trailing steps may be NaN."
            )

    # ----------------------------------------------------------- the network
    def _network(self, n_outputs, *, all_steps=False, first_step=0):
        steps, features = self.sequence_shape_
        return RecurrentNetwork(
            steps,
            features,
            n_outputs,
            cell=self.cell,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            bidirectional=bool(self.bidirectional),
            all_steps=all_steps,
            first_step=first_step,
            padding_value=self._padding_value,
        )

    def _init_module(self, module, generator):
        init_recurrent_(module, generator)

    def _flops_per_sample(self, module):
        # Per time step, not per sequence: the thread choice is about the size of each
        # operation, and a recurrent layer runs T small operations one after another.
        return 2.0 * sum(p.numel() for p in module.parameters())

    def _predict_flops_per_sample(self, module):
        # Prediction runs each step over thousands of rows at once, and its elementwise
        # tanh, which OpenMP splits, costs more than the FLOPs say: the 2x20 network
        # predicted 100,000 windows of 50 steps in 1.9 s on one thread and 1.0 s on two,
        # in 2,097-row batches whose per-step count (5.5e6) called for one. Counting
        # every step gives two threads there and still one for a few rows.
        steps, _ = self.sequence_shape_
        return steps * self._flops_per_sample(module)

    def _largest_activation(self):
        # A recurrent layer's output holds every step. Counting only the input row (T
        # values) gave 8,192-row batches whose 33 MB step outputs glibc returned to the
        # kernel after each batch: about 300,000 page faults per 100,000-row predict,
        # 20-30% of its time; 2,048-row batches fault almost never.
        steps, features = self.sequence_shape_
        directions = 2 if self.bidirectional else 1
        return steps * max(directions * self.hidden_size, features)

    def _n_layers(self):
        return self.num_layers + 2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = self._finite_policy() == "allow-nan"
        return tags


class RNNForecaster(_RecurrentMixin, NeuralRegressor):
    __doc__ = f"""Recurrent network forecasting the next value(s) of a time series from a window.

    ``fit(X, y)`` takes windows ``X`` of shape ``(n, T)`` (univariate) or
    ``(n, T, F)`` (F features per step) and targets ``y`` of shape ``(n,)``
    (the next value) or ``(n, horizon)`` (the next ``horizon`` values), as
    :func:`sklnn.make_windows` builds them. It is a regressor like any other:
    ``score``, ``GridSearchCV`` and ``TimeSeriesSplit`` work as usual.

    Inputs and targets are standardised inside the estimator (``scale=True``):
    each input feature by its mean and standard deviation over all windows and
    steps, the targets by their overall mean and standard deviation.
    Predictions are mapped back to the original units. The loss and
    ``loss_curve_`` are in the standardised units.

    Parameters
    ----------
    training_target : {{"last", "sequence"}}, default="last"
        "last" (sequence-to-vector) trains on the ``horizon`` values after the
        window's last step only. "sequence" (sequence-to-sequence) trains the
        network to forecast the next ``horizon`` values after *every* step,
        which gives many more error signals per window. The validation score
        for early stopping is the R^2 of the last step's forecasts. The per-step targets
        are built from the window and ``y``: the series is the window's
        ``target_feature`` column followed by ``y``, and the target after step
        t is the ``horizon`` values that follow it. So ``y`` is given exactly
        as for "last" (the continuation of the series), and ``predict`` returns
        the forecast after the last step, also as for "last". Requires the
        forecast quantity to be an input feature and ``bidirectional=False``.
    burn_in : int, default=0
        With ``training_target="sequence"``, the steps at the start of each
        window whose forecasts are left out of the loss. Forecasts made after
        seeing only a few values are poor whatever the weights, and their large
        errors would otherwise dominate the gradient.
    target_feature : int, default=0
        Which input feature ``y`` continues, for ``training_target="sequence"``.
    scale : bool, default=True
        Standardise inputs and targets as described above.
    loss : {{"squared_error", "absolute_error", "huber"}}, default="squared_error"
        Training loss on the standardised targets ("squared_error" is half the
        squared error, as in scikit-learn's MLP).{_RECURRENT_PARAMS_DOC}
    bidirectional : bool, default=False
        Also read each window backwards (sequence-to-vector only).{_ENGINE_PARAMS_DOC}

    Attributes
    ----------
    horizon_ : int
        Values forecast per window (columns of ``y``).{_ATTRIBUTES_DOC}

    See Also
    --------
    sklnn.make_windows : windows and targets from a series.
    RNNClassifier : sequence classification.

    Examples
    --------
    >>> from sklnn import RNNForecaster, make_windows
    >>> from sklnn.datasets import make_sine_series
    >>> series = make_sine_series(n_series=1, n_steps=300, random_state=0)[0]
    >>> X, y = make_windows(series, lookback=20, horizon=1)
    >>> X.shape, y.shape
    ((280, 20), (280,))
    >>> model = RNNForecaster(cell="gru", hidden_size=16, num_layers=1, max_iter=30,
    ...                       learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    >>> model.forecast(series, steps=5).shape  # recursive beyond the horizon of 1
    (5,)
    """

    def __init__(
        self,
        *,
        cell="lstm",
        hidden_size=20,
        num_layers=2,
        dropout=0.0,
        bidirectional=False,
        training_target="last",
        burn_in=0,
        target_feature=0,
        scale=True,
        loss="squared_error",
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="auto",
        callbacks=None,
        compile=False,
        precision="auto",
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.training_target = training_target
        self.burn_in = burn_in
        self.target_feature = target_feature
        self.scale = scale
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.callbacks = callbacks
        self.compile = compile
        self.precision = precision

    def _check_params(self):
        super()._check_params()
        check_choice("loss", self.loss, ("squared_error", "absolute_error", "huber"))
        check_choice("training_target", self.training_target, TRAINING_TARGETS)
        check_int("target_feature", self.target_feature, 0)
        check_int("burn_in", self.burn_in, 0)
        _as_bool("scale", self.scale)
        if self.training_target == "sequence" and self.bidirectional:
            raise ValueError(
                "training_target='sequence' needs bidirectional=False: a backward pass would "
                "show every step the values it has to forecast."
            )

    # ------------------------------------------------------------ validation
    def _validate_X(self, X, *, reset):
        rows = self._validated_rows(X, reset)
        return self._scale_inputs(rows)

    def _validate_X_y(self, X, y, *, reset, y_numeric):
        rows, y = self._validated_rows_and_targets(X, y, reset, y_numeric)
        if reset:
            self._per_step_targets = self.training_target == "sequence"
            self.horizon_ = 1 if y.ndim == 1 else int(y.shape[1])
            if self._per_step_targets and self.burn_in >= self.sequence_shape_[0]:
                raise ValueError(
                    f"burn_in={self.burn_in} leaves no step of the {self.sequence_shape_[0]}-step "
                    "windows to train on."
                )
            self._first_trained_step = self.burn_in if self._per_step_targets else 0
        if self._per_step_targets:
            y = self._targets_after_every_step(rows, y)
        if reset:
            weight = check_sample_weight(vars(self).get("_fit_sample_weight"), rows)
            self._fit_scalers(rows, y, weight)
        return self._scale_inputs(rows), y

    def _check_validation_targets(self, y_val, X_val):
        y_val = super()._check_validation_targets(y_val, X_val)
        if self._per_step_targets:
            y_val = self._targets_after_every_step(self._unscale_inputs(X_val), y_val)
        return y_val

    def _targets_after_every_step(self, rows, y):
        """The ``horizon`` values after each step from the burn-in on, step-major."""
        steps, features = self.sequence_shape_
        if self.target_feature >= features:
            raise ValueError(
                f"target_feature={self.target_feature} but the sequences have {features} "
                "feature(s)."
            )
        y = np.asarray(y, dtype=np.float64).reshape(len(rows), -1)
        if y.shape[1] != self.horizon_:
            raise ValueError(f"y has {y.shape[1]} columns; the model forecasts {self.horizon_}.")
        observed = rows.reshape(len(rows), steps, features)[:, :, self.target_feature]
        series = np.concatenate([observed, y], axis=1)
        after_each_step = np.lib.stride_tricks.sliding_window_view(
            series[:, 1:], self.horizon_, axis=1
        )
        return after_each_step[:, self._first_trained_step:].reshape(len(rows), -1)

    # --------------------------------------------------------------- scaling
    def _fit_scalers(self, rows, y, sample_weight):
        """Means and standard deviations, weighted so that a weight of k counts as k copies."""
        steps, features = self.sequence_shape_
        if not self.scale:
            self._input_mean, self._input_scale = np.zeros(features), np.ones(features)
            self._target_mean, self._target_scale = 0.0, 1.0
            return
        if sample_weight is None or not sample_weight.sum() > 0:
            sample_weight = np.ones(len(rows))
        values = np.asarray(rows, dtype=np.float64).reshape(len(rows), steps, features)
        self._input_mean, self._input_scale = _weighted_moments(
            values.reshape(-1, features), np.repeat(sample_weight, steps)
        )
        y = np.asarray(y, dtype=np.float64).reshape(len(rows), -1)
        mean, scale = _weighted_moments(
            y.reshape(-1, 1), np.repeat(sample_weight, y.shape[1])
        )
        self._target_mean, self._target_scale = float(mean[0]), float(scale[0])

    def _scale_inputs(self, rows):
        steps, features = self.sequence_shape_
        mean = np.tile(self._input_mean, steps).astype(rows.dtype)
        scale = np.tile(self._input_scale, steps).astype(rows.dtype)
        return (rows - mean) / scale

    def _unscale_inputs(self, rows):
        steps, _ = self.sequence_shape_
        return rows * np.tile(self._input_scale, steps) + np.tile(self._input_mean, steps)

    def _encode_targets(self, y):
        y = (np.asarray(y, dtype=np.float64) - self._target_mean) / self._target_scale
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _make_objective(self):
        if vars(self).get("_per_step_targets"):
            return _LastForecastScore(self.loss, self.horizon_)
        return super()._make_objective()

    def _build_module(self, n_features, n_outputs):
        if self._per_step_targets:
            return self._network(self.horizon_, all_steps=True,
                                 first_step=self._first_trained_step)
        return self._network(n_outputs)

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Train the network on windows X and the values y that follow them.

        Parameters
        ----------
        X : array-like of shape (n_samples, T) or (n_samples, T, F)
        y : array-like of shape (n_samples,) or (n_samples, horizon)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights in the loss and in the scaling statistics.
        validation_data : tuple (X_val, y_val), default=None
            Validation windows used for early stopping instead of a split of X.

        Returns
        -------
        self
        """
        # The scaling statistics are computed in the validation hook, which has no weights.
        self._fit_sample_weight = sample_weight
        try:
            return super().fit(X, y, sample_weight, validation_data=validation_data)
        finally:
            del self._fit_sample_weight

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights.

        The scaling statistics come from the first call.

        Returns
        -------
        self
        """
        self._fit_sample_weight = sample_weight
        try:
            return super().partial_fit(X, y, sample_weight)
        finally:
            del self._fit_sample_weight

    # ------------------------------------------------------------ prediction
    def predict(self, X):
        """Forecast the ``horizon_`` values after each window, in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, T) or (n_samples, T, F)

        Returns
        -------
        ndarray of shape (n_samples,) when ``horizon_`` is 1, else (n_samples, horizon_)
        """
        out = self._forward(X)
        out = out[:, -self.horizon_:] * self._target_scale + self._target_mean
        return out.ravel() if self.horizon_ == 1 else out

    def forecast(self, history, steps=None):
        """Forecast the ``steps`` values that follow ``history``.

        The last ``T`` observations are the window. Beyond the trained horizon
        the forecast is recursive: forecasts are appended to the window and fed
        back in, which needs a univariate model.

        Parameters
        ----------
        history : array-like or pandas Series / DataFrame
            Univariate model: a 1-D series (a list, array or Series) of at
            least T values, or a 2-D array with one series per row. Multivariate
            model: a time-major ``(length, F)`` array or DataFrame.
        steps : int, default=None
            Values to forecast; ``horizon_`` when None.

        Returns
        -------
        ndarray of shape (steps,) or (n_series, steps), or pandas Series
            A Series when ``history`` is one: indexed by the timestamps that
            follow it when its index is a DatetimeIndex, else by the positions
            after it.
        """
        check_is_fitted(self)
        steps = self.horizon_ if steps is None else steps
        check_int("steps", steps, 1)
        window_steps, features = self.sequence_shape_
        values = np.asarray(to_host(history), dtype=np.float64)
        if features > 1:
            if values.ndim != 2 or values.shape[1] != features:
                raise ValueError(
                    f"history must be a time-major array of shape (length, {features}); "
                    f"got shape {values.shape}."
                )
            if steps > self.horizon_:
                raise ValueError(
                    f"steps={steps} exceeds the trained horizon {self.horizon_}; recursive "
                    "forecasts need a univariate model (the other features are not forecast)."
                )
            windows = values[None, :, :]
        elif values.ndim in (1, 2):
            windows = values.reshape(-1, values.shape[-1]) if values.ndim == 2 else values[None]
        else:
            raise ValueError(f"history must be 1-D or 2-D; got shape {values.shape}.")
        length = windows.shape[1]
        if length < window_steps:
            raise ValueError(
                f"history has {length} steps but the model reads windows of {window_steps}."
            )
        windows = windows[:, -window_steps:]
        forecasts = []
        produced = 0
        while produced < steps:
            predicted = self.predict(windows).reshape(len(windows), -1)
            forecasts.append(predicted)
            produced += predicted.shape[1]
            if produced < steps:  # only univariate models get here
                windows = np.concatenate([windows, predicted], axis=1)[:, -window_steps:]
        result = np.concatenate(forecasts, axis=1)[:, :steps]
        if values.ndim == 1 or features > 1:
            result = result[0]
        if isinstance(history, pd.Series):
            return pd.Series(result, index=_following_index(history.index, steps),
                             name=history.name)
        return result


class _LastForecastScore(RegressionLoss):
    """Sequence-to-sequence objective: loss on every step's forecasts, score on the last's.

    Early stopping then keeps the weights that forecast best after the whole
    window, which is what ``predict`` returns.
    """

    def __init__(self, loss: str, horizon: int) -> None:
        super().__init__(loss)
        self.horizon = horizon

    def score(self, raw, y, weight=None):
        return super().score(raw[:, -self.horizon:], y[:, -self.horizon:], weight)


def _weighted_moments(values: np.ndarray, weight: np.ndarray):
    """Column means and standard deviations; constant columns get a scale of one."""
    mean = np.average(values, axis=0, weights=weight)
    std = np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weight))
    return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)


def _following_index(index: pd.Index, steps: int) -> pd.Index:
    """The ``steps`` index labels after ``index``: timestamps or positions."""
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 2:
        freq = index.freq
        if freq is None and len(index) >= 3:
            freq = pd.DatetimeIndex(index, freq="infer").freq
        if freq is not None:
            return pd.date_range(index[-1], periods=steps + 1, freq=freq)[1:]
        return pd.DatetimeIndex(index[-1] + (index[-1] - index[-2]) * np.arange(1, steps + 1))
    if pd.api.types.is_integer_dtype(index) and len(index) >= 1:
        step = index[-1] - index[-2] if len(index) >= 2 else 1
        return pd.Index(index[-1] + step * np.arange(1, steps + 1))
    return pd.RangeIndex(len(index), len(index) + steps)


class RNNClassifier(_RecurrentMixin, NeuralClassifier):
    __doc__ = f"""Recurrent network classifying whole sequences (sequence-to-vector).

    ``X`` holds sequences of shape ``(n, T)`` (univariate) or ``(n, T, F)``;
    labels, probabilities, ``class_weight``, multilabel targets and
    ``partial_fit`` behave as in :class:`~sklnn.MLPClassifierGPU`. The class
    is read from the last layer's state after the last step (after both ends
    with ``bidirectional=True``). Inputs are not rescaled: standardise the
    features beforehand.

    Sequences of different lengths are padded at the end to a common length
    T with ``padding_value``. Each row's length is the number of steps before
    its trailing run of all-padding steps; the network packs the sequences so
    padded steps never enter the computation, and a padded sequence is
    classified exactly as the same sequence without padding. The lengths are
    derived from the data, so ``fit``, ``predict`` and cross-validation need no
    extra argument. Use a value that cannot occur in the data, or ``np.nan``.

    Parameters
    ----------{_RECURRENT_PARAMS_DOC}
    bidirectional : bool, default=False
        Also read each sequence backwards and join both final states.
    padding_value : float or None, default=None
        Marks trailing padding steps; None means every sequence has T steps.{_ENGINE_PARAMS_DOC}
    class_weight : dict, "balanced" or None, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,){_ATTRIBUTES_DOC}

    Examples
    --------
    >>> import numpy as np
    >>> from sklnn import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 12))
    >>> y = (X[:, :6].sum(axis=1) > X[:, 6:].sum(axis=1)).astype(int)  # rising or falling?
    >>> clf = RNNClassifier(cell="gru", hidden_size=16, num_layers=1, max_iter=60,
    ...                     learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(
        self,
        *,
        cell="lstm",
        hidden_size=20,
        num_layers=2,
        dropout=0.0,
        bidirectional=False,
        padding_value=None,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="auto",
        callbacks=None,
        class_weight=None,
        compile=False,
        precision="auto",
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.padding_value = padding_value
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.compile = compile
        self.precision = precision

    @property
    def _padding_value(self):
        try:
            return None if self.padding_value is None else float(self.padding_value)
        except (TypeError, ValueError):  # reported by _check_params at fit
            return None

    def _check_params(self):
        super()._check_params()
        padding = self.padding_value
        if padding is not None and not (
            isinstance(padding, numbers.Real) and not isinstance(padding, bool)
        ):
            raise ValueError(f"padding_value must be a real number or None; got {padding!r}.")

    def _validate_X(self, X, *, reset):
        return self._validated_rows(X, reset)

    def _validate_X_y(self, X, y, *, reset, y_numeric):
        return self._validated_rows_and_targets(X, y, reset, y_numeric)

    def _build_module(self, n_features, n_outputs):
        return self._network(n_outputs)
