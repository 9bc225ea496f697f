"""RNNClassifier: a recurrent network classifying whole sequences."""

from __future__ import annotations

import math
from numbers import Real

from sklearn.utils._param_validation import StrOptions

from sklnn.estimators._params import CLASS_WEIGHT, ENGINE, Param, engine_params
from sklnn.estimators._recurrent import (
    RECURRENT_PARAMS,
    _PaddedSequenceClassifier,
    _RecurrentMixin,
)
from sklnn.estimators.tasks import NeuralClassifier
from sklnn.modules.rnn import READOUTS

PADDING_VALUE = Param("padding_value", None, (Real, None), "float or None", """
    Marks trailing padding steps; None means every sequence has T steps. When
    set, ``X`` may also be a list of sequences of different lengths, which are
    padded at the end with it.""")

READOUT = Param("readout", "mean", (StrOptions(set(READOUTS)),), '{"last", "mean", "flatten"}',
                """
    What the output layer reads from the last recurrent layer: its state after
    the last step ("last"; after both ends with ``bidirectional=True``), the
    mean of its outputs over the real (unpadded) steps ("mean"), or its
    outputs at all T steps joined into one vector ("flatten", as the MNIST-1D
    paper's GRU; padded steps read as zeros).""")

#: the largest "auto" batch: the MNIST-1D paper's batch size
AUTO_BATCH = 100


def auto_batch_doc(largest):
    """The ``batch_size`` entry of a sequence classifier whose "auto" batch is
    ``min(largest, ceil(n_samples / 10))``."""
    return ENGINE["batch_size"].replace(default="auto", doc=f"""
        "auto" means ``min({largest}, ceil(n_samples / 10))`` (at least 2):
        batches of {largest}, and at least ten optimiser steps per epoch on
        small training sets.""")


def auto_batch_size(n_samples, largest):
    # two rows at least: batch normalisation cannot train on one
    return min(n_samples, max(2, min(largest, math.ceil(n_samples / 10))))


# Chosen from measurements on MNIST-1D and four UCR sets (docs/sequences.md): one
# bidirectional layer read through the mean of its outputs, at a larger step size, reaches
# the paper's GRU accuracy in a fifth of the epochs the last-state default needed.
_DEFAULTS = {"hidden_size": 32, "num_layers": 1, "bidirectional": True}
CLASSIFIER_PARAMS = (
    *(p.replace(default=_DEFAULTS[p.name]) if p.name in _DEFAULTS else p
      for p in RECURRENT_PARAMS),
    READOUT,
    PADDING_VALUE,
    *(auto_batch_doc(AUTO_BATCH) if p.name == "batch_size" else p
      for p in engine_params(learning_rate_init=0.01, max_iter=40)),
    CLASS_WEIGHT,
)


class RNNClassifier(_PaddedSequenceClassifier, _RecurrentMixin, NeuralClassifier):
    """Recurrent network classifying whole sequences (sequence-to-vector).

    ``X`` holds sequences of shape ``(n, T)`` (univariate) or ``(n, T, F)``;
    labels, probabilities, ``class_weight``, multilabel targets and
    ``partial_fit`` behave as in :class:`~sklnn.MLPClassifierGPU`. The class
    is read from the last layer's outputs, by default their mean over the
    real steps of both directions (``readout``). Inputs are not rescaled:
    standardise the features beforehand.

    Sequences of different lengths are padded at the end to a common length
    T with ``padding_value``. Each row's length is the number of steps before
    its trailing run of all-padding steps; the network packs the sequences so
    padded steps never enter the computation, and a padded sequence is
    classified exactly as the same sequence without padding. The lengths are
    derived from the data, so ``fit``, ``predict`` and cross-validation need no
    extra argument. Use a value that cannot occur in the data, or ``np.nan``.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: classes_ sequence_shape_ COMMON>>

    Examples
    --------
    >>> import numpy as np
    >>> from sklnn import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 12))
    >>> y = (X[:, :6].sum(axis=1) > X[:, 6:].sum(axis=1)).astype(int)  # rising or falling?
    >>> clf = RNNClassifier(cell="gru", hidden_size=16, max_iter=60,
    ...                     random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _declared_params = CLASSIFIER_PARAMS

    def _build_module(self, n_features, n_outputs):
        return self._network(n_outputs, readout=self.readout)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return auto_batch_size(n_samples, AUTO_BATCH)
        return super()._batch_size(n_samples)
