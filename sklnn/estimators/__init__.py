"""scikit-learn estimators built on the sklnn engine."""

from sklnn.estimators.cnn import CNNImageClassifier
from sklnn.estimators.images import ImageClassifierBase
from sklnn.estimators.mlp import MLPClassifierGPU, MLPRegressorGPU
from sklnn.estimators.resnet import ResNetClassifier
from sklnn.estimators.rnn import RNNClassifier, RNNForecaster

__all__ = [
    "CNNImageClassifier",
    "ImageClassifierBase",
    "MLPClassifierGPU",
    "MLPRegressorGPU",
    "RNNClassifier",
    "RNNForecaster",
    "ResNetClassifier",
]
