"""Training curves from ``history_``: the losses and every score recorded per epoch."""

from __future__ import annotations

from sklnn.plot._base import axes_or_new, check_fitted

# the record's bookkeeping columns; any other numeric column is a score (EpochScoring)
_NOT_SCORES = {"epoch", "train_loss", "valid_loss", "lr", "duration"}


class TrainingCurveDisplay:
    """Training and validation loss, and the scores, over the epochs of a fit.

    Named so as not to be confused with scikit-learn's ``LearningCurveDisplay``
    (scores against the training-set size): this one follows a single fit.
    Losses are drawn on ``ax_``, scores (``valid_score`` and the columns
    :class:`~sklnn.callbacks.EpochScoring` adds) on ``score_ax_``, a twin axis
    with its own scale.

    Parameters
    ----------
    epochs : list of int
    losses : dict of str to list of float
        E.g. ``{"train_loss": [...], "valid_loss": [...]}``.
    scores : dict of str to list of float, default=None
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The losses' axes.
    score_ax_ : matplotlib Axes or None
        The scores' axes (None without scores).
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        One line per column drawn, by column name.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklnn.plot import TrainingCurveDisplay
    >>> history = [{"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0, "valid_score": 0.6},
    ...            {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7, "valid_score": 0.8}]
    >>> disp = TrainingCurveDisplay.from_history(history)
    >>> sorted(disp.lines_)
    ['train_loss', 'valid_loss', 'valid_score']
    >>> disp.lines_["valid_score"].get_ydata().tolist()
    [0.6, 0.8]

    ``TrainingCurveDisplay.from_estimator(clf)`` draws a fitted estimator's ``history_``.
    """

    def __init__(self, epochs, losses, scores=None, *, estimator_name=None):
        self.epochs = epochs
        self.losses = losses
        self.scores = scores
        self.estimator_name = estimator_name

    @classmethod
    def from_history(cls, history, *, columns=None, estimator_name=None, ax=None):
        """Plot the columns of a ``history_`` (a list of per-epoch dicts).

        Parameters
        ----------
        history : list of dict
            ``estimator.history_``.
        columns : list of str, default=None
            Columns to draw; None draws ``train_loss``, ``valid_loss`` and every
            score present (columns that are None throughout are left out).
        estimator_name : str, default=None
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        records = list(history)
        if not records:
            raise ValueError("history is empty: the estimator has not trained an epoch.")
        available = [k for k in records[0] if k not in ("epoch", "lr", "duration")]
        if columns is None:
            columns = [k for k in available
                       if any(isinstance(r.get(k), (int, float)) for r in records)]
        unknown = [c for c in columns if c not in records[0]]
        if unknown:
            raise ValueError(f"history has no column {unknown[0]!r}; it has {available}.")
        series = {c: [_number(r.get(c)) for r in records] for c in columns}
        losses = {c: v for c, v in series.items() if c in _NOT_SCORES}
        scores = {c: v for c, v in series.items() if c not in _NOT_SCORES}
        epochs = [r["epoch"] for r in records]
        return cls(epochs, losses, scores or None, estimator_name=estimator_name).plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, columns=None, ax=None):
        """Plot a fitted estimator's ``history_`` (see :meth:`from_history`).

        Parameters
        ----------
        estimator : fitted sklnn estimator
        columns : list of str, default=None
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_fitted(estimator, "TrainingCurveDisplay")
        return cls.from_history(estimator.history_, columns=columns,
                                estimator_name=type(estimator).__name__, ax=ax)

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw the losses; a new figure when None.

        Returns
        -------
        display : TrainingCurveDisplay
            ``self``, with ``ax_``, ``score_ax_``, ``figure_`` and ``lines_`` set.
        """
        self.figure_, self.ax_ = axes_or_new(ax)
        from matplotlib.ticker import MaxNLocator

        self.lines_ = {}
        for name, values in self.losses.items():
            (self.lines_[name],) = self.ax_.plot(self.epochs, values,
                                                 color=f"C{len(self.lines_)}", label=name)
        self.ax_.set_xlabel("epoch")
        self.ax_.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.ax_.set_ylabel("loss")
        self.score_ax_ = None
        if self.scores:
            self.score_ax_ = self.ax_.twinx()
            self.score_ax_.set_ylabel("score")
            for name, values in self.scores.items():
                # dashed, in the colours after the losses' (a twin axis restarts the cycle)
                (self.lines_[name],) = self.score_ax_.plot(
                    self.epochs, values, "--", color=f"C{len(self.lines_)}", label=name)
        handles = list(self.lines_.values())
        self.ax_.legend(handles=handles, loc="best")
        if self.estimator_name:
            self.ax_.set_title(self.estimator_name)
        return self


def _number(value):
    return float("nan") if value is None else float(value)
