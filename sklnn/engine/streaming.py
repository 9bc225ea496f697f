"""Mini-batches streamed from a ``torch.utils.data.Dataset`` through a ``DataLoader``.

For data that does not fit in memory (a Dataset reading files, a numpy memmap).
The batch order is drawn in this process from the same seeded generator and cut
into the same row ranges as :class:`~sklnn.engine.batches.Batches`, so a streamed
fit visits the rows in the order an in-memory fit would and the number of
loader workers never changes a result. Workers only read and validate rows.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sklnn._warnings import warn_user
from sklnn.engine.heap import RELEASE_EVERY, release_freed_memory


@dataclass(frozen=True)
class LoaderSettings:
    """The estimator's ``DataLoader`` parameters."""

    num_workers: int = 0
    persistent_workers: bool = False
    prefetch_factor: int | None = None
    pin_memory: bool | str = "auto"

    def check(self) -> None:
        """Raise on settings the loader cannot honour (as torch would, but saying why)."""
        if self.num_workers == 0 and self.persistent_workers:
            raise ValueError(
                "persistent_workers=True keeps loader worker processes alive between epochs, "
                "but num_workers=0 starts none; set num_workers >= 1 or persistent_workers=False."
            )
        if self.num_workers == 0 and self.prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor sets how many batches each loader worker reads ahead, but "
                "num_workers=0 starts no worker; set num_workers >= 1 or prefetch_factor=None."
            )

    def for_this_process(self) -> LoaderSettings:
        """The settings, with no worker processes inside a daemonic process.

        A daemonic process (a loky or Dask worker running a model search) may not
        start children: ``DataLoader`` workers would fail there (pytorch issue
        15950), so the loading happens in the process itself, with one warning.
        """
        if self.num_workers == 0 or not multiprocessing.current_process().daemon:
            return self
        warn_user(
            f"num_workers={self.num_workers} needs child processes, which this daemonic "
            "process (e.g. a joblib or Dask worker) may not start; loading the data in this "
            "process instead (num_workers=0). Results are the same; set num_workers=0 to "
            "silence this warning.",
            RuntimeWarning,
        )
        return LoaderSettings()

    def pin(self, device: torch.device) -> bool:
        """Whether batches go through pinned memory: for copies to CUDA only."""
        if self.pin_memory is True and device.type != "cuda":
            raise ValueError(
                f"pin_memory=True pins host batches for copies to a CUDA device, but this "
                f"fit runs on {device}; use pin_memory='auto' (pins for CUDA only) or False.")
        return device.type == "cuda" and self.pin_memory in ("auto", True)


class _Collate:
    """Rows to one validated array, in the loader's worker.

    Items are ``x`` or tuples whose first element is ``x``; ``transform`` is the
    estimator's input validation (reshaping, dtype, finiteness), run per batch.
    """

    def __init__(self, transform: Callable[[np.ndarray], np.ndarray], as_tensor: bool):
        self.transform = transform
        self.as_tensor = as_tensor

    def __call__(self, items):
        rows = stack_features(items)
        rows = self.transform(rows)
        return torch.from_numpy(np.ascontiguousarray(rows)) if self.as_tensor else rows


def stack_features(items) -> np.ndarray:
    """The features of a list of dataset items (or an already stacked block) as one array."""
    if isinstance(items, np.ndarray):
        return items
    features = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
    features = [x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
                for x in features]
    shapes = {x.shape for x in features}
    if len(shapes) > 1:
        raise ValueError(
            f"The dataset's samples have different shapes ({sorted(shapes)[:3]}...); sklnn "
            "streams fixed-shape samples. Pad or crop them in the Dataset's __getitem__."
        )
    return np.stack(features)


class _EpochBatches:
    """A batch sampler whose batches are replaced each epoch (so persistent workers stay)."""

    def __init__(self):
        self.batches: list[np.ndarray] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def make_loader(dataset: Dataset, sampler, collate_fn, settings: LoaderSettings, *,
                pin: bool = False) -> DataLoader:
    kwargs = {}
    if settings.num_workers > 0:
        kwargs["persistent_workers"] = settings.persistent_workers
        if settings.prefetch_factor is not None:
            kwargs["prefetch_factor"] = settings.prefetch_factor
    return _Loader(dataset, batch_sampler=sampler, num_workers=settings.num_workers,
                   collate_fn=collate_fn, pin_memory=pin, **kwargs)


