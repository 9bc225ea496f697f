"""Shared fixtures, and the one list of estimators every cross-cutting test runs over.

Where a test goes: ``tests/estimators/`` holds each estimator's own behaviour (one file
per estimator family); ``tests/every_estimator/`` the tests that run over every estimator
(scikit-learn's checks, bad input, nothing ignored, declarations, layout); the other
folders one subsystem each (engine, callbacks, parallel, persistence, display, docs,
datasets). A test over every estimator takes its estimators from here: a new estimator
in ``sklnn.__all__`` must get an entry in ``SMALL`` and ``CHECKED`` (a test says so).
"""

import os
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin, is_classifier
from sklearn.datasets import make_classification

import sklnn
from sklnn.estimators._base import NeuralNetBase

#: every public estimator class, and those that train a network
ESTIMATOR_CLASSES = [obj for obj in (getattr(sklnn, name) for name in sklnn.__all__)
                     if isinstance(obj, type) and issubclass(obj, BaseEstimator)]
NETWORK_CLASSES = [cls for cls in ESTIMATOR_CLASSES if issubclass(cls, NeuralNetBase)]

class TinyNet(torch.nn.Module):
    """A user's own module for the shared lists, sized by the data (sklnn fills in
    ``n_features_in`` and ``n_outputs``)."""

    def __init__(self, n_features_in, n_outputs, hidden=3):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features_in, hidden), torch.nn.ReLU())
        self.head = torch.nn.Linear(hidden, n_outputs)

    def forward(self, X):
        return self.head(self.body(X))


#: the smallest network of each class: one or two epochs on ``small_data``, in a second
SMALL = {
    sklnn.NeuralNetClassifier: dict(module=TinyNet),
    sklnn.NeuralNetRegressor: dict(module=TinyNet),
    sklnn.MLPClassifierGPU: dict(hidden_layer_sizes=(3,)),
    sklnn.MLPRegressorGPU: dict(hidden_layer_sizes=(3,)),
    # the lecture's network without the default dropout, shifts and schedule (on 4x4 images)
    sklnn.CNNImageClassifier: dict(filters=(2,), dense_layers=(3,), dropout=0.0, shift_range=0,
                                   learning_rate="constant"),
    sklnn.ResNetClassifier: dict(depth=8, width=0.25, learning_rate="constant"),
    sklnn.RNNForecaster: dict(hidden_size=3, num_layers=1),
    sklnn.RNNClassifier: dict(hidden_size=3, num_layers=1, stem_channels=2,
                              learning_rate="constant"),
    sklnn.CNNSequenceClassifier: dict(filters=(2, 2), kernel_sizes=(3, 3),
                                      learning_rate="constant"),
    sklnn.MLPAutoencoder: dict(hidden_layer_sizes=(3,)),
    sklnn.ConvAutoencoder: dict(filters=(2,)),
}


def small(cls, **params):
    """A small instance of ``cls`` or a subclass (``SMALL``'s settings, 2 epochs, seeded),
    with ``params``."""
    settings = next(SMALL[base] for base in cls.__mro__ if base in SMALL)
    return cls(**{**settings, "max_iter": 2, "random_state": 0, **params})


def default_instance(cls):
    """``cls`` with its defaults, given only the parameters it requires (a module)."""
    settings = next(SMALL[base] for base in cls.__mro__ if base in SMALL)
    return cls(**{name: settings[name] for name in getattr(cls, "_required_parameters", [])})


def small_estimators(**params) -> list:
    """``small(cls, **params)`` for every network estimator."""
    return [small(cls, **params) for cls in NETWORK_CLASSES]


def small_data(estimator, n_samples=20):
    """Rows of 16 features (4x4 images, 16-step sequences) and targets that suit
    ``estimator``: two balanced classes, or a value (None for a transformer)."""
    X = np.random.RandomState(0).rand(n_samples, 16)
    if isinstance(estimator, TransformerMixin):  # the autoencoders learn X itself
        return X, None
    y = np.arange(n_samples) % 2 if is_classifier(estimator) else X[:, 0] * 2.0
    return X, y


def outputs(estimator, X):
    """What a fitted estimator makes of X: its predictions, or a transformer's codes."""
    if isinstance(estimator, TransformerMixin):
        return estimator.transform(X)
    return estimator.predict(X)


#: settings for scikit-learn's estimator checks: small and fast, but able to learn the
#: checks' toy problems. On CUDA, precision="auto" computes in float32, which misses the
#: rtol=1e-7 equivalence checks; precision="float64" passes them all there.
CHECKED = [
    sklnn.MLPClassifierGPU(max_iter=100, random_state=0),
    sklnn.MLPRegressorGPU(max_iter=100, random_state=0),
    # the lecture's training: the checks' rows are 1 x n images, which a shift of 2 pixels
    # would blank, and one batch of 128 trains repeated rows and weights alike
    sklnn.CNNImageClassifier(filters=(4,), dense_layers=(16,), learning_rate_init=0.01,
                             dropout=0.0, shift_range=0, batch_size=128,
                             learning_rate="constant",
                             max_iter=30, random_state=0),
    # with its default batch norm, whose training statistics honour sample weights
    sklnn.ResNetClassifier(depth=8, width=0.25, learning_rate_init=0.05, max_iter=20,
                           random_state=0),
    # the checks' regression data are rows of unrelated features, not windows of a series:
    # read as levels, not as per-window changes (whose level the default normalises away)
    sklnn.RNNForecaster(cell="gru", hidden_size=8, num_layers=1, learning_rate_init=0.02,
                        max_iter=100, differencing=0, instance_norm=False, random_state=0),
    # the sequence classifiers' batch "auto" depends on n_samples (ten batches for small
    # sets), so repeated rows would change the batches: one full batch, as the MLPs' "auto"
    # gives these small check sets, makes weights and repeats train alike
    sklnn.RNNClassifier(cell="gru", hidden_size=8, num_layers=1, learning_rate_init=0.02,
                        max_iter=100, batch_size=200, random_state=0),
    sklnn.CNNSequenceClassifier(filters=(8, 8), kernel_sizes=(3, 3), learning_rate_init=0.02,
                                max_iter=50, batch_size=200, random_state=0),
    sklnn.MLPAutoencoder(random_state=0),
    sklnn.ConvAutoencoder(random_state=0),
    sklnn.NeuralNetClassifier(TinyNet, module__hidden=16, learning_rate_init=0.01, max_iter=100,
                              random_state=0),
    sklnn.NeuralNetRegressor(TinyNet, module__hidden=16, learning_rate_init=0.01, max_iter=100,
                             random_state=0),
    # a baseline without a network (no save, device or seed), checked the same way
    sklnn.SeasonalNaive(),
]


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
