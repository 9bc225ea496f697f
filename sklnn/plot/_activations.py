"""Layers' input statistics over training, from :class:`~sklnn.callbacks.ActivationStatistics`."""

from __future__ import annotations

import numpy as np

from sklnn.plot._base import check_fitted, pyplot


class ActivationStatisticsDisplay:
    """The mean and standard deviation of each watched layer's input over training.

    Draws what :class:`~sklnn.callbacks.ActivationStatistics` recorded in
    ``history_``: one line per layer, the mean on ``ax_[0]`` and the standard
    deviation on ``ax_[1]``, against the epoch (fractional when the callback
    recorded every k-th batch). Without batch normalisation the deeper layers'
    lines drift while the network learns: internal covariate shift.

    Parameters
    ----------
    steps : dict of str to list of float
        The x positions of each layer's points (epochs).
    means, stds : dict of str to list of float
        Each layer's recorded means and standard deviations.
    title : str, default=None

    Attributes
    ----------
    ax_ : ndarray of two matplotlib Axes
        The means' and the standard deviations' axes.
    figure_ : matplotlib Figure
    lines_ : dict of str to (Line2D, Line2D)
        Each layer's mean and standard-deviation lines.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklnn.plot import ActivationStatisticsDisplay
    >>> history = [
    ...     {"epoch": 1, "activations": {"dense": {"mean": 0.1, "std": 1.0}}},
    ...     {"epoch": 2, "activations": {"dense": {"mean": 0.3, "std": 1.4}}}]
    >>> disp = ActivationStatisticsDisplay.from_history(history)
    >>> disp.lines_["dense"][1].get_ydata().tolist()
    [1.0, 1.4]
    """

    def __init__(self, steps, means, stds, *, title=None):
        self.steps = steps
        self.means = means
        self.stds = stds
        self.title = title

    @classmethod
    def from_history(cls, history, *, layers=None, title=None, ax=None):
        """Plot the ``"activations"`` entries of a ``history_``.

        Parameters
        ----------
        history : list of dict
            ``estimator.history_`` of a fit with an ``ActivationStatistics`` callback.
        layers : list of str, default=None
            The layers to draw; None draws every recorded one.
        title : str, default=None
        ax : pair of matplotlib Axes, default=None
            Where to draw the means and the standard deviations; a new figure when None.

        Returns
        -------
        display : ActivationStatisticsDisplay
        """
        records = [r for r in history if r.get("activations")]
        if not records:
            raise ValueError("history has no 'activations' entries: fit with "
                             "callbacks=[sklnn.callbacks.ActivationStatistics()] first.")
        recorded = list(dict.fromkeys(name for r in records for name in r["activations"]))
        layers = recorded if layers is None else list(layers)
        unknown = [name for name in layers if name not in recorded]
        if unknown:
            raise ValueError(f"no statistics were recorded for layer {unknown[0]!r}; the "
                             f"recorded layers are {recorded}.")
        steps, means, stds = ({name: [] for name in layers} for _ in range(3))
        for record in records:
            batches = record.get("activations_batches")
            for name in layers:
                entry = record["activations"].get(name)
                if entry is None:
                    continue
                mean, std = np.atleast_1d(entry["mean"]), np.atleast_1d(entry["std"])
                steps[name].extend(_positions(record["epoch"], batches, len(mean)))
                means[name].extend(mean.tolist())
                stds[name].extend(std.tolist())
        return cls(steps, means, stds, title=title).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, layers=None, ax=None):
        """Plot a fitted estimator's recorded statistics (see :meth:`from_history`)."""
        check_fitted(estimator, "ActivationStatisticsDisplay")
        return cls.from_history(estimator.history_, layers=layers,
                                title=type(estimator).__name__, ax=ax)

    def plot(self, ax=None):
        """Draw the lines.

        Parameters
        ----------
        ax : pair of matplotlib Axes, default=None

        Returns
        -------
        display : ActivationStatisticsDisplay
        """
        if ax is None:
            _, ax = pyplot().subplots(1, 2, figsize=(10, 4))
        self.ax_ = np.asarray(ax).ravel()
        if len(self.ax_) != 2:
            raise ValueError(f"ActivationStatisticsDisplay draws on two Axes (means, "
                             f"standard deviations); got {len(self.ax_)}.")
        self.figure_ = self.ax_[0].figure
        self.lines_ = {}
        for index, name in enumerate(self.means):
            colour = f"C{index % 10}"
            (mean_line,) = self.ax_[0].plot(self.steps[name], self.means[name], color=colour,
                                            label=name)
            (std_line,) = self.ax_[1].plot(self.steps[name], self.stds[name], color=colour,
                                           label=name)
            self.lines_[name] = (mean_line, std_line)
        self.ax_[0].set(xlabel="epoch", ylabel="mean of the layer's input")
        self.ax_[1].set(xlabel="epoch", ylabel="standard deviation of the layer's input")
        self.ax_[1].legend(loc="best", fontsize="small")
        if self.title:
            self.figure_.suptitle(self.title)
        return self


def _positions(epoch, batches, n_points):
    """x positions: the epoch, or fractions of it for points recorded every k batches."""
    if not batches or n_points != len(batches):
        return [float(epoch)] * n_points if n_points == 1 else list(
            np.linspace(epoch - 1, epoch, n_points, endpoint=False) + 1.0 / n_points)
    span = batches[-1] + (batches[1] - batches[0] if len(batches) > 1 else 1)
    return [epoch - 1 + (b + 1) / span for b in batches]
