"""sklnn's data loader answers like scikit-learn's: a Bunch, ``return_X_y`` and ``as_frame``."""

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.utils import Bunch

from sklnn.datasets import load_mnist_test


def test_load_mnist_test_returns_a_bunch_with_the_keys_of_load_digits():
    mnist = load_mnist_test()
    assert isinstance(mnist, Bunch)
    assert set(mnist) == set(load_digits())  # data, target, frame, images, names, DESCR
    assert mnist.data.shape == (10_000, 28, 28) and mnist.images.shape == (10_000, 28, 28)
    assert mnist.target.shape == (10_000,) and mnist.target.dtype == np.int64
    assert mnist.frame is None
    assert mnist.target_names.tolist() == list(range(10))
    assert len(mnist.feature_names) == 784 and mnist.feature_names[29] == "pixel_1_1"
    assert "MNIST" in mnist.DESCR


def test_return_X_y_and_flatten_give_the_bunch_arrays():
    mnist = load_mnist_test(flatten=True)
    X, y = load_mnist_test(flatten=True, return_X_y=True)
    assert X.shape == (10_000, 784)
    np.testing.assert_array_equal(X, mnist.data)
    np.testing.assert_array_equal(X, mnist.images.reshape(10_000, -1))
    np.testing.assert_array_equal(y, mnist.target)


def test_as_frame_gives_pixel_columns_and_a_target_series():
    mnist = load_mnist_test(as_frame=True, scale=False)
    assert isinstance(mnist.data, pd.DataFrame) and mnist.data.shape == (10_000, 784)
    assert list(mnist.data.columns) == mnist.feature_names
    assert isinstance(mnist.target, pd.Series) and mnist.target.name == "target"
    assert list(mnist.frame.columns) == [*mnist.feature_names, "target"]
    np.testing.assert_array_equal(mnist.data.to_numpy(), mnist.images.reshape(10_000, -1))
    X, y = load_mnist_test(as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.to_numpy().dtype == np.float32
