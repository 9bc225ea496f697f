"""Data handling of every estimator: validated input to the engine's batches.

Arrays are validated whole and sliced into batches on the device; a ``torch`` Dataset
or a numpy memmap is streamed (:class:`StreamedInput`): its features are validated per
batch by the estimator's own ``_validate_X`` (in the loader's workers), so streamed input
meets the checks and reshaping of array input, while the targets and sample weights are
held in memory as usual. :class:`TrainingData` splits off the validation set, chooses
the batch size and warns when a validation set skipped a Pipeline's transformers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import column_or_1d

from sklnn._sklearn_private import _check_y
from sklnn._warnings import warn_user
from sklnn.data import DatasetView, as_view, is_streamed
from sklnn.engine.batches import Batches
from sklnn.engine.solvers import is_stochastic
from sklnn.engine.streaming import (
    LoaderSettings,
    StreamedBatches,
    make_loader,
    stack_features,
    streamed_rows,
)
from sklnn.validation import to_host


class StreamedX:
    """Streamed features after validation: the rows, what one validated row looks
    like, and the validation each batch goes through.

    Indexable by row arrays (``X[rows, ...]``), so scikit-learn's
    ``train_test_split`` splits it without reading it.
    """

    def __init__(self, view: DatasetView, row_shape: tuple, dtype, transform):
        self.view = view
        self.row_shape = tuple(row_shape)
        self.dtype = dtype
        self.transform = transform

    @property
    def shape(self) -> tuple:
        return (len(self.view), *self.row_shape)

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, key):
        return StreamedX(self.view[key], self.row_shape, self.dtype, self.transform)


def _validated_batch(estimator):
    def transform(rows):
        return estimator._validate_X(rows, reset=False)
    return transform


class StreamedInput:
    """The streaming half of an estimator's input handling (a mixin of the base)."""

    #: False where targets are built from the inputs (the forecaster's windows)
    _accepts_streams = True

    def _loader_settings(self, streamed: bool) -> LoaderSettings:
        """The DataLoader parameters; for in-memory X they must stay at their defaults."""
        settings = LoaderSettings(self.num_workers, self.persistent_workers,
                                  self.prefetch_factor, self.pin_memory)
        settings.check()
        changed = [f"{name}={getattr(self, name)!r}" for name, default in
                   (("num_workers", 0), ("persistent_workers", False),
                    ("prefetch_factor", None)) if getattr(self, name) != default]
        if not streamed and changed:
            raise ValueError(
                f"{', '.join(changed)} configure the DataLoader that streams a Dataset or a "
                "numpy memmap, but X is held in memory, where batches are sliced without a "
                "loader. Leave them at their defaults, or pass X as a torch Dataset or memmap."
            )
        return settings.for_this_process() if streamed else settings

    def _streams(self, X) -> bool:
        """Whether X is streamed: a Dataset, or a memmap where the estimator streams
        (elsewhere a memmap is an array like any other)."""
        if isinstance(X, np.memmap):
            return self._accepts_streams
        return isinstance(X, StreamedX) or is_streamed(X)

    def _check_streamable(self) -> None:
        if not self._accepts_streams:
            raise TypeError(
                f"{type(self).__name__} builds its training targets from the input windows, "
                "so it cannot stream X from a Dataset or memmap; pass X as an array."
            )

    def _validate_streamed_X(self, X, *, reset: bool) -> StreamedX:
        """A Dataset or memmap as :class:`StreamedX`; its first row sets (``reset``) or is
        checked against the fitted input shape, the rest are checked batch by batch."""
        self._check_streamable()
        if isinstance(X, StreamedX):
            return X
        view = as_view(X)
        if len(view) == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required "
                f"by {type(self).__name__}: the dataset is empty.")
        probe = self._validate_X(stack_features([view[0]]), reset=reset)
        return StreamedX(view, probe.shape[1:], probe.dtype, _validated_batch(self._view()))

    def _validate_input(self, X, y, *, reset: bool, y_numeric: bool):
        """Validated (X, y): arrays through ``_validate_X_y``, a Dataset or memmap
        streamed (its targets read once when ``y`` is None)."""
        if not self._streams(X):
            return self._validate_X_y(X, y, reset=reset, y_numeric=y_numeric)
        X = self._validate_streamed_X(X, reset=reset)
        if y is None:
            y = _read_targets(X.view, self._stream_loader)
        y = _check_y(to_host(y), multi_output=True, y_numeric=y_numeric, estimator=self)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if len(y) != len(X):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: the dataset "
                f"has {len(X)} rows but y has {len(y)} values.")
        return X, y

    def _targets_for_score(self, X, y):
        """``y``, or when it is None and X a Dataset of ``(x, y)`` pairs, the targets the
        items hold: ``score`` takes what ``fit`` takes."""
        if y is not None or not self._streams(X) or isinstance(X, np.memmap):
            return y
        view = X.view if isinstance(X, StreamedX) else as_view(X)
        return _read_targets(view, self._loader_settings(streamed=True))

    def _streamed_batches(self, X: StreamedX, others, **settings) -> StreamedBatches:
        return StreamedBatches(X.view.dataset, X.view.indices, others, transform=X.transform,
                               loader=self._stream_loader, **settings)

    def _streamed_outputs(self, X, predict_batch) -> np.ndarray:
        """``predict_batch`` over validated batches of a Dataset or memmap, concatenated."""
        X = self._validate_streamed_X(X, reset=False)
        settings = self._loader_settings(streamed=True)
        settings.pin(self.device_)
        outputs = [predict_batch(rows) for rows in streamed_rows(
            X.view.dataset, X.view.indices, X.transform, settings, self._predict_batch_rows())]
        return np.concatenate(outputs)


