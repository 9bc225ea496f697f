"""save/load without pickle, atomic writes, checkpoints and resume."""

import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TinyNet, outputs, small_data, small_estimators
from tolerances import F32_OUTPUT

import sklnn
from sklnn import MLPClassifierGPU, MLPRegressorGPU
from sklnn.callbacks import Callback, Checkpoint
from sklnn.persistence import ModelFileError


def _fitted(binary_data, **params):
    X, y = binary_data
    return MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=5, random_state=0,
                            **params).fit(X, y)


def test_round_trip_keeps_predictions_params_and_attributes(binary_data, tmp_path):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"col{i}" for i in range(X.shape[1])])
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifierGPU(hidden_layer_sizes=(8, 4), max_iter=5, class_weight={"no": 1, "yes": 3},
                           early_stopping=True, random_state=0).fit(frame, labels)
    clf.save(tmp_path / "model.sklnn")
    loaded = sklnn.load(tmp_path / "model.sklnn")
    np.testing.assert_array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.feature_names_in_, clf.feature_names_in_)
    assert loaded.history_ == clf.history_ and loaded.validation_scores_ == clf.validation_scores_
    assert loaded.n_iter_ == clf.n_iter_ and loaded.t_ == clf.t_
    loaded.set_params(early_stopping=False).partial_fit(frame, labels)  # training goes on
    assert loaded.n_iter_ == 1 and len(loaded.loss_curve_) == len(clf.loss_curve_) + 1


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
def test_round_trip_for_every_target_kind(kind, multiclass_data, tmp_path):
    X, y = multiclass_data
    if kind == "multilabel":
        y = np.column_stack([y == 0, y == 1, y == 2, X[:, 0] > 0]).astype(int)
    if kind == "regression":
        model = MLPRegressorGPU(max_iter=3, random_state=0).fit(X, np.column_stack([X[:, 0], y]))
    else:
        model = MLPClassifierGPU(max_iter=3, random_state=0).fit(X, y)
    model.save(tmp_path / "m")
    loaded = sklnn.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert type(loaded) is type(model)


def test_crafted_pickle_never_runs(tmp_path, binary_data):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    # A plain pickle file: sklnn.load refuses it without unpickling.
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError, match="not a readable sklnn model"):
        sklnn.load(tmp_path / "evil.pkl")
    # A valid archive whose weights are a pickle: numpy refuses object arrays without pickle.
    clf = _fitted(binary_data)
    clf.save(tmp_path / "good.sklnn")
    with zipfile.ZipFile(tmp_path / "good.sklnn") as archive:
        metadata = json.loads(archive.read("metadata.json"))
    buffer = io.BytesIO()
    np.savez(buffer, **{"hidden.0.0.weight": np.array([Exploit()], dtype=object)})
    evil_weights = buffer.getvalue()
    import hashlib

    metadata["weights_sha256"] = hashlib.sha256(evil_weights).hexdigest()
    with zipfile.ZipFile(tmp_path / "evil.sklnn", "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.npz", evil_weights)
    with pytest.raises(ModelFileError):
        sklnn.load(tmp_path / "evil.sklnn")
    # An archive naming a class outside sklnn is refused before anything is built.
    metadata["estimator"] = "os.system"
    with zipfile.ZipFile(tmp_path / "evil2.sklnn", "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.npz", evil_weights)
    with pytest.raises(ModelFileError, match="not one of sklnn's estimators"):
        sklnn.load(tmp_path / "evil2.sklnn")
    assert not marker.exists()


def test_tampered_truncated_and_newer_files_fail_clearly(binary_data, tmp_path):
    clf = _fitted(binary_data)
    path = tmp_path / "model.sklnn"
    clf.save(path)
    data = path.read_bytes()
    (tmp_path / "truncated").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        sklnn.load(tmp_path / "truncated")
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.npz")
    tampered = bytearray(weights)
    tampered[-100] ^= 0xFF
    with zipfile.ZipFile(tmp_path / "tampered", "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.npz", bytes(tampered))
    with pytest.raises(ModelFileError, match="checksum"):
        sklnn.load(tmp_path / "tampered")
    metadata["format_version"] = 99
    with zipfile.ZipFile(tmp_path / "newer", "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.npz", weights)
    with pytest.raises(ModelFileError, match="Upgrade sklnn"):
        sklnn.load(tmp_path / "newer")


