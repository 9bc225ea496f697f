"""Recording how each layer's inputs are distributed while a network trains."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from sklnn.callbacks._base import Callback

# the layers with weights: what "a layer's input" means in the batch-norm argument
WEIGHTED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                   nn.ConvTranspose2d, nn.ConvTranspose3d, nn.RNNBase)


class ActivationStatistics(Callback):
    """Record the mean and standard deviation of layers' inputs (or outputs) in ``history_``.

    Internal covariate shift (Ioffe and Szegedy, 2015) is the drift of a layer's
    input distribution while the layers before it learn; batch normalisation
    holds it still. This callback measures it: forward hooks on the chosen layers
    read their inputs during the training batches (never the validation or
    prediction passes) and each epoch's record gets an ``"activations"`` entry,
    ``{layer name: {"mean": ..., "std": ...}}``, over all elements of the tensor
    (batch, channels and positions). The hooks are removed when the fit ends.

    :class:`sklnn.plot.ActivationStatisticsDisplay` plots the records.

    Parameters
    ----------
    layers : None, str, list of str, or nn.Module subclass or tuple of them, default=None
        Which layers to watch, by their names in ``module_.named_modules()`` (e.g.
        ``"features.0.0"``) or by type (e.g. ``torch.nn.ReLU``: the inputs of the
        activations are the pre-activations Ioffe and Szegedy plotted). None watches
        every layer with weights: linear, convolutional and recurrent layers.
    where : {"input", "output"}, default="input"
        Record the tensor the layer receives or the one it returns.
    every : int or None, default=None
        None records one mean and standard deviation per epoch, over all of its
        training batches. An int k records those of every k-th batch (the 1st,
        (k+1)-th, ...) as lists in the epoch's record, with their batch indices
        under ``"batches"``: within-epoch drift, at a step's cost each time.

    Notes
    -----
    The statistics stay on the device and are read once per epoch, so the
    per-batch cost is one fused mean-and-variance pass over each watched tensor:
    small next to a GPU step, not on a CPU, where a small CNN's fit took about a
    third longer with the default and a few percent longer with ``every=10``. Forward
    hooks turn off the hand-written gradients of plain MLPs (they would skip the
    hooks), so a watched MLP trains at autograd's speed.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklnn import MLPClassifierGPU
    >>> from sklnn.callbacks import ActivationStatistics
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifierGPU(hidden_layer_sizes=(32,), max_iter=3, random_state=0,
    ...                        callbacks=[ActivationStatistics()]).fit(X / 16, y)
    >>> sorted(clf.history_[-1]["activations"])
    ['hidden.0.0', 'output']
    >>> sorted(clf.history_[-1]["activations"]["output"])
    ['mean', 'std']
    """

    def __init__(self, layers=None, where="input", every=None):
        self.layers = layers
        self.where = where
        self.every = every

    def wants_batches(self) -> bool:
        return self.every is not None

    def on_train_begin(self, trainer, **kwargs):
        if self.where not in ("input", "output"):
            raise ValueError(f"ActivationStatistics(where={self.where!r}): where must be "
                             "'input' or 'output'.")
        if self.every is not None and not (isinstance(self.every, numbers.Integral)
                                           and not isinstance(self.every, bool)
                                           and self.every >= 1):
            raise ValueError(f"ActivationStatistics(every={self.every!r}): every must be "
                             "None (per epoch) or an int >= 1 (every k-th batch).")
        self._remove_hooks()  # a fit that raised never reached on_train_end
        self.layer_names_ = _select(trainer.module, self.layers)
        modules = dict(trainer.module.named_modules())
        self._handles = []
        for name in self.layer_names_:
            if self.where == "input":
                hook = self._pre_hook(name)
                handle = modules[name].register_forward_pre_hook(hook)
            else:
                handle = modules[name].register_forward_hook(self._post_hook(name))
            self._handles.append(handle)
        self._reset()

    def on_batch_begin(self, trainer, *, batch_index, **kwargs):
        self._sampled = batch_index % self.every == 0
        if self._sampled:
            self._batches.append(batch_index)

    def on_epoch_end(self, trainer, *, record, **kwargs):
        stats = {}
        for name in self.layer_names_:
            parts = self._sums.get(name)
            if not parts:
                continue
            # one (mean, variance) per forward pass, read off the device in one transfer
            means, variances = torch.stack(
                [torch.stack((m, v)) for m, v, _ in parts]).double().cpu().unbind(1)
            if self.every is None:  # pool the batches: E[x^2] - E[x]^2 over all elements
                counts = torch.tensor([n for _, _, n in parts], dtype=torch.float64)
                mean = (counts * means).sum() / counts.sum()
                square = (counts * (variances + means * means)).sum() / counts.sum()
                std = (square - mean * mean).clamp_min(0.0).sqrt()
                stats[name] = {"mean": float(mean), "std": float(std)}
            else:
                stats[name] = {"mean": means.tolist(),
                               "std": variances.clamp_min(0.0).sqrt().tolist()}
        record["activations"] = stats
        if self.every is not None:
            record["activations_batches"] = list(self._batches)
        self._reset()

    def on_train_end(self, trainer, **kwargs):
        self._remove_hooks()

    # ------------------------------------------------------------------ hooks
    def _pre_hook(self, name):
        def hook(module, args):
            if args:
                self._accumulate(name, module, args[0])
        return hook

    def _post_hook(self, name):
        def hook(module, args, output):
            self._accumulate(name, module, output)
        return hook

    def _accumulate(self, name, module, tensor):
        if isinstance(tensor, (tuple, list)) and tensor:  # a recurrent layer's (output, state)
            tensor = tensor[0]
        if not (module.training and self._sampled and isinstance(tensor, torch.Tensor)
                and tensor.is_floating_point()):
            return  # validation and predict passes run in eval mode: not recorded
        with torch.no_grad():
            values = tensor.detach()
            if values.dtype in (torch.float16, torch.bfloat16):  # under autocast
                values = values.float()
            # one fused pass, stable in float32; batches are pooled in float64 at epoch end
            variance, mean = torch.var_mean(values, correction=0)
            self._sums.setdefault(name, []).append((mean, variance, values.numel()))

    def _reset(self):
        self._sums = {}  # layer name -> [(mean, variance, count) per forward pass]
        self._batches = []
        self._sampled = True

    def _remove_hooks(self):
        for handle in getattr(self, "_handles", ()):
            handle.remove()
        self._handles = []


def _select(module: nn.Module, layers) -> list[str]:
    """The names of the watched layers, in the module's order."""
    named = [(name, m) for name, m in module.named_modules() if name]
    if layers is None:
        layers = WEIGHTED_LAYERS
    if isinstance(layers, type) or (isinstance(layers, tuple) and layers
                                    and all(isinstance(t, type) for t in layers)):
        chosen = [name for name, m in named if isinstance(m, layers)]
        if not chosen:
            raise ValueError(f"ActivationStatistics(layers={layers!r}): the network has no "
                             f"such layer; its layers are {[n for n, _ in named]}.")
        # a recurrent layer's own submodules are not layers of the network
        return [n for n in chosen if not any(n.startswith(p + ".") for p in chosen)]
    names = [layers] if isinstance(layers, str) else list(layers)
    known = {name for name, _ in named}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"ActivationStatistics: the network has no layer {unknown[0]!r}; "
                         f"its layers are {sorted(known)}.")
    return names
