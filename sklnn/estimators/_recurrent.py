"""The recurrent architecture shared by the RNN estimators: its parameters and network."""

from __future__ import annotations

from numbers import Integral

from sklnn._sklearn_private import Interval, StrOptions
from sklnn.estimators._declarations import BOOL, FRACTION, Param
from sklnn.estimators._sequences import _SequenceInput
from sklnn.modules.rnn import CELLS, RecurrentNetwork, init_recurrent_

RECURRENT_PARAMS = (
    Param("cell", "lstm", (StrOptions(set(CELLS)),), '{"rnn", "lstm", "gru"}',
          "Recurrent cell: Elman RNN (tanh), LSTM or GRU."),
    Param("hidden_size", 20, (Interval(Integral, 1, None, closed="left"),), "int",
          "Units per recurrent layer and direction."),
    Param("num_layers", 2, (Interval(Integral, 1, None, closed="left"),), "int",
          "Stacked recurrent layers."),
    Param("dropout", 0.0, FRACTION, "float",
          "Dropout between recurrent layers and before the output layer."),
    Param("bidirectional", False, BOOL, "bool", """
        Also read each sequence backwards and join both directions: their
        final states, or what a classifier's ``readout`` reads
        (sequence-to-vector only)."""),
)


class _RecurrentMixin(_SequenceInput):
    """The recurrent architecture shared by both recurrent estimators."""

    # ----------------------------------------------------------- the network
    def _network(self, n_outputs, *, all_steps=False, first_step=0, readout="last", stem=None):
        steps, features = self.sequence_shape_
        return RecurrentNetwork(
            steps,
            features,
            n_outputs,
            cell=self.cell,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            bidirectional=bool(self.bidirectional),
            all_steps=all_steps,
            first_step=first_step,
            padding_value=self._padding_value,
            readout=readout,
            stem=stem,
        )

    def _init_module(self, module, generator, initial=None):
        init_recurrent_(module, generator)

    # Training's thread choice uses the base's per-step FLOPs (the parameters' count), not
    # per sequence: it is about the size of each operation, and a recurrent layer runs T
    # small operations one after another.

    def _predict_flops_per_sample(self, module):
        # Prediction runs each step over many rows at once, and its elementwise gates,
        # which OpenMP splits, cost more than the FLOPs say: count every step, which
        # gives two threads for full predict batches and one for a few rows.
        steps, _ = self.sequence_shape_
        return steps * self._flops_per_sample(module)

    def _largest_activation(self):
        # A recurrent layer's output holds every step, so predict batches are sized by
        # T x hidden values per row, not by the T input values (large step outputs freed
        # after every batch make the allocator return memory to the kernel and fault it
        # back in: docs/benchmarks.md).
        steps, features = self.sequence_shape_
        directions = 2 if self.bidirectional else 1
        return steps * max(directions * self.hidden_size, features)

    def _n_layers(self):
        return self.num_layers + 2
