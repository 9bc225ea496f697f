"""scikit-learn estimators built on the sklnn engine."""

from sklnn.estimators._autoencoders import ConvAutoencoder, MLPAutoencoder
from sklnn.estimators._baselines import SeasonalNaive
from sklnn.estimators._cnn import CNNImageClassifier
from sklnn.estimators._conv_sequence import CNNSequenceClassifier
from sklnn.estimators._forecaster import RNNForecaster
from sklnn.estimators._images import ImageClassifierBase
from sklnn.estimators._mlp import MLPClassifierGPU, MLPRegressorGPU
from sklnn.estimators._neural_net import NeuralNetClassifier, NeuralNetRegressor
from sklnn.estimators._resnet import ResNetClassifier
from sklnn.estimators._rnn_classifier import RNNClassifier

__all__ = [
    "CNNImageClassifier",
    "CNNSequenceClassifier",
    "ConvAutoencoder",
    "ImageClassifierBase",
    "MLPAutoencoder",
    "MLPClassifierGPU",
    "MLPRegressorGPU",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "RNNClassifier",
    "RNNForecaster",
    "ResNetClassifier",
    "SeasonalNaive",
]
