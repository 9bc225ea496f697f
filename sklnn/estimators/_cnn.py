"""CNNImageClassifier: a configurable convolutional network behind the estimator API."""

from __future__ import annotations

import numbers

from sklnn._sklearn_private import Interval, StrOptions
from sklnn.estimators._declarations import (
    BOOL,
    CLASS_WEIGHT,
    FRACTION,
    SIZES,
    Param,
    check_sizes,
    engine_params,
)
from sklnn.estimators._images import IMAGE_PARAMS, ImageClassifierBase
from sklnn.estimators._mlp import ACTIVATION
from sklnn.modules.cnn import CNN, PADDINGS, POOLINGS, pooled_layers
from sklnn.validation import check_layer_sizes

STRIDE = Interval(numbers.Integral, 1, None, closed="left")

CNN_PARAMS = (
    Param("filters", (32, 64), SIZES, "sequence of int",
          "Number of filters of each convolutional layer, in order.", positional=True,
          check=check_sizes(min_layers=1)),
    Param("kernel_size", 3, SIZES, "int or (int, int)",
          "Height and width of every convolution's kernel.", positional=True,
          check=check_sizes(min_layers=1, max_layers=2)),
    Param("stride", 1, (STRIDE,), "int", "Stride of every convolution."),
    Param("padding", "valid", (StrOptions(set(PADDINGS)),
                               Interval(numbers.Integral, 0, None, closed="left")),
          '{"valid", "same"} or int', """
        Zero padding of every convolution: none, k // 2 (size-preserving at
        stride 1 for odd kernels) or that many pixels. Feature maps smaller
        than a kernel or pooling window are padded or the window is clipped,
        so tiny inputs (down to 1x1) still run."""),
    ACTIVATION.replace(positional=False,
                       doc="Activation after every convolution and hidden dense layer."),
    Param("pooling", "max", (StrOptions(set(POOLINGS)),), '{"max", "avg", "none"}',
          "Pooling after the convolutions that ``pool_after`` names."),
    Param("pool_size", 2, (Interval(numbers.Integral, 1, None, closed="left"),), "int",
          "Side and stride of the pooling window."),
    Param("pool_after", "last", (StrOptions({"last", "each"}), "array-like"),
          '"last", "each" or sequence of int',
          "Convolutional layers (0-based indices) followed by pooling."),
    Param("batch_norm", False, BOOL, "bool",
          "Batch normalisation after each convolution and hidden dense layer."),
    Param("dropout", 0.25, FRACTION, "float", """
        Dropout probability after every pooling layer and hidden dense layer
        (light regularisation by default; 0 gives the lecture's network)."""),
    Param("dense_layers", (64,), SIZES, "sequence of int", check=check_sizes(), doc=
          "Units of the hidden dense layers after the convolutional part."),
    # light augmentation, and a cosine schedule over max_iter epochs in batches of 32: chosen
    # on a validation split of the 8,000 MNIST training images (docs/images.md)
    *(p.replace(default=2) if p.name == "shift_range" else p for p in IMAGE_PARAMS),
    *engine_params(batch_size=32, learning_rate="cosine", max_iter=20),
    CLASS_WEIGHT,
)


class CNNImageClassifier(ImageClassifierBase):
    """Convolutional neural network classifier for images.

    The defaults build a classic small MNIST network: two convolutions with 32
    and 64 3x3 filters, 2x2 max pooling after the second, a dense layer of 64
    ReLU units and one output per class (softmax in the loss). Every part is a
    constructor parameter, so the network can be tuned with GridSearchCV.

    The default training adds light regularisation to that network: dropout
    0.25, random shifts of up to 2 pixels, and Adam in batches of 32 with a
    cosine schedule over ``max_iter`` epochs. The lecture's exact network and
    training are ``CNNImageClassifier(dropout=0.0, shift_range=0,
    batch_size=128, learning_rate="constant")``.

    Parameters
    ----------
    <<parameters>>

    Attributes
    ----------
    <<attributes: classes_ input_shape_ COMMON>>

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
    >>> # 8x8 digits have no margin to shift: no augmentation
    >>> clf = CNNImageClassifier(filters=(8,), dense_layers=(32,), shift_range=0,
    ...                          learning_rate_init=0.01, max_iter=10, random_state=0)
    >>> clf = clf.fit(images, y[:300])
    >>> clf.input_shape_, clf.n_features_in_
    ((1, 8, 8), 64)
    >>> bool(clf.score(images, y[:300]) > 0.9)
    True
    """

    _declared_params = CNN_PARAMS

    def __init__(self, filters=(32, 64), kernel_size=3, *, stride=1, padding="valid",
        activation="relu", pooling="max", pool_size=2, pool_after="last", batch_norm=False,
        dropout=0.25, dense_layers=(64,), input_shape=None, data_format="auto", shift_range=2,
        horizontal_flip=False, solver="adam", alpha=0.0001, batch_size=32,
        learning_rate="cosine", learning_rate_init=0.001, power_t=0.5, max_iter=20,
        shuffle=True, random_state=None, tol=0.0001, verbose=False, warm_start=False,
        momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
        beta_1=0.9, beta_2=0.999, epsilon=1e-08, n_iter_no_change=10, max_fun=15000,
        device="auto", callbacks=None, compile=False, precision="auto", num_workers=0,
        persistent_workers=False, prefetch_factor=None, pin_memory="auto", n_processes=None,
        class_weight=None):
        self.filters = filters
        self.kernel_size = kernel_size
        self.stride = stride
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
        pooled_layers(self.pool_after, len(check_layer_sizes("filters", self.filters)))

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
            stride=int(self.stride),
            padding=self.padding if isinstance(self.padding, str) else int(self.padding),
            activation=self.activation,
            pooling=self.pooling,
            pool_size=int(self.pool_size),
            pool_after=self.pool_after,
            batch_norm=bool(self.batch_norm),
            dropout=self.dropout,
            dense_layers=check_layer_sizes("dense_layers", self.dense_layers),
        )
