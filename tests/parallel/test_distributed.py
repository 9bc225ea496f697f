"""Data-parallel training: 2 CPU processes on the gloo backend.

Each test starts real processes (importing torch and sklnn costs seconds per process,
more on a loaded machine), so there are few tests and each checks several things on
tiny data.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import TinyNet

from sklnn import MLPClassifierGPU, MLPRegressorGPU, NeuralNetClassifier
from sklnn.callbacks import Callback

pytestmark = pytest.mark.slow

# Started from `python -c`: the fit starts its own workers; the lines after fit run once.
LAUNCH_SCRIPT = """
import json
import numpy as np
from sklnn import MLPRegressorGPU
rng = np.random.RandomState(0)
X = rng.randn(96, 5)
y = X @ rng.randn(5) + 0.1 * rng.randn(96)
settings = dict(hidden_layer_sizes=(7,), max_iter=4, batch_size=24, shuffle=False,
                random_state=0, learning_rate_init=0.01)
one = MLPRegressorGPU(**settings).fit(X, y)
two = MLPRegressorGPU(n_processes=2, **settings).fit(X, y)
print("after fit")
X_new = rng.randn(101, 5)
print(json.dumps({
    "diff": max(float(abs(a - b).max()) for a, b in zip(
        one.module_.state_dict().values(), two.module_.state_dict().values())),
    "dtype": str(next(two.module_.parameters()).dtype),
    "loss_one": one.loss_curve_, "loss_two": two.loss_curve_,
    "n_iter": two.n_iter_, "history": len(two.history_), "n_processes": two.n_processes,
    "predict_diff": float(abs(one.predict(X_new) - two.predict(X_new)).max()),
    "predict_rows": len(two.predict(X_new)),
}))
"""

# One rank of a group started as torchrun would: the group exists before fit is called.
RANK_SCRIPT = """
import json, os, sys
import numpy as np
import torch
import torch.distributed as dist
from sklearn.metrics import log_loss
from sklnn import MLPClassifierGPU
from sklnn.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler
from sklnn.engine import Trainer

dist.init_process_group("gloo")
rank = dist.get_rank()
out = sys.argv[1]


class RankScaledLoss(Trainer):
    # each rank's local loss differs; what every rank records and decides on must not
    def get_loss(self, raw, y, weight):
        loss, normaliser = super().get_loss(raw, y, weight)
        return loss * (1 + rank), normaliser


class Scaled(MLPClassifierGPU):
    trainer_class = RankScaledLoss


rng = np.random.RandomState(0)
X = rng.randn(101, 4)
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
X_val = rng.randn(37, 4)
y_val = (X_val[:, 0] + 0.5 * X_val[:, 1] > 0).astype(int)
path = os.path.join(out, "checkpoint.pt")
stopper = EarlyStopping(monitor="valid_loss", patience=2, min_delta=10.0,
                        restore_best_weights=False)
checkpoint = Checkpoint(path, every=1)
first = Scaled(hidden_layer_sizes=(6,), max_iter=8, batch_size=16, random_state=0,
               learning_rate_init=0.05, callbacks=[
                   stopper, checkpoint,
                   LRScheduler(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)])
first.fit(X, y, validation_data=(X_val, y_val))
resumed = Checkpoint(path, every=1, resume=True)
again = Scaled(hidden_layer_sizes=(6,), max_iter=5, batch_size=16, random_state=0,
               learning_rate_init=0.05, callbacks=[resumed]).fit(
                   X, y, validation_data=(X_val, y_val))
rule = MLPClassifierGPU(hidden_layer_sizes=(5,), early_stopping=True, n_iter_no_change=2,
                        tol=10.0, max_iter=20, random_state=None).fit(X, y)
shuffled = [MLPClassifierGPU(hidden_layer_sizes=(5,), max_iter=3, batch_size=10,
                             random_state=3).fit(X, y) for _ in range(2)]
try:
    MLPClassifierGPU(n_processes=2).fit(X, y)
    refused = ""
except ValueError as exc:
    refused = str(exc)


class Boom(Callback):
    def on_epoch_begin(self, trainer, epoch):
        if rank == 1 and epoch == 2:
            raise RuntimeError("rank one broke on purpose")


# last: rank 1 raises, leaves the group and exits; rank 0 must fail, not wait
try:
    MLPClassifierGPU(max_iter=4, callbacks=[Boom()]).fit(X, y)
    failure = ""
except RuntimeError as exc:
    failure = str(exc)


def weights(model):
    return [v.tolist() for v in model.module_.state_dict().values()]


