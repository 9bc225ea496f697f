"""Recurrent networks over fixed-length windows, with packing for padded sequences."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sklnn.modules.randomness import Dropout

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
#: what the head of a sequence-to-vector network reads
READOUTS = ("last", "mean", "flatten")


def sequence_lengths(x: torch.Tensor, padding_value: float) -> torch.Tensor:
    """Steps before the trailing padding of each sequence in ``x`` (batch, steps, features).

    A step is padding when every feature equals ``padding_value`` (NaN matches
    NaN). Only trailing padding counts, so a padding-valued step inside a
    sequence is data. A sequence made only of padding keeps one step, because
    a recurrent layer cannot run over zero steps.
    """
    if math.isnan(padding_value):
        is_padding = torch.isnan(x).all(dim=2)
    else:
        is_padding = (x == padding_value).all(dim=2)
    # the last real step's position, 1-based (a max, not a cumulative product from the
    # end: ONNX has no CumProd, and the padding masks of CNNSequenceClassifier export)
    steps = torch.arange(1, x.shape[1] + 1, device=x.device)
    return (steps * (~is_padding).to(torch.int64)).amax(dim=1).clamp_min(1)


def real_steps(lengths: torch.Tensor, n_steps: int, dtype: torch.dtype) -> torch.Tensor:
    """A (batch, n_steps) mask: 1 on each sequence's first ``lengths`` steps, 0 on its padding."""
    steps = torch.arange(n_steps, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).to(dtype)


class ConvStem1d(nn.Module):
    """A strided convolution, ``norm_layer(channels)`` and ``act_layer()`` over the steps.

    Maps ``(batch, steps, n_inputs)`` to ``(batch, output_length(steps), channels)``:
    each output step reads ``kernel_size`` input steps, ``stride`` apart, so the
    recurrent layers after it run over about ``steps / stride`` steps of local
    features instead of every raw step.
    """

    def __init__(self, n_inputs: int, channels: int, kernel_size: int, stride: int, *,
                 norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm1d,
                 act_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, kernel_size // 2
        self.conv = nn.Conv1d(n_inputs, channels, kernel_size, stride=stride,
                              padding=self.padding, bias=norm_layer is None)
        self.norm = norm_layer(channels) if norm_layer is not None else nn.Identity()
        self.act = act_layer()

    def output_length(self, steps):
        """Output steps for ``steps`` input steps (an int or a tensor of lengths)."""
        return (steps + 2 * self.padding - self.kernel_size) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x.transpose(1, 2)))).transpose(1, 2)


