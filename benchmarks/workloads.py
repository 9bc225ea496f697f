"""The workloads: data, network, optimiser settings and who competes on each.

To add a workload (a CNN, a ResNet, an RNN estimator...), write a function
``my_workload(quick: bool) -> list[Workload]`` and append it to
``WORKLOAD_FACTORIES`` at the bottom of this file. A workload names:

- ``make_data``: returns float32 ``X_train, y_train, X_test, y_test, X_predict``
  (``X_predict`` is what predict time is measured on, 100,000+ rows);
- ``make_sklnn``: the sklnn estimator, unfitted, with the epochs and batch size below;
- ``make_module``: the same network as a plain ``torch.nn.Module`` returning raw
  outputs, for the hand-written loop and skorch;
- ``make_sklearn``: scikit-learn's equivalent, or None where there is none.

Everyone trains for exactly ``epochs`` epochs (no early stop) with Adam at
``learning_rate``, batch ``batch_size`` and the L2 penalty ``alpha`` scaled
as scikit-learn scales it (divided by the batch size, weights only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import make_classification, make_friedman1

from sklnn import (
    CNNImageClassifier,
    MLPClassifierGPU,
    MLPRegressorGPU,
    ResNetClassifier,
    RNNForecaster,
)
from sklnn.datasets import make_gaussian_blobs, make_sine_series, mnist_train_test_split
from sklnn.modules.mlp import MLP, glorot_uniform_

ALL_IMPLEMENTATIONS = ("sklnn", "torch_loop", "sklearn", "skorch")
PREDICT_ROWS = 100_000


@dataclass
class Workload:
    name: str
    task: str  # "binary", "multiclass" or "regression"
    make_data: Callable[[], dict]
    make_sklnn: Callable[[Workload], object]
    make_module: Callable[[int, int], object]
    make_sklearn: Callable[[Workload], object] | None
    batch_size: int
    epochs: int
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    repeats: int = 3
    implementations: tuple[str, ...] = ALL_IMPLEMENTATIONS
    #: rows of the table this workload belongs to: "compare", "scaling_n" or "scaling_batch"
    group: str = "compare"
    description: str = ""
    #: free-form numbers for the report, e.g. {"n_samples": 10_000}
    params: dict = field(default_factory=dict)
    #: the sklnn estimator that would own a given module (unfitted, its module set), for
    #: its thread and predict-batch choices; None builds it from ``make_sklnn`` with flat
    #: rows (an MLP). Everyone gets the same choices.
    estimator_for: Callable[[object], object] | None = None

    def owner(self, module):
        """The unfitted sklnn estimator whose engine rules apply to ``module``."""
        if self.estimator_for is not None:
            return self.estimator_for(module)
        n_features = next(m for m in module.modules() if hasattr(m, "in_features")).in_features
        return estimator_for_module(lambda: self.make_sklnn(self), (n_features,))(module)

    def thread_flops(self, module) -> float:
        """FLOPs of one sample's forward pass, as sklnn's engine estimates it for training."""
        return self.owner(module)._flops_per_sample(module)

    def predict_thread_flops(self, module) -> float:
        """FLOPs per row that sklnn's engine counts when it picks prediction's threads."""
        return self.owner(module)._predict_flops_per_sample(module)

    def predict_rows(self, module, device) -> int:
        """Rows per predict batch, as sklnn's engine chooses them for this network."""
        from sklnn.engine.inference import predict_batch_rows

        return predict_batch_rows(self.owner(module)._largest_activation(), device)

    def n_outputs(self, y) -> int:
        if self.task == "multiclass":
            return int(np.max(y)) + 1
        if self.task == "binary":
            return 1
        return 1 if np.ndim(y) == 1 else y.shape[1]


# ---------------------------------------------------------------- shared pieces
def mlp_module(hidden: tuple[int, ...]) -> Callable[[int, int], object]:
    """sklnn's own MLP module with scikit-learn's initialisation, as a plain nn.Module."""

    def build(n_features: int, n_outputs: int):
        import torch

        module = MLP(n_features, hidden, n_outputs)
        glorot_uniform_(module, "relu", torch.Generator().manual_seed(0))
        return module

    return build


def _fixed_epochs(workload: Workload) -> dict:
    """Settings that make every implementation train exactly ``epochs`` epochs."""
    return dict(
        solver="adam",
        alpha=workload.alpha,
        batch_size=workload.batch_size,
        learning_rate_init=workload.learning_rate,
        max_iter=workload.epochs,
        tol=0.0,
        n_iter_no_change=workload.epochs + 1,
        shuffle=True,
        random_state=0,
    )


def sklnn_mlp(hidden: tuple[int, ...]):
    def build(workload: Workload):
        cls = MLPRegressorGPU if workload.task == "regression" else MLPClassifierGPU
        return cls(hidden_layer_sizes=hidden, **_fixed_epochs(workload))

    return build


def sklearn_mlp(hidden: tuple[int, ...]):
    def build(workload: Workload):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPRegressor if workload.task == "regression" else MLPClassifier
        return cls(hidden_layer_sizes=hidden, **_fixed_epochs(workload))

    return build


