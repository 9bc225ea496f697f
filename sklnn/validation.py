"""Input validation shared by the estimators: parameters, features, targets, weights.

Messages say what was wrong and what to do about it.
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import validate_data

from sklnn._sklearn_private import _check_sample_weight

FLOAT_DTYPES = (np.float64, np.float32)


def to_host(data):
    """Torch tensors on any device become numpy arrays; anything else passes through."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return data
    if isinstance(data, torch.Tensor):
        data = data.detach()
        if data.dtype == torch.bfloat16:
            data = data.float()
        return data.cpu().numpy()
    return data


def non_numeric_columns(X) -> list:
    """The columns of a DataFrame whose dtype is not numeric or boolean (text, categories, ...)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return []
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return [column for column, dtype in dtypes.items()
            if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype))]


@contextmanager
def explain_non_numeric(X):
    """Turn a failed conversion of a DataFrame with text columns into an error that names them
    and says how to encode them (inputs that convert are left alone)."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        columns = non_numeric_columns(X)
        if not columns:
            raise
        shown = columns if len(columns) <= 10 else [*columns[:10], "..."]
        raise ValueError(
            f"X has {len(columns)} non-numeric column(s), {shown}, and sklnn's networks take "
            "numbers. Encode them in a pipeline, e.g. make_pipeline(ColumnTransformer("
            f"[('categories', OneHotEncoder(handle_unknown='ignore'), {columns[:10]!r})], "
            "remainder=StandardScaler()), estimator) with ColumnTransformer from "
            "sklearn.compose and OneHotEncoder, StandardScaler from sklearn.preprocessing. "
            f"(The conversion said: {exc})"
        ) from exc


def check_features(estimator, X, *, reset: bool, accept_sparse=("csr", "csc")):
    """Validate X alone (predict time when ``reset`` is False)."""
    X = to_host(X)
    with explain_non_numeric(X):
        return validate_data(
            estimator, X, reset=reset, accept_sparse=list(accept_sparse), dtype=FLOAT_DTYPES
        )


def check_features_and_targets(estimator, X, y, *, reset: bool, y_numeric: bool):
    """Validate X and y together; a column-vector y becomes 1-D with a warning."""
    from sklearn.utils.validation import column_or_1d

    X, y = to_host(X), to_host(y)
    with explain_non_numeric(X):
        X, y = validate_data(
            estimator,
            X,
            y,
            reset=reset,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=y_numeric,
            dtype=FLOAT_DTYPES,
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    return X, y


def check_sample_weight(sample_weight, X):
    """Non-negative, finite weights of the right length, or None."""
    if sample_weight is None:
        return None
    return _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)


def is_int(value) -> bool:
    """An integer, numpy's included, that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name, value, low, allow=()):
    if value in allow:
        return
    if not is_int(value) or value < low:
        extra = f" or one of {list(allow)}" if allow else ""
        raise ValueError(f"{name} must be an int >= {low}{extra}; got {value!r}.")


def check_layer_sizes(name, sizes) -> list[int]:
    """A tuple of positive ints (a single int means one layer); empty means no hidden layer."""
    if is_int(sizes):
        sizes = [sizes]
    try:
        sizes = list(sizes)
    except TypeError:
        raise ValueError(f"{name} must be an int or a sequence of ints; got {sizes!r}.") from None
    if not all(is_int(s) or (isinstance(s, np.integer)) for s in sizes) or any(
        s <= 0 for s in sizes
    ):
        raise ValueError(f"{name} must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def check_representable(X, dtype) -> None:
    """Raise when float64 input holds values beyond the range of the network's ``dtype``
    (float32 by default): converted, they would become inf and the prediction NaN."""
    import scipy.sparse
    import torch

    values = X.data if scipy.sparse.issparse(X) else X
    if not isinstance(values, np.ndarray) or values.dtype != np.float64 or dtype not in (
            torch.float32, torch.float16, torch.bfloat16) or values.size == 0:
        return
    largest = torch.finfo(dtype).max
    if np.abs(values).max() > largest:
        raise ValueError(
            f"X holds values beyond {largest:.4g}, the largest the network's {dtype} "
            "arithmetic can represent; they would become infinite and the prediction NaN. "
            "Scale the inputs (e.g. StandardScaler), or fit with precision='float64'.")
