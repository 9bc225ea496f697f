"""Data for examples and tests: synthetic generators and the bundled MNIST test set."""

from sklnn.datasets._generators import make_gaussian_blobs, make_sine_series
from sklnn.datasets._mnist import load_mnist_test, mnist_train_test_split

__all__ = ["load_mnist_test", "make_gaussian_blobs", "make_sine_series", "mnist_train_test_split"]
