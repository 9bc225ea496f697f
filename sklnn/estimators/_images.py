"""Image input handling, written once for every image classifier.

Images arrive as ``(n, H, W)``, ``(n, C, H, W)``, ``(n, H, W, C)`` arrays or as
flat 2-D rows (arrays, DataFrames, sparse matrices). Validation turns all of
them into flat rows of ``C*H*W`` values in channels-first order, so the engine
(batching, devices, prediction) sees ordinary 2-D data and ``n_features_in_``
is ``C*H*W``. The network starts with :class:`~sklnn.modules.ImageInput`,
which reshapes the rows back to ``(C, H, W)`` on the device.
"""

from __future__ import annotations

import math
import weakref
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from torch import nn

from sklnn._sklearn_private import Interval, StrOptions
from sklnn.estimators._declarations import BOOL, Param
from sklnn.estimators._tasks import NeuralClassifier
from sklnn.modules.images import (
    ImageInput,
    RandomShiftFlip,
    forward_cost,
    kaiming_normal_init_,
)
from sklnn.modules.inference import ChannelsLastRows
from sklnn.validation import check_features, check_features_and_targets, is_int, to_host

DATA_FORMATS = ("auto", "channels_first", "channels_last")

IMAGE_PARAMS = (
    Param("input_shape", None, ("array-like", None), "tuple of int or None", """
        Shape of one image when X is given as flat 2-D rows: ``(H, W)`` for one
        channel, or ``(C, H, W)`` / ``(H, W, C)`` as ``data_format`` says. Rows
        are read in that order (a flattened ``(H, W, C)`` image is
        channels-last). Without it, rows of a perfect-square length ``n = s*s``
        are read as one-channel ``s x s`` images (64 -> 8x8, 784 -> 28x28) and
        other rows as one-channel ``1 x n`` images. Image arrays (3-D or 4-D)
        carry their own shape."""),
    Param("data_format", "auto", (StrOptions(set(DATA_FORMATS)),),
          '{"auto", "channels_first", "channels_last"}', """
        Layout of 4-D arrays and of a 3-element ``input_shape``. "auto" reads
        ``(a, b, c)`` as channels-last when ``c <= 4 < a`` (e.g. ``(32, 32, 3)``)
        and as channels-first otherwise; after fitting, 4-D arrays in either
        layout are accepted when they match the fitted image shape."""),
    Param("shift_range", 0, (Interval(Integral, 0, None, closed="left"),), "int", """
        Training-time augmentation: translate each image by up to this many
        pixels (zero-pad and random crop), on the device, anew every epoch.
        Prediction never augments."""),
    Param("horizontal_flip", False, BOOL, "bool", """
        Training-time augmentation: mirror images left-right with probability
        0.5 (for natural images; not for digits)."""),
)


_COSTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _looks_channels_last(shape: tuple[int, ...]) -> bool:
    return shape[-1] <= 4 < shape[0]


