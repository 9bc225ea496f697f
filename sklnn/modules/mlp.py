"""The multi-layer perceptron: dense blocks, then the network."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sklnn.modules.activations import make_activation
from sklnn.modules.norm import WeightedBatchNorm1d
from sklnn.modules.randomness import Dropout


class DenseBlock(nn.Sequential):
    """Linear layer, optional batch norm, activation, optional dropout."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        layers: list[nn.Module] = [nn.Linear(n_in, n_out)]
        if batch_norm:
            layers.append(WeightedBatchNorm1d(n_out))
        layers.append(make_activation(activation))
        if dropout > 0:
            layers.append(Dropout(dropout))
        super().__init__(*layers)


class MLP(nn.Module):
    """Fully connected network returning raw outputs (logits for classifiers).

    The output activation (sigmoid, softmax, exp) is left to the loss and to
    the code that decodes predictions, which keeps training numerically stable.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        sizes = [n_inputs, *hidden_layer_sizes]
        self.hidden = nn.Sequential(
            *(
                DenseBlock(n_in, n_out, activation, dropout, batch_norm)
                for n_in, n_out in zip(sizes[:-1], sizes[1:])
            )
        )
        self.output = nn.Linear(sizes[-1], n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(x))

    def linear_layers(self) -> list[nn.Linear]:
        """The dense layers in order, the output layer last."""
        return [m for m in self.modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def glorot_uniform_(
    module: nn.Module, activation: str = "relu", generator: torch.Generator | None = None
) -> None:
    """Initialise every ``nn.Linear`` as scikit-learn's MLP does.

    Weights and biases are drawn from U(-b, b) with b = sqrt(f / (fan_in + fan_out)),
    f = 2 for the logistic activation and 6 otherwise (Glorot and Bengio, 2010).
    """
    factor = 2.0 if activation == "logistic" else 6.0
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = math.sqrt(factor / (layer.in_features + layer.out_features))
            for param in (layer.weight, layer.bias):
                if param is not None:
                    values = torch.rand(param.shape, generator=generator, dtype=torch.float64)
                    param.copy_(values.mul_(2 * bound).sub_(bound))
