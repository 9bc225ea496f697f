"""CNNImageClassifier: a configurable convolutional network behind the estimator API."""

from __future__ import annotations

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from sklnn.estimators._images import IMAGE_PARAMS, ImageClassifierBase
from sklnn.estimators._mlp import ACTIVATION
from sklnn.estimators._params import (
    BOOL,
    CLASS_WEIGHT,
    FRACTION,
    SIZES,
    Param,
    check_sizes,
    engine_params,
)
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
    Param("dropout", 0.0, FRACTION, "float",
          "Dropout probability after every pooling layer and hidden dense layer."),
    Param("dense_layers", (64,), SIZES, "sequence of int", check=check_sizes(), doc=
          "Units of the hidden dense layers after the convolutional part."),
    *IMAGE_PARAMS,
    *engine_params(batch_size=128, max_iter=20),
    CLASS_WEIGHT,
)


class CNNImageClassifier(ImageClassifierBase):
    """Convolutional neural network classifier for images.

    The defaults build a classic small MNIST network: two convolutions with 32
    and 64 3x3 filters, 2x2 max pooling after the second, a dense layer of 64
    ReLU units and one output per class (softmax in the loss). Every part is a
    constructor parameter, so the network can be tuned with GridSearchCV.

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
    >>> clf = CNNImageClassifier(filters=(8,), dense_layers=(32,), batch_size=32,
    ...                          learning_rate_init=0.01, max_iter=10, random_state=0)
    >>> clf = clf.fit(images, y[:300])
    >>> clf.input_shape_, clf.n_features_in_
    ((1, 8, 8), 64)
    >>> bool(clf.score(images, y[:300]) > 0.9)
    True
    """

    _declared_params = CNN_PARAMS

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
