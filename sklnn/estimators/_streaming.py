"""How an estimator fits and predicts on a Dataset or a memmap without holding it.

The features are validated per batch by the estimator's own ``_validate_X`` (in
the loader's workers), so streamed input meets the checks and reshaping of array
input. The targets and sample weights are held in memory as usual.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_y, column_or_1d

from sklnn.data import DatasetView, as_view, is_streamed
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
