"""Data larger than memory: a torch Dataset or a numpy memmap streamed through a DataLoader."""

import hashlib
import multiprocessing
import os
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from tolerances import F64_OUTPUT
from torch.utils.data import TensorDataset

from sklnn import CNNImageClassifier, MLPClassifierGPU, MLPRegressorGPU, RNNForecaster
from sklnn.callbacks import Callback, EpochScoring
from sklnn.data import DatasetView

SMALL = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y  # float64: results compare to 1e-10 whatever the thread count


def _memmap(tmp_path, X):
    path = tmp_path / "X.npy"
    np.save(path, X)
    return path, np.load(path, mmap_mode="r")


def _weights(estimator):
    return [p.detach().numpy() for p in estimator.module_.parameters()]


def test_streamed_fits_match_in_memory_fits_whatever_the_workers(digits, tmp_path):
    X, y = digits
    _, X_map = _memmap(tmp_path, X)
    pairs = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    scoring = dict(early_stopping=True, callbacks=[EpochScoring("accuracy")])
    reference = MLPClassifierGPU(**SMALL, **scoring).fit(X, y)
    fits = {
        "memmap": MLPClassifierGPU(**SMALL, **scoring).fit(X_map, y),
        # y=None: the targets are read from the (x, y) items
        "pairs": MLPClassifierGPU(**SMALL, **scoring).fit(pairs),
        "2 workers": MLPClassifierGPU(**SMALL, **scoring, num_workers=2, persistent_workers=True,
                                      prefetch_factor=3).fit(pairs),
    }
    for name, fitted in fits.items():
        for ours, theirs in zip(_weights(fitted), _weights(reference)):
            assert_allclose(ours, theirs, **F64_OUTPUT, err_msg=name)
        assert fitted.history_[:, "valid_accuracy"] == pytest.approx(
            reference.history_[:, "valid_accuracy"]), name
        assert_allclose(fitted.predict_proba(X_map), reference.predict_proba(X), **F64_OUTPUT)
    assert fits["2 workers"].score(DatasetView(pairs), y) == pytest.approx(reference.score(X, y))


def test_images_and_regression_targets_stream_too(digits):
    X, y = digits
    images = X.reshape(-1, 8, 8)[:300]
    cnn = dict(filters=(4,), dense_layers=(8,), max_iter=2, random_state=0)
    reference = CNNImageClassifier(**cnn).fit(images, y[:300])
    streamed = CNNImageClassifier(**cnn).fit(
        TensorDataset(torch.from_numpy(images), torch.from_numpy(y[:300])))
    assert streamed.input_shape_ == reference.input_shape_ == (1, 8, 8)
    assert_allclose(streamed.predict_proba(TensorDataset(torch.from_numpy(images))),
                    reference.predict_proba(images), **F64_OUTPUT)
    target = X[:, :2].sum(axis=1)
    reg = MLPRegressorGPU(**SMALL).fit(TensorDataset(torch.from_numpy(X)), target,
                                       validation_data=(TensorDataset(torch.from_numpy(X[:50])),
                                                        target[:50]))
    assert reg.predict(TensorDataset(torch.from_numpy(X))).shape == (len(X),)
    assert np.isfinite(reg.history_[:, "valid_loss"]).all()


def test_grid_search_over_a_dataset_view_matches_arrays(digits):
    X, y = digits
    view = DatasetView(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)))
    assert view.shape == (len(X),) and view[np.array([3, 1])][1][1] == y[1]
    grid = {"alpha": [1e-4, 1e-1]}
    on_arrays = GridSearchCV(MLPClassifierGPU(**SMALL), grid, cv=3).fit(X, y)
    on_view = GridSearchCV(MLPClassifierGPU(**SMALL), grid, cv=3).fit(view, y)
    assert_allclose(on_view.cv_results_["mean_test_score"],
                    on_arrays.cv_results_["mean_test_score"], **F64_OUTPUT)
    assert on_view.best_params_ == on_arrays.best_params_


