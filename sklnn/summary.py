"""Layer-by-layer summary of a network: output shapes and parameter counts."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Summary", "SummaryRow", "summarize"]

_GAP = "  "  # between columns, so that no two columns ever touch


@dataclass
class SummaryRow:
    """One leaf layer of a :class:`Summary`.

    Attributes
    ----------
    name : str
        The layer's dotted name in the network (``named_modules``).
    layer : str
        The layer's class name, e.g. ``"Conv2d"``.
    output_shape : tuple of int
        The shape of the layer's output for one sample (no batch dimension).
    n_params : int
        Parameters the layer owns itself (not its children's).
    """

    name: str
    layer: str
    output_shape: tuple[int, ...]
    n_params: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.layer})"

    @property
    def shape(self) -> str:
        return "(None, " + ", ".join(map(str, self.output_shape)) + ")"


@dataclass(repr=False)
class Summary:
    """Each leaf layer's output shape and parameter count, and the totals.

    ``str(summary)`` and ``repr(summary)`` are the same table, so a notebook or a REPL shows it
    once, and ``print(summary)`` prints it. Each column is as wide as its longest entry: long
    layer names (``stage3.8.conv2`` in a ResNet-56) never run into the next column.

    Attributes
    ----------
    rows : list of SummaryRow
        One row per leaf layer, in the order of the forward pass.
    total_params : int
        Parameters in the network; the rows' ``n_params`` add up to it.
    trainable_params : int
        Parameters with ``requires_grad``.

    Examples
    --------
    >>> from torch import nn
    >>> from sklnn.summary import summarize
    >>> summarize(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), (4,))
    layer       output shape  params
    --------------------------------
    0 (Linear)  (None, 3)         15
    1 (ReLU)    (None, 3)          0
    --------------------------------
    Total params: 15
    Trainable params: 15
    """

    rows: list[SummaryRow]
    total_params: int
    trainable_params: int

    def __str__(self) -> str:
        header = ("layer", "output shape", "params")
        cells = [(row.label, row.shape, f"{row.n_params:,}") for row in self.rows]
        widths = [max(len(text) for text in column) for column in zip(header, *cells)]

        def line(label, shape, params):
            return (f"{label:<{widths[0]}}{_GAP}{shape:<{widths[1]}}{_GAP}"
                    f"{params:>{widths[2]}}")

        rule = "-" * (sum(widths) + 2 * len(_GAP))
        lines = [line(*header), rule, *(line(*row) for row in cells), rule,
                 f"Total params: {self.total_params:,}",
                 f"Trainable params: {self.trainable_params:,}"]
        return "\n".join(lines)

    __repr__ = __str__


@torch.no_grad()
def summarize(
    module: nn.Module,
    input_shape: tuple[int, ...],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Summary:
    """Run one zero sample through ``module`` and record each leaf layer's output.

    Parameters are counted on the leaf that owns them, so the rows add up to
    the total.

    Parameters
    ----------
    module : torch.nn.Module
        The network; it is left in the training mode it was in.
    input_shape : tuple of int
        The shape of one sample, without the batch dimension.
    device : torch.device or str, default="cpu"
        Where the network's parameters are.
    dtype : torch.dtype, default=torch.float32
        The dtype of the zero sample.

    Returns
    -------
    Summary
        Shows as the table.
    """
    rows: list[SummaryRow] = []
    hooks = []
    for name, layer in module.named_modules():
        if next(layer.children(), None) is not None:
            continue

        def hook(mod, inputs, output, name=name):
            out = output[0] if isinstance(output, tuple) else output
            if isinstance(out, nn.utils.rnn.PackedSequence):  # recurrent layers on padded input
                out = out.data
            n_params = sum(p.numel() for p in mod.parameters(recurse=False))
            rows.append(SummaryRow(name, type(mod).__name__, tuple(out.shape[1:]), n_params))

        hooks.append(layer.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    try:
        if not _shapes_only(module, input_shape, dtype, rows):
            module(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        module.train(was_training)
        for handle in hooks:
            handle.remove()
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return Summary(rows, total, trainable)


def _shapes_only(module: nn.Module, input_shape, dtype, rows: list) -> bool:
    """Run the sample on PyTorch's ``meta`` device (shapes, no storage, no arithmetic), with
    the parameters swapped for meta stand-ins: a loaded model's ``input_shape_`` may be
    huge. False (``rows`` emptied) when a layer needs real values (sequence packing)."""
    from torch.func import functional_call

    state = {name: torch.empty_like(tensor, device="meta")
             for name, tensor in (*module.named_parameters(), *module.named_buffers())}
    try:
        functional_call(module, state, (torch.zeros((1, *input_shape), device="meta",
                                                    dtype=dtype),))
    except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError):
        rows.clear()
        return False
    return True
