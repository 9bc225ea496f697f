"""Faults at run time: out-of-memory, concurrent prediction, repeated fits."""

import gc
import threading

import numpy as np
import pytest
import torch
from tolerances import F64_OUTPUT

from sklnn import MLPClassifierGPU
from sklnn.engine.inference import OutOfMemoryError


class _MemoryLimited(torch.nn.Module):
    """Raises the CUDA out-of-memory error for batches above ``limit`` rows."""

    def __init__(self, inner, limit):
        super().__init__()
        self.inner, self.limit, self.sizes = inner, limit, []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner(x)


def test_predict_retries_smaller_batches_after_out_of_memory(binary_data, monkeypatch):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=3, random_state=0, device="cpu").fit(X, y)
    expected = clf.predict_proba(X)
    limited = _MemoryLimited(clf.module_, limit=40)
    monkeypatch.setattr(clf, "module_", limited)
    np.testing.assert_allclose(clf.predict_proba(X), expected, **F64_OUTPUT)
    assert max(s for s in limited.sizes if s <= 40) <= 40 and limited.sizes[0] == len(X)
    limited.limit = 0
    with pytest.raises(MemoryError, match="single row"):
        clf.predict(X)


def test_fit_out_of_memory_suggests_smaller_batch(binary_data, monkeypatch):
    X, y = binary_data
    clf = MLPClassifierGPU(max_iter=3, batch_size=64, random_state=0)
    original = clf._build_module
    monkeypatch.setattr(clf, "_build_module",
                        lambda n_in, n_out: _MemoryLimited(original(n_in, n_out), limit=10))
    with pytest.raises(MemoryError, match="batch_size=64"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_concurrent_predictions_match_serial(multiclass_data):
    X, y = multiclass_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(64,), max_iter=20, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    results, errors = [None] * 8, []

    def work(i):
        try:
            for _ in range(5):
                results[i] = clf.predict_proba(X)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for result in results:
        np.testing.assert_array_equal(result, expected)


@pytest.mark.slow
def test_repeated_fit_predict_does_not_leak_memory(binary_data):
    psutil = pytest.importorskip("psutil", reason="psutil measures resident memory")
    X, y = binary_data
    process = psutil.Process()

    def cycle():
        clf = MLPClassifierGPU(hidden_layer_sizes=(32,), max_iter=2, random_state=0).fit(X, y)
        clf.predict_proba(X)

    for _ in range(20):  # warm up allocator pools and lazy imports
        cycle()
    gc.collect()
    before = process.memory_info().rss
    for _ in range(200):
        cycle()
    gc.collect()
    grown = process.memory_info().rss - before
    assert grown < 20 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"
