"""Pure-PyTorch network definitions, usable without scikit-learn."""

from sklnn.modules.activations import ACTIVATIONS, make_activation
from sklnn.modules.autoencoders import (
    Autoencoder,
    GaussianNoise,
    conv_autoencoder,
    mlp_autoencoder,
)
from sklnn.modules.cnn import CNN, ConvBlock
from sklnn.modules.conv1d import (
    ConvBlock1d,
    ConvSequenceNetwork,
    ResidualConvBlock1d,
    ResidualConvSequenceNetwork,
)
from sklnn.modules.images import ImageInput, RandomShiftFlip, kaiming_normal_init_
from sklnn.modules.mlp import MLP, glorot_uniform_
from sklnn.modules.resnet import (
    BasicBlock,
    CifarResNet,
    ProjectionShortcut,
    ZeroPadShortcut,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)
from sklnn.modules.rnn import (
    CELLS,
    ConvStem1d,
    RecurrentNetwork,
    init_recurrent_,
    sequence_lengths,
)

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "CNN",
    "MLP",
    "Autoencoder",
    "BasicBlock",
    "CifarResNet",
    "ConvBlock",
    "ConvBlock1d",
    "ConvSequenceNetwork",
    "ConvStem1d",
    "GaussianNoise",
    "ImageInput",
    "ProjectionShortcut",
    "RandomShiftFlip",
    "RecurrentNetwork",
    "ResidualConvBlock1d",
    "ResidualConvSequenceNetwork",
    "ZeroPadShortcut",
    "conv_autoencoder",
    "glorot_uniform_",
    "init_recurrent_",
    "kaiming_normal_init_",
    "make_activation",
    "mlp_autoencoder",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "sequence_lengths",
]
