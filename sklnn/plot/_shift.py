"""Dataset shift drawn: how well a classifier tells two samples apart, and on which features."""

from __future__ import annotations

import numpy as np

from sklnn.plot._base import pyplot


class DatasetShiftDisplay:
    """The out-of-fold scores of both samples and the features that separate them.

    The left panel shows histograms of each row's probability of belonging to the
    new sample, as predicted by a model that did not train on it, for the reference
    rows and the new rows, with the test's AUC and p-value in the title: the two
    histograms overlap when there is no shift. The right panel ranks the features
    by permutation importance (the drop in AUC when one is shuffled).

    Parameters
    ----------
    scores_reference, scores_new : array-like of shape (n_reference,), (n_new,)
    auc : float
    p_value : float
    feature_names : array-like of str, default=None
    feature_importances : array-like of float, default=None
        When None, only the scores are drawn.
    feature_importances_std : array-like of float, default=None
        Drawn as error bars.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The scores' histograms.
    features_ax_ : matplotlib Axes or None
        The importances' bar chart (None without importances).
    figure_ : matplotlib Figure
    bars_ : matplotlib BarContainer or None
        One bar per feature shown, the most important at the top.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklnn.inspection import dataset_shift
    >>> from sklnn.plot import DatasetShiftDisplay
    >>> rng = np.random.default_rng(0)
    >>> X_ref, X_new = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + [0, 0, 1]
    >>> result = dataset_shift(X_ref, X_new, random_state=0)
    >>> disp = DatasetShiftDisplay.from_result(result, n_features=2)
    >>> [label.get_text() for label in disp.features_ax_.get_yticklabels()]
    ['x2', ...]
    """

    def __init__(self, scores_reference, scores_new, auc, p_value, *, feature_names=None,
                 feature_importances=None, feature_importances_std=None):
        self.scores_reference = scores_reference
        self.scores_new = scores_new
        self.auc = auc
        self.p_value = p_value
        self.feature_names = feature_names
        self.feature_importances = feature_importances
        self.feature_importances_std = feature_importances_std

    @classmethod
    def from_result(cls, result, *, n_features=10, ax=None):
        """Draw a :class:`~sklnn.inspection.ShiftResult`.

        Parameters
        ----------
        result : ShiftResult
            What :func:`~sklnn.inspection.dataset_shift` returned.
        n_features : int, default=10
            How many of the most important features to show.
        ax : matplotlib Axes or pair of Axes, default=None
            One Axes for the scores only, two for scores and features; a new
            figure when None.

        Returns
        -------
        display : DatasetShiftDisplay
        """
        importances = result.feature_importances
        std = result.feature_importances_std
        names = result.feature_names
        if importances is not None:
            order = np.argsort(-importances, kind="stable")[:n_features]
            names, importances = names[order], importances[order]
            std = None if std is None else std[order]
        return cls(result.scores_reference, result.scores_new, result.auc, result.p_value,
                   feature_names=names, feature_importances=importances,
                   feature_importances_std=std).plot(ax=ax)

    @classmethod
    def from_data(cls, X_reference, X_new, *, n_features=10, ax=None, **kwargs):
        """Run :func:`~sklnn.inspection.dataset_shift` (``kwargs`` are its parameters)
        and draw the result; see :meth:`from_result`."""
        from sklnn.inspection import dataset_shift

        result = dataset_shift(X_reference, X_new, **kwargs)
        return cls.from_result(result, n_features=n_features, ax=ax)

    def plot(self, ax=None):
        """Draw the scores and, when given, the importances.

        Parameters
        ----------
        ax : matplotlib Axes or pair of Axes, default=None

        Returns
        -------
        display : DatasetShiftDisplay
        """
        with_features = self.feature_importances is not None
        if ax is None:
            _, axes = pyplot().subplots(1, 2 if with_features else 1,
                                        figsize=(10, 4) if with_features else (5, 4))
            axes = np.atleast_1d(axes)
        else:
            axes = np.atleast_1d(ax)
        self.ax_ = axes[0]
        self.figure_ = self.ax_.figure
        bins = np.linspace(0.0, 1.0, 31)
        for scores, label, colour in ((self.scores_reference, "reference", "C0"),
                                      (self.scores_new, "new", "C1")):
            self.ax_.hist(np.asarray(scores), bins=bins, density=True, alpha=0.5,
                          color=colour, label=f"{label} ({len(scores):,} rows)")
        self.ax_.set(xlabel="out-of-fold probability of being new", ylabel="density",
                     title=f"AUC {self.auc:.3f}, p = {self.p_value:.3g}")
        self.ax_.legend(loc="best")
        self.features_ax_, self.bars_ = None, None
        if with_features and len(axes) > 1:
            self.features_ax_ = axes[1]
            values = np.asarray(self.feature_importances, dtype=float)
            positions = np.arange(len(values))[::-1]  # the most important at the top
            err = (None if self.feature_importances_std is None
                   else np.asarray(self.feature_importances_std, dtype=float))
            self.bars_ = self.features_ax_.barh(positions, values, xerr=err, color="C2")
            names = (self.feature_names if self.feature_names is not None
                     else [f"x{i}" for i in range(len(values))])
            self.features_ax_.set_yticks(positions, [str(n) for n in names])
            self.features_ax_.set(xlabel="drop in AUC when shuffled",
                                  title="features that separate the samples")
        return self
