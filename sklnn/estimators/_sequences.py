"""Sequence input, written once for every sequence estimator.

Sequences enter as ``(n, T)`` (univariate) or ``(n, T, F)`` arrays, or as a list of
sequences of different lengths padded at the end (the classifiers). The validation
hooks flatten them to 2-D rows of ``T * F`` values and remember ``(T, F)``; the network
reshapes the rows back. Everything between (batching, devices, the training loop) is
the shared engine, unchanged.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import column_or_1d, validate_data

from sklnn.estimators._declarations import ENGINE, Param
from sklnn.validation import FLOAT_DTYPES, to_host


class _SequenceInput:
    """Sequence validation shared by the sequence estimators (recurrent, convolutional and
    the seasonal-naive baseline)."""

    _padding_value = None  # only the classifiers take padded sequences

    # ------------------------------------------------------------- sequences
    def _expected_shape_text(self) -> str:
        steps, features = self.sequence_shape_
        flat = f"(n_samples, {steps})" if features == 1 else f"(n_samples, {steps * features})"
        return f"(n_samples, {steps}, {features}) or {flat}"

    def _to_rows(self, X, reset: bool):
        """3-D sequences become rows of T*F values; 2-D input passes through.

        Returns the rows and the sequence shape they came from (None for 2-D).
        """
        X = to_host(X)
        if sp.issparse(X) or isinstance(X, pd.DataFrame):
            return X, None
        if isinstance(X, (list, tuple)) and _ragged(X):
            X = self._padded(X, reset)
        array = X if hasattr(X, "ndim") and hasattr(X, "shape") else np.asarray(X)
        name = type(self).__name__
        fitted = not reset and hasattr(self, "sequence_shape_")
        if array.ndim > 3:
            raise ValueError(
                f"{name} accepts sequences as arrays of shape (n_samples, T, F), or "
                "(n_samples, T) for one feature; got an array of shape "
                f"{tuple(array.shape)} ({array.ndim} dimensions)."
            )
        if array.ndim == 3:
            shape = tuple(int(s) for s in array.shape[1:])
            if fitted and shape != self.sequence_shape_:
                raise ValueError(
                    f"X has sequences of shape {shape} (steps, features), but {name} was fitted "
                    f"on sequences of shape {self.sequence_shape_}; pass an array of shape "
                    f"{self._expected_shape_text()}."
                )
            return np.asarray(array).reshape(array.shape[0], -1), shape
        if fitted and array.ndim == 2 and array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {array.shape[1]} features, but {name} is expecting "
                f"{self.n_features_in_} features as input: sequences of shape "
                f"{self.sequence_shape_} (steps, features), passed as "
                f"{self._expected_shape_text()}."
            )
        return array, None

    def _padded(self, sequences, reset):
        """A list of sequences of different lengths, padded at the end with ``padding_value``
        to the longest (or to the fitted length when predicting)."""
        name = type(self).__name__
        if self._padding_value is None:
            raise ValueError(
                f"X holds sequences of different lengths; {name} pads them at the end when "
                "padding_value is set (e.g. padding_value=np.nan), or pass one array of "
                "equal-length sequences."
            )
        arrays = [np.asarray(to_host(s), dtype=np.float64) for s in sequences]
        arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
        if any(a.ndim != 2 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
            raise ValueError(
                "Each sequence in a list must be 1-D (steps,) or 2-D (steps, features) with the "
                "same number of features."
            )
        steps = max(len(a) for a in arrays)
        if not reset and hasattr(self, "sequence_shape_"):
            steps = max(steps, self.sequence_shape_[0])  # longer ones get the shape error
        out = np.full((len(arrays), steps, arrays[0].shape[1]), self._padding_value)
        for i, a in enumerate(arrays):
            out[i, :len(a)] = a
        return out

    def _finite_policy(self):
        padding = self._padding_value
        return "allow-nan" if padding is not None and math.isnan(padding) else True

    def _remember_shape(self, rows, shape, reset):
        if reset:
            self.sequence_shape_ = shape if shape is not None else (int(rows.shape[1]), 1)

    def _validated_rows(self, X, reset):
        rows, shape = self._to_rows(X, reset)
        rows = validate_data(self, rows, reset=reset, dtype=FLOAT_DTYPES,
                             ensure_all_finite=self._finite_policy())
        self._remember_shape(rows, shape, reset)
        self._check_padding(rows)
        return rows

    def _validated_rows_and_targets(self, X, y, reset, y_numeric):
        rows, shape = self._to_rows(X, reset)
        rows, y = validate_data(self, rows, to_host(y), reset=reset, multi_output=True,
                                y_numeric=y_numeric, dtype=FLOAT_DTYPES,
                                ensure_all_finite=self._finite_policy())
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        self._remember_shape(rows, shape, reset)
        self._check_padding(rows)
        return rows, y

    def _check_padding(self, rows):
        """With NaN padding, NaN is allowed only in the trailing padding steps."""
        if self._finite_policy() is True:
            return
        sequences = rows.reshape(rows.shape[0], *self.sequence_shape_)
        missing = np.isnan(sequences)
        padding_steps = missing.all(axis=2)
        trailing = np.cumprod(padding_steps[:, ::-1], axis=1)[:, ::-1].astype(bool)
        if missing[~trailing].any():
            raise ValueError(
                "Input X contains NaN inside sequences; with padding_value=nan only whole "
                "trailing steps may be NaN."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = self._finite_policy() == "allow-nan"
        return tags


PADDING_VALUE = Param("padding_value", None, (Real, None), "float or None", """
    Marks trailing padding steps; None means every sequence has T steps. When
    set, ``X`` may also be a list of sequences of different lengths, which are
    padded at the end with it.""")


def auto_batch_param(largest):
    """The ``batch_size`` entry of a sequence classifier whose "auto" batch is
    ``min(largest, ceil(n_samples / 10))``."""
    return ENGINE["batch_size"].replace(default="auto", doc=f"""
        "auto" means ``min({largest}, ceil(n_samples / 10))`` (at least 2):
        batches of {largest}, and at least ten optimiser steps per epoch on
        small training sets.""")


class _PaddedSequenceClassifier(_SequenceInput):
    """Input handling of the sequence classifiers: padded sequences of any length, and the
    labels validated beside them; "auto" batches of a tenth of a small training set."""

    _auto_batch: int  # the largest "auto" batch (see ``auto_batch_param``)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            # two rows at least: batch normalisation cannot train on one
            return min(n_samples, max(2, min(self._auto_batch, math.ceil(n_samples / 10))))
        return super()._batch_size(n_samples)

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this configuration fails by design, with the reason: pass
        to ``check_estimator(est, expected_failed_checks=est._expected_failed_checks())``
        (scikit-learn has no tag for it)."""
        if self.batch_size != "auto":
            return {}
        return {"check_sample_weight_equivalence_on_dense_data": (
            'batch_size="auto" trains on ten batches per epoch on small sets, so repeating a '
            "row changes the batches while weighting it does not; a fixed batch_size at "
            "least the number of rows makes weights and repeats train alike.")}

    @property
    def _padding_value(self):
        try:
            return None if self.padding_value is None else float(self.padding_value)
        except (TypeError, ValueError):  # reported by the parameter check at fit
            return None

    def _validate_X(self, X, *, reset):
        return self._validated_rows(X, reset)

    def _validate_X_y(self, X, y, *, reset, y_numeric):
        return self._validated_rows_and_targets(X, y, reset, y_numeric)


def _ragged(items) -> bool:
    """Whether a list holds sequences of different lengths."""
    try:
        return len({len(item) for item in items}) > 1
    except TypeError:  # scalars: a single sequence, checked later
        return False