def _tile(X: np.ndarray, rows: int) -> np.ndarray:
    reps = -(-rows // X.shape[0])
    return np.ascontiguousarray(np.tile(X, (reps, 1))[:rows])


# ---------------------------------------------------------------- data sets
def blobs_data(n_train: int, n_predict: int = PREDICT_ROWS) -> Callable[[], dict]:
    def make():
        X, y = make_gaussian_blobs(n_train, random_state=0)
        X_test, y_test = make_gaussian_blobs(n_predict, random_state=1)
        X_test = X_test.astype(np.float32)
        return dict(X_train=X.astype(np.float32), y_train=y, X_test=X_test, y_test=y_test,
                    X_predict=X_test)

    return make


def mnist_data() -> dict:
    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True)
    return dict(X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                X_predict=_tile(X_test, PREDICT_ROWS))


def wide_data(n_train: int) -> Callable[[], dict]:
    def make():
        n_test = 20_000
        X, y = make_classification(n_samples=n_train + n_test, n_features=100, n_informative=40,
                                   n_redundant=20, random_state=0)
        X = X.astype(np.float32)
        return dict(X_train=X[:n_train], y_train=y[:n_train], X_test=X[n_train:],
                    y_test=y[n_train:], X_predict=_tile(X[n_train:], PREDICT_ROWS))

    return make


def regression_data(n_train: int) -> Callable[[], dict]:
    def make():
        n_test = 20_000
        X, y = make_friedman1(n_samples=n_train + n_test, n_features=20, noise=0.5,
                              random_state=0)
        y = (y - y[:n_train].mean()) / y[:n_train].std()
        X, y = X.astype(np.float32), y.astype(np.float32)
        return dict(X_train=X[:n_train], y_train=y[:n_train], X_test=X[n_train:],
                    y_test=y[n_train:], X_predict=_tile(X[n_train:], PREDICT_ROWS))

    return make


# ---------------------------------------------------------------- workloads
def compare_workloads(quick: bool) -> list[Workload]:
    """sklnn against scikit-learn, skorch and the hand-written loop on MLPs."""
    return [
        Workload(
            "blobs 2-100-1", "binary", blobs_data(10_000), sklnn_mlp((100,)),
            mlp_module((100,)), sklearn_mlp((100,)), batch_size=128,
            epochs=10 if quick else 100, repeats=3,
            description="lecture Gaussian blobs, 10,000 samples",
        ),
        Workload(
            "MNIST 784-300-100-10", "multiclass", mnist_data, sklnn_mlp((300, 100)),
            mlp_module((300, 100)), sklearn_mlp((300, 100)), batch_size=128,
            epochs=2 if quick else 20, repeats=3,
            description="bundled MNIST, 8,000 train / 2,000 test",
        ),
        Workload(
            "wide 100-512-256-1", "binary", wide_data(20_000 if quick else 200_000),
            sklnn_mlp((512, 256)), mlp_module((512, 256)), sklearn_mlp((512, 256)),
            batch_size=256, epochs=1, repeats=3,
            description=f"make_classification, {20_000 if quick else 200_000:,} x 100",
        ),
        Workload(
            "regression 20-128-64-1", "regression", regression_data(20_000 if quick else 50_000),
            sklnn_mlp((128, 64)), mlp_module((128, 64)), sklearn_mlp((128, 64)),
            batch_size=256, epochs=3 if quick else 20, repeats=3,
            description=f"Friedman #1, {20_000 if quick else 50_000:,} x 20, standardised y",
        ),
    ]


def scaling_n_workloads(quick: bool) -> list[Workload]:
    """Fit time as n_samples grows 10x and 100x on the blobs network: must stay linear."""
    base = 1_000 if quick else 10_000
    return [
        Workload(
            f"blobs n={n:,}", "binary", blobs_data(n, n_predict=10_000), sklnn_mlp((100,)),
            mlp_module((100,)), sklearn_mlp((100,)), batch_size=128,
            epochs=1 if quick else 2, repeats=2,
            implementations=("sklnn", "torch_loop", "sklearn"), group="scaling_n",
            params={"n_samples": n},
        )
        for n in (base, 10 * base, 100 * base)
    ]


def scaling_batch_workloads(quick: bool) -> list[Workload]:
    """Fit time as the batch size varies, on the MNIST network."""
    return [
        Workload(
            f"MNIST batch={b}", "multiclass", mnist_data, sklnn_mlp((300, 100)),
            mlp_module((300, 100)), sklearn_mlp((300, 100)), batch_size=b,
            epochs=1 if quick else 2, repeats=2,
            implementations=("sklnn", "torch_loop", "sklearn"), group="scaling_batch",
            params={"batch_size": b},
        )
        for b in (32, 128, 512, 2048)
    ]


def _estimator_for_rows(make_estimator: Callable[[], object], row_shape: tuple[int, ...]):
    """An unfitted estimator whose input hook has seen rows of ``row_shape``."""
    estimator = make_estimator()
    rows = np.zeros((2, *row_shape), dtype=np.float32)
    estimator._validate_X_y(rows, np.array([0.0, 1.0]), reset=True, y_numeric=True)
    return estimator