class ImageInputs:
    """Image input and cost estimates of every image estimator (a mixin before the
    estimator's base class); subclasses provide ``_check_architecture()``."""

    def _check_architecture(self) -> None:
        raise NotImplementedError

    def _check_params(self):
        super()._check_params()
        if self.input_shape is not None:
            self._declared_shape()
        self._check_architecture()

    def _declared_shape(self) -> tuple[int, int, int]:
        """``input_shape`` as ``(C, H, W)``."""
        shape = self.input_shape
        if (
            isinstance(shape, (str, bytes))
            or not hasattr(shape, "__len__")
            or len(shape) not in (2, 3)
            or not all(is_int(s) and s > 0 for s in shape)
        ):
            raise ValueError(
                "input_shape must be None, (height, width), (channels, height, width) or "
                f"(height, width, channels) with positive ints; got {shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        if len(shape) == 2:
            return (1, *shape)
        if self._declared_channels_last():
            return (shape[2], shape[0], shape[1])
        return shape

    def _declared_channels_last(self) -> bool:
        """Whether a 3-element ``input_shape`` (and flat rows) are ``(H, W, C)``."""
        if self.input_shape is None or len(self.input_shape) != 3:
            return False
        if self.data_format == "auto":
            return _looks_channels_last(tuple(self.input_shape))
        return self.data_format == "channels_last"

    # ---------------------------------------------------------------- inputs
    def _expected_shape(self, reset: bool) -> tuple[int, int, int] | None:
        if not reset:
            return self.input_shape_
        return None if self.input_shape is None else self._declared_shape()

    def _is_channels_last(self, shape: tuple[int, int, int], expected) -> bool:
        if self.data_format != "auto":
            return self.data_format == "channels_last"
        if expected is not None:
            if shape == expected:
                return False
            if shape == (*expected[1:], expected[0]):
                return True
        return _looks_channels_last(shape)

    def _image_rows(self, X, *, reset: bool):
        """Flat channels-first rows, and the image shape when X held images (else None)."""
        X = to_host(X)
        if not hasattr(X, "ndim") and not sp.issparse(X):
            X = np.asarray(X)
        if isinstance(X, np.ndarray) and X.dtype.kind in "iub":
            # float32 holds 8- and 16-bit pixels exactly; float64 would only slow the CPU down
            X = X.astype(np.float32)
        expected = self._expected_shape(reset)
        if X.ndim > 4:
            raise ValueError(
                f"{type(self).__name__} accepts images as arrays of shape (n, H, W), "
                "(n, C, H, W) or (n, H, W, C), or as flat rows (n, C*H*W); got an array of "
                f"shape {X.shape} ({X.ndim} dimensions)."
            )
        if X.ndim in (3, 4):
            images = np.asarray(X)
            if images.ndim == 3:
                images = images[:, None]
            elif self._is_channels_last(images.shape[1:], expected):
                images = images.transpose(0, 3, 1, 2)
            shape = tuple(int(s) for s in images.shape[1:])
            if expected is not None and shape != expected:
                fitted = "was fitted on" if not reset else "declares (input_shape)"
                raise ValueError(
                    f"X holds images of shape {shape} (channels, height, width), but "
                    f"{type(self).__name__} {fitted} images of shape {expected}. Pass images "
                    f"of shape {expected} or flat rows of {math.prod(expected)} values."
                )
            return np.ascontiguousarray(images).reshape(len(images), -1), shape
        if X.ndim == 2 and expected is not None and X.shape[1] != math.prod(expected):
            expecting = math.prod(expected)
            if not reset:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{expecting} features as input (images of shape {expected}, channels "
                    "first, flattened)."
                )
            raise ValueError(
                f"input_shape={tuple(self.input_shape)} needs rows of {expecting} values; X has "
                f"{X.shape[1]} columns."
            )
        return X, None

    def _finish_rows(self, rows, image_shape, reset: bool):
        if image_shape is None:
            image_shape = (
                self._expected_shape(reset) or self._shape_of_rows(rows.shape[1])
            )
            if self._declared_channels_last() and image_shape[0] > 1:
                channels, height, width = image_shape
                order = np.arange(rows.shape[1]).reshape(height, width, channels)
                rows = rows[:, order.transpose(2, 0, 1).ravel()]
        if reset:
            self.input_shape_ = image_shape
        return rows

    @staticmethod
    def _shape_of_rows(n_features: int) -> tuple[int, int, int]:
        side = math.isqrt(n_features)
        if side * side == n_features:
            return (1, side, side)
        return (1, 1, n_features)

    def _validate_X(self, X, *, reset: bool):
        rows, image_shape = self._image_rows(X, reset=reset)
        rows = check_features(self, rows, reset=reset)
        return self._finish_rows(rows, image_shape, reset)

    def _validate_X_y(self, X, y, *, reset: bool, y_numeric: bool):
        rows, image_shape = self._image_rows(X, reset=reset)
        rows, y = check_features_and_targets(self, rows, y, reset=reset, y_numeric=y_numeric)
        return self._finish_rows(rows, image_shape, reset), y

    def _costs(self, module) -> tuple[float, float, int]:
        """``forward_cost`` of ``module``, measured once per module object (a builder
        without side effects; nothing of it is stored on the estimator)."""
        costs = _COSTS.get(module)
        if costs is None:
            costs = _COSTS[module] = forward_cost(module, self.input_shape_)
        return costs

    def _input_shape(self):
        return self.input_shape_

    def _flops_per_sample(self, module):
        # The engine picks the thread count from this. A second thread pays off
        # only when single operations are large; a deep network of small maps is
        # many small operations, so its largest layer, not its total, decides.
        flops = self._costs(module)[1]
        return flops if flops else super()._flops_per_sample(module)

    def _largest_activation(self) -> int:
        return self._costs(self.module_)[2]


class ImageClassifierBase(ImageInputs, NeuralClassifier):
    """Image input, augmentation, schedules and cost estimates for image classifiers.

    Subclasses provide ``_build_network(image_shape, n_outputs)`` and
    ``_check_architecture()``.
    """

    def _build_network(self, image_shape: tuple[int, int, int], n_outputs: int) -> nn.Module:
        raise NotImplementedError

    # --------------------------------------------------------------- network
    def _build_module(self, n_features, n_outputs):
        shape = self.input_shape_
        layers: list[nn.Module] = [ImageInput(shape)]
        if self.shift_range or self.horizontal_flip:
            layers.append(RandomShiftFlip(self.shift_range, bool(self.horizontal_flip)))
        layers.append(self._build_network(shape, n_outputs))
        return nn.Sequential(*layers)

    def _predictor(self, network, dtype):
        predictor = super()._predictor(network, dtype)
        if self._declared_channels_last() and self.input_shape_[0] > 1:
            predictor.prepare = ChannelsLastRows(self.input_shape_)  # as _finish_rows
        return predictor

    def _init_module(self, module, generator, initial=None):
        kaiming_normal_init_(module, generator)

    def _n_layers(self) -> int:
        weighted = sum(
            isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1))
            for m in self.module_.modules()
        )
        return weighted + 1
