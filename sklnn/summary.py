"""Layer-by-layer summary of a network: output shapes and parameter counts."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class SummaryRow:
    name: str
    layer: str
    output_shape: tuple[int, ...]
    n_params: int


@dataclass
class Summary:
    rows: list[SummaryRow]
    total_params: int
    trainable_params: int

    def __str__(self) -> str:
        header = f"{'layer':<28}{'output shape':<24}{'params':>12}"
        lines = [header, "-" * len(header)]
        for row in self.rows:
            label = f"{row.name} ({row.layer})"
            shape = "(None, " + ", ".join(map(str, row.output_shape)) + ")"
            lines.append(f"{label:<28}{shape:<24}{row.n_params:>12,}")
        lines.append("-" * len(header))
        lines.append(f"Total params: {self.total_params:,}")
        lines.append(f"Trainable params: {self.trainable_params:,}")
        return "\n".join(lines)


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
        module(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    finally:
        module.train(was_training)
        for handle in hooks:
            handle.remove()
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return Summary(rows, total, trainable)
