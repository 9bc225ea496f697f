import os
import warnings

import pytest
from sklearn.datasets import make_classification


def pytest_configure(config):
    # SKLNN_TEST_THREADS=1 runs the whole suite with torch limited to that many intra-op
    # threads, to show that no result depends on the thread count sklnn would pick itself.
    threads = os.environ.get("SKLNN_TEST_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@pytest.fixture
def binary_data():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, random_state=0, class_sep=1.5
    )
    return X, y


@pytest.fixture
def multiclass_data():
    X, y = make_classification(
        n_samples=300, n_features=10, n_informative=6, n_classes=3, random_state=1, class_sep=2.0
    )
    return X, y


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # Short training runs in tests hit max_iter on purpose.
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
