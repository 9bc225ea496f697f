"""Mini-batches by slicing tensors: no per-row dataset access, no DataLoader.

Dense arrays that fit on the device are moved there once; each epoch draws a
permutation from a seeded generator and takes batches by slicing. Arrays too
large for the device stay in pinned host memory and are copied per batch
without blocking. Sparse CSR input stays on the host and is densified per batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

from sklnn.engine.heap import RELEASE_EVERY, release_freed_memory

# Fraction of free device memory the resident copy of the data may take.
RESIDENT_FRACTION = 0.5
# Above this size an epoch gathers rows per batch instead of permuting the whole array once.
WHOLE_EPOCH_GATHER_BYTES = 512 * 2**20


def as_tensor(array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A CPU tensor sharing memory with ``array`` when it can (copying read-only arrays)."""
    array = np.asarray(array)
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, order="C", copy=True)
    tensor = torch.from_numpy(array)
    return tensor if dtype is None else tensor.to(dtype)


def _floating(X) -> bool:
    return not np.issubdtype(np.asarray(X[:0]).dtype, np.integer)


def fits_on_device(n_bytes: int, device: torch.device) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return n_bytes <= RESIDENT_FRACTION * free


class Batches:
    """Yield ``(X, *others)`` mini-batches on ``device``.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix
        Features, of any number of dimensions; sparse input is densified per
        batch. Floating-point features are cast to ``dtype``; integer features
        (token indices for an embedding) keep their type.
    others : sequence of ndarray or None
        Arrays aligned with the rows of X (targets, sample weights); None
        entries are yielded as None.
    """

    def __init__(
        self,
        X,
        others,
        *,
        device: torch.device,
        dtype: torch.dtype,
        other_dtypes,
        batch_size: int,
        min_batch: int = 1,
    ) -> None:
        self.n_samples = X.shape[0]
        self.batch_size = int(batch_size)
        self.min_batch = min_batch
        self.device = device
        self.dtype = dtype
        self.sparse = sp.issparse(X)
        host = [None if a is None else as_tensor(a, d) for a, d in zip(others, other_dtypes)]
        if self.sparse:
            self.X = X.tocsr()
            n_bytes = 0
        else:
            host = [as_tensor(X, dtype if _floating(X) else None), *host]
            n_bytes = sum(t.numel() * t.element_size() for t in host if t is not None)
        self.resident = fits_on_device(n_bytes, device)
        if self.resident:
            tensors = [None if t is None else t.to(device) for t in host]
        else:
            tensors = [None if t is None else t.pin_memory() for t in host]
        if self.sparse:
            self.X_dense, self.others = None, tensors
        else:
            self.X_dense, self.others = tensors[0], tensors[1:]

    def __len__(self) -> int:
        return sum(1 for _ in self._slices())

    def _slices(self):
        """Consecutive row ranges; a last range shorter than ``min_batch`` joins the one before.

        Batch normalisation cannot train on a batch of one row.
        """
        starts = list(range(0, self.n_samples, self.batch_size))
        if len(starts) > 1 and self.n_samples - starts[-1] < self.min_batch:
            starts.pop()
        ends = starts[1:] + [self.n_samples]
        for start, stop in zip(starts, ends):
            yield slice(start, stop)

    def epoch(self, generator: torch.Generator | None = None) -> Iterator[tuple]:
        """Batches for one epoch; shuffled when a generator is given."""
        order = None
        if generator is not None:
            order = torch.randperm(self.n_samples, generator=generator)
        if self.sparse:
            yield from self._sparse_epoch(order)
        elif not self.resident:
            yield from self._streamed_epoch(order)
        else:
            yield from self._resident_epoch(order)

    def _resident_epoch(self, order):
        tensors = [self.X_dense, *self.others]
        n_bytes = sum(t.numel() * t.element_size() for t in tensors if t is not None)
        if order is not None:
            order = order.to(self.device, non_blocking=True)
            if n_bytes <= WHOLE_EPOCH_GATHER_BYTES:
                # One gather per epoch, then batches are views: fewer dispatches per step.
                tensors = [None if t is None else t.index_select(0, order) for t in tensors]
                order = None
        for index, rows in enumerate(self._slices()):
            if order is None:
                yield tuple(None if t is None else t[rows] for t in tensors)
            else:
                if index % RELEASE_EVERY == RELEASE_EVERY - 1:
                    release_freed_memory()  # each batch's gathered rows are a new buffer
                idx = order[rows]
                yield tuple(None if t is None else t.index_select(0, idx) for t in tensors)

    def _streamed_epoch(self, order):
        tensors = [self.X_dense, *self.others]
        for rows in self._slices():
            if order is None:
                parts = [None if t is None else t[rows] for t in tensors]
            else:
                idx = order[rows]
                parts = [
                    None if t is None else t.index_select(0, idx).pin_memory() for t in tensors
                ]
            yield tuple(None if p is None else p.to(self.device, non_blocking=True) for p in parts)

    def _sparse_epoch(self, order):
        others = self.others
        for rows in self._slices():
            if order is None:
                block = self.X[rows]
                parts = [None if t is None else t[rows] for t in others]
            else:
                idx = order[rows]
                block = self.X[idx.numpy()]
                parts = [None if t is None else t.index_select(0, idx.to(t.device)) for t in others]
            dense = torch.from_numpy(np.asarray(block.toarray())).to(self.device, self.dtype)
            if not self.resident:
                parts = [None if p is None else p.to(self.device, non_blocking=True) for p in parts]
            yield (dense, *parts)
