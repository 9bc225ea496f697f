"""Data that does not fit in memory: a ``torch.utils.data.Dataset`` or a numpy memmap.

Every sklnn estimator's ``fit``, ``predict`` and ``score`` accept, besides
arrays, a ``torch.utils.data.Dataset`` (each item ``x``, or a tuple whose
first element is ``x``) and a ``numpy.memmap``. Such input is streamed: a
``DataLoader`` reads one batch of rows at a time (``num_workers`` processes
in parallel when the estimator's ``num_workers`` > 0), so memory holds a few
batches, not the data. The targets (and sample weights) are small and stay
in memory: pass ``y`` as an array, or leave ``y=None`` and let ``fit`` read
the targets once from items ``(x, y)``.

scikit-learn's splitters index ``X`` with arrays of row numbers. Wrap a
Dataset in :class:`DatasetView` and they index it lazily (no row is read
until a fit needs it), so ``GridSearchCV`` and ``cross_val_score`` work on
data larger than memory::

    X = DatasetView(my_dataset)           # items (x, y) or x
    y = my_dataset_targets                # labels in memory, for splitting and scoring
    GridSearchCV(MLPClassifierGPU(num_workers=2), grid, cv=3).fit(X, y)
"""

from __future__ import annotations

import numbers

import numpy as np
from torch.utils.data import Dataset

__all__ = ["ArrayDataset", "DatasetView", "is_streamed"]


class ArrayDataset(Dataset):
    """The rows of an array (e.g. a ``numpy.memmap``) as a Dataset, read a batch at a time.

    A batch is one fancy-indexed read of the array (``__getitems__``), which on
    a memmap touches only those rows' pages and never writes to the file.

    Parameters
    ----------
    array : array-like of shape (n_samples, ...)
    """

    def __init__(self, array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index):
        return np.asarray(self.array[index])

    def __getitems__(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        # sorted reads walk the file forward; then back to the requested order
        order = np.argsort(indices, kind="stable")
        block = np.asarray(self.array[indices[order]])
        out = np.empty_like(block)
        out[order] = block
        return out


class DatasetView(Dataset):
    """A lazily indexed view of a Dataset that scikit-learn can split and index.

    ``view[rows]`` with an array, list or slice of row numbers (what
    scikit-learn's cross-validation does) returns another view: nothing is
    read. ``view[i]`` returns the dataset's item. ``len(view)`` and
    ``view.shape[0]`` are the number of rows.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Map-style dataset with ``__len__``; items ``x`` or ``(x, y, ...)``.
    indices : array-like of int, default=None
        The rows of ``dataset`` this view holds; all by default.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch.utils.data import TensorDataset
    >>> from sklnn.data import DatasetView
    >>> view = DatasetView(TensorDataset(torch.arange(10.0).reshape(5, 2)))
    >>> view.shape
    (5,)
    >>> view[np.array([4, 1])].indices
    array([4, 1])
    """

    def __init__(self, dataset, indices=None):
        if isinstance(dataset, DatasetView):
            base = dataset.indices
            dataset = dataset.dataset
        else:
            base = None
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DatasetView needs a map-style Dataset with __len__ and __getitem__; got "
                f"{type(dataset).__name__}. Iterable datasets have no rows to split."
            )
        self.dataset = dataset
        if indices is None:
            indices = np.arange(len(dataset)) if base is None else base
        else:
            indices = np.asarray(indices, dtype=np.int64)
            if base is not None:
                indices = base[indices]
        self.indices = np.asarray(indices, dtype=np.int64)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.indices),)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn's _safe_indexing asks for view[rows, ...]
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                raise IndexError("a DatasetView is indexed by rows only.")
        if isinstance(key, numbers.Integral):
            return self.dataset[int(self.indices[key])]
        if isinstance(key, slice):
            return DatasetView(self.dataset, self.indices[key])
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return DatasetView(self.dataset, self.indices[key])

    def __repr__(self) -> str:
        return f"DatasetView({type(self.dataset).__name__}, n_rows={len(self)})"


def is_streamed(X) -> bool:
    """Whether ``X`` is streamed batch by batch (a Dataset or a memmap) rather than held."""
    return isinstance(X, (Dataset, np.memmap))


def as_view(X) -> DatasetView:
    """A Dataset or memmap as a :class:`DatasetView`."""
    if isinstance(X, np.memmap):
        return DatasetView(ArrayDataset(X))
    return DatasetView(X)