def estimator_module(make_estimator: Callable[[], object], row_shape: tuple[int, ...]):
    """The network an sklnn estimator would train, built without training it.

    The estimator's own input hook records the input shape (image or sequence), then its
    module builder makes the plain ``nn.Module`` that takes the same flat rows.
    """

    def build(n_features: int, n_outputs: int):
        import torch

        estimator = _estimator_for_rows(make_estimator, row_shape)
        torch.manual_seed(0)
        module = estimator._build_module(n_features, n_outputs)
        estimator._init_module(module, torch.Generator().manual_seed(0))
        return module

    return build


def estimator_for_module(make_estimator: Callable[[], object], row_shape: tuple[int, ...]):
    """The unfitted estimator that would own a module built by :func:`estimator_module`."""

    def owner(module):
        estimator = _estimator_for_rows(make_estimator, row_shape)
        n_outputs = [m for m in module.modules() if hasattr(m, "out_features")][-1].out_features
        estimator._build_module(estimator.n_features_in_, n_outputs)  # records its costs
        estimator.module_ = module
        return estimator

    return owner


def sklnn_configured(make_estimator: Callable[[], object]):
    def build(workload: Workload):
        return make_estimator().set_params(**_fixed_epochs(workload))

    return build


def sine_data(n_train: int) -> Callable[[], dict]:
    def make():
        series = make_sine_series(n_train + 2_000, 51, random_state=42).astype(np.float32)
        X, y = series[:, :50], series[:, 50]
        return dict(X_train=X[:n_train], y_train=y[:n_train], X_test=X[n_train:],
                    y_test=y[n_train:], X_predict=_tile(X[n_train:], PREDICT_ROWS))

    return make


def mnist_small_predict() -> dict:
    """MNIST with predict timed on the 2,000 test images: a CPU CNN forward pass over
    100,000 images takes about a minute and would dominate the whole suite."""
    data = mnist_data()
    data["X_predict"] = data["X_test"]
    return data


def mnist_resnet_data(n_train: int) -> Callable[[], dict]:
    """The first ``n_train`` MNIST training images; predict timed on the 2,000 test images."""

    def make():
        data = mnist_small_predict()
        data["X_train"], data["y_train"] = data["X_train"][:n_train], data["y_train"][:n_train]
        return data

    return make


def deep_network_workloads(quick: bool) -> list[Workload]:
    """The lecture CNN and ResNet-20 on MNIST and the lecture's 2x20 RNN forecaster."""

    def cnn():
        # the lecture's training, as docs/benchmarks.md measured it (not the newer defaults'
        # dropout, shifts, batches of 32 and cosine schedule)
        return CNNImageClassifier(input_shape=(1, 28, 28), dropout=0.0, shift_range=0,
                                  batch_size=128, learning_rate="constant")

    def resnet():
        return ResNetClassifier(20, input_shape=(1, 28, 28), learning_rate="constant")

    def rnn():
        return RNNForecaster(cell="rnn", hidden_size=20, num_layers=2, scale=False)

    n_resnet = 500 if quick else 2_000

    return [
        Workload(
            "lecture CNN on MNIST", "multiclass", mnist_small_predict, sklnn_configured(cnn),
            estimator_module(cnn, (784,)), None, batch_size=128, epochs=1,
            repeats=2 if quick else 3, estimator_for=estimator_for_module(cnn, (784,)),
            description="32-64 3x3 conv, 2x2 max pool, dense 64; bundled MNIST 8,000 rows",
        ),
        Workload(
            "ResNet-20 on MNIST", "multiclass", mnist_resnet_data(n_resnet),
            sklnn_configured(resnet), estimator_module(resnet, (784,)), None, batch_size=128,
            epochs=1, repeats=2 if quick else 3,
            estimator_for=estimator_for_module(resnet, (784,)),
            description=f"option-A shortcuts, batch norm, 0.27M weights; {n_resnet:,} MNIST "
                        "images",
        ),
        Workload(
            "RNN 2x20 on sine series", "regression", sine_data(2_000 if quick else 7_000),
            sklnn_configured(rnn), estimator_module(rnn, (50,)), None, batch_size=32,
            epochs=1 if quick else 3, repeats=2 if quick else 3,
            estimator_for=estimator_for_module(rnn, (50,)),
            description="2 tanh layers of 20 units, 50 steps, next value",
        ),
    ]


# Add new workload factories here (CNN, ResNet-20, RNN...): each takes ``quick`` and
# returns a list of Workload. Their ``group`` decides the table they appear in.
WORKLOAD_FACTORIES: list[Callable[[bool], list[Workload]]] = [
    compare_workloads,
    scaling_n_workloads,
    scaling_batch_workloads,
    deep_network_workloads,
]


def all_workloads(quick: bool) -> list[Workload]:
    return [w for factory in WORKLOAD_FACTORIES for w in factory(quick)]
