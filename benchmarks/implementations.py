"""The four competitors, each as ``fit_and_predict(workload, data, device) -> dict``.

Every function trains for exactly ``workload.epochs`` epochs on float32 data and
returns fit and predict wall times (CUDA synchronised), the predict output
shape, the test score (accuracy or R^2, untimed) and the intra-op thread count
it trained with. They run in a forked child (see :mod:`benchmarks.measure`).
"""

from __future__ import annotations

import time
import warnings
from contextlib import nullcontext

import numpy as np
import torch
from sklearn.metrics import accuracy_score, r2_score

from sklnn.callbacks import Callback
from sklnn.engine.threads import thread_budget, threads_for


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _score(workload, output: np.ndarray, y_test: np.ndarray) -> float:
    if workload.task == "regression":
        return float(r2_score(y_test, output))
    return float(accuracy_score(y_test, np.asarray(output).argmax(axis=1)))


class Clock:
    """Wall-clock seconds, and CPU seconds of this process (all its threads) beside them.

    Under load the CPU time of a single-threaded run is much steadier than its
    wall time, which makes it the better measure of an engine's own overhead.
    """

    def __init__(self) -> None:
        self.cpu = {}
        self.page_faults = {}

    def timed(self, name: str, fn, device):
        _sync(device)
        faults = _minor_page_faults()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        _sync(device)
        self.cpu[name] = time.process_time() - cpu
        self.page_faults[name] = _minor_page_faults() - faults
        return result, time.perf_counter() - wall


