import gzip
import hashlib
from importlib import resources

import numpy as np
from scipy.stats import norm

from sklnn.datasets import load_mnist_test, make_gaussian_blobs, mnist_train_test_split


def test_gaussian_blobs_match_the_lecture():
    X, y = make_gaussian_blobs(20_000, random_state=0)
    np.testing.assert_allclose(X[y == 1].mean(0), [1, 1], atol=0.05)
    np.testing.assert_allclose(X[y == 0].mean(0), [-1, -1], atol=0.05)
    np.testing.assert_allclose(X[y == 1].std(0), [1, 1], atol=0.05)
    bayes = ((X.sum(1) > 0) == y).mean()  # the optimal boundary is x1 + x2 = 0
    assert abs(bayes - norm.cdf(np.sqrt(2))) < 0.01
    assert norm.cdf(np.sqrt(2)) == np.float64(0.9213503964748575)


def test_bundled_mnist_is_the_official_test_set():
    X, y = load_mnist_test(scale=False, return_X_y=True)
    assert X.shape == (10_000, 28, 28) and X.dtype == np.uint8
    raw = resources.files("sklnn.datasets").joinpath("data", "t10k-images-idx3-ubyte.gz")
    with raw.open("rb") as handle:
        digest = hashlib.md5(gzip.open(handle).read()).hexdigest()
    assert digest == "2646ac647ad5339dbf082846283269ea"
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert round(float(load_mnist_test().data.mean()), 4) == 0.1325


def test_standard_split_is_stratified():
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True)
    assert X_train.shape == (8000, 784) and X_test.shape == (2000, 784)
    np.testing.assert_allclose(np.bincount(y_test) / 2000, np.bincount(y_train) / 8000, atol=0.002)
