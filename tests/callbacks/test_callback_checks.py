"""Callbacks and checkpoints are checked when the fit starts, and a checkpoint that does
not fit the estimator (or is not one) raises a clear error."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sklnn import MLPClassifierGPU
from sklnn._atomic import temporary_prefix
from sklnn.callbacks import Callback, Checkpoint, EarlyStopping, EpochScoring


class CountEpochs(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_begin(self, trainer, **kwargs):  # no on_epoch_end: adds no record keys
        self.epochs += 1


@pytest.fixture
def data():
    X = np.random.RandomState(0).rand(40, 3)
    return X, (X[:, 0] > 0.5).astype(int)


@pytest.mark.parametrize("callback, message", [
    (Checkpoint("unused.pt", monitor="valid_acuracy"), "Did you mean 'valid_accuracy'"),
    (EarlyStopping(monitor="valid_los"), "Did you mean 'valid_loss'"),
    (EarlyStopping(patience=-1), "patience must be an int >= 1"),
    (EarlyStopping(patience=2.5), "patience must be an int >= 1"),
    (EarlyStopping(min_delta=float("nan")), "min_delta must be a finite number >= 0"),
    (EarlyStopping(min_delta=-1.0), "min_delta must be a finite number >= 0"),
    (Checkpoint("unused.pt", every=0), "every must be None or an int >= 1"),
    (Checkpoint("unused.pt", every=None, on_best=False), "would never save"),
])
def test_bad_callback_settings_raise_before_the_first_epoch(data, tmp_path, callback,
                                                            message):
    """Before: the Checkpoint typo silently monitored train_loss, the EarlyStopping typo
    raised after a full epoch, patience=-1 and min_delta=nan were accepted."""
    X, y = data
    counter = CountEpochs()
    os.chdir(tmp_path)
    clf = MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=2, early_stopping=True,
                           callbacks=[EpochScoring("accuracy"), callback, counter])
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert counter.epochs == 0
    assert not os.listdir(tmp_path)


def test_a_key_a_user_callback_adds_can_be_monitored(data, tmp_path):
    class AddsKey(Callback):
        def on_epoch_end(self, trainer, *, record, **kwargs):
            record["my_loss"] = record["train_loss"]

    class Typo(Callback):
        def on_epoch_end(self, trainer, **kwargs):
            pass

    X, y = data
    path = tmp_path / "c.pt"
    MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=2, callbacks=[
        AddsKey(), Checkpoint(path, monitor="my_loss"), EarlyStopping(monitor="my_loss")]
    ).fit(X, y)
    assert path.exists()
    # with a user's callback nobody can tell at the start; the first record tells
    with pytest.raises(ValueError, match="monitor='my_los' is not one of"):
        MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=2, callbacks=[
            Typo(), Checkpoint(path, monitor="my_los")]).fit(X, y)


def test_resuming_from_another_solver_or_a_garbage_file_raises_clearly(data, tmp_path):
    """Before: KeyError: 'step' (an Adam fit resuming an SGD checkpoint) and torch's
    UnpicklingError (a file that is not a checkpoint)."""
    X, y = data
    path = tmp_path / "c.pt"
    MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=2, solver="sgd",
                     callbacks=[Checkpoint(path, every=1)]).fit(X, y)
    adam = MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=4, solver="adam",
                            callbacks=[Checkpoint(path, every=1, resume=True)])
    with pytest.raises(ValueError, match="written by another fit .*optimiser is not this "
                                         "fit's Adam"):
        adam.fit(X, y)
    wider = MLPClassifierGPU(hidden_layer_sizes=(5,), max_iter=4, solver="sgd",
                             callbacks=[Checkpoint(path, every=1, resume=True)])
    with pytest.raises(ValueError, match="other layers or shapes"):
        wider.fit(X, y)
    for garbage in (b"not a checkpoint", b""):
        path.write_bytes(garbage)
        with pytest.raises(ValueError, match="is not a checkpoint sklnn can read"):
            adam.fit(X, y)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="holds no training state"):
        adam.fit(X, y)
    assert not hasattr(adam, "module_")


def test_a_temporary_whose_writer_died_is_removed_at_once(data, tmp_path):
    """Before: a temporary left by a writer killed with SIGKILL survived a resume started
    within 60 s of it."""
    X, y = data
    path = tmp_path / "c.pt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    left = tmp_path / f"{temporary_prefix(path)}{dead_pid}-0123abcd.pt"
    left.write_bytes(b"partial")  # fresh: the age rule alone would keep it
    writing = tmp_path / f"{temporary_prefix(path)}{os.getpid()}-4567ef01.pt"
    writing.write_bytes(b"partial")  # a live writer's (this process)
    MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=1,
                     callbacks=[Checkpoint(path, every=1, resume=True)]).fit(X, y)
    assert not left.exists()
    assert writing.exists()
    assert path.exists()