last = first.history_[-1]
proba = first.predict_proba(X_val)
json.dump({
    "history": [{k: v for k, v in r.items() if k != "duration"} for r in first.history_],
    "n_iter": first.n_iter_, "weights": weights(first),
    "best_epoch": stopper.best_epoch_, "saved": checkpoint.saved_epochs_,
    "valid_score": last["valid_score"], "score": first.score(X_val, y_val),
    "valid_loss": last["valid_loss"], "log_loss": log_loss(y_val, proba),
    "resumed_from": resumed.resumed_from_, "again_epochs": len(again.history_),
    "rule_n_iter": rule.n_iter_, "rule_scores": rule.validation_scores_,
    "rule_weights": weights(rule),
    "shuffled_equal": weights(shuffled[0]) == weights(shuffled[1]),
    "predict_rows": len(first.predict(X)), "refused": refused, "failure": failure,
}, open(os.path.join(out, f"rank{rank}.json"), "w"))
if rank == 1:
    dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fit_with_n_processes_from_python_c_matches_one_process():
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LAUNCH_SCRIPT], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("after fit") == 1  # the user's code after fit ran once
    result = json.loads(lines[-1])
    print(f"python -c with n_processes=2: {time.perf_counter() - started:.1f}s, "
          f"max weight difference {result['diff']:.2e}")
    assert result["dtype"] == "torch.float64"
    # 2 processes at global batch 24 are 1 process at batch 24
    assert result["diff"] < 1e-5
    np.testing.assert_allclose(result["loss_two"], result["loss_one"], rtol=1e-9)
    assert result["n_iter"] == 4 and result["history"] == 4 and result["n_processes"] == 2
    assert result["predict_rows"] == 101 and result["predict_diff"] < 1e-5


def test_process_group_ranks_agree_on_uneven_data(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(textwrap.dedent(RANK_SCRIPT))
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
           "WORLD_SIZE": "2", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    ranks = [subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                              env={**env, "RANK": str(rank)}, stderr=subprocess.PIPE,
                              text=True) for rank in range(2)]
    try:
        errors = [process.communicate(timeout=240)[1] for process in ranks]
    finally:
        for process in ranks:
            process.kill()
    assert [p.returncode for p in ranks] == [0, 0], errors
    zero, one = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    # agreement although each rank's own loss differs (RankScaledLoss)
    for key in ("history", "n_iter", "weights", "best_epoch", "rule_n_iter", "rule_scores",
                "rule_weights", "resumed_from", "again_epochs"):
        assert zero[key] == one[key], key
    assert zero["n_iter"] == 3 < 8  # EarlyStopping(patience=2) stopped every rank together
    lrs = [r["lr"] for r in zero["history"]]
    assert lrs == pytest.approx([0.05, 0.025, 0.0125])  # LRScheduler stepped alike
    assert zero["rule_n_iter"] == 4  # scikit-learn's rule: n_iter_no_change=2, then stop
    # only rank 0 wrote the checkpoint; both resumed from it
    assert zero["saved"] == [1, 2, 3] and one["saved"] == []
    assert (tmp_path / "checkpoint.pt").exists()
    assert zero["resumed_from"] == 3 and zero["again_epochs"] == 5
    # 37 validation rows on 2 ranks: each counted once, as one process scores them
    assert zero["valid_score"] == pytest.approx(zero["score"], abs=1e-12)
    assert zero["valid_loss"] == pytest.approx(zero["log_loss"], rel=1e-6)
    assert zero["predict_rows"] == 101 and zero["shuffled_equal"]
    assert "n_processes" in zero["refused"] and "None" in zero["refused"]
    assert one["failure"] == "rank one broke on purpose"
    assert "another rank failed" in zero["failure"]


class _FailsOnRankOne(Callback):
    def on_epoch_begin(self, trainer, epoch):
        if trainer.distributed is not None and trainer.distributed.rank == 1 and epoch == 2:
            raise RuntimeError("rank one broke on purpose")


class _Unpicklable(Callback):
    def __init__(self):
        self.lock = threading.Lock()


def test_a_failing_worker_fails_fit_clearly_and_leaves_the_estimator_unfitted():
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), np.arange(40) % 2
    for bad, what in ((dict(solver="lbfgs"), "lbfgs"), (dict(batch_norm=True), "batch_norm")):
        with pytest.raises(ValueError, match=what):  # refused before any process starts
            MLPClassifierGPU(n_processes=2, **bad).fit(X, y)
    with pytest.raises(TypeError, match="cannot be serialised"):
        MLPClassifierGPU(n_processes=2, callbacks=[_Unpicklable()]).fit(X, y)
    model = MLPRegressorGPU(hidden_layer_sizes=(3,), max_iter=5, n_processes=2,
                            callbacks=[_FailsOnRankOne()])
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="(?s)worker process 1.*rank one broke on purpose"):
        model.fit(X, y.astype(float))
    print(f"failing rank detected after {time.perf_counter() - started:.1f}s")
    assert not hasattr(model, "module_") and not hasattr(model, "history_")


def test_a_user_module_trains_data_parallel_like_in_one_process(binary_data):
    X, y = binary_data
    settings = dict(module__hidden=4, max_iter=3, batch_size=30, random_state=0)
    one = NeuralNetClassifier(TinyNet, **settings).fit(X, y)
    two = NeuralNetClassifier(TinyNet, n_processes=2, **settings).fit(X, y)
    assert two.n_iter_ == 3 and isinstance(two.module_, TinyNet)
    # 2 processes at global batch 30 are 1 process at batch 30 (float64 data)
    np.testing.assert_allclose(two.predict_proba(X), one.predict_proba(X), atol=1e-5)
