"""The engine's pieces on their own: batches, threads, devices, objectives, compile check."""

import threading

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import sklnn.engine.batches as batches_module
from sklnn import MLPClassifierGPU
from sklnn.engine.batches import Batches
from sklnn.engine.devices import compute_dtype, resolve_device
from sklnn.engine.objectives import RegressionLoss, SoftmaxLogLoss
from sklnn.engine.threads import thread_budget
from sklnn.engine.trainer import Trainer


def _batches(X, y, **kw):
    return Batches(X, [y, None], device=torch.device("cpu"), dtype=torch.float64,
                   other_dtypes=[torch.float64, torch.float64], batch_size=7, **kw)


def test_shuffled_epoch_visits_every_row_once_and_differs_per_epoch():
    X = np.arange(50, dtype=float).reshape(25, 2)
    y = np.arange(25, dtype=float)
    source = _batches(X, y)
    gen = torch.Generator().manual_seed(0)
    first = [b[1] for b in source.epoch(gen)]
    second = torch.cat([b[1] for b in source.epoch(gen)])
    assert [len(b) for b in first] == [7, 7, 7, 4]
    first = torch.cat(first)
    assert sorted(first.tolist()) == list(range(25))
    assert not torch.equal(first, second)
    for Xb, yb, wb in source.epoch(gen):
        assert torch.equal(Xb[:, 0], 2 * yb) and wb is None  # rows stay aligned


def test_sparse_and_streamed_batches_equal_resident_dense(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4) * (rng.rand(30, 4) > 0.5)
    y = np.arange(30, dtype=float)

    def concatenated(source):
        parts = zip(*source.epoch(torch.Generator().manual_seed(1)))
        return [torch.cat(p) for p in parts if p[0] is not None]

    dense = concatenated(_batches(X, y))
    sparse = concatenated(_batches(sp.csr_matrix(X), y))
    monkeypatch.setattr(batches_module, "fits_on_device", lambda n, d: False)
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: self)  # no CUDA here
    source = _batches(X, y)
    assert not source.resident
    streamed = concatenated(source)
    for a, b, c in zip(dense, sparse, streamed):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_thread_budget_nests_and_restores_across_threads():
    original = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with thread_budget(1):
            assert torch.get_num_threads() == 1
            with thread_budget(1):
                pass
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        barrier = threading.Barrier(4)

        def worker():
            with thread_budget(1):
                barrier.wait()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert torch.get_num_threads() == 2
        with thread_budget(None):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(original)


def test_device_and_dtype_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type in ("cpu", "mps")
    cpu = torch.device("cpu")
    assert compute_dtype("auto", np.dtype("float64"), cpu) == torch.float64
    assert compute_dtype("auto", np.dtype("float32"), cpu) == torch.float32
    assert compute_dtype("auto", np.dtype("float64"), torch.device("cuda")) == torch.float32
    assert compute_dtype("float64", np.dtype("float32"), cpu) == torch.float64
    with pytest.raises(ValueError, match="precision"):
        compute_dtype("half", np.dtype("float32"), cpu)


def test_objectives_match_reference_formulas():
    raw = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]], dtype=torch.float64)
    y = torch.tensor([0, 2])
    expected = -torch.log_softmax(raw, 1)[[0, 1], [0, 2]]
    assert torch.allclose(SoftmaxLogLoss().per_sample_loss(raw, y), expected)
    w = torch.tensor([1.0, 3.0], dtype=torch.float64)
    loss, norm = SoftmaxLogLoss().weighted_loss(raw, y, w)
    assert torch.isclose(loss, (expected * w).sum() / 4) and float(norm) == 4.0
    zero_loss, _ = SoftmaxLogLoss().weighted_loss(raw, y, torch.zeros(2, dtype=torch.float64))
    assert zero_loss.item() == 0.0  # an all-zero-weight batch adds nothing, not NaN
    pred = torch.tensor([[1.0], [2.0], [4.0]], dtype=torch.float64)
    target = torch.tensor([[1.5], [2.0], [3.0]], dtype=torch.float64)
    sq = RegressionLoss("squared_error").per_sample_loss(pred, target)
    assert torch.allclose(sq, 0.5 * (pred - target).squeeze() ** 2)
    from sklearn.metrics import r2_score

    assert RegressionLoss().score(pred, target).item() == pytest.approx(
        r2_score(target.numpy(), pred.numpy()))


def test_compile_falls_back_to_eager_when_gradients_differ(binary_data, monkeypatch):
    X, y = binary_data

    class WrongGradients(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            out = self.inner(x)
            return out + 0.5 * (out - out.detach())  # same values, gradients scaled by 1.5

    monkeypatch.setattr(Trainer, "compile_module", lambda self, module: WrongGradients(module))
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with pytest.warns(RuntimeWarning, match="differ from eager"):
        compiled = MLPClassifierGPU(compile=True, **params).fit(X, y)
    eager = MLPClassifierGPU(**params).fit(X, y)
    np.testing.assert_array_equal(compiled.predict_proba(X), eager.predict_proba(X))


def test_compile_keeps_a_module_whose_gradients_match(binary_data, monkeypatch):
    X, y = binary_data
    used = []

    class Faithful(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            used.append(True)
            return self.inner(x)

    monkeypatch.setattr(Trainer, "compile_module", lambda self, module: Faithful(module))
    MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=2, compile=True, random_state=0).fit(X, y)
    assert len(used) > 2  # the check's forward pass plus every training step


def test_threads_follow_work_size_and_machine_load(monkeypatch):
    import sklnn.engine.threads as threads

    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert threads.threads_for(1e3) == 1  # tiny step: dispatch-bound
    assert threads.threads_for(1e9) is None  # big step on an idle machine: keep 2
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.2, 1.0, 1.0))
    assert threads.threads_for(1e9) == 1  # another process holds a core
