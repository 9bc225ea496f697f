"""Loss and gradients of a plain MLP written out by hand, without an autograd graph.

For small networks autograd's bookkeeping costs more than the arithmetic (the
measurements are in docs/benchmarks.md). This module computes the same forward
pass, the batch-mean loss and every parameter's gradient with one op per
product, and stores the gradients in ``.grad``.

It applies only where the gradient has a closed form that is easy to check:
sklnn's ``MLP`` built from ``Linear`` layers and identity, logistic, tanh or ReLU
activations (no dropout, no batch norm, no hooks), with the binary log-loss,
softmax log-loss or squared error, on unweighted batches. Everything else goes
through autograd. ``tests/engine/test_engine_fast_paths.py`` checks the gradients
against autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from sklnn.engine.objectives import BinaryLogLoss, RegressionLoss, SoftmaxLogLoss
from sklnn.modules.mlp import MLP

_ACTIVATIONS = {nn.Identity: "identity", nn.Sigmoid: "logistic", nn.Tanh: "tanh",
                nn.ReLU: "relu"}


def _has_hooks(module: nn.Module) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
               or getattr(m, "_backward_pre_hooks", None) for m in module.modules())


class DenseGradients:
    """Callable ``(X, y) -> detached mean loss`` that also sets every parameter's ``.grad``."""

    def __init__(self, layers, output: nn.Linear, objective) -> None:
        self.layers = layers  # [(Linear, activation name)]
        self.output = output
        self.objective = objective

    @classmethod
    def build(cls, module: nn.Module, objective) -> DenseGradients | None:
        """The hand-written path for ``module`` and ``objective``, or None if it does not apply."""
        if type(module) is not MLP or _has_hooks(module):
            return None
        if type(objective) not in (BinaryLogLoss, SoftmaxLogLoss, RegressionLoss):
            return None
        if isinstance(objective, RegressionLoss) and objective.loss != "squared_error":
            return None
        layers = []
        for block in module.hidden:
            children = list(block.children())
            if len(children) != 2 or type(children[0]) is not nn.Linear:
                return None
            kind = _ACTIVATIONS.get(type(children[1]))
            if kind is None:
                return None
            layers.append((children[0], kind))
        linears = [linear for linear, _ in layers] + [module.output]
        params = list(module.parameters())
        if any(linear.bias is None for linear in linears) or len(params) != 2 * len(linears):
            return None
        if not all(p.requires_grad for p in params):
            return None
        return cls(layers, module.output, objective)

    def __call__(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            inputs, outputs = [], []
            a = X
            for linear, kind in self.layers:
                inputs.append(a)
                h = torch.addmm(linear.bias, a, linear.weight.t())
                if kind == "relu":
                    a = torch.relu(h)
                elif kind == "tanh":
                    a = torch.tanh(h)
                elif kind == "logistic":
                    a = torch.sigmoid(h)
                else:
                    a = h
                outputs.append(a)
            raw = torch.addmm(self.output.bias, a, self.output.weight.t())
            loss, grad = self._loss_and_grad(raw, y)
            self._backward(grad, a, inputs, outputs)
        return loss

    def _loss_and_grad(self, raw: torch.Tensor, y: torch.Tensor):
        """Batch-mean loss and its gradient with respect to the raw outputs."""
        n = raw.shape[0]
        objective = self.objective
        loss = objective.mean_loss(raw, y)
        if isinstance(objective, SoftmaxLogLoss):
            grad = torch.softmax(raw, dim=1)
            grad.scatter_add_(1, y.unsqueeze(1), torch.full((n, 1), -1.0, dtype=raw.dtype,
                                                            device=raw.device))
            grad.div_(n)
        elif isinstance(objective, BinaryLogLoss):
            # The loss sums over labels and averages over samples.
            grad = torch.sigmoid(raw).sub_(y).div_(n)
        else:
            grad = (raw - y).div_(raw.numel())
        return loss, grad

    def _backward(self, grad, last_hidden, inputs, outputs) -> None:
        output = self.output
        _store_product(output.weight, grad.t(), last_hidden)
        _store_column_sum(output.bias, grad)
        upstream = output.weight
        for index in range(len(self.layers) - 1, -1, -1):
            linear, kind = self.layers[index]
            grad = grad.mm(upstream)
            a = outputs[index]
            if kind == "relu":
                grad = torch.ops.aten.threshold_backward(grad, a, 0)
            elif kind == "tanh":
                grad = grad * (1 - a * a)
            elif kind == "logistic":
                grad = grad * (a * (1 - a))
            _store_product(linear.weight, grad.t(), inputs[index])
            _store_column_sum(linear.bias, grad)
            upstream = linear.weight


# Gradients are written into the previous step's .grad buffers: a fresh tensor per
# parameter and step made glibc's heap fragment (RSS grew by hundreds of MB per epoch
# on the wide benchmark) and costs an allocation each.
def _reusable_grad(param: torch.Tensor) -> torch.Tensor | None:
    grad = param.grad
    if grad is None or grad.shape != param.shape or grad.dtype != param.dtype:
        return None
    return grad if grad.is_contiguous() else None


def _store_product(param: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> None:
    grad = _reusable_grad(param)
    if grad is None:
        param.grad = left.mm(right)
    else:
        torch.mm(left, right, out=grad)


def _store_column_sum(param: torch.Tensor, values: torch.Tensor) -> None:
    grad = _reusable_grad(param)
    if grad is None:
        param.grad = values.sum(dim=0)
    else:
        torch.sum(values, dim=0, out=grad)
