"""The MNIST test set (10,000 digits) shipped with the package, read with numpy alone."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np
from sklearn.model_selection import train_test_split

_IMAGES = "t10k-images-idx3-ubyte.gz"
_LABELS = "t10k-labels-idx1-ubyte.gz"


def _read(name: str, offset: int) -> np.ndarray:
    with resources.files("sklnn.datasets").joinpath("data", name).open("rb") as raw:
        with gzip.open(raw) as handle:
            return np.frombuffer(handle.read(), np.uint8, offset=offset)


def load_mnist_test(*, flatten=False, scale=True):
    """Load the 10,000-image MNIST test set bundled with sklnn (no download).

    MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, under
    CC BY-SA 3.0; see ``sklnn/datasets/data/README.md``.

    Parameters
    ----------
    flatten : bool, default=False
        Return images as rows of 784 pixels instead of 28x28 arrays.
    scale : bool, default=True
        Divide pixels by 255 (float32 in [0, 1]); else keep uint8.

    Returns
    -------
    X : ndarray of shape (10000, 28, 28) or (10000, 784)
    y : ndarray of shape (10000,), int64 digit labels

    Examples
    --------
    >>> from sklnn.datasets import load_mnist_test
    >>> X, y = load_mnist_test(flatten=True)
    >>> X.shape, X.dtype, int(y[:1000].max())
    ((10000, 784), dtype('float32'), 9)
    """
    images = _read(_IMAGES, 16).reshape(-1, 28, 28)
    labels = _read(_LABELS, 8).astype(np.int64)
    if scale:
        images = images.astype(np.float32) / np.float32(255.0)
    if flatten:
        images = images.reshape(len(images), -1)
    return images, labels


def mnist_train_test_split(*, flatten=False, scale=True, n_train=8000, n_test=2000,
                           random_state=0):
    """The project's standard stratified 8,000 / 2,000 split of the MNIST test set.

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    X, y = load_mnist_test(flatten=flatten, scale=scale)
    return train_test_split(X, y, train_size=n_train, test_size=n_test, stratify=y,
                            random_state=random_state)
