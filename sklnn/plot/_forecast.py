"""A forecast against the truth, after the history it was made from."""

from __future__ import annotations

import numpy as np

from sklnn.plot._base import axes_or_new, check_fitted


class ForecastDisplay:
    """The history of a series, the forecast that follows it and, when known, the truth.

    Parameters
    ----------
    history_index, history : array-like of shape (n_history,)
        Positions (or timestamps) and values of the observed series.
    forecast_index, forecast : array-like of shape (n_steps,)
        Positions and values of the forecast.
    y_true : array-like of shape (n_steps,), default=None
        What the series did over the forecast's positions.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    history_line_, forecast_line_ : matplotlib Line2D
    truth_line_ : matplotlib Line2D or None
        None without ``y_true``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklnn.plot import ForecastDisplay
    >>> disp = ForecastDisplay([0, 1, 2], [1.0, 2.0, 3.0], [3, 4], [3.9, 5.2],
    ...                        y_true=[4.0, 5.0]).plot()
    >>> disp.forecast_line_.get_xydata().tolist()
    [[3.0, 3.9], [4.0, 5.2]]

    ``ForecastDisplay.from_estimator(forecaster, series[:-10], y_true=series[-10:])``
    forecasts with a fitted :class:`~sklnn.RNNForecaster` and draws the result.
    """

    def __init__(self, history_index, history, forecast_index, forecast, *, y_true=None,
                 estimator_name=None):
        self.history_index = history_index
        self.history = history
        self.forecast_index = forecast_index
        self.forecast = forecast
        self.y_true = y_true
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, history, y_true=None, *, steps=None, ax=None):
        """Forecast after ``history`` with ``estimator.forecast`` and draw it.

        Parameters
        ----------
        estimator : fitted RNNForecaster (or any fitted estimator with ``forecast``)
        history : 1-D array-like or pandas Series
            The observed series; a Series' index gives the x axis (the forecast
            continues it), otherwise positions 0, 1, ... do.
        y_true : 1-D array-like, default=None
            The values that followed ``history``; ``steps`` defaults to their number.
        steps : int, default=None
            Values to forecast: ``len(y_true)``, else the model's ``horizon_``.
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : ForecastDisplay
        """
        check_fitted(estimator, "ForecastDisplay")
        values = np.asarray(history, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(
                f"ForecastDisplay draws one univariate series; history has shape "
                f"{values.shape}. Pass a 1-D array or a pandas Series."
            )
        if y_true is not None:
            y_true = np.asarray(y_true, dtype=np.float64).ravel()
            if steps is None:
                steps = len(y_true)
            elif steps != len(y_true):
                raise ValueError(f"steps={steps} but y_true holds {len(y_true)} values; "
                                 "they must agree.")
        forecast = estimator.forecast(history, steps)
        index = getattr(history, "index", None)
        if index is not None and getattr(forecast, "index", None) is not None:
            history_index, forecast_index = np.asarray(index), np.asarray(forecast.index)
        else:
            history_index = np.arange(len(values))
            forecast_index = np.arange(len(values), len(values) + len(np.ravel(forecast)))
        return cls(history_index, values, forecast_index, np.asarray(forecast).ravel(),
                   y_true=y_true, estimator_name=type(estimator).__name__).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the history, the forecast and the truth.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : ForecastDisplay
            ``self``, with ``ax_``, ``figure_`` and the lines set.
        """
        self.figure_, self.ax_ = axes_or_new(ax)
        (self.history_line_,) = self.ax_.plot(self.history_index, self.history, color="C0",
                                              label="history")
        self.truth_line_ = None
        if self.y_true is not None:
            (self.truth_line_,) = self.ax_.plot(self.forecast_index, self.y_true, color="C0",
                                                alpha=0.5, label="truth")
        (self.forecast_line_,) = self.ax_.plot(self.forecast_index, self.forecast, "--",
                                               color="C1", label="forecast")
        self.ax_.legend(loc="best")
        if self.estimator_name:
            self.ax_.set_title(self.estimator_name)
        return self
