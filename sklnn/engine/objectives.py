"""Training objectives: per-sample loss, validation score and output decoding per task.

The network returns raw outputs; each objective applies its output activation
inside the loss (for numerical stability) and when decoding predictions.
Losses follow scikit-learn's MLP: log-loss summed over outputs, half squared
error averaged over outputs, half Poisson deviance with a log link.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F


class Objective:
    """Base class; subclasses define the three methods below."""

    out_activation = "identity"
    #: dtype of the encoded targets handed to the loss
    target_dtype: torch.dtype | None = None

    def per_sample_loss(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean_loss(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean of ``per_sample_loss``; subclasses fuse the reductions (fewer ops per step)."""
        return self.per_sample_loss(raw, y).mean()

    def score(
        self, raw: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Validation score, higher is better (accuracy or R^2), weighted like scikit-learn."""
        raise NotImplementedError

    def decode(self, raw: torch.Tensor) -> torch.Tensor:
        """Probabilities for classifiers, predictions for regressors."""
        return raw

    def place(self, device: torch.device, dtype: torch.dtype) -> None:
        """Move what the objective holds (a loss's class weights) to the fit's device."""

    def weighted_loss(
        self, raw: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | float]:
        """Mean loss over the batch (weighted when ``weight`` is given) and its normaliser.

        The normaliser (batch size or weight sum) also scales the L2 penalty, as
        in scikit-learn. A batch whose weights are all zero contributes no loss.
        """
        if weight is None:
            return self.mean_loss(raw, y), raw.shape[0]
        losses = self.per_sample_loss(raw, y)
        total = weight.sum()
        normaliser = torch.where(total > 0, total, torch.ones_like(total))
        return (losses * weight).sum() / normaliser, normaliser


class BinaryLogLoss(Objective):
    """One logistic output per label: binary and multilabel classification."""

    out_activation = "logistic"
    target_dtype = None  # same float dtype as the network

    def per_sample_loss(self, raw, y):
        return F.binary_cross_entropy_with_logits(raw, y, reduction="none").sum(dim=1)

    def mean_loss(self, raw, y):
        # The per-label mean times the number of labels is the mean per-sample sum.
        loss = F.binary_cross_entropy_with_logits(raw, y)
        return loss if raw.shape[1] == 1 else loss * raw.shape[1]

    def score(self, raw, y, weight=None):
        # Subset accuracy, as accuracy_score computes it for multilabel targets.
        return _weighted_mean(((raw > 0) == (y > 0.5)).all(dim=1).to(raw.dtype), weight)

    def decode(self, raw):
        return torch.sigmoid(raw)


class SoftmaxLogLoss(Objective):
    """Multiclass classification; targets are class indices."""

    out_activation = "softmax"
    target_dtype = torch.long

    def per_sample_loss(self, raw, y):
        return F.cross_entropy(raw, y, reduction="none")

    def mean_loss(self, raw, y):
        return F.cross_entropy(raw, y)

    def score(self, raw, y, weight=None):
        return _weighted_mean((raw.argmax(dim=1) == y).to(raw.dtype), weight)

    def decode(self, raw):
        return torch.softmax(raw, dim=1)


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum()


def _r2(pred: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    w = torch.ones_like(y[:, :1]) if weight is None else weight.reshape(-1, 1).to(y.dtype)
    mean = (w * y).sum(dim=0) / w.sum()
    residual = (w * (y - pred) ** 2).sum(dim=0)
    total = (w * (y - mean) ** 2).sum(dim=0)
    # r2_score's convention for constant targets: 1 if predicted exactly, else 0.
    safe = torch.where(total > 0, total, torch.ones_like(total))
    r2 = torch.where(total > 0, 1 - residual / safe, (residual == 0).to(pred.dtype))
    return r2.mean()


class RegressionLoss(Objective):
    """Regression with one of scikit-learn's or PyTorch's usual losses."""

    LOSSES = ("squared_error", "poisson", "absolute_error", "huber")

    def __init__(self, loss: str = "squared_error") -> None:
        if loss not in self.LOSSES:
            raise ValueError(f"loss={loss!r} is not one of {self.LOSSES}.")
        self.loss = loss
        self.out_activation = "exp" if loss == "poisson" else "identity"

    def per_sample_loss(self, raw, y):
        if self.loss == "squared_error":
            per_output = 0.5 * (raw - y) ** 2
        elif self.loss == "poisson":
            # Half Poisson deviance, as scikit-learn reports it.
            per_output = torch.xlogy(y, y) - y + torch.exp(raw) - y * raw
        elif self.loss == "absolute_error":
            per_output = (raw - y).abs()
        else:
            per_output = F.huber_loss(raw, y, reduction="none", delta=1.0)
        return per_output.mean(dim=1)

    def mean_loss(self, raw, y):
        if self.loss == "squared_error":
            # Every sample has the same number of outputs: the mean over all entries.
            return 0.5 * F.mse_loss(raw, y)
        return self.per_sample_loss(raw, y).mean()

    def score(self, raw, y, weight=None):
        return _r2(self.decode(raw), y, weight)

    def decode(self, raw):
        return torch.exp(raw) if self.loss == "poisson" else raw


class QuantileLoss(Objective):
    """Pinball loss for several quantiles of each target (Koenker and Bassett, 1978).

    The network has ``n_targets * len(quantiles)`` outputs, target-major (the
    quantiles of the first target, then of the second...). The loss is the
    pinball loss averaged over targets and quantiles; the validation score is
    the R^2 of the quantile nearest the median. ``decode`` sorts each target's
    quantiles, so that they never cross (a rearrangement that can only lower
    the pinball loss: Chernozhukov, Fernandez-Val and Galichon, 2010).
    """

    def __init__(self, quantiles) -> None:
        self.quantiles = tuple(float(q) for q in quantiles)
        self.point = min(range(len(self.quantiles)), key=lambda i: abs(self.quantiles[i] - 0.5))

    def _per_target(self, raw: torch.Tensor) -> torch.Tensor:
        return raw.reshape(raw.shape[0], -1, len(self.quantiles))

    def per_sample_loss(self, raw, y):
        q = torch.tensor(self.quantiles, dtype=raw.dtype, device=raw.device)
        error = y.unsqueeze(-1) - self._per_target(raw)
        return torch.maximum(q * error, (q - 1) * error).mean(dim=(1, 2))

    def score(self, raw, y, weight=None):
        return _r2(self._per_target(raw)[:, :, self.point], y, weight)

    def decode(self, raw):
        return self._per_target(raw).sort(dim=-1).values.reshape(raw.shape[0], -1)


class CriterionObjective(Objective):
    """A PyTorch loss (``criterion``) as the objective of a user's own module.

    ``task`` is "classes" (one output per class, integer targets), "labels" (one output
    per label or a single binary output, 0/1 float targets) or "values" (regression);
    ``outputs`` says what the module returns for classification: "logits",
    "probabilities" (it ends with a softmax or sigmoid) or "log_probabilities". The
    criterion receives the module's outputs as they are, except that probabilities are
    passed through ``log`` for ``torch.nn.NLLLoss`` (which expects log-probabilities).
    Per-sample losses, for sample weights, come from a copy of the criterion with
    ``reduction="none"``, averaged over each sample's outputs.
    """

    def __init__(self, criterion, task: str, outputs: str = "logits") -> None:
        self.criterion = criterion
        self.task = task
        self.outputs = outputs
        self.target_dtype = torch.long if task == "classes" else None
        self.out_activation = {"values": "identity", "labels": "logistic"}.get(task, "softmax")
        self._log_inputs = (outputs == "probabilities"
                            and isinstance(criterion, torch.nn.NLLLoss))

    def place(self, device, dtype):
        if isinstance(self.criterion, torch.nn.Module):
            self.criterion.to(device=device, dtype=dtype)

    def _inputs(self, raw, y):
        if self._log_inputs:
            return torch.log(raw.clamp_min(torch.finfo(raw.dtype).tiny))
        if self.task != "classes" and raw.ndim == 1:
            return raw.reshape(y.shape)
        return raw

    def mean_loss(self, raw, y):
        return self.criterion(self._inputs(raw, y), y)

    def per_sample_loss(self, raw, y):
        if getattr(self.criterion, "reduction", None) is None:
            raise ValueError(
                f"sample_weight needs the loss of each sample, but criterion "
                f"{type(self.criterion).__name__} has no `reduction` to set to 'none'; drop "
                "sample_weight, or give it a reduction attribute that it honours.")
        per_sample = copy.copy(self.criterion)
        per_sample.reduction = "none"
        losses = per_sample(self._inputs(raw, y), y)
        return losses.reshape(losses.shape[0], -1).mean(dim=1) if losses.ndim > 1 else losses

    def score(self, raw, y, weight=None):
        if self.task == "values":
            return _r2(self.decode(raw), y, weight)
        if self.task == "classes":
            return _weighted_mean((raw.argmax(dim=1) == y).to(raw.dtype), weight)
        threshold = 0.5 if self.outputs == "probabilities" else 0.0
        hits = ((raw.reshape(y.shape) > threshold) == (y > 0.5)).all(dim=1)
        return _weighted_mean(hits.to(raw.dtype), weight)

    def decode(self, raw):
        if self.task == "values":
            return raw.reshape(raw.shape[0], -1)
        if self.task == "labels":
            raw = raw.reshape(raw.shape[0], -1)
            return raw if self.outputs == "probabilities" else torch.sigmoid(raw)
        if self.outputs == "probabilities":
            return raw / raw.sum(dim=1, keepdim=True)
        return torch.softmax(raw, dim=1)  # of log-probabilities: exp, renormalised


class ReconstructionLoss(Objective):
    """An autoencoder's loss: half the squared error averaged over the ``n_features``
    reconstructed values (as ``RegressionLoss("squared_error")``), plus, for a variational
    autoencoder, ``kl_weight`` times the Kullback-Leibler divergence of the codes'
    Gaussian from N(0, I), divided by ``n_features`` likewise.

    A variational network's raw output is ``[reconstruction, means, log-variances]``; with
    ``kl_weight=1`` the loss is the negative evidence lower bound of a Gaussian decoder of
    unit variance, per feature (up to a constant). The validation score is the negative
    mean squared reconstruction error (higher is better).
    """

    def __init__(self, n_features: int, kl_weight: float | None = None) -> None:
        self.n_features = int(n_features)
        self.kl_weight = kl_weight

    def per_sample_loss(self, raw, y):
        loss = 0.5 * ((raw[:, : self.n_features] - y) ** 2).mean(dim=1)
        if self.kl_weight is None:
            return loss
        mean, log_var = raw[:, self.n_features:].chunk(2, dim=1)
        kl = 0.5 * (mean**2 + torch.exp(log_var) - 1.0 - log_var).sum(dim=1)
        return loss + self.kl_weight * kl / self.n_features

    def score(self, raw, y, weight=None):
        return -_weighted_mean(((raw[:, : self.n_features] - y) ** 2).mean(dim=1), weight)

    def decode(self, raw):
        return raw[:, : self.n_features]
