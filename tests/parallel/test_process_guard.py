"""Data-parallel fits leave nothing behind: workers end with their parent,
the folders of killed fits are removed, Ctrl-C keeps the weights, too few rows are refused
up front, and a memmap is not copied. One test starts real gloo workers."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sklnn import MLPRegressorGPU
from sklnn.callbacks import Callback
from sklnn.engine import _ddp_guard
from sklnn.engine._ddp_worker import _load, _Mapped, _store, _Stored

posix_only = pytest.mark.skipif(os.name != "posix", reason="PIDs probed with os.kill(pid, 0)")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a re-parented zombie may wait long to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_fewer_rows_than_processes_are_refused_before_any_process_starts():
    """Before: 14 s, then "Solver produced non-finite parameter weights"."""
    X = np.random.RandomState(0).rand(2, 3)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="2 training rows cannot be shared by 3"):
        MLPRegressorGPU(n_processes=3).fit(X, X[:, 0])
    assert time.perf_counter() - started < 5  # no process was started


def test_a_memmap_travels_by_reference_and_a_slice_of_one_by_copy(tmp_path):
    """Before: n_processes with a memmap wrote a full copy into the temporary folder."""
    X = np.arange(60.0).reshape(20, 3)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    folder = tmp_path / "job"
    folder.mkdir()
    stored = _store(str(folder), "X", mapped)
    assert isinstance(stored, _Mapped) and not os.listdir(folder)
    np.testing.assert_array_equal(_load(stored), X)
    fortran = np.lib.format.open_memmap(tmp_path / "F.npy", mode="w+", dtype=np.float32,
                                        shape=(4, 5), fortran_order=True)
    fortran[:] = np.arange(20).reshape(4, 5)
    np.testing.assert_array_equal(_load(_store(str(folder), "F", fortran)), fortran)
    sliced = _store(str(folder), "S", mapped[5:9])  # a view: its offset is its base's
    assert isinstance(sliced, _Stored)
    np.testing.assert_array_equal(_load(sliced), X[5:9])


@posix_only
def test_folders_of_fits_whose_parent_died_are_removed(tmp_path):
    dead = tmp_path / f"sklnn-ddp-{_dead_pid()}-abc"
    live = tmp_path / f"sklnn-ddp-{os.getpid()}-def"
    other = tmp_path / "sklnn-ddp-not-a-pid"
    for folder in (dead, live, other):
        folder.mkdir()
        (folder / "X.npy").write_bytes(b"data")
    assert _ddp_guard.remove_stale_folders(str(tmp_path)) == [str(dead)]
    assert not dead.exists() and live.exists() and other.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_ends_when_its_parent_is_killed():
    """Before: SIGKILL of the parent left both workers training to the end."""
    parent = textwrap.dedent(f"""
        import os, subprocess, sys
        env = dict(os.environ, {_ddp_guard.PARENT_ENV}=str(os.getpid()))
        worker = subprocess.Popen([sys.executable, "-c", (
            "from sklnn.engine._ddp_guard import die_with_parent; die_with_parent(); "
            "print('ready', flush=True); import time; time.sleep(120)")], env=env,
            stdout=subprocess.PIPE, text=True)
        assert worker.stdout.readline().strip() == "ready"
        print(worker.pid, flush=True)
        sys.stdin.read()
    """)
    process = subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    worker = int(process.stdout.readline())
    assert _running(worker)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(worker)


class _CtrlCAtEpochTwo(Callback):
    """Rank 0 presses Ctrl-C in the parent at epoch 2 and waits until the parent has
    asked the workers to stop, so that the stop lands at epoch 2 exactly."""

    def on_epoch_end(self, trainer, *, record, **kwargs):
        if trainer.distributed.rank == 0 and record["epoch"] == 2:
            os.kill(os.getppid(), signal.SIGINT)
            deadline = time.monotonic() + 60
            while not _ddp_guard.stop_requested() and time.monotonic() < deadline:
                time.sleep(0.01)


_CTRL_C_FIT = """
import signal, warnings
import numpy as np
from sklnn import MLPClassifierGPU
from test_process_guard import _CtrlCAtEpochTwo

signal.signal(signal.SIGINT, signal.default_int_handler)  # a terminal's Ctrl-C
rng = np.random.RandomState(0)
X, y = rng.randn(40, 3), np.arange(40) % 2
model = MLPClassifierGPU(hidden_layer_sizes=(3,), max_iter=50, n_processes=2,
                         callbacks=[_CtrlCAtEpochTwo()], random_state=0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model.fit(X, y)
print([str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)])
print(model.n_iter_, len(model.history_), bool(np.isfinite(model.predict_proba(X)).all()))
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGINT to the parent")
def test_ctrl_c_in_the_parent_keeps_the_weights_and_warns():
    """Before: Ctrl-C discarded all progress of a data-parallel fit. The fit runs in a
    process of its own, where SIGINT raises KeyboardInterrupt as in a terminal (a test
    runner's worker may ignore SIGINT)."""
    path = os.pathsep.join([os.path.dirname(__file__), *sys.path])
    done = subprocess.run([sys.executable, "-c", _CTRL_C_FIT], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, timeout=600)
    assert done.returncode == 0, done.stderr
    warned, counts = done.stdout.strip().splitlines()[-2:]
    assert "interrupted by user" in warned, done.stdout + done.stderr
    assert counts == "2 2 True"
