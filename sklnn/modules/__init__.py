"""Pure-PyTorch network definitions, usable without scikit-learn."""

from sklnn.modules.activations import ACTIVATIONS, make_activation
from sklnn.modules.mlp import MLP, glorot_uniform_

__all__ = ["ACTIVATIONS", "MLP", "glorot_uniform_", "make_activation"]
