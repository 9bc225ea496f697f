"""Pure-PyTorch network definitions, usable without scikit-learn."""

from sklnn.modules.activations import ACTIVATIONS, make_activation
from sklnn.modules.mlp import MLP, glorot_uniform_
from sklnn.modules.rnn import CELLS, RecurrentNetwork, init_recurrent_, sequence_lengths

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "MLP",
    "RecurrentNetwork",
    "glorot_uniform_",
    "init_recurrent_",
    "make_activation",
    "sequence_lengths",
]
