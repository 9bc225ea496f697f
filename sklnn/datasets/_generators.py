"""Synthetic data sets for examples and tests."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def make_gaussian_blobs(n_samples=10_000, *, signal_fraction=0.5, distance=1.0, sigma=1.0,
                        random_state=None):
    """Signal and background drawn from two 2-D Gaussians, a classic first classification problem.

    Signal (label 1) has mean (d, d), background (label 0) mean (-d, -d), both
    with standard deviation ``sigma`` in each coordinate. With the defaults the
    Bayes-optimal accuracy is Phi(sqrt(2) * d / sigma) = 0.921.

    Parameters
    ----------
    n_samples : int, default=10000
    signal_fraction : float, default=0.5
        Expected share of signal points.
    distance : float, default=1.0
        d above.
    sigma : float, default=1.0
    random_state : int, RandomState instance or None

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,), int 0 or 1

    Examples
    --------
    >>> from sklnn.datasets import make_gaussian_blobs
    >>> X, y = make_gaussian_blobs(1000, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((1000, 2), [0, 1])
    """
    rng = check_random_state(random_state)
    y = (rng.uniform(size=n_samples) < signal_fraction).astype(np.int64)
    centres = np.where(y[:, None] == 1, distance, -distance)
    X = centres + sigma * rng.standard_normal((n_samples, 2))
    return X, y


def make_sine_series(n_series=10_000, n_steps=50, *, random_state=None):
    """Noisy sums of two sine waves, the forecasting data of Geron's
    *Hands-On Machine Learning*, ch. 15.

    Each series is ``0.5 sin((t - a)(10 p + 10)) + 0.2 sin((t - b)(20 q + 20))
    + 0.1 (r - 0.5)`` with ``p, q, a, b`` drawn uniformly in [0, 1) once per
    series, ``r`` uniform in [0, 1) at every step, and ``t = k / n_steps`` for
    steps ``k = 0 .. n_steps - 1``, so t runs over [0, 1).

    Parameters
    ----------
    n_series : int, default=10000
    n_steps : int, default=50
        Steps per series. To forecast, generate the window plus the horizon
        (e.g. 51 or 60 steps) and split off the last values.
    random_state : int, RandomState instance or None

    Returns
    -------
    series : ndarray of shape (n_series, n_steps), float64

    Examples
    --------
    >>> from sklnn.datasets import make_sine_series
    >>> series = make_sine_series(1000, 51, random_state=42)
    >>> X, y = series[:, :50], series[:, 50]
    >>> X.shape, y.shape
    ((1000, 50), (1000,))
    """
    rng = check_random_state(random_state)
    p, q, a, b = rng.uniform(size=(4, n_series, 1))
    t = np.arange(n_steps) / n_steps
    waves = 0.5 * np.sin((t - a) * (10 * p + 10)) + 0.2 * np.sin((t - b) * (20 * q + 20))
    return waves + 0.1 * (rng.uniform(size=(n_series, n_steps)) - 0.5)
