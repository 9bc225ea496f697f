"""One user-written ``nn.Module`` trained by sklnn, skorch and a bare PyTorch loop.

Run: ``python -m benchmarks.own_module [--quick] [--repeats N] [--write]`` (needs skorch:
the ``bench`` extra). Each (workload, implementation, repeat) runs in its own forked
child (see :mod:`benchmarks.measure`), in an order rotated between repeats; every
implementation trains the same module class for the same epochs with Adam (lr 1e-3,
batches of 128, reshuffled every epoch, no validation split, no weight decay), under the
intra-op thread count sklnn's engine picks for that network, then predicts
probabilities for ``PREDICT_ROWS`` rows and for one row (median latency of 200 calls).
``--write`` puts the table between the ``<!-- own-module:... -->`` markers of
docs/benchmarks.md.

Targets: sklnn's fit at most 1.05x the bare loop's; skorch's fit at least 1.5x sklnn's on
the small MLP; sklnn's predict throughput at least 3x skorch's.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification
from torch import nn

from benchmarks.measure import machine_info, run_in_child
from sklnn import NeuralNetClassifier
from sklnn.datasets import mnist_train_test_split
from sklnn.engine.threads import thread_budget, threads_for

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
PREDICT_ROWS = 100_000
BATCH, LR = 128, 1e-3


class TabularMLP(nn.Module):
    def __init__(self, n_features_in=20, n_outputs=2, hidden=64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features_in, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_outputs))

    def forward(self, X):
        return self.net(X)


class DigitCNN(nn.Module):
    """The lecture's MNIST network written as a user would write it."""

    def __init__(self, n_outputs=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3),
                                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(64 * 12 * 12, 64), nn.ReLU(),
                                  nn.Linear(64, n_outputs))

    def forward(self, X):
        return self.head(self.features(X))


@dataclass
class Workload:
    name: str
    module: type
    epochs: int
    data: dict


def workloads(quick: bool) -> list[Workload]:
    n = 2_000 if quick else 10_000
    X, y = make_classification(n + 2_000, 20, n_informative=10, random_state=0)
    X = X.astype(np.float32)
    tabular = dict(X_train=X[:n], y_train=y[:n], X_test=X[n:], y_test=y[n:],
                   X_predict=np.resize(X[n:], (PREDICT_ROWS, 20)))
    images_train, images_test, labels_train, labels_test = mnist_train_test_split(
        n_train=1_000 if quick else 8_000, n_test=2_000)
    images = dict(X_train=images_train[:, None], y_train=labels_train,
                  X_test=images_test[:, None], y_test=labels_test,
                  X_predict=images_test[:, None])
    return [Workload("small MLP 20-64-64-2, tabular", TabularMLP, 3 if quick else 20, tabular),
            Workload("CNN 32-64 conv on MNIST", DigitCNN, 1 if quick else 2, images)]


def _threads(module) -> int | None:
    """The intra-op thread count sklnn's engine picks for a training step of ``module``."""
    return threads_for(3 * BATCH * 2.0 * sum(p.numel() for p in module.parameters()))


def _latency(predict, row) -> float:
    for _ in range(20):
        predict(row)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        predict(row)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed(fit, predict, data) -> dict:
    start = time.perf_counter()
    fit()
    fit_s = time.perf_counter() - start
    predict(data["X_predict"][:256])  # first-call costs are not throughput
    start = time.perf_counter()
    proba = predict(data["X_predict"])
    predict_s = time.perf_counter() - start
    accuracy = float((predict(data["X_test"]).argmax(axis=1) == data["y_test"]).mean())
    return dict(fit_s=fit_s, predict_s=predict_s, rows=len(proba), accuracy=accuracy,
                latency_s=_latency(predict, data["X_test"][:1]))


