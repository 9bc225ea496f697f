"""SeasonalNaive: the forecast that repeats the last season, as an estimator."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from sklnn._sklearn_private import Interval, _fit_context
from sklnn.estimators._export import ExportableModel
from sklnn.estimators._forecast_transforms import _following_index
from sklnn.estimators._sequences import _SequenceInput
from sklnn.modules.inference import SeasonalRepeat
from sklnn.validation import check_int, check_sample_weight, to_host


class SeasonalNaive(ExportableModel, _SequenceInput, RegressorMixin, BaseEstimator):
    """Forecast each value as the one a season earlier: the baseline to beat.

    The ``h``-th value after a window is the window's value ``season_length``
    steps before it (repeating the last season as often as needed). It takes
    the same windows, targets and ``forecast`` call as
    :class:`~sklnn.RNNForecaster`, so a comparison is one line. Nothing is
    learnt: ``fit`` only records the shapes.

    Parameters
    ----------
    season_length : int, default=1
        Steps per season (12 for monthly data with a yearly pattern); 1 is the
        naive "last value" forecast. Windows need at least this many steps.
    target_feature : int, default=0
        The feature repeated, for windows of shape (n, T, F).

    Attributes
    ----------
    horizon_ : int
        Values forecast per window (columns of ``y``).
    sequence_shape_ : tuple of int
        ``(T, F)``: steps and features per window seen in ``fit``.
    n_features_in_ : int
        ``T * F``.

    See Also
    --------
    RNNForecaster : a recurrent network forecasting windows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklnn import SeasonalNaive, make_windows
    >>> series = np.tile([1.0, 5.0, 3.0, 2.0], 6) + np.arange(24)
    >>> X, y = make_windows(series, lookback=8, horizon=4)
    >>> model = SeasonalNaive(season_length=4).fit(X, y)
    >>> model.forecast(series, steps=6)
    array([21., 26., 25., 25., 21., 26.])
    """

    _parameter_constraints = {
        "season_length": [Interval(Integral, 1, None, closed="left")],
        "target_feature": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, season_length=1, *, target_feature=0):
        self.season_length = season_length
        self.target_feature = target_feature

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Record the window shape and the horizon (the columns of ``y``).

        Parameters
        ----------
        X : array-like of shape (n_samples, T) or (n_samples, T, F)
        y : array-like of shape (n_samples,) or (n_samples, horizon)
        sample_weight : array-like of shape (n_samples,), default=None
            Checked, then unused: nothing is learnt.

        Returns
        -------
        self
        """
        rows, y = self._validated_rows_and_targets(X, y, True, True)
        sample_weight = check_sample_weight(sample_weight, rows)
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError("sample_weight is zero everywhere; give some window a positive "
                             "weight.")
        steps, features = self.sequence_shape_
        if self.season_length > steps:
            raise ValueError(f"season_length={self.season_length} is longer than the "
                             f"{steps}-step windows; use windows of at least one season.")
        if self.target_feature >= features:
            raise ValueError(f"target_feature={self.target_feature} but the windows have "
                             f"{features} feature(s).")
        self.horizon_ = 1 if y.ndim == 1 else int(y.shape[1])
        return self

    def predict(self, X):
        """The ``horizon_`` values after each window, repeated from its last season.

        Parameters
        ----------
        X : array-like of shape (n_samples, T) or (n_samples, T, F)

        Returns
        -------
        ndarray of shape (n_samples,) when ``horizon_`` is 1, else (n_samples, `horizon_`)
        """
        check_is_fitted(self)
        rows = self._validated_rows(X, False)
        steps, features = self.sequence_shape_
        series = np.asarray(rows, dtype=np.float64).reshape(len(rows), steps, features)
        season = series[:, steps - self.season_length:, self.target_feature]
        out = season[:, np.arange(self.horizon_) % self.season_length]
        return out.ravel() if self.horizon_ == 1 else out

    def inference_module(self):
        """``predict`` as a torch module of flat windows (``SeasonalRepeat``), for
        ``sklnn.to_onnx`` and ``export``."""
        check_is_fitted(self)
        steps, features = self.sequence_shape_
        return SeasonalRepeat(steps=steps, features=features,
                              season_length=self.season_length,
                              target_feature=self.target_feature, horizon=self.horizon_).eval()

    def forecast(self, history, steps=None):
        """The ``steps`` values after ``history``: its last season, repeated.

        Parameters
        ----------
        history : array-like or pandas Series
            A 1-D series, a 2-D array with one series per row, or (for windows
            with F features) a time-major ``(length, F)`` array.
        steps : int, default=None
            Values to forecast; ``horizon_`` when None.

        Returns
        -------
        ndarray of shape (steps,) or (n_series, steps), or pandas Series
        """
        check_is_fitted(self)
        steps = self.horizon_ if steps is None else steps
        check_int("steps", steps, 1)
        values = np.asarray(to_host(history), dtype=np.float64)
        features = self.sequence_shape_[1]
        if features > 1:
            if values.ndim != 2 or values.shape[1] != features:
                raise ValueError(f"history must be a time-major array of shape (length, "
                                 f"{features}); got shape {values.shape}.")
            values = values[:, self.target_feature]
        if values.ndim not in (1, 2):
            raise ValueError(f"history must be 1-D or 2-D; got shape {values.shape}.")
        if values.shape[-1] < self.season_length:
            raise ValueError(f"history has {values.shape[-1]} steps; season_length="
                             f"{self.season_length} needs at least that many.")
        season = values[..., values.shape[-1] - self.season_length:]
        result = season[..., np.arange(steps) % self.season_length]
        if isinstance(history, pd.Series):
            return pd.Series(result, index=_following_index(history.index, steps),
                             name=history.name)
        return result

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # it repeats X, whatever y is
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


def network_beats_seasonal_naive(forecaster, X, y, sample_weight) -> bool:
    """With a seasonal base, whether ``forecaster``'s network, trained on the earlier
    windows, forecasts the last tenth better (mean absolute error) than seasonal naive:
    ``RNNForecaster.fit`` falls back to this baseline otherwise.

    The training windows end ``horizon`` windows before the held-out ones, so that
    none of their targets falls in the held-out period. On a short or irregular
    series the network's deviations from the seasonal base may not carry over to
    new periods (docs/sequences.md: Lynx); the forecast is then seasonal naive.
    """
    if (forecaster.season_length is None or forecaster.loss == "quantile"
            or forecaster.warm_start or vars(forecaster).get("_probe", False)
            or isinstance(X, pd.DataFrame)):
        return True
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if X.ndim not in (2, 3) or len(X) != len(y):
        return True  # left to fit's own checks
    horizon = 1 if y.ndim == 1 else y.shape[1]
    held_out = max(1, len(X) // 10)
    n_train = len(X) - held_out - horizon + 1
    if n_train < max(10, 2 * held_out) or forecaster.season_length > X.shape[1]:
        return True  # too short to hold a period out
    probe = clone(forecaster)
    probe._probe = True
    weight = None if sample_weight is None else np.asarray(sample_weight)[:n_train]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(X[:n_train], y[:n_train], weight)
    actual = y[-held_out:].reshape(held_out, -1)
    network = probe.predict(X[-held_out:]).reshape(held_out, -1)
    probe.uses_network_ = False
    naive = probe.predict(X[-held_out:]).reshape(held_out, -1)
    return bool(np.mean(np.abs(network - actual)) < np.mean(np.abs(naive - actual)))
