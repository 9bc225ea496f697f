"""Data-parallel training: one replica of the model per process, one optimiser step per
global batch.

Every process (rank) holds the whole data set and the same model. Each epoch all
ranks draw the same permutation (the shuffle generator is seeded alike), cut it into
the same global batches of ``batch_size`` rows, and each rank takes its own
contiguous part of every global batch: the parts are disjoint and together hold the
batch. A rank computes the mean loss of its part and its gradient; the gradients,
weighted by each part's row count (or weight sum) and summed over the ranks in one
all-reduce, divided by the global count, are exactly the gradient of the global
batch's mean loss. Uneven parts (101 rows on 2 ranks) therefore count every sample
once. The L2 term is added after the all-reduce with the global count, as a single
process does at the same batch size. A last global batch with fewer rows than ranks
joins the one before it, so no rank runs an empty batch.

The epoch's metrics are summed (training loss) or gathered (validation outputs, with
no padded duplicates) across ranks, and rank 0's values are broadcast before any
decision, so ``history_``, the stopping rules and learning-rate schedules agree on
every rank; a callback that stops training on one rank stops all of them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch
import torch.distributed as dist
from sklearn.utils import check_random_state

from sklnn.engine.batches import Batches

__all__ = ["DataParallel", "active", "check_supported", "writes_here"]


def active() -> bool:
    """Whether this process belongs to an initialised process group of several ranks."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def writes_here(trainer=None) -> bool:
    """Whether this process writes files and logs: rank 0 of a data-parallel fit, or any
    process outside one."""
    context = getattr(trainer, "distributed", None)
    if context is not None:
        return context.rank == 0
    return not active() or dist.get_rank() == 0


def check_supported(X, *, stochastic: bool, uses_batch_norm: bool, precision: str) -> None:
    """Raise, before any process starts training, for what data-parallel fits cannot do."""
    if not stochastic:
        raise ValueError(
            "solver='lbfgs' cannot train data-parallel (n_processes or a torch.distributed "
            "process group): SciPy's L-BFGS-B runs in one process over the whole data set. "
            "Use a stochastic solver ('adam', 'adamw' or 'sgd') or train in one process."
        )
    if uses_batch_norm:
        raise ValueError(
            "batch_norm=True cannot train data-parallel: sklnn's sample-weighted batch norm "
            "has no synchronised version (and torch's SyncBatchNorm does not run on the CPU), "
            "so the ranks' statistics would differ. Set batch_norm=False or train in one "
            "process."
        )
    if precision == "float16":
        raise ValueError(
            "precision='float16' cannot train data-parallel: its loss scaler skips steps per "
            "rank. Use precision='bfloat16' or 'float32'."
        )
    if isinstance(X, torch.utils.data.Dataset):
        raise ValueError(
            "A torch Dataset cannot be trained data-parallel yet; pass arrays (numpy, "
            "scipy.sparse or pandas) or train in one process."
        )


def rank_device(device: torch.device) -> torch.device:
    """One GPU per process: ``cuda`` without an index becomes this rank's local GPU."""
    if device.type != "cuda" or device.index is not None or not active():
        return device
    local = os.environ.get("LOCAL_RANK")
    index = int(local) if local is not None else dist.get_rank()
    device = torch.device("cuda", index % torch.cuda.device_count())
    torch.cuda.set_device(device)
    return device


