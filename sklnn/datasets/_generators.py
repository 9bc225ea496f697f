"""Synthetic data sets from the lecture."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def make_gaussian_blobs(n_samples=10_000, *, signal_fraction=0.5, distance=1.0, sigma=1.0,
                        random_state=None):
    """Signal and background drawn from two 2-D Gaussians, the lecture's first example.

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
