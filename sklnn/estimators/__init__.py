"""scikit-learn estimators built on the sklnn engine."""

from sklnn.estimators.mlp import MLPClassifierGPU, MLPRegressorGPU

__all__ = ["MLPClassifierGPU", "MLPRegressorGPU"]
