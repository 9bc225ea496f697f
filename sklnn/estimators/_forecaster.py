"""RNNForecaster: a recurrent network forecasting the values that follow a window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from sklnn.engine.objectives import QuantileLoss
from sklnn.estimators._baselines import network_beats_seasonal_naive
from sklnn.estimators._forecast_params import FORECASTER_PARAMS
from sklnn.estimators._forecast_transforms import (
    IDENTITY,
    _following_index,
    _LastForecastScore,
    _weighted_moments,
    history_windows,
    recursive_forecasts,
    windows_to_model,
)
from sklnn.estimators._recurrent import _RecurrentMixin
from sklnn.estimators._tasks import NeuralRegressor
from sklnn.modules.inference import SeasonalRepeat, WindowForecaster
from sklnn.validation import check_int, check_sample_weight, to_host


class RNNForecaster(_RecurrentMixin, NeuralRegressor):
    """Recurrent network forecasting the next value(s) of a time series from a window.

    ``fit(X, y)`` takes windows ``X`` of shape ``(n, T)`` (univariate) or
    ``(n, T, F)`` (F features per step) and targets ``y`` of shape ``(n,)``
    (the next value) or ``(n, horizon)`` (the next ``horizon`` values), as
    :func:`sklnn.make_windows` builds them. It is a regressor like any other:
    ``score``, ``GridSearchCV`` and ``TimeSeriesSplit`` work as usual.

    Each window and its targets are first differenced (``differencing=1``)
    and standardised by the window's own statistics (``instance_norm=True``),
    so a trending or rescaled series looks to the network like the series it
    was trained on. With ``season_length``, the targets are first taken as
    deviations from the window's seasonal-naive forecast, so that predicting
    no deviation forecasts seasonal naive. Then inputs and targets are
    standardised globally (``scale=True``): each input feature by its mean and standard deviation
    over all windows and steps, the targets by their overall mean and standard
    deviation. Predictions are mapped back to the original units through the
    same steps, exactly. The loss and ``loss_curve_`` are in the model's units.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: horizon_ sequence_shape_ uses_network_ COMMON>>

    See Also
    --------
    sklnn.make_windows : windows and targets from a series.
    RNNClassifier : sequence classification.

    Notes
    -----
    scikit-learn's generic checks fit regressors on rows of unrelated features. With
    ``differencing=1`` or ``instance_norm=True`` (the defaults) a row is read as a
    window of a series whose change and scale are taken out, which such rows are not,
    so the R^2 of 0.5 that ``check_regressors_train`` asks for is not reached: the
    estimator then sets scikit-learn's ``poor_score`` tag. With ``differencing=0,
    instance_norm=False`` rows are read as levels and the check passes.

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

    _declared_params = FORECASTER_PARAMS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # rows of unrelated features are not windows of a series (see Notes)
        tags.regressor_tags.poor_score = bool(self.differencing or self.instance_norm)
        return tags

    def __init__(self, *, training_target="last", burn_in=0, target_feature=0, differencing=1,
        instance_norm=True, season_length=None, scale=True, loss="squared_error",
        quantiles=(0.1, 0.5, 0.9), cell="lstm", hidden_size=20, num_layers=2, dropout=0.0,
        bidirectional=False, solver="adam", alpha=0.0001, batch_size="auto",
        learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
        shuffle=True, random_state=None, tol=0.0001, verbose=False, warm_start=False,
        momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10, max_fun=15000,
        device="auto", callbacks=None, compile=False, precision="auto", num_workers=0,
        persistent_workers=False, prefetch_factor=None, pin_memory="auto", n_processes=None):
        self.training_target = training_target
        self.burn_in = burn_in
        self.target_feature = target_feature
        self.differencing = differencing
        self.instance_norm = instance_norm
        self.season_length = season_length
        self.scale = scale
        self.loss = loss
        self.quantiles = quantiles
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
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
        self.num_workers = num_workers
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.n_processes = n_processes

    _accepts_streams = False  # the training targets are built from the input windows
    # the last batch of windows' inverse transforms: working state, never fitted state
    _fit_only_attributes = NeuralRegressor._fit_only_attributes | {"_window_context"}

    def _check_params(self):
        super()._check_params()
        if self.loss == "quantile" and self.training_target == "sequence":
            raise ValueError(
                "loss='quantile' needs training_target='last': sequence-to-sequence training "
                "forecasts point values after every step."
            )
        if self.season_length is not None and self.training_target == "sequence":
            raise ValueError(
                "season_length needs training_target='last': the seasonal base is the forecast "
                "after the whole window, not after every step."
            )
        if self.training_target == "sequence" and self.bidirectional:
            raise ValueError(
                "training_target='sequence' needs bidirectional=False: a backward pass would "
                "show every step the values it has to forecast."
            )

    # ------------------------------------------------------------ validation
    def _validate_X(self, X, *, reset):
        rows = self._to_model_units(self._validated_rows(X, reset))
        return self._scale_inputs(rows)

    def _to_model_units(self, rows):
        """Differenced, instance-normalised rows; the inverse's context is kept in
        ``_window_context`` (on the fit's working copy or the prediction's snapshot)."""
        steps, features = self.sequence_shape_
        if self.target_feature >= features:
            raise ValueError(
                f"target_feature={self.target_feature} but the sequences have {features} "
                "feature(s)."
            )
        sequences, self._window_context = windows_to_model(
            np.asarray(rows).reshape(len(rows), steps, features),
            differencing=self.differencing, instance_norm=bool(self.instance_norm),
            target_feature=self.target_feature, season_length=self.season_length)
        return sequences.reshape(len(rows), -1).astype(rows.dtype, copy=False)

    def _validate_X_y(self, X, y, *, reset, y_numeric):
        rows, y = self._validated_rows_and_targets(X, y, reset, y_numeric)
        rows = self._to_model_units(rows)
        y = self._targets_to_model_units(y)
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

    def _targets_to_model_units(self, y):
        y = np.asarray(y, dtype=np.float64)
        converted = self._window_context.targets_to_model(y.reshape(len(y), -1))
        return converted.reshape(y.shape)

    def _check_validation_targets(self, y_val, X_val):
        # X_val has just been through _validate_X, which left its windows' context
        y_val = self._targets_to_model_units(super()._check_validation_targets(y_val, X_val))
        if self._per_step_targets:
            y_val = self._targets_after_every_step(self._unscale_inputs(X_val), y_val)
        return y_val

    def _targets_after_every_step(self, rows, y):
        """The ``horizon`` values after each step from the burn-in on, step-major."""
        steps, features = self.sequence_shape_
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
        for name, values in (("X", (self._input_mean, self._input_scale)),
                             ("y", (self._target_mean, self._target_scale))):
            if not np.isfinite(np.concatenate([np.ravel(v) for v in values])).all():
                raise ValueError(
                    f"{name} holds values too large to standardise (their mean or standard "
                    "deviation overflows float64). Rescale them first, e.g. divide by a "
                    "power of ten, or remove the outliers."
                )

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

    def _decode_targets(self, y_encoded):
        y = np.asarray(y_encoded, dtype=np.float64)[:, -self.horizon_:]
        y = y * self._target_scale + self._target_mean
        return y.ravel() if self.horizon_ == 1 else y

    def _make_objective(self):
        if self.loss == "quantile":
            return QuantileLoss(self.quantiles)
        if vars(self).get("_per_step_targets"):
            return _LastForecastScore(self.loss, self.horizon_)
        return super()._make_objective()

    def _build_module(self, n_features, n_outputs):
        if self._per_step_targets:
            return self._network(self.horizon_, all_steps=True,
                                 first_step=self._first_trained_step)
        if self.loss == "quantile":
            return self._network(n_outputs * len(self.quantiles))
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
        uses_network = network_beats_seasonal_naive(self, X, y, sample_weight)
        super().fit(X, y, sample_weight, validation_data=validation_data)
        self.uses_network_ = uses_network
        return self

    # ------------------------------------------------------------ prediction
    def predict(self, X):
        """Forecast the ``horizon_`` values after each window, in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, T) or (n_samples, T, F)

        Returns
        -------
        ndarray of shape (n_samples,) when ``horizon_`` is 1, else (n_samples, `horizon_`)
        """
        out = self._predict_model_outputs(X)
        if out.ndim == 3:
            out = out[:, :, QuantileLoss(self.quantiles).point]
        return out.ravel() if out.shape[1] == 1 else out

    def predict_quantiles(self, X):
        """Forecast the ``quantiles`` of the ``horizon_`` values after each window.

        Needs ``loss="quantile"``. The quantiles of each value are sorted, so
        they never cross.

        Parameters
        ----------
        X : array-like of shape (n_samples, T) or (n_samples, T, F)

        Returns
        -------
        ndarray of shape (n_samples, `horizon_`, len(quantiles))
            ``[i, h, j]`` is quantile ``quantiles[j]`` of the ``h``-th value after window i.
        """
        check_is_fitted(self)
        if self.loss != "quantile":
            raise ValueError(f"predict_quantiles needs loss='quantile'; this model has "
                             f"loss={self.loss!r}.")
        return self._predict_model_outputs(X)

    def _mid_fit_model(self, module, device, dtype):
        # Callbacks score rows already in model units, whose windows are gone: their
        # forecasts stay in those units, like the targets they are compared with (the
        # engine's validation score is computed there too).
        view = super()._mid_fit_model(module, device, dtype)
        view._window_context = IDENTITY
        return view

    def _predictor(self, network, dtype):
        steps, features = self.sequence_shape_
        if not getattr(self, "uses_network_", True):  # predict's seasonal-naive fallback
            return SeasonalRepeat(steps=steps, features=features,
                                  season_length=self.season_length,
                                  target_feature=self.target_feature, horizon=self.horizon_)
        quantile = self.loss == "quantile"
        return WindowForecaster(
            network, steps=steps, features=features, horizon=self.horizon_,
            target_feature=self.target_feature, differencing=self.differencing,
            instance_norm=bool(self.instance_norm), season_length=self.season_length,
            input_mean=torch.as_tensor(self._input_mean),
            input_scale=torch.as_tensor(self._input_scale), target_mean=self._target_mean,
            target_scale=self._target_scale, n_quantiles=len(self.quantiles) if quantile else 0,
            point=QuantileLoss(self.quantiles).point if quantile else 0, dtype=dtype)

    def _predict_model_outputs(self, X):
        """Forecasts in the series' units: (n, horizon) or (n, horizon, n_quantiles)."""
        model = self._view()  # one snapshot, even while another thread refits
        if not getattr(model, "uses_network_", True):  # no deviation: the seasonal base
            model._validate_X(X, reset=False)
            return model._window_context.targets_from_model(
                np.zeros((model._window_context.anchor.shape[0], model.horizon_)))
        out = model._forward(X).astype(np.float64)
        quantile = model.loss == "quantile"
        if quantile:
            out = out.reshape(len(out), model.horizon_, len(model.quantiles))
        else:
            out = out[:, -model.horizon_:]
        out = out * model._target_scale + model._target_mean
        return model._window_context.targets_from_model(out)

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
        windows = history_windows(values, window_steps, features, steps, self.horizon_)
        result = recursive_forecasts(self.predict, windows[:, -window_steps:], steps)
        if values.ndim == 1 or features > 1:
            result = result[0]
        if isinstance(history, pd.Series):
            return pd.Series(result, index=_following_index(history.index, steps),
                             name=history.name)
        return result
