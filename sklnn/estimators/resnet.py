"""ResNetClassifier: CIFAR-style residual networks behind the estimator API."""

from __future__ import annotations

from sklnn.estimators.images import (
    IMAGE_ATTRIBUTES_DOC,
    ImageClassifierBase,
    image_params_doc,
    training_params_doc,
)
from sklnn.modules.resnet import SHORTCUTS, CifarResNet, blocks_per_stage
from sklnn.validation import check_choice, check_real

_ALPHA_NOTE = """
        The default 0.0128 is 1e-4 x 128: at ``batch_size=128`` every step
        decays the weights by the paper's 1e-4. Keep ``alpha / batch_size`` at
        1e-4 when changing the batch size."""


class ResNetClassifier(ImageClassifierBase):
    __doc__ = f"""Residual network classifier for small images (He et al. 2015, section 4.2).

    A 3x3 convolution, three stages of ``(depth - 2) / 6`` basic blocks with
    16, 32 and 64 filters (the second and third halve the map size), batch
    normalisation after every convolution, global average pooling and a
    linear classifier. ``residual=False`` removes every skip connection and
    gives the "plain" network of the same depth, for the degradation
    experiment. The pure-torch network is :class:`sklnn.modules.CifarResNet`.

    The training defaults are the paper's recipe: SGD with momentum 0.9 (no
    Nesterov), learning rate 0.1, batch 128 and weight decay 1e-4, with a
    cosine schedule (``lr_schedule="step"`` is the paper's own step schedule).

    Parameters
    ----------
    depth : int, default=20
        6n + 2: 20, 32, 44, 56, 110, ... (other values raise a ValueError).
    width : float, default=1.0
        Multiplier of the 16/32/64 filters per stage.
    shortcut : {{"A", "B"}}, default="A"
        Where a block changes shape: "A" subsamples and zero-pads the identity
        (no parameters), "B" projects with a strided 1x1 convolution and batch
        norm (``y = F(x) + W_s x``). Elsewhere the shortcut is the identity.
    residual : bool, default=True
        False builds the plain network without skip connections.
    batch_norm : bool, default=True
        Batch normalisation after every convolution. Batch statistics ignore
        ``sample_weight``, so with batch norm integer weights are not exactly
        equivalent to repeated samples.
    dropout : float, default=0.0
        Dropout before the classifier (not part of the paper).{image_params_doc(
        lr_schedule="cosine")}
    solver : {{"sgd", "adam", "adamw", "lbfgs"}}, default="sgd"{training_params_doc(
        alpha=0.0128, batch_size=128, learning_rate_init=0.1, max_iter=30, nesterov=False,
        alpha_note=_ALPHA_NOTE)}

    Attributes
    ----------{IMAGE_ATTRIBUTES_DOC}

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

    def __init__(
        self,
        depth=20,
        *,
        width=1.0,
        shortcut="A",
        residual=True,
        batch_norm=True,
        dropout=0.0,
        input_shape=None,
        data_format="auto",
        shift_range=0,
        horizontal_flip=False,
        lr_schedule="cosine",
        solver="sgd",
        alpha=0.0128,
        batch_size=128,
        learning_rate_init=0.1,
        max_iter=30,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=False,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        device="auto",
        callbacks=None,
        class_weight=None,
        compile=False,
        precision="auto",
    ):
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
        self.lr_schedule = lr_schedule
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
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
        self.device = device
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.compile = compile
        self.precision = precision

    def _check_architecture(self):
        blocks_per_stage(self.depth)
        check_real("width", self.width, low=0.0, low_open=True)
        check_choice("shortcut", self.shortcut, SHORTCUTS)
        for name in ("residual", "batch_norm", "nesterovs_momentum"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool; got {getattr(self, name)!r}.")
        check_real("momentum", self.momentum, 0.0, 1.0)
        check_real("beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        check_real("beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        check_real("epsilon", self.epsilon, low=0.0, low_open=True)

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