def test_failed_save_leaves_the_old_file(binary_data, tmp_path, monkeypatch):
    clf = _fitted(binary_data)
    path = tmp_path / "model.sklnn"
    clf.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        _fitted(binary_data, alpha=0.5).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.sklnn"]


def test_save_refuses_unfitted_and_unsafe_labels(binary_data, tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifierGPU().save(tmp_path / "x")
    from sklnn.persistence._codec import encode as _encode

    X, y = binary_data
    labels = pd.Series(np.array(["no", "yes"], dtype=object)[y])  # pandas string labels
    clf = MLPClassifierGPU(max_iter=2).fit(X, labels)
    clf.save(tmp_path / "object-labels")
    loaded = sklnn.load(tmp_path / "object-labels")
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    with pytest.raises(TypeError, match="cannot store safely"):
        _encode(np.array([object()], dtype=object), "classes_")


def test_model_saved_on_another_device_loads_on_cpu(binary_data, tmp_path):
    clf = _fitted(binary_data)
    clf.save(tmp_path / "m")
    with zipfile.ZipFile(tmp_path / "m") as archive:
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.npz")
    metadata["trained_on"] = "cuda:0"
    with zipfile.ZipFile(tmp_path / "cuda", "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("weights.npz", weights)
    loaded = sklnn.load(tmp_path / "cuda")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert loaded.device_.type == expected
    X, _ = binary_data
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), **F32_OUTPUT)


class _CrashAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise RuntimeError("power cut")


@pytest.mark.parametrize("params", [
    dict(),
    dict(dropout=0.2, early_stopping=True, n_iter_no_change=50),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05),
])
def test_resume_from_checkpoint_equals_uninterrupted_run(binary_data, tmp_path, params):
    X, y = binary_data
    base = dict(hidden_layer_sizes=(16,), max_iter=6, batch_size=64, random_state=0, **params)
    reference = MLPClassifierGPU(**base).fit(X, y)

    path = tmp_path / "ckpt.pt"
    crashing = MLPClassifierGPU(**base, callbacks=[Checkpoint(path, every=1, on_best=False),
                                                  _CrashAt(4)])
    with pytest.raises(RuntimeError, match="power cut"):
        crashing.fit(X, y)
    ckpt = Checkpoint(path, every=1, on_best=False, resume=True)
    resumed = MLPClassifierGPU(**base, callbacks=[ckpt]).fit(X, y)
    assert ckpt.resumed_from_ == 4
    assert resumed.n_iter_ == reference.n_iter_ == 6
    assert resumed.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


