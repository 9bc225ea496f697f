"""The CUDA path. These run only where a CUDA device exists (CI has none; see README)."""

import pickle
import warnings

import numpy as np
import pytest
import torch

import sklnn
import sklnn.engine.batches as batches_module
from sklnn import MLPClassifierGPU, MLPRegressorGPU
from sklnn.datasets import mnist_train_test_split

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def mnist():
    return mnist_train_test_split(flatten=True)


def test_auto_device_trains_on_cuda_and_matches_cpu(mnist):
    X_train, X_test, y_train, y_test = mnist
    params = dict(hidden_layer_sizes=(300, 100), max_iter=3, random_state=0)
    gpu = MLPClassifierGPU(**params).fit(X_train, y_train)
    cpu = MLPClassifierGPU(**params, device="cpu").fit(X_train, y_train)
    assert gpu.device_.type == "cuda" and next(gpu.module_.parameters()).is_cuda
    assert isinstance(gpu.predict(X_test), np.ndarray)
    # same initial weights and batch order: the runs differ only by float32 rounding order
    gpu_proba, cpu_proba = gpu.predict_proba(X_test), cpu.predict_proba(X_test)
    np.testing.assert_allclose(gpu_proba, cpu_proba, atol=0.05)
    assert (gpu_proba.argmax(1) == cpu_proba.argmax(1)).mean() > 0.99
    assert gpu.score(X_test, y_test) > 0.9


def test_inputs_already_on_the_gpu(mnist):
    X_train, _, y_train, _ = mnist
    X_cuda = torch.from_numpy(X_train).cuda()
    clf = MLPClassifierGPU(max_iter=2, random_state=0).fit(X_cuda, torch.from_numpy(y_train).cuda())
    assert isinstance(clf.predict(X_cuda), np.ndarray)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_trains(mnist, precision):
    X_train, X_test, y_train, y_test = mnist
    clf = MLPClassifierGPU(hidden_layer_sizes=(256,), max_iter=5, precision=precision,
                           random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9


def test_streamed_batches_match_resident(mnist, monkeypatch):
    X_train, X_test, y_train, _ = mnist
    params = dict(hidden_layer_sizes=(64,), max_iter=2, random_state=0)
    resident = MLPClassifierGPU(**params).fit(X_train, y_train)
    monkeypatch.setattr(batches_module, "fits_on_device", lambda n, device: False)
    streamed = MLPClassifierGPU(**params).fit(X_train, y_train)
    np.testing.assert_allclose(streamed.predict_proba(X_test), resident.predict_proba(X_test),
                               atol=1e-5)


def test_cuda_model_pickles_and_saves_to_cpu(mnist, tmp_path):
    X_train, X_test, y_train, _ = mnist
    clf = MLPClassifierGPU(max_iter=2, random_state=0).fit(X_train, y_train)
    state = clf.__getstate__()
    assert all(p.device.type == "cpu" for p in state["module_"].parameters())
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.device_.type == "cuda"
    clf.save(tmp_path / "m.sklnn")
    on_cpu = sklnn.load(tmp_path / "m.sklnn", device="cpu")
    np.testing.assert_allclose(on_cpu.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-5)


def test_compile_on_cuda_keeps_gradients(mnist):
    X_train, X_test, y_train, y_test = mnist
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager expected
        clf = MLPClassifierGPU(hidden_layer_sizes=(128,), max_iter=2, compile=True,
                               random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.85


def test_regressor_on_cuda():
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 5)
    y = X @ rng.randn(5) + 0.1 * rng.randn(2000)
    reg = MLPRegressorGPU(hidden_layer_sizes=(32,), max_iter=50, random_state=0).fit(X, y)
    assert reg.device_.type == "cuda" and reg.score(X, y) > 0.95
