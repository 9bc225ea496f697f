"""The engine's pieces on their own: batches, threads, devices, objectives, compile check."""

import copy
import os
import subprocess
import sys
import threading
import time

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
    monkeypatch.setattr(threads, "_PROBE_SECONDS", 0.0)
    monkeypatch.setattr(threads, "_FIRST_WINDOW_SECONDS", 0.0)
    others_busy = 0.0  # CPU seconds other processes use per second

    def fake_sample():
        wall = time.monotonic()
        return threads._CpuSample(os.getpid(), wall, 5.0 + others_busy * wall, 0.0)

    monkeypatch.setattr(threads, "_cpu_sample", fake_sample)
    assert threads.threads_for(1e3) == 1  # tiny step: dispatch-bound
    big = 10 * threads.SINGLE_THREAD_FLOPS
    assert threads.threads_for(big) is None  # big step on an idle machine: keep 2
    others_busy = 0.6
    assert threads.threads_for(big) == 1  # another process holds most of a core
    others_busy = 3.0
    assert threads.threads_for(big) == 1  # never fewer than one
    # Without /proc (macOS) the 1-minute load average stands in.
    monkeypatch.setattr(threads, "_cpu_sample", lambda: None)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.2, 1.0, 1.0))
    assert threads.threads_for(big) == 1
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert threads.threads_for(big) is None


def test_busy_cores_exclude_this_process_own_work():
    from sklnn.engine.threads import _CpuSample, cores_busy_elsewhere

    before = _CpuSample(1, wall=10.0, machine_busy=100.0, own=3.0)
    # 2 s later the machine spent 4 CPU s, 3 of them ours: others used half a core.
    after = _CpuSample(1, wall=12.0, machine_busy=104.0, own=6.0)
    assert cores_busy_elsewhere(before, after) == pytest.approx(0.5)
    assert cores_busy_elsewhere(before, before) == 0.0


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc/stat")
def test_idle_cores_sees_a_busy_process_but_not_its_own_threads(monkeypatch):
    # Reads the real /proc/stat, so the machine's other load is part of every reading; the
    # assertions hold whatever that load is (the scheduler gives each runnable thread a
    # fair share, so our own threads and our spinner get at least a few tenths of a core).
    import sklnn.engine.threads as threads

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores to tell one busy core from none")
    monkeypatch.setattr(threads, "_PROBE_SECONDS", 0.0)
    monkeypatch.setattr(threads, "_last_sample", None)
    x = torch.randn(256, 256)
    with thread_budget(2):
        before = threads._cpu_sample()
        start = time.monotonic()
        while time.monotonic() - start < 0.5:  # this process's own two threads busy
            x = torch.tanh(x @ x)
        after = threads._cpu_sample()
    wall = after.wall - before.wall
    own_rate = (after.own - before.own) / wall
    machine_rate = (after.machine_busy - before.machine_busy) / wall
    # our own threads' time is counted as ours and taken out of the machine's busy time
    # (on a loaded machine our two threads may get well under a core between them)
    assert own_rate > 0.02
    assert threads.cores_busy_elsewhere(before, after) < machine_rate - 0.5 * own_rate
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # past interpreter start-up
        threads.idle_cores()
        time.sleep(0.5)
        busy_other = threads.cores_busy_elsewhere(threads._last_sample, threads._cpu_sample())
    finally:
        spinner.kill()
        spinner.wait()
    assert busy_other > 0.1  # the spinner's share of a core, even among a dozen busy threads


def test_predict_batches_fit_the_cache_on_cpu_and_memory_on_accelerators():
    from sklnn.engine.inference import MAX_BATCH_ROWS, predict_batch_rows

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    # a 16x28x28 feature map: a few hundred rows on the CPU, thousands on a GPU
    assert 64 <= predict_batch_rows(16 * 28 * 28, cpu) <= 256
    assert predict_batch_rows(16 * 28 * 28, gpu) > 4 * predict_batch_rows(16 * 28 * 28, cpu)
    assert predict_batch_rows(2, cpu) == MAX_BATCH_ROWS  # tiny rows: capped
    assert predict_batch_rows(10**9, cpu) == 16  # huge rows: still a batch


def test_mlp_predict_batch_follows_its_widest_layer():
    X = np.random.default_rng(0).normal(size=(40, 784)).astype(np.float32)
    y = np.arange(40) % 3
    narrow = MLPClassifierGPU(hidden_layer_sizes=(8,), max_iter=1).fit(X[:, :4], y)
    wide = MLPClassifierGPU(hidden_layer_sizes=(300, 100), max_iter=1).fit(X, y)
    assert wide._largest_activation() == 784
    assert narrow._largest_activation() == 8
    assert wide._predict_batch_rows() < narrow._predict_batch_rows()


