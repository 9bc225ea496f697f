"""Data-parallel training on the CPU: ``python -m benchmarks.ddp [--quick]``.

The MNIST MLP (784-300-100-10) and the lecture CNN train for the same epochs at the same
global batch (128) in one process and with ``n_processes=2`` (2 gloo workers, one
intra-op thread each on a 2-core machine). Recorded per run: the fit's wall time
(workers' start included), the training time (the sum of ``history_``'s epoch
durations, rank 0's, start-up excluded), training throughput in samples per second,
scaling efficiency (2-process throughput over twice the 1-process throughput) and test
accuracy. Results go to ``benchmarks/results/ddp-<time>.json`` and a Markdown table is
printed for docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _workloads(quick: bool):
    from sklnn import CNNImageClassifier, MLPClassifierGPU

    fixed = dict(solver="adam", batch_size=128, learning_rate_init=1e-3, tol=0.0,
                 shuffle=True, random_state=0)
    mlp_epochs, cnn_epochs = (2, 1) if quick else (5, 1)
    return [
        ("MNIST MLP 784-300-100-10", mlp_epochs, lambda n: MLPClassifierGPU(
            hidden_layer_sizes=(300, 100), max_iter=mlp_epochs,
            n_iter_no_change=mlp_epochs + 1, n_processes=n, **fixed)),
        ("lecture CNN on MNIST", cnn_epochs, lambda n: CNNImageClassifier(
            input_shape=(1, 28, 28), max_iter=cnn_epochs, n_iter_no_change=cnn_epochs + 1,
            dropout=0.0, shift_range=0, learning_rate="constant",
            n_processes=n, **fixed)),
    ]


def _load() -> float:
    return os.getloadavg()[0]


def run(quick: bool) -> dict:
    from sklnn.datasets import mnist_train_test_split

    X_train, X_test, y_train, y_test = mnist_train_test_split(flatten=True)
    if quick:
        X_train, y_train = X_train[:2000], y_train[:2000]
    rows = []
    for name, epochs, make in _workloads(quick):
        for n in (None, 2):
            model = make(n)
            load_before = _load()
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_train, y_train)
            wall = time.perf_counter() - started
            train_s = sum(model.history_[:, "duration"])
            rows.append(dict(
                workload=name, processes=n or 1, epochs=epochs, n_train=len(X_train),
                wall_s=round(wall, 2), train_s=round(train_s, 2),
                samples_per_s=round(epochs * len(X_train) / train_s, 1),
                accuracy=round(float(model.score(X_test, y_test)), 4),
                threads=model.n_threads_, load=[round(load_before, 1), round(_load(), 1)]))
            print(rows[-1], flush=True)
    for row in rows:
        single = next(r for r in rows if r["workload"] == row["workload"]
                      and r["processes"] == 1)
        row["efficiency"] = round(
            row["samples_per_s"] / (row["processes"] * single["samples_per_s"]), 3)
    return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cores": os.cpu_count(), "quick": quick, "rows": rows}


def table(result: dict) -> str:
    lines = ["| workload | processes | epochs | wall s (incl. start) | train s | samples/s "
             "| efficiency | test accuracy | load (start, end) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['workload']} | {r['processes']} | {r['epochs']} | {r['wall_s']} | "
            f"{r['train_s']} | {r['samples_per_s']:,.0f} | {r['efficiency']:.2f} | "
            f"{r['accuracy']:.4f} | {r['load'][0]}, {r['load'][1]} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows, fewer epochs")
    args = parser.parse_args(argv)
    result = run(args.quick)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"ddp-{'quick-' if args.quick else ''}{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
