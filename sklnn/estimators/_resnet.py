"""ResNetClassifier: CIFAR-style residual networks behind the estimator API."""

from __future__ import annotations

from numbers import Integral, Real

from sklnn._sklearn_private import Interval, StrOptions
from sklnn.estimators._declarations import (
    BOOL,
    CLASS_WEIGHT,
    ENGINE,
    FRACTION,
    Param,
    engine_params,
)
from sklnn.estimators._images import IMAGE_PARAMS, ImageClassifierBase
from sklnn.modules.resnet import SHORTCUTS, CifarResNet, blocks_per_stage

RESNET_PARAMS = (
    Param("depth", 20, (Interval(Integral, 8, None, closed="left"),), "int",
          "6n + 2: 8, 20, 32, 44, 56, 110, ... (other values raise a ValueError).",
          positional=True),
    Param("width", 1.0, (Interval(Real, 0.0, None, closed="neither"),), "float",
          "Multiplier of the 16/32/64 filters per stage."),
    Param("shortcut", "A", (StrOptions(set(SHORTCUTS)),), '{"A", "B"}', """
        Where a block changes shape: "A" subsamples and zero-pads the identity
        (no parameters), "B" projects with a strided 1x1 convolution and batch
        norm (``y = F(x) + W_s x``). Elsewhere the shortcut is the identity."""),
    Param("residual", True, BOOL, "bool",
          "False builds the plain network without skip connections."),
    Param("batch_norm", True, BOOL, "bool", """
        Batch normalisation after every convolution. Its training statistics
        are weighted by ``sample_weight``, so an integer weight k is exactly
        k repeated samples."""),
    Param("dropout", 0.0, FRACTION, "float",
          "Dropout before the classifier (not part of the paper)."),
    *IMAGE_PARAMS,
    # The paper's recipe (He et al. 2015, section 4.2): SGD with momentum 0.9 and no
    # Nesterov, learning rate 0.1, batch 128, weight decay 1e-4 per step.
    *engine_params(solver="sgd", alpha=0.0128, batch_size=128, learning_rate="cosine",
                   learning_rate_init=0.1, max_iter=30, nesterovs_momentum=False),
    CLASS_WEIGHT,
)
# alpha's meaning is shared; its default needs the batch-size arithmetic spelled out.
RESNET_PARAMS = tuple(
    p.replace(doc=ENGINE["alpha"].doc + """
        The default 0.0128 is 1e-4 x 128: at ``batch_size=128`` every step
        decays the weights by the paper's 1e-4. Keep ``alpha / batch_size`` at
        1e-4 when changing the batch size.""") if p.name == "alpha" else p
    for p in RESNET_PARAMS
)


class ResNetClassifier(ImageClassifierBase):
    """Residual network classifier for small images (He et al. 2015, section 4.2).

    A 3x3 convolution, three stages of ``(depth - 2) / 6`` basic blocks with
    16, 32 and 64 filters (the second and third halve the map size), batch
    normalisation after every convolution, global average pooling and a
    linear classifier. ``residual=False`` removes every skip connection and
    gives the "plain" network of the same depth, for the degradation
    experiment. The pure-torch network is :class:`sklnn.modules.CifarResNet`.

    The training defaults are the paper's recipe: SGD with momentum 0.9 (no
    Nesterov), learning rate 0.1, batch 128 and weight decay 1e-4, with a
    cosine schedule (``learning_rate="step"`` is the paper's own step schedule).

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: classes_ input_shape_ COMMON>>

    See Also
    --------
    CNNImageClassifier : a configurable plain convolutional network.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklnn import ResNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X[:300] / 16.0).astype("float32")
    >>> clf = ResNetClassifier(depth=8, width=0.25, batch_size=32, alpha=0.0032, max_iter=8,
    ...                        random_state=0).fit(X, y[:300])
    >>> clf.input_shape_
    (1, 8, 8)
    >>> bool(clf.score(X, y[:300]) > 0.8)
    True
    """

    _declared_params = RESNET_PARAMS

    def __init__(self, depth=20, *, width=1.0, shortcut="A", residual=True, batch_norm=True,
        dropout=0.0, input_shape=None, data_format="auto", shift_range=0, horizontal_flip=False,
        solver="sgd", alpha=0.0128, batch_size=128, learning_rate="cosine",
        learning_rate_init=0.1, power_t=0.5, max_iter=30, shuffle=True, random_state=None,
        tol=0.0001, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=False,
        early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-08,
        n_iter_no_change=10, max_fun=15000, device="auto", callbacks=None, compile=False,
        precision="auto", num_workers=0, persistent_workers=False, prefetch_factor=None,
        pin_memory="auto", n_processes=None, class_weight=None):
        self.depth = depth
        self.width = width
        self.shortcut = shortcut
        self.residual = residual
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.input_shape = input_shape
        self.data_format = data_format
        self.shift_range = shift_range
        self.horizontal_flip = horizontal_flip
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

    def _check_architecture(self):
        blocks_per_stage(self.depth)

    def _build_network(self, image_shape, n_outputs):
        return CifarResNet(
            self.depth,
            n_outputs,
            in_channels=image_shape[0],
            width=self.width,
            shortcut=self.shortcut,
            residual=self.residual,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
        )