class RecurrentNetwork(nn.Module):
    """Stacked RNN, LSTM or GRU layers followed by a linear head.

    Inputs are windows flattened to rows of ``n_steps * n_inputs`` values (the
    layout scikit-learn estimators pass around) or 3-D tensors of shape
    ``(batch, steps, n_inputs)``; rows are reshaped back to sequences first.

    Parameters
    ----------
    n_steps : int
        Steps per sequence in the flattened layout.
    n_inputs : int
        Features per step.
    n_outputs : int
        Outputs of the head: per sequence, or per step when ``all_steps``.
    cell : {"rnn", "lstm", "gru"}
    hidden_size : int
        Units per recurrent layer (per direction).
    num_layers : int
    dropout : float
        Dropout between recurrent layers and before the head.
    bidirectional : bool
        Also run each layer backwards and concatenate both directions.
    all_steps : bool
        Sequence-to-sequence: apply the head at every step from ``first_step``
        on and return ``(batch, (steps - first_step) * n_outputs)``, step-major.
        Otherwise return the head of the final state, ``(batch, n_outputs)``.
    first_step : int
        With ``all_steps``, the first step whose outputs are returned.
    padding_value : float or None
        When set, trailing steps whose features all equal it are padding; the
        sequences are packed so that padding never enters the computation.
    readout : {"last", "mean", "flatten"}
        Without ``all_steps``, what the head reads from the last layer: its
        final state ("last", after both ends when bidirectional), the mean of
        its outputs over the real steps ("mean"), or the outputs of all
        ``n_steps`` steps joined into one vector ("flatten", the MNIST-1D
        paper's GRU), with zeros in place of padded or missing steps.
    stem : ConvStem1d or None
        Reads the sequences before the recurrent layers (sequence-to-vector
        only): padded steps are zeroed before it, and each sequence's length
        becomes the stem's output length, so padding still never enters the
        recurrent layers. Its ``n_inputs`` must match, and the recurrent layers
        then read its channels.
    """

    def __init__(
        self,
        n_steps: int,
        n_inputs: int,
        n_outputs: int,
        *,
        cell: str = "lstm",
        hidden_size: int = 20,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        all_steps: bool = False,
        first_step: int = 0,
        padding_value: float | None = None,
        readout: str = "last",
        stem: ConvStem1d | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {list(CELLS)}; got {cell!r}.")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {list(READOUTS)}; got {readout!r}.")
        self.n_steps = n_steps
        self.n_inputs = n_inputs
        self.all_steps = all_steps
        self.first_step = first_step
        self.padding_value = padding_value
        self.readout = readout
        if stem is not None and all_steps:
            raise ValueError("A stem changes the number of steps: it is for "
                             "sequence-to-vector networks only (all_steps=False).")
        self.stem = stem
        self.recurrent = CELLS[cell](
            n_inputs if stem is None else stem.conv.out_channels,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            # torch only applies it between layers, and warns when there is one layer
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        n_directions = 2 if bidirectional else 1
        width = hidden_size * n_directions
        if readout == "flatten" and not all_steps:
            width *= n_steps if stem is None else stem.output_length(n_steps)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.reshape(x.shape[0], self.n_steps, self.n_inputs)
        lengths = None
        if self.padding_value is not None:
            lengths = sequence_lengths(x, self.padding_value)
            if bool((lengths == x.shape[1]).all()):
                lengths = None  # nothing padded: packing would only cost time
            elif math.isnan(self.padding_value):
                x = torch.nan_to_num(x)
        if self.stem is not None:
            if lengths is not None:
                x = x * real_steps(lengths, x.shape[1], x.dtype).unsqueeze(2)
                lengths = self.stem.output_length(lengths)
            x = self.stem(x)
        if self.all_steps:
            return self._per_step(x, lengths)
        if self.readout == "last":
            return self.head(self.dropout(self._final_state(x, lengths)))
        outputs = self._outputs(x, lengths)  # zeros after each sequence's last real step
        if self.readout == "mean":
            steps = outputs.shape[1] if lengths is None else lengths.to(outputs)
            features = outputs.sum(dim=1) / (steps if lengths is None else steps[:, None])
        else:
            # a sequence shorter than n_steps (3-D input) reads as one padded to n_steps
            n_steps = self.n_steps if self.stem is None else self.stem.output_length(self.n_steps)
            features = nn.functional.pad(outputs, (0, 0, 0, n_steps - outputs.shape[1]))
            features = features.flatten(1)
        return self.head(self.dropout(features))

    def _final_state(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """The last layer's state after each sequence's last real step, directions joined."""
        if lengths is not None:
            x = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.recurrent(x)
        hidden = state[0] if isinstance(state, tuple) else state
        n_directions = 2 if self.recurrent.bidirectional else 1
        last_layer = hidden[-n_directions:]  # (directions, batch, hidden)
        return last_layer.transpose(0, 1).flatten(1)

    def _outputs(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """The last layer's outputs at every step, zero after each sequence's real steps."""
        if lengths is None:
            return self.recurrent(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, _ = pad_packed_sequence(self.recurrent(packed)[0], batch_first=True,
                                         total_length=x.shape[1])
        return outputs

    def _per_step(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        outputs = self._outputs(x, lengths)[:, self.first_step:]
        return self.head(self.dropout(outputs)).flatten(1)


@torch.no_grad()
def init_recurrent_(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Initialise recurrent, linear and convolutional layers reproducibly from ``generator``.

    Weights and biases follow PyTorch's defaults, U(-1/sqrt(h), 1/sqrt(h)) with
    h the hidden size (the fan-in for linear and convolutional layers), but drawn from the given
    generator so that equal seeds give equal networks. LSTM forget-gate biases
    start at 1 so that early gradients flow through long windows.
    """
    for layer in module.modules():
        if isinstance(layer, nn.RNNBase):
            bound = 1.0 / math.sqrt(layer.hidden_size)
            params = layer.named_parameters()
        elif isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            params = layer.named_parameters()
        elif isinstance(layer, nn.Conv1d):
            bound = 1.0 / math.sqrt(layer.in_channels * layer.kernel_size[0])
            params = layer.named_parameters()
        else:
            continue
        for name, param in params:
            values = torch.rand(param.shape, generator=generator, dtype=torch.float64)
            param.copy_(values.mul_(2 * bound).sub_(bound))
            if isinstance(layer, nn.LSTM) and name.startswith("bias_ih"):
                # gate order is input, forget, cell, output
                param[layer.hidden_size:2 * layer.hidden_size] = 1.0
