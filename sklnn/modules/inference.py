"""Prediction as one network: input handling, the trained network and the output decoding.

A fitted estimator's ``predict`` validates and reshapes its input, runs the network and
decodes the outputs (an activation, label probabilities, a forecaster's inverse
transforms). The modules here express those steps in torch, so that the whole path from
the rows ``predict`` accepts to what it returns can be exported (``torch.export``, ONNX)
and served without sklnn. Every step is a plain tensor operation with no data-dependent
Python control flow, so that tracing records the same graph for every batch.
"""

from __future__ import annotations

import torch
from torch import nn


class Predictor(nn.Module):
    """``decode(network(prepare(x)))``, computed in ``dtype``, returned in x's float dtype.

    Parameters
    ----------
    network : nn.Module
        The trained network, in eval mode.
    prepare : nn.Module, default=None
        Input handling before the network (e.g. :class:`ChannelsLastRows`).
    decode : nn.Module, default=None
        Output handling after the network (e.g. :class:`Probabilities`).
    dtype : torch.dtype, default=torch.float32
        The dtype the network computes in.
    integer_input : bool, default=False
        Whether the network reads int64 (token indices) instead of floats.
    """

    def __init__(self, network: nn.Module, *, prepare: nn.Module | None = None,
                 decode: nn.Module | None = None, dtype: torch.dtype = torch.float32,
                 integer_input: bool = False) -> None:
        super().__init__()
        self.prepare = prepare if prepare is not None else nn.Identity()
        self.network = network
        self.decode = decode if decode is not None else nn.Identity()
        self.dtype = dtype
        self.integer_input = integer_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # dtypes are known when tracing: a cast to the same dtype is left out of the graph
        out_dtype = x.dtype if x.is_floating_point() else torch.float32
        if self.integer_input and x.is_floating_point():
            x = x.round().long()
        elif not self.integer_input and x.dtype != self.dtype:
            x = x.to(self.dtype)
        out = self.network(self.prepare(x))
        if isinstance(self.decode, Probabilities):
            return self.decode(out, out_dtype)
        out = self.decode(out)
        return out if out.dtype == out_dtype else out.to(out_dtype)


class ChannelsLastRows(nn.Module):
    """Flat rows of ``(H, W, C)`` images to flat rows of ``(C, H, W)`` images."""

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)  # (C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, height, width = self.image_shape
        images = x.unflatten(1, (height, width, channels))
        return images.permute(0, 3, 1, 2).flatten(1)


