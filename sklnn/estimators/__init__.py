"""scikit-learn estimators built on the sklnn engine."""

from sklnn.estimators.cnn import CNNImageClassifier
from sklnn.estimators.images import ImageClassifierBase
from sklnn.estimators.mlp import MLPClassifierGPU, MLPRegressorGPU
from sklnn.estimators.resnet import ResNetClassifier

__all__ = [
    "CNNImageClassifier",
    "ImageClassifierBase",
    "MLPClassifierGPU",
    "MLPRegressorGPU",
    "ResNetClassifier",
]
