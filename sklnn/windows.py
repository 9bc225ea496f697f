"""Sliding windows over time series: inputs and the values that follow them."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


def make_windows(series, lookback, horizon=1, *, target=None):
    """Cut a time series into overlapping windows and the values that follow each.

    Window ``i`` holds steps ``i .. i + lookback - 1``; its target holds steps
    ``i + lookback .. i + lookback + horizon - 1``. Every step of the series
    is used; the windows are copies, so they can be modified freely.

    Parameters
    ----------
    series : array-like of shape (n_steps,) or (n_steps, n_features), Series or DataFrame
        One series, time-major: rows are time steps, columns features.
    lookback : int
        Steps per window (T).
    horizon : int, default=1
        Values to forecast after each window.
    target : int, str or None, default=None
        Column the targets come from for a 2-D series (a position, or a name
        for a DataFrame). None takes every column.

    Returns
    -------
    X : ndarray of shape (n_windows, lookback) or (n_windows, lookback, n_features)
        ``n_windows = n_steps - lookback - horizon + 1``. 1-D series give 2-D
        windows, which :class:`~sklnn.RNNForecaster` reads as univariate.
    y : ndarray
        Of shape (n_windows,) when ``horizon`` is 1, else (n_windows, horizon),
        for a 1-D series or a single ``target`` column; with ``target=None`` on
        a 2-D series, (n_windows, horizon, n_features).

    Examples
    --------
    >>> import numpy as np
    >>> from sklnn import make_windows
    >>> X, y = make_windows(np.arange(6.0), lookback=3, horizon=2)
    >>> X
    array([[0., 1., 2.],
           [1., 2., 3.]])
    >>> y
    array([[3., 4.],
           [4., 5.]])
    """
    for name, value in (("lookback", lookback), ("horizon", horizon)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    columns = series.columns if isinstance(series, pd.DataFrame) else None
    values = np.asarray(series)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"series must be 1-D or 2-D (time-major: steps by features); got shape {values.shape}."
        )
    if values.dtype.kind not in "biuf":
        values = values.astype(np.float64)
    n_steps = values.shape[0]
    n_windows = n_steps - lookback - horizon + 1
    if n_windows < 1:
        raise ValueError(
            f"A series of {n_steps} steps is too short for lookback={lookback} and "
            f"horizon={horizon}: it needs at least {lookback + horizon} steps."
        )
    # windows over time; the window axis comes last in sliding_window_view
    spans = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon, axis=0)
    spans = np.moveaxis(spans, -1, 1)  # (n_windows, lookback + horizon[, n_features])
    X = spans[:, :lookback].copy()
    y = spans[:, lookback:]
    if values.ndim == 2 and target is not None:
        y = y[:, :, _column_position(target, columns, values.shape[1])]
    y = y.copy()
    if y.ndim == 2 and horizon == 1:
        y = y[:, 0]
    return X, y


def _column_position(target, columns, n_columns) -> int:
    if columns is not None and not isinstance(target, numbers.Integral):
        if target not in columns:
            raise ValueError(f"target={target!r} is not a column of the DataFrame.")
        return int(columns.get_loc(target))
    if not isinstance(target, numbers.Integral) or not -n_columns <= target < n_columns:
        raise ValueError(f"target must be a column position below {n_columns}; got {target!r}.")
    return int(target)