class TrainingData(StreamedInput):
    """How an estimator turns validated arrays (or streamed input) into the engine's batches."""

    def _split(self, X, y, y_encoded, sample_weight, rng, validation_data, device, dtype):
        """Training batches, and validation batches when a validation set is used."""
        n = X.shape[0]
        valid = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "validation_data must be a pair (X_val, y_val); got "
                    f"{type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}"
                       if isinstance(validation_data, (tuple, list)) else "")
                    + "."
                )
            X_val, y_val = validation_data
            if self._streams(X_val):
                X_val = self._validate_streamed_X(X_val, reset=False)
            else:
                X_val = self._validate_X(X_val, reset=False)
                _warn_if_rescaled(X, X_val)
            y_val = self._check_validation_targets(y_val, X_val)
            valid = (X_val, self._encode_targets(y_val), None)
        elif self.early_stopping and is_stochastic(self._solver()):
            stratify = y if self._stratify and np.ndim(y) == 1 else None
            if stratify is not None:
                labels, counts = np.unique(stratify, return_counts=True)
                if counts.min() < 2:
                    raise ValueError(
                        "early_stopping=True holds out a stratified validation set, which "
                        "needs at least 2 samples of every class; these classes have only "
                        f"1: {labels[counts < 2].tolist()}. Add samples or set "
                        "early_stopping=False."
                    )
            arrays = [X, y_encoded] + ([] if sample_weight is None else [sample_weight])
            parts = train_test_split(
                *arrays, random_state=rng, test_size=self.validation_fraction, stratify=stratify
            )
            X, X_val, y_encoded, y_val_enc = parts[:4]
            if sample_weight is not None:
                sample_weight, w_val = parts[4:]
            else:
                w_val = None
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size "
                    "of your dataset."
                )
            valid = (X_val, y_val_enc, w_val)
            n = X.shape[0]
        batch_size = self._batch_size(n)
        target_dtype = self._make_objective().target_dtype or dtype
        min_batch = 2 if self._uses_batch_norm() else 1
        if n < min_batch:
            raise ValueError(
                f"batch_norm=True needs at least 2 training samples, got n_samples={n}; add "
                "samples or set batch_norm=False."
            )
        train = self._batches(X, [y_encoded, sample_weight], device=device, dtype=dtype,
                              other_dtypes=[target_dtype, dtype], batch_size=batch_size,
                              min_batch=min_batch)
        # the validated host arrays, for callbacks that score the model (EpochScoring)
        self._scoring_data = {"train": (X, y_encoded, sample_weight), "valid": valid}
        if valid is not None:
            valid = self._batches(valid[0], [valid[1], valid[2]], device=device, dtype=dtype,
                                  other_dtypes=[target_dtype, dtype],
                                  batch_size=max(batch_size, 4096))
        return train, valid

    def _batches(self, X, others, **settings):
        """Batches sliced from arrays in memory, or streamed from a Dataset or memmap."""
        if isinstance(X, StreamedX):
            return self._streamed_batches(X, others, **settings)
        return Batches(X, others, **settings)

    def _mid_fit_model(self, module, device, dtype):
        """A view of this (working) estimator that predicts with ``module`` as it is now,
        on rows that ``_split`` already validated."""
        view = self._view()
        view.module_, view.device_, view._compute_dtype = module, device, dtype
        view._validate_X = lambda X, reset=False: X
        return view

    def _uses_batch_norm(self) -> bool:
        return bool(getattr(self, "batch_norm", False))

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warn_user(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped")
        return int(np.clip(self.batch_size, 1, n_samples))


def _warn_if_rescaled(X, X_val) -> None:
    """Warn when validation features sit on another scale than the training features, the
    mark of a validation set that skipped a Pipeline's transformers."""
    if sp.issparse(X) or sp.issparse(X_val) or len(X) < 2 or len(X_val) < 2:
        return
    mean, std = X.mean(axis=0), X.std(axis=0)
    varying = std > 1e-12 * (1.0 + np.abs(mean))
    if not varying.any():
        return
    shift = np.abs(X_val.mean(axis=0) - mean)[varying] / std[varying]
    ratio = X_val.std(axis=0)[varying] / std[varying]
    if np.median(shift) > 5.0 or not 0.1 < np.median(ratio) < 10.0:
        warn_user(
            "validation_data's features are on another scale than the training data's "
            f"(median shift {np.median(shift):.1f} standard deviations, median spread ratio "
            f"{np.median(ratio):.2f}). Inside a Pipeline, fit receives transformed X but "
            "validation_data as given: transform X_val with the fitted steps first."
        )


def _read_targets(view: DatasetView, settings: LoaderSettings) -> np.ndarray:
    """The ``y`` of every item ``(x, y)``: from ``dataset.targets`` when it has them, else
    one pass of the loader."""
    targets = getattr(view.dataset, "targets", None)
    if targets is not None and len(targets) == len(view.dataset):
        return np.asarray(to_host(targets))[view.indices]
    first = view[0]
    if not isinstance(first, (tuple, list)) or len(first) < 2:
        raise ValueError(
            "fit(X, y=None) reads the targets from the dataset's items, which must be pairs "
            f"(x, y); this dataset's items are {type(first).__name__}. Pass y as an array.")
    sampler = [view.indices[i:i + 1024] for i in range(0, len(view), 1024)]
    loader = make_loader(view.dataset, sampler, _targets_of, settings)
    return np.concatenate([np.asarray(part) for part in loader])


def _targets_of(items):
    return np.stack([np.asarray(to_host(item[1])) for item in items])
