"""RNNClassifier: a recurrent network classifying whole sequences."""

from __future__ import annotations

from sklearn.utils._param_validation import StrOptions

from sklnn.estimators._params import CLASS_WEIGHT, Param, engine_params
from sklnn.estimators._recurrent import (
    PADDING_VALUE,
    RECURRENT_PARAMS,
    _PaddedSequenceClassifier,
    _RecurrentMixin,
    auto_batch_param,
)
from sklnn.estimators.tasks import NeuralClassifier
from sklnn.modules.rnn import READOUTS

READOUT = Param("readout", "mean", (StrOptions(set(READOUTS)),), '{"last", "mean", "flatten"}',
                """
    What the output layer reads from the last recurrent layer: its state after
    the last step ("last"; after both ends with ``bidirectional=True``), the
    mean of its outputs over the real (unpadded) steps ("mean"), or its
    outputs at all T steps joined into one vector ("flatten", as the MNIST-1D
    paper's GRU; padded steps read as zeros).""")

# Chosen from measurements on MNIST-1D and four UCR sets (docs/sequences.md): one
# bidirectional layer read through the mean of its outputs, at a larger step size, reaches
# the paper's GRU accuracy in a fifth of the epochs the last-state default needed.
_DEFAULTS = {"hidden_size": 32, "num_layers": 1, "bidirectional": True}
CLASSIFIER_PARAMS = (
    *(p.replace(default=_DEFAULTS[p.name]) if p.name in _DEFAULTS else p
      for p in RECURRENT_PARAMS),
    READOUT,
    PADDING_VALUE,
    *(auto_batch_param(100) if p.name == "batch_size" else p  # the MNIST-1D paper's batch
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
    _auto_batch = 100

    def _build_module(self, n_features, n_outputs):
        return self._network(n_outputs, readout=self.readout)

