"""Autoencoders: an encoder to a few codes, a decoder back, optionally variational or denoising.

:class:`Autoencoder` joins any encoder (rows or images to ``n_components`` codes, or to
``2 * n_components`` values, the means and log-variances, when variational) and any
decoder (codes to flat rows). :func:`mlp_autoencoder` builds dense halves and
:func:`conv_autoencoder` strided convolutions down and transposed convolutions
(``nn.ConvTranspose2d``) back up, each undoing one encoder step exactly.

The network's forward pass returns the reconstruction, and for a variational
autoencoder the reconstruction followed by the codes' means and log-variances, which the
loss needs for its Kullback-Leibler term (Kingma and Welling, 2014).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sklnn.modules.activations import make_activation
from sklnn.modules.images import Flatten, ImageInput
from sklnn.modules.mlp import MLP
from sklnn.modules.randomness import current_generator


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode only (a denoising autoencoder's corruption).

    Draws from the fit's generator (see :mod:`sklnn.modules.randomness`).
    """

    def __init__(self, std: float = 0.0) -> None:
        super().__init__()
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0.0:
            return x
        noise = torch.randn(x.shape, device=x.device, dtype=x.dtype,
                            generator=current_generator(x.device))
        return x + self.std * noise

    def extra_repr(self) -> str:
        return f"std={self.std}"


class Autoencoder(nn.Module):
    """Encoder, latent codes, decoder.

    Parameters
    ----------
    encoder : nn.Module
        Input rows (or images) to ``n_components`` codes, or to ``2 * n_components``
        values (means, then log-variances) when ``variational``.
    decoder : nn.Module
        Codes to reconstructed flat rows.
    n_components : int
    variational : bool
        Sample the codes with the reparameterisation ``mean + exp(log_var / 2) * eps``
        in training; in eval mode the codes are the means.
    noise : float
        Standard deviation of Gaussian noise added to the input in training mode.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, n_components: int, *,
                 variational: bool = False, noise: float = 0.0) -> None:
        super().__init__()
        self.corrupt = GaussianNoise(noise)
        self.encoder = encoder
        self.decoder = decoder
        self.n_components = int(n_components)
        self.variational = bool(variational)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes (the means of a variational autoencoder), without input noise."""
        return self.encoder(x)[:, : self.n_components]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Flat reconstructed rows from codes."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        encoded = self.encoder(self.corrupt(x))
        if not self.variational:
            return self.decoder(encoded)
        mean, log_var = encoded[:, : self.n_components], encoded[:, self.n_components:]
        z = mean
        if self.training:
            eps = torch.randn(mean.shape, device=mean.device, dtype=mean.dtype,
                              generator=current_generator(mean.device))
            z = mean + torch.exp(0.5 * log_var) * eps
        return torch.cat([self.decoder(z), mean, log_var], dim=1)


def mlp_autoencoder(n_features: int, n_components: int, hidden_layer_sizes: Sequence[int], *,
                    activation: str = "relu", variational: bool = False,
                    noise: float = 0.0) -> Autoencoder:
    """Dense encoder through ``hidden_layer_sizes`` and the mirrored dense decoder."""
    hidden = [int(h) for h in hidden_layer_sizes]
    latent = 2 * n_components if variational else n_components
    encoder = MLP(n_features, hidden, latent, activation=activation)
    decoder = MLP(n_components, hidden[::-1], n_features, activation=activation)
    return Autoencoder(encoder, decoder, n_components, variational=variational, noise=noise)


def _halved(size: int) -> int:
    """Side of a map after a 3x3 convolution with stride 2 and padding 1."""
    return (size - 1) // 2 + 1


def conv_autoencoder(image_shape: tuple[int, int, int], n_components: int,
                     filters: Sequence[int], *, activation: str = "relu",
                     variational: bool = False, noise: float = 0.0) -> Autoencoder:
    """Convolutional encoder and transposed-convolution decoder for ``(C, H, W)`` images.

    Each encoder step is a 3x3 convolution with stride 2 and padding 1 (halving the
    sides, rounding up), then the activation; a linear layer maps the last map to the
    codes. The decoder maps the codes back to that map and runs one 3x3 transposed
    convolution with stride 2 per encoder step, in reverse, whose ``output_padding``
    (0 for an odd side, 1 for an even one) restores each side exactly; the last one
    outputs the image's channels with no activation. Rows come back flattened.
    """
    channels, height, width = (int(s) for s in image_shape)
    filters = [int(f) for f in filters]
    sides = [(height, width)]
    for _ in filters:
        sides.append((_halved(sides[-1][0]), _halved(sides[-1][1])))
    encoder_layers: list[nn.Module] = [ImageInput((channels, height, width))]
    for c_in, c_out in zip([channels, *filters[:-1]], filters):
        encoder_layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                           make_activation(activation)]
    last = (filters[-1], *sides[-1])
    flat = last[0] * last[1] * last[2]
    latent = 2 * n_components if variational else n_components
    encoder_layers += [Flatten(), nn.Linear(flat, latent)]

    decoder_layers: list[nn.Module] = [nn.Linear(n_components, flat),
                                       make_activation(activation), nn.Unflatten(1, last)]
    outs = [channels, *filters[:-1]]
    for step in reversed(range(len(filters))):
        target = sides[step]
        padding = (1 - target[0] % 2, 1 - target[1] % 2)
        decoder_layers.append(nn.ConvTranspose2d(filters[step], outs[step], 3, stride=2,
                                                 padding=1, output_padding=padding))
        if step > 0:
            decoder_layers.append(make_activation(activation))
    decoder_layers.append(Flatten())
    return Autoencoder(nn.Sequential(*encoder_layers), nn.Sequential(*decoder_layers),
                       n_components, variational=variational, noise=noise)
