"""Model search over processes, threads and a Dask cluster: thread shares, devices, pickling.

The Dask tests start a two-process LocalCluster (one thread each, no dashboard) and
close it when the module's tests end.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch
from conftest import NETWORK_CLASSES, TinyNet, default_instance
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from tolerances import F64_OUTPUT

from sklnn import MLPClassifierGPU, NeuralNetClassifier
from sklnn.engine import heap, threads
from sklnn.engine.devices import DEVICE_ENV, resolve_device
from sklnn.parallel import _claim_device, assign_devices, round_robin

# the networks: SeasonalNaive, a baseline with nothing to train, has no device or seed
ESTIMATORS = NETWORK_CLASSES


class CudaTouched(RuntimeError):
    pass


@pytest.fixture
def cuda_forbidden(monkeypatch):
    """Every torch.cuda / MPS query raises, as if probing the device were fatal."""

    def forbidden(*args, **kwargs):
        raise CudaTouched("torch.cuda was called")

    for name in ("is_available", "device_count", "current_device", "init", "_lazy_init",
                 "get_device_name", "set_device", "mem_get_info", "manual_seed",
                 "manual_seed_all", "synchronize", "get_rng_state", "set_rng_state",
                 "empty_cache", "get_device_properties"):
        monkeypatch.setattr(torch.cuda, name, forbidden)
    monkeypatch.setattr(torch.backends.mps, "is_available", forbidden)
    monkeypatch.delenv(DEVICE_ENV, raising=False)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_no_cuda_outside_fit(cls, cuda_forbidden):
    est = default_instance(cls)
    params = est.get_params()
    est.set_params(random_state=3)
    copy = clone(est)
    restored = pickle.loads(pickle.dumps(copy))
    assert restored.get_params()["random_state"] == 3
    assert set(restored.get_params()) == set(params)
    repr(restored)
    # fit is where the device is resolved: with device="auto" it asks torch.cuda.
    with pytest.raises(CudaTouched):
        MLPClassifierGPU(max_iter=1).fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_sklnn_device_overrides_auto(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv(DEVICE_ENV, "cuda:1")
    assert resolve_device("auto") == torch.device("cuda:1")
    assert resolve_device(None) == torch.device("cuda:1")
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit device wins
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setenv(DEVICE_ENV, "not-a-device")
    with pytest.raises(ValueError, match="SKLNN_DEVICE='not-a-device'"):
        resolve_device("auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(DEVICE_ENV, "cuda:1")
    with pytest.raises(ValueError, match="SKLNN_DEVICE.*CUDA is not available"):
        resolve_device("auto")
    monkeypatch.setenv(DEVICE_ENV, "")
    assert resolve_device("auto") == torch.device("cpu")


def test_round_robin_and_bad_arguments():
    assert round_robin(["fake:0", "fake:1"], 5) == ["fake:0", "fake:1", "fake:0", "fake:1",
                                                    "fake:0"]
    assert round_robin(("fake:7",), 2) == ["fake:7", "fake:7"]
    with pytest.raises(ValueError, match="list of device names"):
        round_robin("cuda:0", 2)
    with pytest.raises(ValueError, match="at least one"):
        round_robin([], 2)
    with pytest.raises(ValueError, match="positive integer"):
        round_robin(["cpu"], 0)
    with pytest.raises(ValueError, match="threads share"), assign_devices(["cpu"],
                                                                          backend="threading"):
        pass


def test_workers_claim_free_slots_in_turn(tmp_path, monkeypatch):
    pytest.importorskip("fcntl")
    monkeypatch.setattr("sklnn.parallel._LEASES", [])
    monkeypatch.setenv(DEVICE_ENV, "")  # restored (unset) when the test ends
    slots = ["fake:0", "fake:1"]
    _claim_device(slots, str(tmp_path))
    assert os.environ[DEVICE_ENV] == "fake:0"
    # flock locks belong to an open file, so a second claimant (here: a second open of
    # the same files) finds slot 0 held and takes slot 1, then wraps around.
    _claim_device(slots, str(tmp_path))
    assert os.environ[DEVICE_ENV] == "fake:1"
    _claim_device(slots, str(tmp_path))
    assert os.environ[DEVICE_ENV] == slots[os.getpid() % 2]
    # a lease dies with its holder: the slot is free again
    import sklnn.parallel as parallel

    parallel._LEASES.pop(0).close()
    _claim_device(slots, str(tmp_path))
    assert os.environ[DEVICE_ENV] == "fake:0"


def _device_at_barrier(folder, parties):
    """Report this worker's device once ``parties`` workers hold a task at once."""
    import time

    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 120
    while len(os.listdir(folder)) < parties and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid(), os.environ.get(DEVICE_ENV), threads.worker_share()


