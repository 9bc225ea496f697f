"""What the displays share: matplotlib imported on demand, and a fitted-estimator check."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklnn.plot needs matplotlib: pip install 'sklnn[plot]' (or matplotlib)."
        ) from exc
    return plt


def axes_or_new(ax):
    """``(figure, ax)``: the given Axes and its figure, or a new figure's Axes."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax.figure, ax


def check_fitted(estimator, what: str) -> None:
    check_is_fitted(estimator, msg=f"{what} needs a fitted estimator; this %(name)s is not "
                    "fitted yet: call fit first.")