def test_convolutions_go_channels_last_on_cuda_and_the_cpu():
    from sklnn.engine.devices import place_module

    def network():
        return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(),
                                   torch.nn.Linear(8 * 4 * 4, 2))

    cpu = place_module(network(), torch.device("cpu"))
    assert cpu[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert cpu[2].weight.is_contiguous()  # 2-D weights keep their layout
    assert place_module(network(), torch.device("cpu"), torch.float64)[2].weight.dtype == (
        torch.float64)
    # oneDNN issue #6035: a strided 1x1 convolution of fewer than 16 channels stays NCHW
    narrow = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 1, stride=2))
    narrow = place_module(narrow.to(memory_format=torch.channels_last), torch.device("cpu"))
    assert narrow[0].weight.is_contiguous() and narrow[1].weight.is_contiguous()
    if torch.cuda.is_available():
        on_gpu = place_module(network(), torch.device("cuda"))
        assert on_gpu[0].weight.is_contiguous(memory_format=torch.channels_last)
        assert on_gpu[2].weight.is_contiguous()
        x = torch.randn(4, 3, 6, 6)
        back = place_module(on_gpu, torch.device("cpu"))
        torch.testing.assert_close(on_gpu(x.cuda()).cpu(), back(x), rtol=1e-4, atol=1e-4)


def test_cpu_prediction_uses_a_channels_last_copy_that_follows_the_weights():
    import gc

    from sklnn.engine.inference import inference_module, predict_outputs

    cpu = torch.device("cpu")
    torch.manual_seed(0)
    network = torch.nn.Sequential(
        torch.nn.Unflatten(1, (3, 8, 8)), torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 2)).eval()
    copy = inference_module(network, cpu)
    assert copy is not network
    assert copy[1].weight.is_contiguous(memory_format=torch.channels_last)
    assert network[1].weight.is_contiguous()  # the trained module keeps its layout
    assert inference_module(network, cpu) is copy  # reused while nothing changes
    X = np.random.default_rng(0).normal(size=(50, 3 * 64)).astype(np.float32)

    def predict(network):
        return predict_outputs(network, X, device=cpu, dtype=torch.float32, batch_rows=16,
                               decode=lambda raw: raw)

    with torch.inference_mode():
        expected = network(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(predict(network), expected, rtol=1e-5, atol=1e-5)

    with torch.no_grad():
        network[1].weight.mul_(-1.0)  # an in-place change of the weights
        network[2].running_mean.add_(1.0)
        expected = network(torch.from_numpy(X)).numpy()
    assert inference_module(network, cpu) is not copy
    np.testing.assert_allclose(predict(network), expected, rtol=1e-5, atol=1e-5)

    seen = []
    handle = network[3].register_forward_hook(lambda *args: seen.append(1))
    assert inference_module(network, cpu) is network  # hooks see the layers they are on
    predict(network)
    assert seen
    handle.remove()

    with torch.no_grad():
        network[1].bias.add_(0.5)
    assert inference_module(network, cpu, n_rows=1) is network  # a copy would not pay
    rebuilt = inference_module(network, cpu, n_rows=32)
    assert rebuilt is not network
    assert inference_module(network, cpu, n_rows=1) is rebuilt  # now it is up to date

    mlp = torch.nn.Sequential(torch.nn.Linear(4, 2))
    assert inference_module(mlp, cpu) is mlp
    assert inference_module(network, torch.device("cuda")) is network
    # a network trained channels-last (see place_module) predicts as it is
    trained = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)).to(memory_format=torch.channels_last)
    assert inference_module(trained, cpu, n_rows=1000) is trained

    import weakref

    copy_ref = weakref.ref(inference_module(network, cpu))
    del network, copy, rebuilt
    gc.collect()
    assert copy_ref() is None  # the copy lives only as long as its module


@pytest.mark.parametrize("shape", [(7, 3), (7, 3, 4, 5)])
def test_weighted_batch_norm_equals_repeated_rows(shape):
    from sklnn.modules.norm import WeightedBatchNorm1d, WeightedBatchNorm2d, sample_weights

    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64)
    w = torch.tensor([0, 1, 2, 3, 1, 0, 2], dtype=torch.float64)
    layer = (WeightedBatchNorm1d if len(shape) == 2 else WeightedBatchNorm2d)(3).double()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 2.0)
        layer.bias.uniform_(-1.0, 1.0)
    weighted, repeated = copy.deepcopy(layer), copy.deepcopy(layer)
    with sample_weights(w):
        out_w = weighted(x)
    rows = torch.repeat_interleave(torch.arange(7), w.long())
    out_r = repeated(x[rows])  # PyTorch's own kernel on the repeated rows
    torch.testing.assert_close(out_w[rows], out_r, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weighted.running_mean, repeated.running_mean)
    torch.testing.assert_close(weighted.running_var, repeated.running_var)
    # a batch of rows that all weigh 0 (small batches of a weighted set) has no
    # statistics: it is normalised with the running ones, which stay as they were
    idle = copy.deepcopy(weighted)
    with sample_weights(torch.zeros(7, dtype=torch.float64)):
        out_0 = idle(x)
    assert torch.isfinite(out_0).all()
    torch.testing.assert_close(idle.running_mean, weighted.running_mean, rtol=0, atol=0)
    torch.testing.assert_close(out_0, idle.eval()(x))
    # without weights, and in eval mode, it is PyTorch's layer
    plain = copy.deepcopy(layer)
    torch.testing.assert_close(plain(x), torch.nn.functional.batch_norm(
        x, None, None, layer.weight, layer.bias, training=True))