@pytest.mark.parametrize("estimator", small_estimators(), ids=lambda e: type(e).__name__)
def test_every_estimator_saves_loads_pickles_and_copies(estimator, tmp_path):
    import copy

    from sklearn.base import clone

    X, y = small_data(estimator, n_samples=40)
    model = clone(estimator).fit(X, y)
    expected = outputs(model, X)
    model.save(tmp_path / "model.sklnn")
    loaded = sklnn.load(tmp_path / "model.sklnn", trusted=[TinyNet])  # a user's module
    for restored in (loaded, pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert type(restored) is type(model)
        np.testing.assert_allclose(outputs(restored, X), expected, **F32_OUTPUT)


@pytest.mark.parametrize("case", ["cnn_cosine", "resnet_default", "step_lr", "early_stopping"])
def test_resume_is_exact_with_stateful_callbacks_and_schedules(tmp_path, case):
    from sklnn import CNNImageClassifier, ResNetClassifier
    from sklnn.callbacks import EarlyStopping, LRScheduler

    rng = np.random.RandomState(0)
    X = rng.rand(48, 1, 8, 8).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > 0.5).astype(int)
    make, extra, fit_kwargs = {
        "cnn_cosine": (CNNImageClassifier, dict(learning_rate="cosine"), {}),
        "resnet_default": (ResNetClassifier, dict(depth=8, width=0.25), {}),
        "step_lr": (CNNImageClassifier, dict(callbacks=[LRScheduler(
            torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5)]), {}),
        "early_stopping": (CNNImageClassifier, dict(callbacks=[EarlyStopping(
            monitor="valid_loss", patience=3)], learning_rate_init=0.05),
            dict(validation_data=(X[:16], 1 - y[:16]))),
    }[case]
    if make is CNNImageClassifier:
        extra = dict(filters=(2,), dense_layers=(4,), **extra)
    base = dict(max_iter=10, batch_size=16, random_state=0, **extra)
    reference = make(**base).fit(X, y, **fit_kwargs)
    path = tmp_path / "ckpt.pt"
    user = list(base.pop("callbacks", []))
    crashing = make(**base, callbacks=[*user, Checkpoint(path, every=1, on_best=False),
                                       _CrashAt(2)])
    with pytest.raises(RuntimeError, match="power cut"):
        crashing.fit(X, y, **fit_kwargs)
    ckpt = Checkpoint(path, every=1, on_best=False, resume=True)
    resumed = make(**base, callbacks=[*user, ckpt]).fit(X, y, **fit_kwargs)
    assert ckpt.resumed_from_ == 2
    assert [r["lr"] for r in resumed.history_] == [r["lr"] for r in reference.history_]
    assert resumed.n_iter_ == reference.n_iter_
    assert resumed.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(resumed.predict_proba(X), reference.predict_proba(X))


def test_resume_clears_temporaries_of_a_run_killed_while_saving(binary_data, tmp_path):
    import time

    from sklnn._atomic import temporary_prefix

    X, y = binary_data
    path = tmp_path / "ckpt.pt"
    MLPClassifierGPU(max_iter=2, callbacks=[Checkpoint(path, every=1)]).fit(X, y)
    stale = tmp_path / f"{temporary_prefix(path)}0123abcd.pt"  # what kill -9 mid-save leaves
    stale.write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    in_progress = tmp_path / f"{temporary_prefix(path)}4567ef01.pt"  # another writer, now
    in_progress.write_bytes(b"partial")
    other = tmp_path / ".tmp-other.pt-0123abcd.pt"  # another file's temporary
    other.write_bytes(b"partial")
    os.utime(other, (old, old))
    MLPClassifierGPU(max_iter=3, callbacks=[Checkpoint(path, every=1, resume=True)]).fit(X, y)
    assert not stale.exists() and in_progress.exists() and other.exists()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_save_after_set_params_writes_the_network_that_was_fitted(tmp_path):
    """set_params(activation="tanh") after fit made the file rebuild another
    network (probabilities off by up to 0.82); hidden_layer_sizes=(4,) made one that
    could not load."""
    X = np.random.RandomState(0).randn(80, 5)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = sklnn.MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    proba = model.fit(X, y).predict_proba(X)
    for change in ({"activation": "tanh"}, {"hidden_layer_sizes": (4,)}):
        model.set_params(**change)
        with pytest.warns(UserWarning, match=f"{next(iter(change))} changed after the network"):
            model.save(tmp_path / "m")
        loaded = sklnn.load(tmp_path / "m")
        np.testing.assert_array_equal(loaded.predict_proba(X), proba)
        assert (loaded.activation, loaded.hidden_layer_sizes) == ("relu", (8,))
    # training settings changed after fit are saved as they are now, without a warning
    model.set_params(activation="relu", hidden_layer_sizes=(8,), max_iter=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(tmp_path / "m")
    assert sklnn.load(tmp_path / "m").max_iter == 7
    # a fit builds the network again, from the new values
    model.set_params(hidden_layer_sizes=(4,)).fit(X, y)
    model.save(tmp_path / "m")
    assert sklnn.load(tmp_path / "m").hidden_layer_sizes == (4,)