class Activation(nn.Module):
    """The output activation: "identity", "exp", "softmax", "logistic" or "normalize"
    (probabilities divided by their sum), on ``(n, outputs)``; "flatten" reshapes to it."""

    KINDS = ("identity", "exp", "softmax", "logistic", "normalize", "flatten")

    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}; got {kind!r}.")
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (n, outputs), as reshape(n, -1) makes it; not with x.shape[0], which a trace
        # would keep as the example's batch size
        if x.dim() == 1:
            x = x.unsqueeze(1)
        elif x.dim() > 2:
            x = x.flatten(1)
        if self.kind == "exp":
            return torch.exp(x)
        if self.kind == "softmax":
            return torch.softmax(x, dim=1)
        if self.kind == "logistic":
            return torch.sigmoid(x)
        if self.kind == "normalize":
            return x / x.sum(dim=1, keepdim=True)
        return x

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class Probabilities(nn.Module):
    """Class probabilities as ``predict_proba`` returns them, from the network's outputs.

    ``layout`` is "columns" (one column per class or label, as given), "binary" (one
    probability of the positive class, expanded to ``[1 - p, p]`` in the output dtype,
    as ``predict_proba`` computes it) or "single" (a model fitted on one class: ones).
    """

    def __init__(self, activation: str, layout: str = "columns") -> None:
        super().__init__()
        self.activation = Activation(activation)
        self.layout = layout

    def forward(self, x: torch.Tensor, out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
        proba = self.activation(x)
        proba = proba if proba.dtype == out_dtype else proba.to(out_dtype)
        if self.layout == "single":
            return torch.ones_like(proba[:, :1])
        if self.layout == "binary":
            return torch.cat([1 - proba, proba], dim=1)
        return proba

    def extra_repr(self) -> str:
        return f"layout={self.layout!r}"


class Values(nn.Module):
    """Regression outputs as ``predict`` returns them: ``(n,)`` for one output."""

    def __init__(self, activation: str = "identity", *, n_outputs: int = 1) -> None:
        super().__init__()
        self.activation = Activation(activation)
        self.n_outputs = int(n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(x)
        return out.reshape(-1) if self.n_outputs == 1 else out


class WindowForecaster(nn.Module):
    """A forecaster's whole prediction: raw windows to forecasts in the series' units.

    Each window (flat rows of ``steps * features`` values) goes through the forecaster's
    per-window transforms in float64: the seasonal base, differencing and instance
    normalisation (see ``sklnn.estimators._forecast_transforms``), then the fitted
    standardisation, the network (in ``dtype``) and the exact inverse of every step.

    Parameters
    ----------
    network : nn.Module
    steps, features : int
        The window's shape.
    horizon : int
        Values forecast after each window.
    target_feature : int
        The feature the forecasts continue.
    differencing : {0, 1}
    instance_norm : bool
    season_length : int or None
    input_mean, input_scale : tensor of shape (features,)
    target_mean, target_scale : float
    n_quantiles : int
        Outputs per forecast value (0: a point forecast); ``point`` is the quantile
        ``predict`` returns.

    The forecasts are float64 whatever the input's dtype, as ``predict`` returns them.
    """

    def __init__(self, network: nn.Module, *, steps: int, features: int, horizon: int,
                 target_feature: int, differencing: int, instance_norm: bool,
                 season_length: int | None, input_mean: torch.Tensor,
                 input_scale: torch.Tensor, target_mean: float, target_scale: float,
                 n_quantiles: int = 0, point: int = 0,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.network = network
        self.steps, self.features, self.horizon = int(steps), int(features), int(horizon)
        self.target = min(int(target_feature), self.features - 1)
        self.differencing = int(differencing)
        self.instance_norm = bool(instance_norm)
        self.season_length = None if season_length is None else int(season_length)
        self.register_buffer("input_mean", input_mean.to(torch.float64).reshape(-1))
        self.register_buffer("input_scale", input_scale.to(torch.float64).reshape(-1))
        self.target_mean, self.target_scale = float(target_mean), float(target_scale)
        self.n_quantiles, self.point = int(n_quantiles), int(point)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # No zeros_like or ones_like here: a traced one would keep the example's batch size.
        values = x.to(torch.float64).unflatten(1, (self.steps, self.features))
        raw_target = values[:, :, self.target]
        season = self.season_length
        if self.differencing:
            values = values - torch.cat([values[:, :1], values[:, :-1]], dim=1)
        observed = values[:, self.differencing:] if self.steps > self.differencing else values
        model_units, target_mean, target_scale = values, None, None
        if self.instance_norm:
            mean = observed.mean(dim=1)
            std = (observed - mean[:, None]).square().mean(dim=1).sqrt()
            scale = torch.where(std > 1e-8 * mean.abs().clamp_min(1.0), std, 1.0)
            model_units = (values - mean[:, None]) / scale[:, None]
            target_mean, target_scale = mean[:, self.target], scale[:, self.target]
        if self.differencing:  # no change is known before the first step
            model_units = nn.functional.pad(model_units[:, 1:], (0, 0, 1, 0))
        model_units = (model_units - self.input_mean) / self.input_scale
        out = self.network(model_units.flatten(1).to(self.dtype)).to(torch.float64)
        if season is not None:
            target_mean = None  # deviations from seasonal naive are scaled, not centred
            target_scale = self._seasonal_spread(raw_target, season) if self.instance_norm \
                else None
        if self.n_quantiles:
            out = out.unflatten(1, (self.horizon, self.n_quantiles))
            out = out.sort(dim=-1).values  # never crossing, as QuantileLoss.decode
        else:
            out = out[:, out.shape[1] - self.horizon:].unsqueeze(-1)
        y = out * self.target_scale + self.target_mean
        if target_scale is not None:
            y = y * target_scale[:, None, None]
        if target_mean is not None:
            y = y + target_mean[:, None, None]
        if self.differencing:
            y = torch.cumsum(y, dim=1)
            if season is None:  # the deviations from the seasonal base start from 0
                y = y + raw_target[:, -1, None, None]
        if season is not None:
            repeats = -(-self.horizon // season)
            base = raw_target[:, self.steps - season:].repeat(1, repeats)[:, :self.horizon]
            y = y + base[:, :, None]
        y = y[:, :, self.point if self.n_quantiles else 0]
        return y.reshape(-1) if self.horizon == 1 else y  # float64, as predict returns

    def _seasonal_spread(self, raw_target: torch.Tensor, season: int) -> torch.Tensor | None:
        """The spread of each window's season-to-season changes (1 where it is ~0)."""
        if self.steps - season <= 1:
            return None  # no spread to measure: a scale of one
        changes = raw_target[:, season:] - raw_target[:, :-season]
        spread = (changes - changes.mean(dim=1, keepdim=True)).square().mean(dim=1).sqrt()
        level = raw_target.abs().mean(dim=1).clamp_min(1.0)
        return torch.where(spread > 1e-8 * level, spread, 1.0)


class SeasonalRepeat(nn.Module):
    """The seasonal-naive forecast: each window's last season of its ``target`` feature,
    repeated over ``horizon`` steps; float64, as ``SeasonalNaive.predict`` returns it."""

    def __init__(self, *, steps: int, features: int, season_length: int, target_feature: int,
                 horizon: int) -> None:
        super().__init__()
        self.steps, self.features = int(steps), int(features)
        self.season_length, self.target = int(season_length), int(target_feature)
        self.horizon = int(horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = x.to(torch.float64).unflatten(1, (self.steps, self.features))
        season = values[:, self.steps - self.season_length:, self.target]
        out = season[:, [h % self.season_length for h in range(self.horizon)]]
        return out.reshape(-1) if self.horizon == 1 else out


class Encode(nn.Module):
    """An autoencoder's ``encode`` (the codes, without input noise) as ``forward``: what
    the autoencoders' ``transform`` returns."""

    def __init__(self, autoencoder: nn.Module) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.encode(x)
