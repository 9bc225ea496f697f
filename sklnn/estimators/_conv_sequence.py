"""CNNSequenceClassifier: a 1-D fully convolutional network classifying sequences."""

from __future__ import annotations

from sklnn.engine.budget import EpochBudget
from sklnn.estimators._declarations import (
    BOOL,
    CLASS_WEIGHT,
    FRACTION,
    SIZES,
    Param,
    auto_max_iter,
    check_sizes,
    engine_params,
)
from sklnn.estimators._mlp import ACTIVATION
from sklnn.estimators._sequences import PADDING_VALUE, _PaddedSequenceClassifier, auto_batch_param
from sklnn.estimators._tasks import NeuralClassifier
from sklnn.modules.activations import ACTIVATIONS
from sklnn.modules.conv1d import ConvSequenceNetwork
from sklnn.modules.norm import WeightedBatchNorm1d
from sklnn.validation import check_layer_sizes

#: max_iter="auto": 24 epochs of 1,000 sequences of 500 steps fit in the FLOP budget; the
#: samples seen chosen by cross-validation on the training parts of six UCR/UEA sets
#: (docs/user_guide.md, "Training budget"; docs/sequences.md)
CONV_SEQUENCE_BUDGET = EpochBudget(samples_seen=20_000, min_epochs=50, max_epochs=400,
                                   flop_budget=5e12)

CONV_SEQUENCE_PARAMS = (
    Param("filters", (64, 128, 64), SIZES, "sequence of int",
          "Channels of each convolutional block, in order.", check=check_sizes(min_layers=1)),
    Param("kernel_sizes", (8, 5, 3), SIZES, "sequence of int", """
        Kernel length of each block (one per entry of ``filters``); every
        convolution keeps the sequence length ("same" padding).""",
          check=check_sizes(min_layers=1)),
    ACTIVATION.replace(positional=False, doc="Activation after every block."),
    Param("batch_norm", True, BOOL, "bool", """
        Batch normalisation after every convolution (weighted by
        ``sample_weight`` during training)."""),
    Param("dropout", 0.0, FRACTION, "float", "Dropout before the output layer."),
    PADDING_VALUE,
    # measured on MNIST-1D and UCR sets (docs/sequences.md): batches of a tenth of a small
    # training set, a cosine schedule over the epochs of the training budget (small sets
    # need many passes: ArrowHead's 36 sequences 400), all of them run
    *(auto_batch_param(32) if p.name == "batch_size"
      else auto_max_iter(CONV_SEQUENCE_BUDGET) if p.name == "max_iter" else p
      for p in engine_params(learning_rate="cosine")),
    CLASS_WEIGHT,
)


class CNNSequenceClassifier(_PaddedSequenceClassifier, NeuralClassifier):
    """1-D convolutional network classifying whole sequences (FCN-style).

    Blocks of convolution, batch normalisation and ReLU over time, then the
    mean over the steps and a linear layer (the fully convolutional network of
    Wang, Yan and Oates, 2017, narrower by default). Input handling is
    :class:`~sklnn.RNNClassifier`'s: ``X`` of shape ``(n, T)`` or
    ``(n, T, F)``, a DataFrame of ``T`` columns, or a list of sequences of
    different lengths with ``padding_value`` set. Labels, probabilities,
    ``class_weight`` and multilabel targets behave as in
    :class:`~sklnn.MLPClassifierGPU`. Inputs are not rescaled: standardise the
    features beforehand.

    With ``padding_value``, the trailing steps of each row whose features all
    equal it are padding: they are zeroed before every convolution and left out
    of the mean, so a padded sequence is classified exactly as the same
    sequence without padding (in prediction; batch statistics in training
    include the zeroed steps).

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: classes_ sequence_shape_ COMMON>>

    See Also
    --------
    RNNClassifier : recurrent sequence classification, same input handling.

    Notes
    -----
    ``check_estimator(CNNSequenceClassifier())`` fails one check by design:
    ``check_sample_weight_equivalence_on_dense_data``. With ``batch_size="auto"`` a
    small training set is cut into ten batches per epoch, so repeating a row changes
    the batches while weighting it does not (weights and repeats agree per batch, not
    per epoch). With a fixed ``batch_size`` of at least the number of rows the check
    passes. ``est._expected_failed_checks()`` returns it with this reason, for
    ``check_estimator(est, expected_failed_checks=...)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklnn import CNNSequenceClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 24))
    >>> X[:100, 8:12] += 3.0  # a bump somewhere in class 1's sequences
    >>> y = np.r_[np.ones(100), np.zeros(100)].astype(int)
    >>> clf = CNNSequenceClassifier(filters=(8, 8), kernel_sizes=(5, 3), max_iter=30,
    ...                             learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _declared_params = CONV_SEQUENCE_PARAMS

    def __init__(self, *, filters=(64, 128, 64), kernel_sizes=(8, 5, 3), activation="relu",
        batch_norm=True, dropout=0.0, padding_value=None, solver="adam", alpha=0.0001,
        batch_size="auto", learning_rate="cosine", learning_rate_init=0.001, power_t=0.5,
        max_iter="auto", shuffle=True, random_state=None, tol=0.0001, verbose=False,
        warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10, max_fun=15000,
        device="auto", callbacks=None, compile=False, precision="auto", num_workers=0,
        persistent_workers=False, prefetch_factor=None, pin_memory="auto", n_processes=None,
        class_weight=None):
        self.filters = filters
        self.kernel_sizes = kernel_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.dropout = dropout
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

    _auto_batch = 32
    _epoch_budget = CONV_SEQUENCE_BUDGET

    def _check_params(self):
        super()._check_params()
        filters = check_layer_sizes("filters", self.filters)
        kernels = check_layer_sizes("kernel_sizes", self.kernel_sizes)
        if len(filters) != len(kernels):
            raise ValueError(f"kernel_sizes needs one kernel per entry of filters: got "
                             f"{len(kernels)} kernel(s) for {len(filters)} block(s).")

    def _build_module(self, n_features, n_outputs):
        steps, features = self.sequence_shape_
        return ConvSequenceNetwork(
            steps, features, n_outputs,
            filters=check_layer_sizes("filters", self.filters),
            kernel_sizes=check_layer_sizes("kernel_sizes", self.kernel_sizes),
            norm_layer=WeightedBatchNorm1d if self.batch_norm else None,
            act_layer=ACTIVATIONS[self.activation],
            dropout=self.dropout,
            padding_value=self._padding_value,
        )

    def _flops_per_sample(self, module):
        steps, _ = self.sequence_shape_
        return 2.0 * steps * sum(p.numel() for p in module.parameters())

    def _largest_activation(self):
        steps, features = self.sequence_shape_
        return steps * max(features, *check_layer_sizes("filters", self.filters))

    def _n_layers(self):
        return len(check_layer_sizes("filters", self.filters)) + 2
