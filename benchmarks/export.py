"""Serving the MNIST MLP: sklnn, onnxruntime on sklnn's export, scikit-learn and its export.

Run: ``python -m benchmarks.export [--quick] [--repeats N] [--write]``. One process
trains a 784-100-10 MLP (ReLU, softmax) with ``MLPClassifierGPU`` and with scikit-learn's
``MLPClassifier`` on 4,000 MNIST images (float32 pixels in [0, 1]), converts each to
ONNX (:func:`sklnn.to_onnx`; skl2onnx's own MLP converter for scikit-learn's, ZipMap off,
the same opset), and then measures, for each of the four ways to predict probabilities:

* latency: the median wall time of one call on one row (``LATENCY_CALLS`` calls after a
  warm-up), and its 10th percentile;
* throughput: rows per second of one call on ``THROUGHPUT_ROWS`` rows (the best of five
  calls).

The four are measured in turn within each repeat, their order rotated between repeats,
so that a change in the machine's load falls on all of them; the ratios are paired
within each repeat. Both onnxruntime sessions use the same settings (onnxruntime's
default thread pool); sklnn and scikit-learn use their own thread choices. ``--write``
puts the table between the ``<!-- bench:export:... -->`` markers of docs/benchmarks.md.

Targets: onnxruntime on sklnn's export at least as fast as onnxruntime on scikit-learn's
export of the same architecture (both latency and throughput); one-row latency of
onnxruntime on sklnn's export below 0.2 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
THROUGHPUT_ROWS = 100_000
LATENCY_CALLS = 1000
HIDDEN = (100,)
NAMES = {"sklnn": "sklnn predict_proba", "ort_sklnn": "onnxruntime, sklnn.to_onnx",
         "sklearn": "scikit-learn predict_proba", "ort_sklearn": "onnxruntime, skl2onnx"}


def build(n_train: int, epochs: int):
    """The four predictors, each a function of float32 rows returning probabilities."""
    import onnxruntime
    import skl2onnx
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    import sklnn
    from sklnn.datasets import mnist_train_test_split

    X_train, X_test, y_train, _ = mnist_train_test_split(flatten=True, n_train=n_train)
    settings = dict(hidden_layer_sizes=HIDDEN, max_iter=epochs, random_state=0)
    ours, theirs = sklnn.MLPClassifierGPU(**settings), MLPClassifier(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # latency needs no convergence
        ours.fit(X_train, y_train)
        theirs.fit(X_train, y_train)
    opset = 20
    ours_onnx = sklnn.to_onnx(ours, X_train[:1], target_opset=opset)
    theirs_onnx = skl2onnx.to_onnx(theirs, X_train[:1], target_opset=opset,
                                   options={id(theirs): {"zipmap": False}})

    def session(model):
        sess = onnxruntime.InferenceSession(model.SerializeToString(),
                                            providers=["CPUExecutionProvider"])
        return lambda X: sess.run(["probabilities"], {"X": X})[0]

    predictors = {"sklnn": ours.predict_proba, "ort_sklnn": session(ours_onnx),
                  "sklearn": theirs.predict_proba, "ort_sklearn": session(theirs_onnx)}
    graphs = {"ort_sklnn": [n.op_type for n in ours_onnx.graph.node],
              "ort_sklearn": [n.op_type for n in theirs_onnx.graph.node]}
    return predictors, X_test.astype(np.float32), graphs


def measure(predict, rows: np.ndarray, big: np.ndarray, calls: int) -> dict:
    one = rows[:1]
    for _ in range(20):
        predict(one)  # warm-up: first-call allocations, thread pools
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predict(one)
        times.append(time.perf_counter() - start)
    times.sort()
    predict(big[:1000])
    best = min(_timed(predict, big) for _ in range(5))
    return {"latency_ms": 1e3 * statistics.median(times),
            "latency_p10_ms": 1e3 * times[len(times) // 10],
            "rows_per_s": len(big) / best}


def _timed(predict, X) -> float:
    start = time.perf_counter()
    predict(X)
    return time.perf_counter() - start


def run(repeats: int, quick: bool) -> dict:
    n_train, epochs = (1000, 2) if quick else (4000, 5)
    predictors, X_test, graphs = build(n_train, epochs)
    rng = np.random.default_rng(0)
    big = X_test[rng.integers(0, len(X_test), THROUGHPUT_ROWS // (10 if quick else 1))]
    calls = LATENCY_CALLS // (10 if quick else 1)
    reference = predictors["sklnn"](X_test[:100])
    agreement = float(np.abs(predictors["ort_sklnn"](X_test[:100]) - reference).max())
    order = list(predictors)
    runs = []
    for repeat in range(repeats):
        rotated = order[repeat % len(order):] + order[:repeat % len(order)]
        record = {"repeat": repeat, "load": os.getloadavg()[0]}
        for name in rotated:
            record[name] = measure(predictors[name], X_test, big, calls)
        runs.append(record)
        print(f"repeat {repeat}: " + ", ".join(
            f"{name} {record[name]['latency_ms']:.3f} ms / {record[name]['rows_per_s']:,.0f} rows/s"
            for name in order), flush=True)
    return {"runs": runs, "graphs": graphs, "rows": len(big), "calls": calls,
            "max_abs_difference": agreement}


def _median(runs, name, key):
    return statistics.median(r[name][key] for r in runs)


def markdown(result: dict) -> str:
    runs = result["runs"]
    lines = [f"| predictor | 1-row latency, median ms [10th pct] | rows/s on {result['rows']:,} "
             "rows | latency / ORT on sklnn's | throughput x ORT on sklnn's |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, label in NAMES.items():
        ratio_latency = statistics.median(r[name]["latency_ms"] / r["ort_sklnn"]["latency_ms"]
                                          for r in runs)
        ratio_rows = statistics.median(r[name]["rows_per_s"] / r["ort_sklnn"]["rows_per_s"]
                                       for r in runs)
        lines.append(f"| {label} | {_median(runs, name, 'latency_ms'):.3f} "
                     f"[{_median(runs, name, 'latency_p10_ms'):.3f}] | "
                     f"{_median(runs, name, 'rows_per_s'):,.0f} | {ratio_latency:.2f} | "
                     f"{ratio_rows:.2f} |")
    latency = _median(runs, "ort_sklnn", "latency_ms")
    faster_all = [r["ort_sklearn"]["latency_ms"] / r["ort_sklnn"]["latency_ms"] for r in runs]
    rows_all = [r["ort_sklnn"]["rows_per_s"] / r["ort_sklearn"]["rows_per_s"] for r in runs]
    faster, rows = statistics.median(faster_all), statistics.median(rows_all)
    lines += ["", f"Targets: onnxruntime on sklnn's export at least as fast as on "
              f"scikit-learn's: latency {faster:.2f}x [{min(faster_all):.2f}-"
              f"{max(faster_all):.2f}], throughput {rows:.2f}x [{min(rows_all):.2f}-"
              f"{max(rows_all):.2f}] ({'met' if faster >= 1 and rows >= 1 else 'not met'} "
              f"in the medians); one-row latency "
              f"{latency:.3f} ms < 0.2 ms ({'met' if latency < 0.2 else 'not met'}). "
              f"Medians of {len(runs)} repeats, ratios paired within each; largest "
              f"difference of the exported probabilities from predict_proba "
              f"{result['max_abs_difference']:.1e}. Graphs: sklnn's "
              f"{' '.join(result['graphs']['ort_sklnn'])}; skl2onnx's "
              f"{' '.join(result['graphs']['ort_sklearn'])}."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer rows and calls")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true",
                        help="write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    from benchmarks import report
    from benchmarks.measure import machine_info

    machine = machine_info("cpu")
    started, load = time.strftime("%Y-%m-%d %H:%M", time.gmtime()), os.getloadavg()[0]
    result = run(args.repeats, args.quick)
    table = markdown(result)
    print(table)
    if args.write:
        report.replace_block(DOC, report.stamp(machine, started, (load, os.getloadavg()[0]))
                             + "\n\n" + table, heading="## Serving an exported model",
                             name="export")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