def run_sklnn(workload: Workload) -> dict:
    data = workload.data
    clf = NeuralNetClassifier(workload.module, batch_size=BATCH, learning_rate_init=LR,
                              max_iter=workload.epochs, tol=0.0,
                              n_iter_no_change=workload.epochs + 1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _timed(lambda: clf.fit(data["X_train"], data["y_train"]), clf.predict_proba,
                      data)


def run_skorch(workload: Workload) -> dict:
    import skorch

    data = workload.data
    torch.manual_seed(0)
    net = skorch.NeuralNetClassifier(
        workload.module, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=LR,
        batch_size=BATCH, max_epochs=workload.epochs, train_split=None,
        iterator_train__shuffle=True, verbose=0)
    threads = _threads(workload.module())
    y = np.asarray(data["y_train"], dtype=np.int64)

    def predict(X):
        with thread_budget(threads_for(min(len(X), 2048) * 2.0 * sum(
                p.numel() for p in net.module_.parameters()))):
            return net.predict_proba(X)

    with thread_budget(threads):
        return _timed(lambda: net.fit(data["X_train"], y), predict, data)


def run_loop(workload: Workload) -> dict:
    data = workload.data
    torch.manual_seed(0)
    module = workload.module()
    threads = _threads(module)

    def fit():
        optimizer = torch.optim.Adam(module.parameters(), lr=LR)
        X = torch.from_numpy(np.ascontiguousarray(data["X_train"]))
        y = torch.from_numpy(np.asarray(data["y_train"], dtype=np.int64))
        generator = torch.Generator().manual_seed(0)
        module.train()
        for _ in range(workload.epochs):
            order = torch.randperm(len(X), generator=generator)
            X_epoch, y_epoch = X[order], y[order]
            for start in range(0, len(X), BATCH):
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(module(X_epoch[start:start + BATCH]),
                                                   y_epoch[start:start + BATCH])
                loss.backward()
                optimizer.step()
        module.eval()

    @torch.inference_mode()
    def predict(X):
        X = torch.from_numpy(np.ascontiguousarray(X))
        return torch.cat([torch.softmax(module(X[i:i + 2048]), dim=1)
                          for i in range(0, len(X), 2048)]).numpy()

    with thread_budget(threads):
        return _timed(fit, predict, data)


IMPLEMENTATIONS = {"sklnn": run_sklnn, "skorch": run_skorch, "bare loop": run_loop}


def measure(quick: bool, repeats: int) -> list[dict]:
    rows = []
    for workload in workloads(quick):
        results = {name: [] for name in IMPLEMENTATIONS}
        names = list(IMPLEMENTATIONS)
        for repeat in range(repeats):
            for name in names[repeat % len(names):] + names[:repeat % len(names)]:
                result = run_in_child(lambda f=IMPLEMENTATIONS[name], w=workload: f(w))
                if "error" in result:
                    raise RuntimeError(f"{name} on {workload.name}: {result['error']}")
                results[name].append(result)
                print(f"{workload.name} | {name} | repeat {repeat}: "
                      f"fit {result['fit_s']:.2f} s, predict {result['predict_s']:.3f} s",
                      flush=True)
        median = {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                  for name, runs in results.items()}
        rows.append({"workload": workload.name, "epochs": workload.epochs, **median})
    return rows


def table(rows: list[dict], repeats: int) -> str:
    info = machine_info("cpu")
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {info.get('cpu', '?')} "
        f"({info.get('cores', '?')} cores), torch {info.get('torch')}, skorch "
        f"{info.get('skorch')}; median of {repeats} runs each.", "",
        "| workload | implementation | fit (s) | fit vs bare loop | predict rows/s "
        "| 1-row latency (ms) | test accuracy |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        loop = row["bare loop"]["fit_s"]
        for name in IMPLEMENTATIONS:
            r = row[name]
            lines.append(
                f"| {row['workload']} ({row['epochs']} epochs) | {name} | {r['fit_s']:.2f} "
                f"| {r['fit_s'] / loop:.2f}x | {r['rows'] / r['predict_s']:,.0f} "
                f"| {1000 * r['latency_s']:.2f} | {r['accuracy']:.3f} |")
    lines.append("")
    for row in rows:
        sklnn, skorch, loop = row["sklnn"], row["skorch"], row["bare loop"]
        lines.append(
            f"- {row['workload']}: sklnn fit / bare loop {sklnn['fit_s'] / loop['fit_s']:.2f} "
            f"(target <= 1.05); skorch fit / sklnn fit {skorch['fit_s'] / sklnn['fit_s']:.2f} "
            f"(target >= 1.5 on the small MLP); sklnn / skorch predict throughput "
            f"{skorch['predict_s'] / sklnn['predict_s']:.2f} (target >= 3).")
    return "\n".join(lines)


def write(text: str) -> None:
    doc = DOC.read_text()
    block = f"<!-- own-module:start -->\n{text}\n<!-- own-module:end -->"
    pattern = re.compile(r"<!-- own-module:start -->.*?<!-- own-module:end -->", re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{DOC} has no <!-- own-module:start/end --> markers")
    DOC.write_text(pattern.sub(lambda _: block, doc))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="less data, fewer epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    text = table(measure(args.quick, args.repeats), args.repeats)
    print(text)
    if args.write:
        write(text)


if __name__ == "__main__":
    main()
