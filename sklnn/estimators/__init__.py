"""scikit-learn estimators built on the sklnn engine."""

from sklnn.estimators.mlp import MLPClassifierGPU, MLPRegressorGPU
from sklnn.estimators.rnn import RNNClassifier, RNNForecaster

__all__ = ["MLPClassifierGPU", "MLPRegressorGPU", "RNNClassifier", "RNNForecaster"]
