"""Loose ends of the loaders: clear errors instead of raw ones."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sklnn import MLPRegressorGPU

UNPICKLABLE_DATASET = textwrap.dedent("""
    import multiprocessing, threading
    import numpy as np
    from torch.utils.data import Dataset
    import sklnn

    class Locked(Dataset):
        def __init__(self):
            self.lock = threading.Lock()
            self.X = np.random.RandomState(0).rand(40, 3).astype(np.float32)
        def __len__(self):
            return 40
        def __getitem__(self, i):
            return self.X[i], np.int64(self.X[i, 0] > 0.5)

    if __name__ == "__main__":
        multiprocessing.set_start_method("forkserver")
        try:
            sklnn.MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=1, num_workers=1).fit(
                Locked())
        except TypeError as exc:
            print(exc)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver start method")
def test_an_unpicklable_dataset_with_worker_processes_says_what_to_change(tmp_path):
    """Before: a raw "cannot pickle '_thread.lock' object" TypeError."""
    script = tmp_path / "locked.py"
    script.write_text(UNPICKLABLE_DATASET)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert "num_workers=1 reads the Dataset in worker processes" in done.stdout, done.stderr
    assert "'forkserver' start method" in done.stdout and "num_workers=0" in done.stdout


def test_the_cpu_allocator_running_out_of_memory_in_predict_is_a_memory_error():
    """Before: torch's RuntimeError ("DefaultCPUAllocator: can't allocate memory")."""
    X = np.random.RandomState(0).rand(20, 3)
    model = MLPRegressorGPU(hidden_layer_sizes=(3,), max_iter=2).fit(X, X[:, 0])
    calls = []

    def out_of_memory(module, inputs):
        calls.append(inputs[0].shape[0])
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 68719476736 bytes.")

    handle = model.module_.register_forward_pre_hook(out_of_memory)
    try:
        with pytest.raises(MemoryError, match="ran out of memory predicting a single row"):
            model.predict(X)
    finally:
        handle.remove()
    assert calls[0] == 20 and calls[-1] == 1  # the batch was halved down to one row
    other = model.module_.register_forward_pre_hook(
        lambda module, inputs: (_ for _ in ()).throw(RuntimeError("shape mismatch")))
    try:
        with pytest.raises(RuntimeError, match="shape mismatch"):
            model.predict(X)
    finally:
        other.remove()
