"""CNNImageClassifier: a configurable convolutional network behind the estimator API."""

from __future__ import annotations

import numbers

from sklnn.estimators.images import (
    IMAGE_ATTRIBUTES_DOC,
    ImageClassifierBase,
    image_params_doc,
    training_params_doc,
)
from sklnn.modules.activations import ACTIVATIONS
from sklnn.modules.cnn import CNN, PADDINGS, POOLINGS, pooled_layers
from sklnn.validation import check_choice, check_int, check_layer_sizes, check_real


class CNNImageClassifier(ImageClassifierBase):
    __doc__ = f"""Convolutional neural network classifier for images.

    The defaults build the lecture's MNIST network: two convolutions with 32
    and 64 3x3 filters, 2x2 max pooling after the second, a dense layer of 64
    ReLU units and one output per class (softmax in the loss). Every part is a
    constructor parameter, so the network can be tuned with GridSearchCV.

    Parameters
    ----------
    filters : sequence of int, default=(32, 64)
        Number of filters of each convolutional layer, in order.
    kernel_size : int or (int, int), default=3
    strides : int, default=1
        Stride of every convolution.
    padding : {{"valid", "same"}} or int, default="valid"
        Zero padding of every convolution: none, k // 2 (size-preserving at
        stride 1 for odd kernels) or that many pixels. Feature maps smaller
        than a kernel or pooling window are padded or the window is clipped,
        so tiny inputs (down to 1x1) still run.
    activation : {{"relu", "tanh", "logistic", "leaky_relu", "gelu", "identity"}}, \
default="relu"
        Activation after every convolution and hidden dense layer.
    pooling : {{"max", "avg", "none"}}, default="max"
    pool_size : int, default=2
        Side and stride of the pooling window.
    pool_after : "last", "each" or sequence of int, default="last"
        Convolutional layers (0-based indices) followed by pooling.
    batch_norm : bool, default=False
        Batch normalisation after each convolution and hidden dense layer.
    dropout : float, default=0.0
        Dropout probability after every pooling layer and hidden dense layer.
    dense_layers : sequence of int, default=(64,)
        Units of the hidden dense layers after the convolutional part.{image_params_doc(
        lr_schedule="constant")}
    solver : {{"adam", "adamw", "sgd", "lbfgs"}}, default="adam"{training_params_doc(
        alpha=0.0001, batch_size=128, learning_rate_init=0.001, max_iter=20, nesterov=True)}

    Attributes
    ----------{IMAGE_ATTRIBUTES_DOC}

    See Also
    --------
    ResNetClassifier : residual networks for harder image problems.

    Notes
    -----
    Pixel values are used as given (integers become float32, not rescaled):
    put the data in a small range, e.g. divide 8-bit pixels by 255 or use a
    scaler in a Pipeline.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklnn import CNNImageClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> images = (X.reshape(-1, 8, 8)[:300] / 16.0).astype("float32")
    >>> clf = CNNImageClassifier(filters=(8,), dense_layers=(32,), batch_size=32,
    ...                          learning_rate_init=0.01, max_iter=10, random_state=0)
    >>> clf = clf.fit(images, y[:300])
    >>> clf.input_shape_, clf.n_features_in_
    ((1, 8, 8), 64)
    >>> bool(clf.score(images, y[:300]) > 0.9)
    True
    """

    def __init__(
        self,
        filters=(32, 64),
        kernel_size=3,
        *,
        strides=1,
        padding="valid",
        activation="relu",
        pooling="max",
        pool_size=2,
        pool_after="last",
        batch_norm=False,
        dropout=0.0,
        dense_layers=(64,),
        input_shape=None,
        data_format="auto",
        shift_range=0,
        horizontal_flip=False,
        lr_schedule="constant",
        solver="adam",
        alpha=0.0001,
        batch_size=128,
        learning_rate_init=0.001,
        max_iter=20,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
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
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.activation = activation
        self.pooling = pooling
        self.pool_size = pool_size
        self.pool_after = pool_after
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.dense_layers = dense_layers
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
        n_conv = len(check_layer_sizes("filters", self.filters))
        if n_conv == 0:
            raise ValueError("filters must name at least one convolutional layer.")
        check_layer_sizes("dense_layers", self.dense_layers)
        self._kernel()
        pooled_layers(self.pool_after, n_conv)
        check_int("strides", self.strides, 1)
        if not (isinstance(self.padding, str) and self.padding in PADDINGS):
            check_int("padding", self.padding, 0, allow=PADDINGS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("pooling", self.pooling, POOLINGS)
        check_int("pool_size", self.pool_size, 1)
        check_real("momentum", self.momentum, 0.0, 1.0)
        check_real("beta_1", self.beta_1, 0.0, 1.0, high_open=True)
        check_real("beta_2", self.beta_2, 0.0, 1.0, high_open=True)
        check_real("epsilon", self.epsilon, low=0.0, low_open=True)

    def _kernel(self) -> int | tuple[int, int]:
        kernel = self.kernel_size
        sizes = check_layer_sizes(
            "kernel_size", [kernel] if isinstance(kernel, numbers.Integral) else kernel
        )
        if len(sizes) not in (1, 2):
            raise ValueError(f"kernel_size must be an int or a pair; got {kernel!r}.")
        return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])

    def _build_network(self, image_shape, n_outputs):
        return CNN(
            image_shape,
            n_outputs,
            filters=check_layer_sizes("filters", self.filters),
            kernel_size=self._kernel(),
            stride=int(self.strides),
            padding=self.padding if isinstance(self.padding, str) else int(self.padding),
            activation=self.activation,
            pooling=self.pooling,
            pool_size=int(self.pool_size),
            pool_after=self.pool_after,
            batch_norm=bool(self.batch_norm),
            dropout=self.dropout,
            dense_layers=check_layer_sizes("dense_layers", self.dense_layers),
        )
