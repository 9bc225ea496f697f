"""The dataset-shift test: ``python -m benchmarks.shift [--quick] [--no-write]``.

Three questions, each answered for ``sklnn.dataset_shift`` (default classifier: histogram
gradient boosting) and, as the peer in the same run, the classic univariate check: a
two-sample Kolmogorov-Smirnov test per feature with a Bonferroni correction.

1. False alarms: two random halves of one data set (scikit-learn's 8x8 digits, 1,797 x 64,
   and a 2,000 x 100 standard normal sample), 20 seeds each; the target is p > 0.05 in at
   least 19 of 20.
2. Detection: 5 of 100 standard normal features moved by 0.2 standard deviations in the
   new sample (2,000 and 5,000 rows in each sample), 10 seeds; the detection rate at the 5%
   level. Also a shift no per-feature test can see: features 0 and 1 correlated (0.8) in
   the new sample, every marginal unchanged (5,000 rows per sample).
3. Time: 100,000 x 100 rows (50,000 per sample, 5 features moved), and 100,000 rows per
   sample; the target is under a minute on 2 cores.

Writes ``benchmarks/results/shift-<mode>-<timestamp>.json`` and, unless ``--quick`` or
``--no-write``, the ``bench:shift`` block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks import report

RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SHIFT, MOVED, RHO = 0.2, 5, 0.8


def ks_bonferroni(X_ref, X_new) -> float:
    """The peer: the smallest per-feature KS p-value times the number of features."""
    from scipy.stats import ks_2samp

    p = ks_2samp(X_ref, X_new, axis=0).pvalue
    return float(min(1.0, np.min(p) * X_ref.shape[1]))


def _shifted(rng, n_ref, n_new, d=100) -> tuple[np.ndarray, np.ndarray]:
    X_ref = rng.standard_normal((n_ref, d)).astype(np.float32)
    X_new = rng.standard_normal((n_new, d)).astype(np.float32)
    X_new[:, :MOVED] += SHIFT
    return X_ref, X_new


def _both(X_ref, X_new, seed, **kwargs) -> dict:
    from sklnn import dataset_shift

    start = time.perf_counter()
    result = dataset_shift(X_ref, X_new, random_state=seed, **kwargs)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    ks = ks_bonferroni(X_ref, X_new)
    return dict(auc=result.auc, p=result.p_value, fold_p=result.fold_p_values.tolist(),
                seconds=seconds, ks_p=ks,
                ks_seconds=time.perf_counter() - start,
                top=[name for name, _ in result.top_features(MOVED)])


def false_alarms(seeds: int) -> dict:
    from sklearn.datasets import load_digits

    digits = load_digits().data.astype(np.float32)
    normal = np.random.default_rng(12345).standard_normal((2000, 100)).astype(np.float32)
    out = {}
    for name, X in (("digits 1,797 x 64", digits), ("normal 2,000 x 100", normal)):
        runs = []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(X))
            half = len(X) // 2
            runs.append(_both(X[order[:half]], X[order[half:]], seed, max_importance_rows=0))
        out[name] = runs
        print(name, "p > 0.05 in", sum(r["p"] > 0.05 for r in runs), "of", seeds, flush=True)
    return out


def detection(seeds: int, n: int) -> list[dict]:
    runs = [_both(*_shifted(np.random.default_rng(1000 + seed), n, n), seed)
            for seed in range(seeds)]
    print(f"{n:,} rows: detected (p <= 0.05) in {sum(r['p'] <= 0.05 for r in runs)} of {seeds}",
          flush=True)
    return runs


def correlation(seeds: int, n: int) -> list[dict]:
    runs = []
    for seed in range(seeds):
        rng = np.random.default_rng(2000 + seed)
        X_ref, X_new = _shifted(rng, n, n)
        X_new[:, :MOVED] -= SHIFT  # undo the mean shift: only the correlation differs
        X_new[:, 1] = RHO * X_new[:, 0] + np.sqrt(1 - RHO**2) * X_new[:, 1]
        runs.append(_both(X_ref, X_new, seed))
    print(f"correlation detected in {sum(r['p'] <= 0.05 for r in runs)} of {seeds}", flush=True)
    return runs


def timing(sizes) -> list[dict]:
    runs = []
    for n_ref, n_new in sizes:
        X_ref, X_new = _shifted(np.random.default_rng(7), n_ref, n_new)
        load, cpu = os.getloadavg()[0], time.process_time()
        run = _both(X_ref, X_new, 0)
        run.update(n_ref=n_ref, n_new=n_new, load_start=load, load_end=os.getloadavg()[0],
                   cpu_seconds=time.process_time() - cpu)
        runs.append(run)
        print(f"{n_ref:,} + {n_new:,} rows x 100: {run['seconds']:.1f} s (KS "
              f"{run['ks_seconds']:.1f} s), load {load:.1f}", flush=True)
    return runs


def markdown(record: dict) -> str:
    rows = ["| check | sklnn.dataset_shift | KS per feature, Bonferroni | target |",
            "|---|---|---|---|"]
    for name, runs in record["false_alarms"].items():
        ok = sum(r["p"] > 0.05 for r in runs)
        ks = sum(r["ks_p"] > 0.05 for r in runs)
        rows.append(f"| no false alarm, random halves of {name} | p > 0.05 in {ok}/{len(runs)} "
                    f"(AUC {np.mean([r['auc'] for r in runs]):.3f} on average) | "
                    f"{ks}/{len(runs)} | >= 19/20 |")
    for n, runs in record["detection"].items():
        found = sum(r["p"] <= 0.05 for r in runs)
        named = np.mean([len(set(r["top"]) & {f"x{i}" for i in range(MOVED)}) for r in runs])
        rows.append(f"| detects a {SHIFT} sd shift of {MOVED}/100 features, {int(n):,} rows per "
                    f"sample | {found}/{len(runs)} (AUC {np.mean([r['auc'] for r in runs]):.3f};"
                    f" {named:.1f} of the {MOVED} moved features in its top {MOVED}) | "
                    f"{sum(r['ks_p'] <= 0.05 for r in runs)}/{len(runs)} | detected |")
    runs, n = record["correlation"], record["correlation_rows"]
    rows.append(f"| detects a correlation of {RHO} between 2 of 100 features (marginals "
                f"unchanged), {n:,} rows per sample | {sum(r['p'] <= 0.05 for r in runs)}/"
                f"{len(runs)} (AUC {np.mean([r['auc'] for r in runs]):.3f}) | "
                f"{sum(r['ks_p'] <= 0.05 for r in runs)}/{len(runs)} | (no target) |")
    for run in record["timing"]:
        rows.append(f"| time, {run['n_ref']:,} + {run['n_new']:,} rows x 100 (load "
                    f"{run['load_start']:.1f}) | {run['seconds']:.1f} s wall, "
                    f"{run['cpu_seconds']:.1f} CPU s (AUC {run['auc']:.3f}, p {run['p']:.3g}) "
                    f"| {run['ks_seconds']:.1f} s | < 60 s |")
    return (f"_{record['started']} UTC; {record['cpu_count']} cores; load average (1 min) "
            f"{record['load_start']:.1f} at the start, {record['load_end']:.1f} at the end._\n\n"
            + "\n".join(rows) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="the dataset-shift benchmark")
    parser.add_argument("--quick", action="store_true", help="3 seeds, small timing runs")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args(argv)
    started = datetime.now(timezone.utc)
    record = dict(started=started.strftime("%Y-%m-%d %H:%M"), cpu_count=os.cpu_count(),
                  load_start=os.getloadavg()[0], quick=args.quick)
    seeds = 3 if args.quick else 20
    record["false_alarms"] = false_alarms(seeds)
    record["detection"] = {n: detection(3 if args.quick else 10, n)
                           for n in ((500,) if args.quick else (2000, 5000))}
    record["correlation_rows"] = 500 if args.quick else 5000
    record["correlation"] = correlation(3 if args.quick else 10, record["correlation_rows"])
    sizes = [(5_000, 5_000)] if args.quick else [(50_000, 50_000), (100_000, 100_000)]
    record["timing"] = [] if args.skip_timing else timing(sizes)
    record["load_end"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"shift-{'quick' if args.quick else 'full'}-{started:%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {path}")
    table = markdown(record)
    print(table)
    if not (args.quick or args.no_write):
        report.replace_block(DOCS, table, heading="## Dataset shift", name="shift")
    return 0


if __name__ == "__main__":
    sys.exit(main())
