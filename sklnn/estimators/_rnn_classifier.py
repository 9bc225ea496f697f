"""RNNClassifier: a recurrent network classifying whole sequences."""

from __future__ import annotations

from numbers import Integral

from sklnn._sklearn_private import Interval, StrOptions
from sklnn.engine.budget import EpochBudget
from sklnn.estimators._declarations import (
    CLASS_WEIGHT,
    Param,
    auto_max_iter,
    engine_params,
)
from sklnn.estimators._export import NotExportableError
from sklnn.estimators._recurrent import RECURRENT_PARAMS, _RecurrentMixin
from sklnn.estimators._sequences import PADDING_VALUE, _PaddedSequenceClassifier, auto_batch_param
from sklnn.estimators._tasks import NeuralClassifier
from sklnn.modules.norm import WeightedBatchNorm1d
from sklnn.modules.rnn import READOUTS, ConvStem1d

READOUT = Param("readout", "mean", (StrOptions(set(READOUTS)),), '{"last", "mean", "flatten"}',
                """
    What the output layer reads from the last recurrent layer: its state after
    the last step ("last"; after both ends with ``bidirectional=True``), the
    mean of its outputs over the real (unpadded) steps ("mean"), or its
    outputs at all T steps joined into one vector ("flatten", as the MNIST-1D
    paper's GRU; padded steps read as zeros).""")

STEM_CHANNELS = Param("stem_channels", 32, (Interval(Integral, 1, None, closed="left"), None),
                      "int or None", """
    Channels of a convolution, with batch normalisation and ReLU, that reads
    the sequences before the recurrent layers in windows of ``stem_stride``
    steps that do not overlap: the recurrent layers then run over about
    ``T / stem_stride`` steps of local features. None: they read the raw
    steps.""")
STEM_STRIDE = Param("stem_stride", 2, (Interval(Integral, 1, None, closed="left"),), "int",
                    "Steps per window of the stem (with ``stem_channels`` set).")
#: max_iter="auto" (docs/user_guide.md, "Training budget")
RNN_CLASSIFIER_BUDGET = EpochBudget(samples_seen=10_000, min_epochs=40, max_epochs=200,
                                    flop_budget=5e12)

# Chosen from measurements on MNIST-1D and four UCR sets (docs/sequences.md): one
# bidirectional layer read through the mean of its outputs, at a larger step size, reaches
# the paper's GRU accuracy in a fifth of the epochs the last-state default needed; the stem
# and the cosine schedule over the training budget by cross-validation on the training
# parts of seven UCR/UEA sets.
_DEFAULTS = {"hidden_size": 32, "num_layers": 1, "bidirectional": True}
CLASSIFIER_PARAMS = (
    *(p.replace(default=_DEFAULTS[p.name]) if p.name in _DEFAULTS else p
      for p in RECURRENT_PARAMS),
    READOUT,
    STEM_CHANNELS,
    STEM_STRIDE,
    PADDING_VALUE,
    *(auto_batch_param(100) if p.name == "batch_size"  # the MNIST-1D paper's batch
      else auto_max_iter(RNN_CLASSIFIER_BUDGET) if p.name == "max_iter" else p
      for p in engine_params(learning_rate="cosine", learning_rate_init=0.01)),
    CLASS_WEIGHT,
)


class RNNClassifier(_PaddedSequenceClassifier, _RecurrentMixin, NeuralClassifier):
    """Recurrent network classifying whole sequences (sequence-to-vector).

    ``X`` holds sequences of shape ``(n, T)`` (univariate) or ``(n, T, F)``;
    labels, probabilities, ``class_weight``, multilabel targets and
    ``partial_fit`` behave as in :class:`~sklnn.MLPClassifierGPU`. By
    default a convolution (``stem_channels``, ``stem_stride``) first turns
    every two steps into one step of local features, so that the recurrent
    layers run over half the steps; the class is read from
    the last layer's outputs, by default their mean over the real steps of
    both directions (``readout``). Training follows a cosine schedule over
    ``max_iter="auto"`` epochs (small sets get more of them). Inputs are not
    rescaled: standardise the features beforehand.

    Sequences of different lengths are padded at the end to a common length
    T with ``padding_value``. Each row's length is the number of steps before
    its trailing run of all-padding steps; the stem reads padded steps as
    zeros (as it reads the zeros past the end of an unpadded sequence), the
    network packs the sequences so that padding never enters the recurrent
    layers, and a padded sequence is classified exactly as the same sequence
    without padding (in prediction; batch statistics in training include the
    zeroed steps). The lengths are
    derived from the data, so ``fit``, ``predict`` and cross-validation need no
    extra argument. Use a value that cannot occur in the data, or ``np.nan``.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: classes_ sequence_shape_ COMMON>>

    Notes
    -----
    ``check_estimator(RNNClassifier())`` fails one check by design:
    ``check_sample_weight_equivalence_on_dense_data``. With ``batch_size="auto"`` a
    small training set is cut into ten batches per epoch, so repeating a row changes
    the batches while weighting it does not (weights and repeats agree per batch, not
    per epoch). With a fixed ``batch_size`` of at least the number of rows the check
    passes. ``est._expected_failed_checks()`` returns it with this reason, for
    ``check_estimator(est, expected_failed_checks=...)``.

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

    def __init__(self, *, cell="lstm", hidden_size=32, num_layers=1, dropout=0.0,
        bidirectional=True, readout="mean", stem_channels=32, stem_stride=2, padding_value=None,
        solver="adam", alpha=0.0001, batch_size="auto", learning_rate="cosine",
        learning_rate_init=0.01, power_t=0.5, max_iter="auto", shuffle=True, random_state=None,
        tol=0.0001, verbose=False, warm_start=False,
        momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10, max_fun=15000,
        device="auto", callbacks=None, compile=False, precision="auto", num_workers=0,
        persistent_workers=False, prefetch_factor=None, pin_memory="auto", n_processes=None,
        class_weight=None):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.readout = readout
        self.stem_channels = stem_channels
        self.stem_stride = stem_stride
        self.padding_value = padding_value
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.callbacks = callbacks
        self.compile = compile
        self.precision = precision
        self.num_workers = num_workers
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.n_processes = n_processes
        self.class_weight = class_weight

    _auto_batch = 100
    _epoch_budget = RNN_CLASSIFIER_BUDGET

    def _build_module(self, n_features, n_outputs):
        stem = None
        if self.stem_channels is not None:
            _, features = self.sequence_shape_
            stem = ConvStem1d(features, self.stem_channels, self.stem_stride, self.stem_stride,
                              norm_layer=WeightedBatchNorm1d)
        return self._network(n_outputs, readout=self.readout, stem=stem)

    def _n_layers(self):
        return super()._n_layers() + (self.stem_channels is not None)

    def _check_exportable(self):
        if self._padding_value is not None:
            raise NotExportableError(
                "An RNNClassifier with padding_value set packs each batch by its sequences' "
                "lengths, which an exported graph cannot express (ONNX's recurrent operators "
                "take lengths, but not torch's packed sequences). Fit it with "
                "padding_value=None on equal-length sequences, or use CNNSequenceClassifier, "
                "whose padding masks export.")

