"""The MNIST test set (10,000 digits) shipped with the package, read with numpy alone."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

_IMAGES = "t10k-images-idx3-ubyte.gz"
_LABELS = "t10k-labels-idx1-ubyte.gz"


def _read(name: str, offset: int) -> np.ndarray:
    with resources.files("sklnn.datasets").joinpath("data", name).open("rb") as raw:
        with gzip.open(raw) as handle:
            return np.frombuffer(handle.read(), np.uint8, offset=offset)


_DESCR = """MNIST test set (bundled with sklnn)

The 10,000 handwritten digits of the official MNIST test set, 28x28 grey levels, by Yann LeCun,
Corinna Cortes and Christopher J.C. Burges, redistributed unchanged under CC BY-SA 3.0
(sklnn/datasets/data/README.md). Labels 0-9, 892 to 1,135 images each. The 60,000-image
training set is not included: sklnn's examples split these 10,000 (8,000 / 2,000, stratified,
``mnist_train_test_split``).
"""


def load_mnist_test(*, flatten=False, scale=True, return_X_y=False, as_frame=False):
    """Load the 10,000-image MNIST test set bundled with sklnn (no download).

    MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, under
    CC BY-SA 3.0; see ``sklnn/datasets/data/README.md``. Like scikit-learn's
    loaders (``load_digits``) it returns a :class:`~sklearn.utils.Bunch`.

    Parameters
    ----------
    flatten : bool, default=False
        ``data`` as rows of 784 pixels instead of 28x28 arrays. ``images`` is
        28x28 either way.
    scale : bool, default=True
        Divide pixels by 255 (float32 in [0, 1]); else keep uint8.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        ``data`` as a pandas DataFrame of 784 columns ``pixel_0_0`` ... ``pixel_27_27``
        (rows of pixels, whatever ``flatten`` says), ``target`` as a Series named
        ``"target"``, and ``frame`` with both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``: ndarray of shape (10000, 28, 28) or (10000, 784), or a DataFrame;
        ``target``: ndarray or Series of shape (10000,), int64 digit labels;
        ``images``: ndarray of shape (10000, 28, 28); ``frame``: DataFrame or None;
        ``feature_names``, ``target_names`` and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sklnn.datasets import load_mnist_test
    >>> mnist = load_mnist_test()
    >>> mnist.data.shape, mnist.data.dtype, mnist.target[:5].tolist()
    ((10000, 28, 28), dtype('float32'), [7, 2, 1, 0, 4])
    >>> X, y = load_mnist_test(flatten=True, return_X_y=True)
    >>> X.shape
    (10000, 784)
    """
    images = _read(_IMAGES, 16).reshape(-1, 28, 28)
    labels = _read(_LABELS, 8).astype(np.int64)
    if scale:
        images = images.astype(np.float32) / np.float32(255.0)
    feature_names = [f"pixel_{row}_{col}" for row in range(28) for col in range(28)]
    data = images.reshape(len(images), -1) if flatten or as_frame else images
    target, frame = labels, None
    if as_frame:
        import pandas as pd

        data = pd.DataFrame(data, columns=feature_names)
        target = pd.Series(labels, name="target")
        frame = pd.concat([data, target], axis=1)
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, frame=frame, images=images,
                 feature_names=feature_names, target_names=np.arange(10), DESCR=_DESCR)


def mnist_train_test_split(*, flatten=False, scale=True, n_train=8000, n_test=2000,
                           random_state=0):
    """The project's standard stratified 8,000 / 2,000 split of the MNIST test set.

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    X, y = load_mnist_test(flatten=flatten, scale=scale, return_X_y=True)
    return train_test_split(X, y, train_size=n_train, test_size=n_test, stratify=y,
                            random_state=random_state)