def agreed_random_state(random_state):
    """The fit's RandomState, identical on every rank: an int seeds each rank alike, as a
    single process would; otherwise rank 0's generator state is sent to the others."""
    rng = check_random_state(random_state)
    if not active() or isinstance(random_state, (int, np.integer)):
        return rng
    if random_state is None:
        # the global generator is the user's: draw a seed from it instead of sharing it
        rng = np.random.RandomState(int(rng.randint(np.iinfo(np.int32).max)))
    state = [rng.get_state() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(state, src=0)
    agreed = np.random.RandomState()
    agreed.set_state(state[0])
    return agreed


@contextmanager
def _peers():
    """Explain a collective that fails because another rank has gone."""
    try:
        yield
    except RuntimeError as exc:
        raise RuntimeError(
            f"Data-parallel training stopped on rank {dist.get_rank()}: another rank failed "
            "or left the process group, so this collective cannot complete. That rank's own "
            f"error says why. ({exc})"
        ) from exc


def _part(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous part of ``n`` rows: sizes differ by at most one."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedBatches(Batches):
    """A :class:`Batches` whose epochs yield this rank's part of each global batch.

    Built from an existing ``Batches`` (sharing its tensors); ``n_samples`` stays the
    global count. ``per_batch=False`` gives the rank one contiguous block of the rows
    instead (validation: the outputs are gathered afterwards).
    """

    @classmethod
    def of(cls, batches: Batches, context: DataParallel, *, per_batch: bool) -> ShardedBatches:
        sharded = object.__new__(cls)
        sharded.__dict__.update(batches.__dict__)
        sharded.distributed = context
        sharded.per_batch = per_batch
        if per_batch:
            # a global batch must give every rank at least one row
            sharded.min_batch = max(batches.min_batch, context.world_size)
        return sharded

    def _slices(self):
        rank, world = self.distributed.rank, self.distributed.world_size
        if not self.per_batch:
            start, stop = _part(self.n_samples, rank, world)
            for offset in range(start, stop, self.batch_size):
                yield slice(offset, min(offset + self.batch_size, stop))
            return
        for rows in super()._slices():
            start, stop = _part(rows.stop - rows.start, rank, world)
            yield slice(rows.start + start, rows.start + stop)

    def __len__(self) -> int:
        return sum(1 for _ in super()._slices()) if self.per_batch else super().__len__()


class DataParallel:
    """This process's place in a data-parallel fit and the collectives the trainer needs."""

    def __init__(self, device: torch.device) -> None:
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.device = device
        # gloo reduces CPU tensors, NCCL device tensors
        nccl = dist.get_backend() == "nccl"
        self.wire = device if nccl else torch.device("cpu")
        self._params: list[torch.Tensor] | None = None

    @classmethod
    def prepare(cls, module, train: Batches, valid: Batches | None):
        """Send rank 0's weights to every rank and shard the batches; returns the
        sharded (train, valid) pair, or the pair unchanged outside a process group."""
        if not active():
            return train, valid
        if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules()):
            raise ValueError(
                f"{type(module).__name__} has batch normalisation, which cannot train "
                "data-parallel here: the ranks' batch statistics would differ (no synchronised "
                "batch norm on the CPU). Train in one process, or use a module without it.")
        context = cls(train.device)
        for tensor in module.state_dict().values():
            context._broadcast(tensor)
        train = ShardedBatches.of(train, context, per_batch=True)
        if valid is not None and valid.n_samples >= context.world_size:
            valid = ShardedBatches.of(valid, context, per_batch=False)
        return train, valid

    # ------------------------------------------------------------- collectives
    def _on_wire(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if tensor.device == self.wire else tensor.to(self.wire)

    def _broadcast(self, tensor: torch.Tensor) -> None:
        wired = self._on_wire(tensor)
        with _peers():
            dist.broadcast(wired, src=0)
        if wired is not tensor:
            tensor.copy_(wired)

    def _all_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        wired = self._on_wire(tensor)
        with _peers():
            dist.all_reduce(wired)
        return wired.to(tensor.device)

    def reduce_gradients(self, module, loss, normaliser, count):
        """Turn each rank's mean-loss gradients into the global batch's, in place.

        ``normaliser`` divided the rank's loss (rows, or the weight sum, 1 when that is
        zero), ``count`` is the rank's rows or weight sum. Returns the global batch's
        mean loss and its count, as the L2 term's normaliser.
        """
        if self._params is None:
            self._params = [p for p in module.parameters() if p.requires_grad]
        grads = [p.grad for p in self._params if p.grad is not None]
        dtype = grads[0].dtype if grads else torch.float64
        scale = torch.as_tensor(normaliser, dtype=dtype, device=self.device)
        count = torch.as_tensor(count, dtype=dtype, device=self.device)
        flat = torch.cat([*(g.reshape(-1) for g in grads), loss.detach().to(dtype).reshape(1),
                          count.reshape(1)])
        flat[:-1].mul_(scale)  # mean gradients and loss back to sums over the rank's part
        flat = self._all_reduce(flat)
        total = flat[-1]
        total = torch.where(total > 0, total, torch.ones_like(total))
        flat.div_(total)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        return flat[-2], total

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over the ranks."""
        return self._all_reduce(value.reshape(1)).reshape(())

    def agree(self, values: list[float]) -> list:
        """Rank 0's values, on every rank (None entries stay None)."""
        present = [v for v in values if v is not None]
        tensor = torch.tensor(present, dtype=torch.float64, device=self.wire)
        with _peers():
            dist.broadcast(tensor, src=0)
        agreed = iter(tensor.tolist())
        return [None if v is None else next(agreed) for v in values]

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is set on any rank."""
        tensor = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=self.wire)
        with _peers():
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item() > 0)

    def gather_validation(self, batches, *tensors):
        """The whole validation set's outputs, targets and weights (None stays None) from
        each rank's block, in rank order; the padding that all_gather needs is cut off."""
        if not isinstance(batches, ShardedBatches):
            return tensors
        n, world = batches.n_samples, self.world_size
        longest = _part(n, 0, world)[1]
        out = []
        for tensor in tensors:
            if tensor is None:
                out.append(None)
                continue
            padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype,
                                 device=self.wire)
            padded[:tensor.shape[0]] = tensor.to(self.wire)
            parts = [torch.empty_like(padded) for _ in range(world)]
            with _peers():
                dist.all_gather(parts, padded)
            blocks = []
            for rank, part in enumerate(parts):
                start, stop = _part(n, rank, world)
                blocks.append(part[:stop - start])
            out.append(torch.cat(blocks).to(tensor.device))
        return tuple(out)


def wanted(n_processes) -> bool:
    """Whether ``fit`` should start ``n_processes`` worker processes itself."""
    if n_processes is None:
        return False
    if active():
        raise ValueError(
            f"n_processes={n_processes} was set inside an initialised torch.distributed "
            "process group (torchrun): the group's processes already train data-parallel. "
            "Leave n_processes=None there."
        )
    return n_processes > 1
