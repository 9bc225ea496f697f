"""Reporting progress: a line per epoch, a progress bar, TensorBoard event files."""

from __future__ import annotations

import sys
import time

from sklnn.callbacks._base import Callback
from sklnn.engine.distributed import writes_here


class EpochLogger(Callback):
    """Print one line per epoch: loss, validation loss and score, learning rate, time."""

    def __init__(self, stream=None):
        self.stream = stream

    def on_epoch_end(self, trainer, *, record, **kwargs):
        if not writes_here(trainer):
            return
        parts = [f"epoch {record['epoch']:4d}", f"train_loss {record['train_loss']:.6f}"]
        if record["valid_loss"] is not None:
            parts.append(f"valid_loss {record['valid_loss']:.6f}")
            parts.append(f"valid_score {record['valid_score']:.4f}")
        parts += [f"lr {record['lr']:.3g}", f"{record['duration']:.2f}s"]
        print("  ".join(parts), file=self.stream or sys.stdout)


class ProgressBar(Callback):
    """A tqdm bar (``tqdm.auto``: a widget in notebooks) that advances every batch, or a
    line per epoch where a bar cannot be drawn.

    In a terminal or a notebook the bar shows the batches done and left with their rate
    and the time remaining, samples per second, and the last epoch's train loss,
    validation loss and score; it stays on screen after the fit. When standard output
    is not a terminal (a log file, CI, ``nohup``), or tqdm is not installed, it prints
    one line per epoch instead, flushed at once: the epoch out of how many, the losses
    and score, samples per second and the time so far.

    Parameters
    ----------
    per_batch : bool, default=True
        Advance the bar every batch (False: every epoch, which costs no per-step call).
    leave : bool, default=True
        Keep the finished bar on screen.
    force : bool, default=False
        Draw the bar even when standard output is not a terminal (for a log viewer that
        understands carriage returns).
    """

    def __init__(self, per_batch=True, leave=True, force=False):
        self.per_batch = per_batch
        self.leave = leave
        self.force = force

    def wants_batches(self):
        return self.per_batch

    def on_train_begin(self, trainer, **kwargs):
        self.bar_ = None
        self.quiet_ = not writes_here(trainer)
        self.started_ = time.perf_counter()
        self.epochs_wanted_ = trainer.epochs_wanted
        self.rows_ = trainer.train_batches.n_samples
        if self.quiet_ or not (self.force or _interactive()):
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        batches = len(trainer.train_batches) if self.per_batch else 1
        self.rows_per_step_ = self.rows_ / batches
        self.bar_ = tqdm(total=self.epochs_wanted_ * batches, leave=self.leave,
                         unit="batch" if self.per_batch else "epoch", file=sys.stdout)

    def on_batch_end(self, trainer, *, batch_index, loss, **kwargs):
        if self.bar_ is not None:
            self.bar_.update(1)

    def on_epoch_end(self, trainer, *, record, **kwargs):
        if self.quiet_:
            return
        metrics = {"loss": f"{record['train_loss']:.4f}"}
        if record["valid_loss"] is not None:
            metrics["valid_loss"] = f"{record['valid_loss']:.4f}"
            metrics["valid_score"] = f"{record['valid_score']:.4f}"
        if self.bar_ is None:
            if record.get("duration"):
                metrics["samples/s"] = f"{self.rows_ / record['duration']:,.0f}"
            metrics["elapsed"] = f"{time.perf_counter() - self.started_:.1f} s"
            print(f"epoch {record['epoch']}/{self.epochs_wanted_}: "
                  + ", ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
            return
        if not self.per_batch:
            self.bar_.update(1)
        rate = self.bar_.format_dict.get("rate")
        if rate:
            metrics["samples/s"] = f"{rate * self.rows_per_step_:,.0f}"
        self.bar_.set_postfix(metrics, refresh=True)

    def on_train_end(self, trainer, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()


def _interactive() -> bool:
    """A terminal or a notebook kernel, where a progress bar is read as it moves."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class TensorBoard(Callback):
    """Write each epoch's record (losses, scores, learning rate, and what other
    callbacks add, such as :class:`EpochScoring`) as TensorBoard scalars.

    Needs the ``tensorboard`` package (``pip install tensorboard``); view the runs with
    ``tensorboard --logdir DIR``. In a data-parallel fit only rank 0 writes.

    Parameters
    ----------
    log_dir : str or path-like
        Where the event files go (one subfolder per run is the usual layout).
    prefix : str, default=""
        Put before every tag, e.g. ``"mlp/"`` to group runs in TensorBoard.
    """

    def __init__(self, log_dir, prefix=""):
        self.log_dir = log_dir
        self.prefix = prefix

    def on_train_begin(self, trainer, **kwargs):
        self.writer_ = None
        if not writes_here(trainer):
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError(
                "TensorBoard needs the tensorboard package: pip install tensorboard") from exc
        self.writer_ = SummaryWriter(log_dir=str(self.log_dir))

    def on_epoch_end(self, trainer, *, record, **kwargs):
        if self.writer_ is None:
            return
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer_.add_scalar(self.prefix + key, value, record["epoch"])
        self.writer_.flush()

    def on_train_end(self, trainer, **kwargs):
        if self.writer_ is not None:
            self.writer_.close()
        self.writer_ = None  # a fitted estimator pickles without an open file
