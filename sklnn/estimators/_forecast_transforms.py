"""Per-window transforms of the forecaster: differencing and instance normalisation.

A window and the values that follow it are mapped to "model units" before the
network sees them and mapped back after it predicts:

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


@dataclasses.dataclass(frozen=True)
class WindowContext:
    """What the inverse needs from each raw window: the forecast feature's last value,
    and the mean and scale its targets were normalised by."""

    anchor: np.ndarray  # (n,)
    mean: np.ndarray  # (n,)
    scale: np.ndarray  # (n,)
    differencing: int

    def targets_to_model(self, y: np.ndarray) -> np.ndarray:
        """``y`` of shape (n, horizon) in the series' units to model units."""
        y = np.asarray(y, dtype=np.float64)
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
        return y


def windows_to_model(sequences: np.ndarray, *, differencing: int, instance_norm: bool,
                     target_feature: int):
    """Raw windows (n, T, F) to model units, and the context that inverts their targets."""
    values = np.asarray(sequences, dtype=np.float64)
    n, steps, features = values.shape
    target = min(target_feature, features - 1)
    anchor = values[:, -1, target].copy()
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
    if differencing:
        transformed[:, :differencing] = 0.0  # no change is known before the first step
    context = WindowContext(anchor, mean[:, target], scale[:, target], differencing)
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