class _Loader(DataLoader):
    """A DataLoader whose workers, when started by pickling the Dataset (the 'spawn' and
    'forkserver' start methods), fail with an error that says what to change."""

    def __iter__(self):
        try:
            return super().__iter__()
        except (TypeError, AttributeError, pickle.PicklingError) as exc:
            if self.num_workers == 0 or "pickle" not in f"{type(exc).__name__} {exc}".lower():
                raise
            method = multiprocessing.get_start_method(allow_none=True) or "default"
            raise TypeError(
                f"num_workers={self.num_workers} reads the Dataset in worker processes, which "
                f"the '{method}' start method hands the Dataset pickled, but this "
                f"{type(self.dataset).__name__} cannot be pickled ({exc}). Open locks, files "
                "or connections lazily in __getitem__ instead of holding them, or use "
                "num_workers=0.") from exc


class StreamedBatches:
    """Yield ``(X, *others)`` mini-batches on ``device``, reading X from a Dataset.

    Same protocol as :class:`~sklnn.engine.batches.Batches`. ``indices`` are the
    dataset rows this set holds (a split of it); ``others`` are in-memory arrays
    aligned with ``indices`` (targets, sample weights), or None.
    """

    def __init__(self, dataset: Dataset, indices: np.ndarray, others, *,
                 transform: Callable[[np.ndarray], np.ndarray], device: torch.device,
                 dtype: torch.dtype, other_dtypes, batch_size: int, min_batch: int = 1,
                 loader: LoaderSettings = LoaderSettings()) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.n_samples = len(self.indices)
        self.batch_size = int(batch_size)
        self.min_batch = min_batch
        self.device = device
        self.dtype = dtype
        self.others = [None if a is None else torch.as_tensor(np.asarray(a)).to(d)
                       for a, d in zip(others, other_dtypes)]
        self._sampler = _EpochBatches()
        self._loader = make_loader(dataset, self._sampler, _Collate(transform, as_tensor=True),
                                   loader, pin=loader.pin(device))

    def __len__(self) -> int:
        return len(self._slices())

    def _slices(self) -> list[slice]:
        """The row ranges of :class:`Batches`: a short last range joins the one before."""
        starts = list(range(0, self.n_samples, self.batch_size))
        if len(starts) > 1 and self.n_samples - starts[-1] < self.min_batch:
            starts.pop()
        ends = starts[1:] + [self.n_samples]
        return [slice(a, b) for a, b in zip(starts, ends)]

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[tuple]:
        """Batches for one epoch; shuffled when a generator is given."""
        order = (np.arange(self.n_samples) if generator is None
                 else torch.randperm(self.n_samples, generator=generator).numpy())
        positions = [order[rows] for rows in self._slices()]
        self._sampler.batches = [self.indices[p] for p in positions]
        for index, (rows, X) in enumerate(zip(positions, self._loader)):
            if index % RELEASE_EVERY == RELEASE_EVERY - 1:
                release_freed_memory()
            idx = torch.from_numpy(rows)
            parts = [None if t is None else t.index_select(0, idx) for t in self.others]
            yield (X.to(self.device, self.dtype, non_blocking=True),
                   *(None if p is None else p.to(self.device, non_blocking=True) for p in parts))


def streamed_rows(dataset: Dataset, indices: np.ndarray, transform, settings: LoaderSettings,
                  batch_rows: int) -> Iterator[np.ndarray]:
    """Validated feature rows of ``dataset[indices]``, ``batch_rows`` at a time, in order
    (for prediction)."""
    indices = np.asarray(indices, dtype=np.int64)
    sampler = _EpochBatches()
    sampler.batches = [indices[start:start + batch_rows]
                       for start in range(0, len(indices), batch_rows)]
    loader = make_loader(dataset, sampler, _Collate(transform, as_tensor=False), settings)
    for index, rows in enumerate(loader):
        if index % RELEASE_EVERY == RELEASE_EVERY - 1:
            release_freed_memory()
        yield rows