def _minor_page_faults() -> int:
    """Pages this process touched for the first time (a fresh allocation the kernel zeroes)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _report(workload, clock, fit_s, predict_s, predict, data, threads, epochs_run,
            predict_threads) -> dict:
    return dict(
        fit_s=fit_s,
        predict_s=predict_s,
        fit_cpu_s=clock.cpu["fit"],
        predict_cpu_s=clock.cpu["predict"],
        fit_page_faults=clock.page_faults["fit"],
        predict_page_faults=clock.page_faults["predict"],
        predict_rows=int(data["X_predict"].shape[0]),
        score=_score(workload, predict(data["X_test"]), data["y_test"]),
        threads=threads,
        predict_threads=predict_threads[0] if predict_threads else None,
        epochs_run=int(epochs_run),
    )


def _predict_choices(workload, module, device) -> tuple[int, float]:
    """sklnn's predict batch rows and per-row thread FLOPs for ``module``, worked out
    before the clock starts (building the owning estimator takes a few ms for a ResNet)."""
    return workload.predict_rows(module, device), workload.predict_thread_flops(module)


# ------------------------------------------------------------------- sklnn
class _ThreadRecorder(Callback):
    """Reads the intra-op thread count the engine chose, once per fit."""

    def on_train_begin(self, trainer, **kwargs) -> None:
        self.threads = torch.get_num_threads()


def run_sklnn(workload, data, device):
    clock = Clock()
    recorder = _ThreadRecorder()
    estimator = workload.make_sklnn(workload)
    estimator.set_params(device=str(device), callbacks=[recorder])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, fit_s = clock.timed("fit", lambda: estimator.fit(data["X_train"], data["y_train"]),
                               device)

    # A global hook: a hook on module_ itself would make sklnn predict with module_ as is,
    # not with its faster inference copy (see sklnn.engine.inference.inference_module).
    predict_threads = []
    torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, inputs: predict_threads.append(torch.get_num_threads())
        if not predict_threads else None)

    def predict(X):
        if workload.task == "regression":
            return estimator.predict(X)
        return estimator.predict_proba(X)

    _, predict_s = clock.timed("predict", lambda: predict(data["X_predict"]), device)
    return _report(workload, clock, fit_s, predict_s, predict, data, recorder.threads,
                   estimator.n_iter_, predict_threads)


# ------------------------------------------------------------ scikit-learn
def _blas_limit(n_threads: int | None):
    from threadpoolctl import threadpool_limits

    return nullcontext() if n_threads is None else threadpool_limits(limits=n_threads)


def _blas_threads() -> int | None:
    from threadpoolctl import threadpool_info

    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"),
               default=None)


def run_sklearn(workload, data, device):
    """scikit-learn under the BLAS thread count sklnn's engine picks for the same work.

    With its default (all cores) numpy's BLAS collapsed like OpenMP on this busy
    machine (the MNIST fit took 8-13x as long as sklnn's), which says nothing about
    the library; the table reports the count used.
    """
    clock = Clock()
    estimator = workload.make_sklearn(workload)
    module = workload.make_module(data["X_train"].shape[1], workload.n_outputs(data["y_train"]))
    step_flops = 3 * workload.batch_size * workload.thread_flops(module)
    with warnings.catch_warnings(), _blas_limit(threads_for(step_flops)):
        warnings.simplefilter("ignore")
        _, fit_s = clock.timed("fit", lambda: estimator.fit(data["X_train"], data["y_train"]),
                               device)
        blas_threads = _blas_threads()

    predict_threads = []
    batch_rows, row_flops = _predict_choices(workload, module, device)

    def predict(X):
        with _blas_limit(threads_for(min(X.shape[0], batch_rows) * row_flops)):
            predict_threads.append(_blas_threads())
            if workload.task == "regression":
                return estimator.predict(X)
            return estimator.predict_proba(X)

    _, predict_s = clock.timed("predict", lambda: predict(data["X_predict"]), device)
    return _report(workload, clock, fit_s, predict_s, predict, data, blas_threads,
                   estimator.n_iter_, predict_threads)


# --------------------------------------------------------- hand-written loop
def _targets(workload, y: np.ndarray) -> torch.Tensor:
    if workload.task == "multiclass":
        return torch.from_numpy(np.asarray(y, dtype=np.int64))
    y = np.asarray(y, dtype=np.float32)
    return torch.from_numpy(y.reshape(len(y), -1))


def _loss_fn(workload):
    functional = torch.nn.functional
    if workload.task == "multiclass":
        return functional.cross_entropy
    if workload.task == "binary":
        return functional.binary_cross_entropy_with_logits
    return lambda raw, y: 0.5 * functional.mse_loss(raw, y)


def _decode(workload, raw: torch.Tensor) -> torch.Tensor:
    if workload.task == "multiclass":
        return torch.softmax(raw, dim=1)
    if workload.task == "binary":
        return torch.sigmoid(raw)
    return raw


def _adam_groups(module, workload) -> list[dict]:
    """scikit-learn's L2 term on weights only, as Adam's weight decay alpha / batch size."""
    weights = [p for p in module.parameters() if p.ndim > 1]
    others = [p for p in module.parameters() if p.ndim <= 1]
    return [
        {"params": weights, "weight_decay": workload.alpha / workload.batch_size},
        {"params": others, "weight_decay": 0.0},
    ]


def run_torch_loop(workload, data, device):
    """The floor: tensors on the device once, a permutation per epoch, slices per batch.

    It uses the intra-op thread count sklnn's engine picks for the same work, so
    the sklnn / loop ratio measures the engine's overhead, not the thread choice.
    """
    clock = Clock()
    X_train, y_train = data["X_train"], data["y_train"]
    torch.manual_seed(0)
    module = workload.make_module(X_train.shape[1], workload.n_outputs(y_train))
    step_flops = 3 * workload.batch_size * workload.thread_flops(module)
    loss_fn = _loss_fn(workload)

    def fit():
        model = module.to(device)
        optimizer = torch.optim.Adam(_adam_groups(model, workload), lr=workload.learning_rate,
                                     fused=True)
        X = torch.from_numpy(X_train).to(device)
        y = _targets(workload, y_train).to(device)
        generator = torch.Generator().manual_seed(0)
        n, batch = X.shape[0], workload.batch_size
        model.train()
        for _ in range(workload.epochs):
            order = torch.randperm(n, generator=generator).to(device)
            X_epoch, y_epoch = X[order], y[order]
            for start in range(0, n, batch):
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(X_epoch[start:start + batch]), y_epoch[start:start + batch])
                loss.backward()
                optimizer.step()
        return model

    with thread_budget(threads_for(step_flops)):
        threads = torch.get_num_threads()
        model, fit_s = clock.timed("fit", fit, device)
    model.eval()

    predict_threads = []
    rows, row_flops = _predict_choices(workload, model, device)

    def predict(X_numpy):
        n_threads = threads_for(min(X_numpy.shape[0], rows) * row_flops)
        with thread_budget(n_threads), torch.inference_mode():
            predict_threads.append(torch.get_num_threads())
            X = torch.from_numpy(X_numpy)
            outputs = [
                _decode(workload, model(X[start:start + rows].to(device)))
                for start in range(0, X.shape[0], rows)
            ]
            result = torch.cat(outputs).cpu().numpy()
        if workload.task == "binary":
            # Same output as predict_proba elsewhere: one column per class.
            result = np.hstack([1 - result, result])
        return result

    _, predict_s = clock.timed("predict", lambda: predict(data["X_predict"]), device)
    return _report(workload, clock, fit_s, predict_s, predict, data, threads, workload.epochs,
                   predict_threads)


# ------------------------------------------------------------------- skorch
def run_skorch(workload, data, device):
    clock = Clock()
    import skorch

    X_train, y_train = data["X_train"], data["y_train"]
    torch.manual_seed(0)
    module = workload.make_module(X_train.shape[1], workload.n_outputs(y_train))
    common = dict(
        module=module,
        optimizer=torch.optim.Adam,
        optimizer__fused=True,
        optimizer__param_groups=[("*weight", {"weight_decay": workload.alpha
                                              / workload.batch_size})],
        lr=workload.learning_rate,
        batch_size=workload.batch_size,
        max_epochs=workload.epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        device=str(device),
    )
    if workload.task == "multiclass":
        net = skorch.NeuralNetClassifier(criterion=torch.nn.CrossEntropyLoss, **common)
        y = np.asarray(y_train, dtype=np.int64)
    elif workload.task == "binary":
        net = skorch.NeuralNetBinaryClassifier(criterion=torch.nn.BCEWithLogitsLoss, **common)
        y = np.asarray(y_train, dtype=np.float32)
    else:
        net = skorch.NeuralNetRegressor(criterion=torch.nn.MSELoss, **common)
        y = np.asarray(y_train, dtype=np.float32).reshape(len(y_train), -1)
    # skorch gets the thread count sklnn's engine picks (its default, all cores, collapses
    # on a busy machine), so the ratios measure its per-batch overhead.
    step_flops = 3 * workload.batch_size * workload.thread_flops(module)
    with thread_budget(threads_for(step_flops)):
        threads = torch.get_num_threads()
        _, fit_s = clock.timed("fit", lambda: net.fit(X_train, y), device)

    predict_threads = []
    batch_rows, row_flops = _predict_choices(workload, module, device)

    def predict(X):
        with thread_budget(threads_for(min(X.shape[0], batch_rows) * row_flops)):
            predict_threads.append(torch.get_num_threads())
            if workload.task == "regression":
                return net.predict(X).reshape(len(X), -1).squeeze(1)
            return net.predict_proba(X)

    _, predict_s = clock.timed("predict", lambda: predict(data["X_predict"]), device)
    return _report(workload, clock, fit_s, predict_s, predict, data, threads,
                   len(net.history), predict_threads)


IMPLEMENTATIONS = {
    "sklnn": run_sklnn,
    "torch_loop": run_torch_loop,
    "sklearn": run_sklearn,
    "skorch": run_skorch,
}
