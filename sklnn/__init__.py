"""sklnn: PyTorch neural networks behind the scikit-learn estimator API.

Layout: ``sklnn.modules`` holds pure-PyTorch networks; ``sklnn.engine`` the
training loop, batching, devices and threads; ``sklnn.callbacks`` the
callbacks; ``sklnn.validation`` input checks; ``sklnn.estimators`` the
scikit-learn estimators built on them.
"""

from sklnn import callbacks, datasets
from sklnn._version import __version__
from sklnn.estimators._autoencoders import ConvAutoencoder, MLPAutoencoder
from sklnn.estimators._baselines import SeasonalNaive
from sklnn.estimators._cnn import CNNImageClassifier
from sklnn.estimators._conv_sequence import CNNSequenceClassifier
from sklnn.estimators._forecaster import RNNForecaster
from sklnn.estimators._mlp import MLPClassifierGPU, MLPRegressorGPU
from sklnn.estimators._neural_net import NeuralNetClassifier, NeuralNetRegressor
from sklnn.estimators._resnet import ResNetClassifier
from sklnn.estimators._rnn_classifier import RNNClassifier
from sklnn.export import to_onnx
from sklnn.inspection import dataset_shift
from sklnn.persistence import load, save
from sklnn.windows import make_windows

__all__ = [
    "CNNImageClassifier",
    "CNNSequenceClassifier",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "MLPClassifierGPU",
    "MLPRegressorGPU",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "ResNetClassifier",
    "RNNClassifier",
    "RNNForecaster",
    "SeasonalNaive",
    "__version__",
    "callbacks",
    "dataset_shift",
    "datasets",
    "load",
    "make_windows",
    "plot",
    "save",
    "to_onnx",
]


def __getattr__(name):
    # sklnn.plot on first use: importing sklnn stays free of it (matplotlib itself is imported
    # only when a display draws, so it stays optional either way)
    if name == "plot":
        import importlib

        return importlib.import_module("sklnn.plot")
    raise AttributeError(f"module 'sklnn' has no attribute {name!r}")