def test_workers_fall_back_to_the_process_itself_inside_a_daemonic_worker(digits, monkeypatch):
    X, y = digits
    X, y = X[:200], y[:200]
    reference = MLPClassifierGPU(**SMALL).fit(X, y)
    # loky and Dask run fits in daemonic processes, where multiprocessing refuses to start
    # children ("daemonic processes are not allowed to have children"): mark this one so
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = MLPClassifierGPU(**SMALL, num_workers=2).fit(
            TensorDataset(torch.from_numpy(X)), y)
    messages = [str(w.message) for w in caught if "daemonic" in str(w.message)]
    assert len(messages) == 1, messages
    assert_allclose(fitted.predict_proba(X), reference.predict_proba(X), **F64_OUTPUT)


def _anonymous_bytes() -> int:
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Anonymous line in /proc/self/smaps_rollup")


class _PeakAnonymousMemory(Callback):
    def __init__(self):
        self.peak = 0

    def on_batch_end(self, trainer, **kwargs):
        self.peak = max(self.peak, _anonymous_bytes())


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"),
                    reason="reads the process's anonymous memory from Linux's /proc")
def test_an_epoch_over_a_memmap_larger_than_the_cap_stays_under_it(tmp_path):
    cap = 48 * 2**20
    n_rows, n_features = 48_000, 1024  # float32: 188 MiB on disk, about 4x the cap
    path = tmp_path / "big.npy"
    rng = np.random.default_rng(0)
    writer = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                       shape=(n_rows, n_features))
    for start in range(0, n_rows, 4096):
        writer[start:start + 4096] = rng.random((min(4096, n_rows - start), n_features),
                                                dtype=np.float32)
    writer.flush()
    del writer
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    X = np.load(path, mmap_mode="r")
    y = (np.arange(n_rows) % 3).astype(np.int64)
    meter = _PeakAnonymousMemory()
    clf = MLPClassifierGPU(hidden_layer_sizes=(8,), batch_size=256, max_iter=1,
                           random_state=0, callbacks=[meter])
    # A process's first fit allocates its libraries' one-time buffers (tens of MiB, whatever
    # the data size): spend them on a small in-memory fit before measuring.
    clone(clf).set_params(callbacks=None).fit(np.array(X[:512]), y[:512])
    baseline = _anonymous_bytes()
    clf.fit(X, y)
    predicted = clf.predict(X)
    after = _anonymous_bytes()
    assert meter.peak > 0
    assert meter.peak - baseline < cap, (meter.peak - baseline) / 2**20
    # predictions for every row (a few hundred KiB) and nothing the size of X kept
    assert predicted.shape == (n_rows,) and after - baseline < cap
    assert path.stat().st_mtime_ns == mtime
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_streamed_input_errors_say_what_to_do(digits):
    X, y = digits
    features = TensorDataset(torch.from_numpy(X))
    with pytest.raises(ValueError, match="must be pairs"):
        MLPClassifierGPU(**SMALL).fit(features)
    with pytest.raises(ValueError, match="1797 rows but y has 10"):
        MLPClassifierGPU(**SMALL).fit(features, y[:10])
    with pytest.raises(ValueError, match="X is held in memory"):
        MLPClassifierGPU(**SMALL, num_workers=2).fit(X, y)
    with pytest.raises(ValueError, match="num_workers >= 1"):
        MLPClassifierGPU(**SMALL, persistent_workers=True).fit(features, y)
    with pytest.raises(ValueError, match="pin_memory=True"):
        MLPClassifierGPU(**SMALL, pin_memory=True, device="cpu").fit(features, y)
    bad = X.copy()
    bad[5, 3] = np.nan
    clf = MLPClassifierGPU(**SMALL)
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(TensorDataset(torch.from_numpy(bad)), y)
    assert not hasattr(clf, "module_")  # a failed fit leaves nothing behind
    with pytest.raises(TypeError, match="builds its training targets"):
        RNNForecaster(max_iter=1).fit(TensorDataset(torch.from_numpy(X)), y)
