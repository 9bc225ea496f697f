"""Per-window transforms of the forecaster: differencing and instance normalisation.

A window and the values that follow it are mapped to "model units" before the
network sees them and mapped back after it predicts:

0. a seasonal base (``season_length=s``): the targets become their deviations
   from the window's seasonal-naive forecast (each value repeats the value one
   season before it, the last observed season repeated over the horizon), so
   a network that predicts no deviation forecasts seasonal naive; the steps
   below then apply to the deviations, whose "last observed value" is 0;
1. differencing (``differencing=1``): each step becomes its change from the
   step before (the window's first step becomes 0); the targets become changes
   too, the first one measured from the window's last observed value;
2. instance normalisation (``instance_norm=True``): each feature of each window
   has its own mean and standard deviation over the window's steps subtracted
   and divided out (after differencing, over the steps that have a change);
   the targets use the statistics of the forecast feature (``target_feature``).
   This is the per-window scaling of RevIN (Kim et al., ICLR 2022) and of
   DeepAR's mean scaling, in its standardising form.

Both are affine in the targets given the window, so the inverse is exact up to
floating-point rounding: scale, shift, then a cumulative sum from the last
observed value. Quantile forecasts stay ordered through the inverse (a positive
scale and a cumulative sum of ordered values keep their order).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from sklnn.engine.objectives import RegressionLoss


@dataclasses.dataclass(frozen=True)
class WindowContext:
    """What the inverse needs from each raw window: the forecast feature's last value,
    and the mean and scale its targets were normalised by."""

    anchor: np.ndarray  # (n,)
    mean: np.ndarray  # (n,)
    scale: np.ndarray  # (n,)
    differencing: int
    last_season: np.ndarray | None = None  # (n, season_length): the seasonal base

    def _base(self, horizon: int) -> np.ndarray | float:
        """The seasonal-naive forecast of each window over ``horizon`` steps (or 0)."""
        if self.last_season is None:
            return 0.0
        repeats = -(-horizon // self.last_season.shape[1])
        return np.tile(self.last_season, (1, repeats))[:, :horizon]

    def targets_to_model(self, y: np.ndarray) -> np.ndarray:
        """``y`` of shape (n, horizon) in the series' units to model units."""
        y = np.asarray(y, dtype=np.float64) - self._base(np.shape(y)[1])
        if self.differencing:
            y = np.diff(y, axis=1, prepend=self.anchor[:, None])
        return (y - self.mean[:, None]) / self.scale[:, None]

    def targets_from_model(self, z: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`targets_to_model`; ``z`` is (n, horizon) or
        (n, horizon, n_quantiles)."""
        z = np.asarray(z, dtype=np.float64)
        extra = (None,) * (z.ndim - 1)
        y = z * self.scale[(slice(None), *extra)] + self.mean[(slice(None), *extra)]
        if self.differencing:
            y = np.cumsum(y, axis=1) + self.anchor[(slice(None), *extra)]
        base = self._base(z.shape[1])
        return y + (base[(..., *extra[1:])] if np.ndim(base) else base)


#: no transform: for rows already in model units
IDENTITY = WindowContext(np.zeros(1), np.zeros(1), np.ones(1), 0)


def windows_to_model(sequences: np.ndarray, *, differencing: int, instance_norm: bool,
                     target_feature: int, season_length: int | None = None):
    """Raw windows (n, T, F) to model units, and the context that inverts their targets."""
    values = np.asarray(sequences, dtype=np.float64)
    n, steps, features = values.shape
    target = min(target_feature, features - 1)
    last_season = None
    if season_length is not None:
        if season_length > steps:
            raise ValueError(
                f"season_length={season_length} needs windows of at least that many steps; "
                f"these have {steps}. Build longer windows (make_windows' lookback) or set "
                "a shorter season_length."
            )
        last_season = values[:, steps - season_length:, target].copy()
    # the deviations from the seasonal base start from 0, not from the last value
    anchor = values[:, -1, target].copy() if last_season is None else np.zeros(n)
    if differencing:
        values = np.diff(values, axis=1, prepend=values[:, :1])
    observed = values[:, differencing:] if steps > differencing else values
    if instance_norm:
        mean = observed.mean(axis=1)
        std = observed.std(axis=1)
        # a constant window keeps its scale: dividing by ~0 would blow up its noise
        scale = np.where(std > 1e-8 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    else:
        mean, scale = np.zeros((n, features)), np.ones((n, features))
    transformed = (values - mean[:, None, :]) / scale[:, None, :]
    if not (np.isfinite(transformed).all() and np.isfinite(scale).all()):
        raise ValueError(
            "X holds values too large to standardise (a window's changes, mean or standard "
            "deviation overflow float64). Rescale them first, e.g. divide by a power of ten, "
            "or remove the outliers."
        )
    if differencing:
        transformed[:, :differencing] = 0.0  # no change is known before the first step
    target_mean, target_scale = mean[:, target], scale[:, target]
    if last_season is not None:
        # deviations from seasonal naive are not centred (no deviation stays seasonal
        # naive), only scaled, by the spread of the window's own seasonal changes
        target_mean = np.zeros(n)
        if instance_norm:
            raw = np.asarray(sequences, dtype=np.float64)[:, :, target]
            changes = raw[:, season_length:] - raw[:, :-season_length]
            spread = changes.std(axis=1) if changes.shape[1] > 1 else np.zeros(n)
            target_scale = np.where(spread > 1e-8 * np.maximum(1.0, np.abs(raw).mean(axis=1)),
                                    spread, 1.0)
    context = WindowContext(anchor, target_mean, target_scale, differencing, last_season)
    return transformed, context


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


def _check_quantiles(value):
    levels = np.asarray(value, dtype=np.float64).ravel() if np.ndim(value) else np.array([])
    if (len(levels) == 0 or not np.all((levels > 0) & (levels < 1))
            or not np.all(np.diff(levels) > 0)):
        raise ValueError(f"quantiles must be increasing levels in (0, 1), e.g. (0.1, 0.5, 0.9); "
                         f"got {value!r}.")


def history_windows(values: np.ndarray, window_steps: int, features: int, steps: int,
                    horizon: int) -> np.ndarray:
    """The windows ``forecast`` starts from: one per series of ``values``, 2-D for a
    univariate model, (1, length, F) for a multivariate one."""
    if features > 1:
        if values.ndim != 2 or values.shape[1] != features:
            raise ValueError(
                f"history must be a time-major array of shape (length, {features}); "
                f"got shape {values.shape}."
            )
        if steps > horizon:
            raise ValueError(
                f"steps={steps} exceeds the trained horizon {horizon}; recursive "
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
    return windows


def recursive_forecasts(predict, windows: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` values after each window: ``predict``'s horizon, then its forecasts
    appended to the window and fed back in (only univariate models need more than one
    call). Returns shape (n_windows, steps)."""
    window_steps = windows.shape[1]
    forecasts, produced = [], 0
    while produced < steps:
        predicted = predict(windows).reshape(len(windows), -1)
        forecasts.append(predicted)
        produced += predicted.shape[1]
        if produced < steps:
            windows = np.concatenate([windows, predicted], axis=1)[:, -window_steps:]
    return np.concatenate(forecasts, axis=1)[:, :steps]
