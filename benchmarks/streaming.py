"""``python -m benchmarks.streaming [--quick]``: training from memory against streaming.

One epoch of the MNIST MLP (784-300-100-10, Adam, batch 200) on the same rows
held in memory, streamed from a read-only numpy memmap with ``num_workers=0``,
and with ``num_workers=2`` (persistent workers). Each run is a fresh
interpreter. Reported: wall time of the epoch, rows per second, the fitting
process's peak growth of anonymous memory during the epoch (read from
``/proc/self/smaps_rollup`` after every batch, after a warm-up fit that spends
the libraries' one-time buffers) and the size of X. The table goes to
``docs/scaling.md`` between the ``streaming`` markers and the record to
``benchmarks/results/streaming-<mode>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "scaling.md"
CONFIGS = ("in memory", "memmap, num_workers=0", "memmap, num_workers=2")


def _anonymous_bytes() -> int:
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    return 0


def _write_data(path: Path, n_rows: int) -> None:
    """MNIST training digits repeated (with a little noise) to ``n_rows`` rows on disk."""
    import numpy as np

    from sklnn.datasets import mnist_train_test_split

    X, _, y, _ = mnist_train_test_split(flatten=True, n_train=8000)  # scaled to [0, 1]
    X = np.asarray(X, dtype=np.float32)
    writer = np.lib.format.open_memmap(path / "X.npy", mode="w+", dtype=np.float32,
                                       shape=(n_rows, X.shape[1]))
    rng = np.random.default_rng(0)
    for start in range(0, n_rows, len(X)):
        stop = min(start + len(X), n_rows)
        noise = rng.normal(0.0, 0.02, (stop - start, X.shape[1])).astype(np.float32)
        writer[start:stop] = X[: stop - start] + noise
    writer.flush()
    np.save(path / "y.npy", np.resize(np.asarray(y), n_rows))


def _run_config(config: str, path: Path) -> dict:
    import numpy as np

    from sklnn import MLPClassifierGPU
    from sklnn.callbacks import Callback

    class Peak(Callback):
        peak = 0

        def on_batch_end(self, trainer, *, batch_index, loss, **kwargs):
            Peak.peak = max(Peak.peak, _anonymous_bytes())

    X = np.load(path / "X.npy", mmap_mode="r")
    y = np.load(path / "y.npy")
    if config == "in memory":
        X = np.array(X)
    workers = dict(num_workers=2, persistent_workers=True) if "=2" in config else {}
    settings = dict(hidden_layer_sizes=(300, 100), batch_size=200, max_iter=1, random_state=0)
    MLPClassifierGPU(**settings).fit(np.array(X[:1000]), y[:1000])  # one-time buffers
    clf = MLPClassifierGPU(**settings, **workers, callbacks=[Peak()])
    baseline = _anonymous_bytes()
    began = time.perf_counter()
    clf.fit(X, y)
    wall = time.perf_counter() - began
    return dict(config=config, wall_s=wall, rows_per_s=len(y) / wall,
                peak_anonymous_growth_mb=(Peak.peak - baseline) / 2**20,
                x_mb=X.nbytes / 2**20, loss=float(clf.loss_), load=os.getloadavg()[0])


def run(quick: bool) -> dict:
    n_rows = 60_000 if quick else 300_000
    record = dict(name="streaming", n_rows=n_rows, cores=len(os.sched_getaffinity(0)),
                  started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
                  load_start=os.getloadavg()[0], runs=[])
    with tempfile.TemporaryDirectory() as tmp:
        _write_data(Path(tmp), n_rows)
        for config in CONFIGS:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.streaming", "--config", config,
                 "--data", tmp], capture_output=True, text=True, cwd=ROOT,
                env=dict(os.environ, PYTHONWARNINGS="ignore"))
            result = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                      else {"config": config, "error": done.stderr[-2000:]})
            record["runs"].append(result)
            print(json.dumps(result), flush=True)
    record["load_end"] = os.getloadavg()[0]
    return record


def markdown(record: dict) -> str:
    runs = [r for r in record["runs"] if "error" not in r]
    base = next((r["wall_s"] for r in runs if r["config"] == "in memory"), None)
    rows = ["| X | epoch s | rows/s | x in memory | peak anonymous growth MB | X MB | load |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        ratio = f"{r['wall_s'] / base:.2f}" if base else "-"
        rows.append(f"| {r['config']} | {r['wall_s']:.1f} | {r['rows_per_s']:,.0f} | {ratio} | "
                    f"{r['peak_anonymous_growth_mb']:.0f} | {r['x_mb']:.0f} | {r['load']:.1f} |")
    return (f"`python -m benchmarks.streaming` ({record['started']} UTC): one epoch of the "
            f"MNIST MLP 784-300-100-10 over {record['n_rows']:,} rows, batch 200; "
            f"{record['cores']} cores, load average {record['load_start']:.1f} at the start and "
            f"{record['load_end']:.1f} at the end.\n\n" + "\n".join(rows) + "\n")


def publish(table: str) -> None:
    start, end = "<!-- streaming:start -->", "<!-- streaming:end -->"
    text = DOC.read_text()
    if start not in text:
        return
    head, rest = text.split(start, 1)
    DOC.write_text(head + start + "\n" + table + end + rest.split(end, 1)[1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60,000 rows instead of 300,000")
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.config:
        print(json.dumps(_run_config(args.config, Path(args.data))))
        return 0
    record = run(args.quick)
    table = markdown(record)
    print(table)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"streaming-{'quick' if args.quick else 'full'}-{stamp}.json"
    path.write_text(json.dumps(record, indent=1))
    if not args.quick:
        publish(table)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
