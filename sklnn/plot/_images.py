"""The images an image classifier gets wrong, with their true and predicted labels."""

from __future__ import annotations

import math

import numpy as np

from sklnn.plot._base import check_fitted, pyplot


class MisclassifiedImagesDisplay:
    """A grid of misclassified images, each titled with its true and predicted label.

    Parameters
    ----------
    images : ndarray of shape (n_images, H, W) or (n_images, H, W, C)
        Grey-scale or RGB(A) images, in the order to show.
    y_true, y_pred : array-like of shape (n_images,)
    indices : array-like of shape (n_images,), default=None
        Each image's row in the data it came from (shown in the title).

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        The grid, one Axes per cell (cells past the last image are hidden).
    figure_ : matplotlib Figure
    images_ : list of matplotlib AxesImage
        One per image drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklnn.plot import MisclassifiedImagesDisplay
    >>> disp = MisclassifiedImagesDisplay(np.zeros((3, 8, 8)), [1, 2, 3], [7, 7, 7]).plot()
    >>> len(disp.images_), disp.ax_[0, 0].get_title()
    (3, 'true 1, pred 7')

    ``MisclassifiedImagesDisplay.from_estimator(clf, X_test, y_test)`` finds them for a
    fitted :class:`~sklnn.CNNImageClassifier` or :class:`~sklnn.ResNetClassifier`.
    """

    def __init__(self, images, y_true, y_pred, *, indices=None):
        self.images = images
        self.y_true = y_true
        self.y_pred = y_pred
        self.indices = indices

    @classmethod
    def from_estimator(cls, estimator, X, y, *, max_images=16, n_cols=None, figure=None):
        """Predict ``X`` and draw the first ``max_images`` images whose label is wrong.

        Parameters
        ----------
        estimator : fitted image classifier (``CNNImageClassifier``, ``ResNetClassifier``)
        X : array-like
            Images in any layout the estimator accepts (flat rows included).
        y : array-like of shape (n_samples,)
        max_images : int, default=16
        n_cols : int, default=None
            Columns of the grid; about the square root of the count when None.
        figure : matplotlib Figure, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : MisclassifiedImagesDisplay
            With no images (and an empty grid) when every prediction is right.
        """
        check_fitted(estimator, "MisclassifiedImagesDisplay")
        if not hasattr(estimator, "input_shape_"):
            raise TypeError(f"{type(estimator).__name__} is not an image classifier (it has "
                            "no input_shape_); use CNNImageClassifier or ResNetClassifier.")
        y = np.asarray(y)
        predicted = np.asarray(estimator.predict(X))
        wrong = np.flatnonzero(predicted != y)[:max_images]
        # the estimator's own reading of X: flat channels-first rows of its image shape
        rows = estimator._validate_X(X, reset=False)
        rows = rows[wrong].toarray() if hasattr(rows, "toarray") else np.asarray(rows)[wrong]
        channels, height, width = estimator.input_shape_
        images = rows.reshape(len(wrong), channels, height, width)
        images = images[:, 0] if channels not in (3, 4) else images.transpose(0, 2, 3, 1)
        display = cls(images, y[wrong], predicted[wrong], indices=wrong)
        return display.plot(n_cols=n_cols, figure=figure)

    def plot(self, *, n_cols=None, figure=None):
        """Draw the grid.

        Parameters
        ----------
        n_cols : int, default=None
            Columns; about the square root of the image count when None.
        figure : matplotlib Figure, default=None
            Where to draw; a new figure when None.

        Returns
        -------
        display : MisclassifiedImagesDisplay
            ``self``, with ``ax_``, ``figure_`` and ``images_`` set.
        """
        plt = pyplot()
        n = len(self.images)
        n_cols = n_cols or max(1, math.ceil(math.sqrt(n)))
        n_rows = max(1, math.ceil(n / n_cols))
        self.figure_ = figure if figure is not None else plt.figure(
            figsize=(1.6 * n_cols, 1.8 * n_rows))
        self.ax_ = np.atleast_2d(self.figure_.subplots(n_rows, n_cols, squeeze=False))
        self.images_ = []
        for i, ax in enumerate(self.ax_.ravel()):
            ax.set_axis_off()
            if i >= n:
                continue
            image = np.asarray(self.images[i], dtype=np.float64)
            low, high = np.nanmin(image), np.nanmax(image)
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
            self.images_.append(ax.imshow(image, cmap="gray" if image.ndim == 2 else None))
            title = f"true {self.y_true[i]}, pred {self.y_pred[i]}"
            if self.indices is not None:
                title = f"#{self.indices[i]}: {title}"
            ax.set_title(title, fontsize=8)
        if n == 0:
            self.ax_[0, 0].set_title("no misclassified images")
        return self