def test_assign_devices_gives_each_loky_worker_its_own(tmp_path):
    with assign_devices(["fake:0", "fake:1"]) as plan:
        assert plan == {0: "fake:0", 1: "fake:1"}
        seen = Parallel(batch_size=1)(delayed(_device_at_barrier)(str(tmp_path), 2)
                                      for _ in range(2))
    assert len({pid for pid, _, _ in seen}) == 2
    assert sorted(device for _, device, _ in seen) == ["fake:0", "fake:1"]
    # joblib gives each loky worker cpu_count() // n_jobs threads through OMP_NUM_THREADS
    expected = int(os.environ.get("OMP_NUM_THREADS", max(1, joblib.cpu_count() // 2)))
    assert {share for _, _, share in seen} == {expected}
    assert DEVICE_ENV not in os.environ  # the parent is left alone


def _spawned_share():
    return threads.worker_share(), torch.get_num_threads()


def test_thread_share_in_joblib_workers():
    parent = torch.get_num_threads()
    assert threads.worker_share() is None  # not in a worker
    # (the default loky share is checked with assign_devices below)
    with parallel_config(backend="loky", n_jobs=2, inner_max_num_threads=1):
        assert set(Parallel()(delayed(_spawned_share)() for _ in range(2))) == {(1, 1)}
    with parallel_config(backend="multiprocessing", n_jobs=2):
        # forked workers: one thread (OpenMP's pool does not survive fork)
        assert {s for s, _ in Parallel()(delayed(_spawned_share)() for _ in range(2))} == {1}
    assert torch.get_num_threads() == parent


def test_threading_backend_splits_cores_and_keeps_parent_setting(monkeypatch, binary_data):
    with monkeypatch.context() as patch:
        patch.setattr(threads, "_usable_cores", lambda: 8)
        with parallel_config(backend="threading", n_jobs=2):
            shares = Parallel()(delayed(threads.worker_share)() for _ in range(2))
        assert shares == [4, 4]
    X, y = binary_data
    parent = torch.get_num_threads()
    search = GridSearchCV(MLPClassifierGPU(hidden_layer_sizes=(256, 256), max_iter=2,
                                           random_state=0),
                          {"alpha": [1e-4, 1e-3]}, cv=2, scoring=_threads_and_accuracy,
                          refit="accuracy")
    with parallel_config(backend="threading", n_jobs=2):
        search.fit(X, y)
    assert torch.get_num_threads() == parent
    share = max(1, threads._usable_cores() // 2)
    used = [n for k in ("split0_test_threads", "split1_test_threads")
            for n in search.cv_results_[k]]
    assert all(1 <= n <= share for n in used), used


def _threads_and_accuracy(estimator, X, y):
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    return {"accuracy": estimator.score(X, y), "threads": final.n_threads_}


def test_fit_records_its_thread_count(binary_data):
    X, y = binary_data
    clf = MLPClassifierGPU(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    assert clf.n_threads_ == 1  # a tiny network trains on one thread
    with threads.thread_budget(1):
        big = MLPClassifierGPU(hidden_layer_sizes=(512, 512), max_iter=1, random_state=0)
        assert big.fit(X, y).n_threads_ == 1  # never more than the caller allows


MAIN_SCRIPT = """
import json
import numpy as np
import torch
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklnn import MLPClassifierGPU
from sklnn.callbacks import Callback


class TwoLayer(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.hidden = torch.nn.Linear(n_in, 6)
        self.out = torch.nn.Linear(6, n_out)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


class CustomNet(MLPClassifierGPU):
    def _build_module(self, n_features, n_outputs):
        return TwoLayer(n_features, n_outputs)

    def _draw_initial_weights(self, rng, n_features, n_outputs):
        return None  # not scikit-learn's MLP weights: keep PyTorch's initialisation

    def _init_module(self, module, generator, initial=None):
        pass


class StopAtThree(Callback):
    def on_epoch_end(self, trainer, record):
        return record["epoch"] >= 3


if __name__ == "__main__":
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    search = GridSearchCV(CustomNet(max_iter=20, random_state=0, callbacks=[StopAtThree()]),
                          {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2).fit(X, y)
    best = search.best_estimator_
    print(json.dumps({"module": type(best.module_).__name__, "n_iter": best.n_iter_,
                      "scores": search.cv_results_["mean_test_score"].tolist()}))
"""


def test_search_with_n_jobs_2_pickles_classes_from_main(tmp_path):
    # No estimator takes a module object as a parameter; a user brings a network by
    # subclassing and overriding _build_module. Classes in a script's __main__ reach
    # loky's workers by value (cloudpickle).
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(MAIN_SCRIPT))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["module"] == "TwoLayer"
    assert result["n_iter"] == 3
    assert len(result["scores"]) == 2 and all(0.0 <= s <= 1.0 for s in result["scores"])


# ------------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        yield client


def test_grid_search_on_dask_matches_sequential(dask_client, multiclass_data):
    X, y = multiclass_data
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifierGPU(max_iter=15, random_state=0, batch_size=50))
    grid = {"mlpclassifiergpu__alpha": [1e-4, 1e-1],
            "mlpclassifiergpu__hidden_layer_sizes": [(8,), (16,)]}

    def search():
        return GridSearchCV(pipe, grid, cv=3, scoring=_threads_and_accuracy, refit="accuracy")

    sequential = search().fit(X, y)
    with joblib.parallel_backend("dask"):
        on_dask = search().fit(X, y)
    assert on_dask.best_params_ == sequential.best_params_
    for split in range(3):
        key = f"split{split}_test_accuracy"
        np.testing.assert_allclose(on_dask.cv_results_[key], sequential.cv_results_[key],
                                   **F64_OUTPUT)
        assert set(on_dask.cv_results_[f"split{split}_test_threads"]) == {1}  # OMP=1 in Dask


def test_assign_devices_on_dask_workers(dask_client):
    def report():
        return os.environ.get(DEVICE_ENV), threads.worker_share()

    with assign_devices(["fake:0", "fake:1"], client=dask_client) as plan:
        assert sorted(plan.values()) == ["fake:0", "fake:1"]
        seen = dask_client.run(lambda: os.environ.get(DEVICE_ENV))
        assert seen == plan
        assert joblib.parallel.get_active_backend()[0].__class__.__name__ == \
            "DaskDistributedBackend"
    assert set(dask_client.run(lambda: os.environ.get(DEVICE_ENV)).values()) == {None}
    assert dask_client.submit(report, pure=False).result() == (None, 1)


_HEAP_FAULTS = textwrap.dedent("""
    import importlib.util, json, resource, sys
    import numpy as np

    # the module alone (standard library only): importing sklnn would start torch
    spec = importlib.util.spec_from_file_location("heap", sys.argv[1])
    heap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(heap)

    def faults():  # page faults for 100 batch-sized (1 MiB) buffers allocated and freed
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(100):
            np.ones(2**17).sum()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    outside = faults()
    with heap.heap_for_batches():
        inside = faults()
    print(json.dumps([outside, inside, faults()]))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc thresholds")
def test_heap_reused_in_training_where_dask_fixed_the_trim_threshold():
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which turns off glibc's
    dynamic mmap threshold: every 1 MiB buffer is mapped afresh (256 page faults each).
    Inside ``heap_for_batches`` the buffers are reused; afterwards the setting is back."""
    def run(**env):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        path = heap.__file__
        done = subprocess.run([sys.executable, "-c", _HEAP_FAULTS, path], env={**environ, **env},
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    outside, inside, after = run(MALLOC_TRIM_THRESHOLD_="65536")
    assert outside > 100 * 256 // 2, outside  # the premise: fixed thresholds map each buffer
    assert inside < outside // 10, (outside, inside)
    assert after > outside // 2, (outside, after)  # Dask's setting restored
    dynamic = run()
    assert max(dynamic) < outside // 10, dynamic  # glibc's default needs no help


def test_searches_over_a_user_module_on_loky_and_dask_match_sequential(dask_client,
                                                                         binary_data):
    X, y = binary_data
    net = NeuralNetClassifier(TinyNet, max_iter=5, learning_rate_init=0.01, random_state=0)
    grid = {"module__hidden": [2, 6]}
    sequential = GridSearchCV(net, grid, cv=2).fit(X, y)
    on_loky = GridSearchCV(net, grid, cv=2, n_jobs=2).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(net, grid, cv=2).fit(X, y)
    for search in (on_loky, on_dask):
        np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                                   sequential.cv_results_["mean_test_score"], **F64_OUTPUT)
