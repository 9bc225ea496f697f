"""Peak memory of a large ``predict_proba``: ``python -m benchmarks.run --predict-memory``.

An MLP with 256 hidden units on 8 float32 features predicts 1M and 2M rows. Each size
runs in its own forked child (``measure.run_in_child``), which fits the model on 2,000
rows, builds X, resets the kernel's peak-RSS mark and reports how far peak RSS rose
above its RSS before ``predict_proba`` (VmHWM - VmRSS), next to the size of the output
itself. Prediction in batches should need O(batch) memory plus the output.
"""

from __future__ import annotations

import functools
import gc

from benchmarks.measure import MIB, _reset_peak_rss, _status_kib, run_in_child

ROWS = (1_000_000, 2_000_000)
FEATURES = 8
HIDDEN = 256


def _measure(n_rows: int) -> dict:
    import numpy as np

    from sklnn import MLPClassifierGPU

    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((2000, FEATURES), dtype=np.float32)
    y_train = (X_train[:, 0] > 0).astype(int)
    model = MLPClassifierGPU(hidden_layer_sizes=(HIDDEN,), max_iter=1, device="cpu",
                             random_state=0).fit(X_train, y_train)
    X = rng.standard_normal((n_rows, FEATURES), dtype=np.float32)
    gc.collect()
    resettable = _reset_peak_rss()
    before = _status_kib("VmRSS")
    proba = model.predict_proba(X)
    peak = _status_kib("VmHWM")
    return {
        "rows": n_rows,
        "batch_rows": model._predict_batch_rows(),
        "output_mb": proba.nbytes / MIB,
        "peak_growth_mb": (peak - before) / 1024 if resettable and peak and before else None,
    }


def run(rows=ROWS) -> list[dict]:
    results = []
    for n_rows in rows:
        result = run_in_child(functools.partial(_measure, n_rows))
        result.setdefault("rows", n_rows)
        results.append(result)
        growth = result.get("peak_growth_mb")
        print(f"predict_proba {n_rows:>9,} x {FEATURES}, MLP {HIDDEN} units: peak RSS "
              f"+{growth:,.0f} MB (output {result.get('output_mb', 0):,.0f} MB)"
              if growth is not None else f"{n_rows:,} rows: {result}", flush=True)
    return results


def markdown(results: list[dict]) -> str:
    lines = ["| rows x features | output | peak RSS growth of predict_proba |",
             "| --- | ---: | ---: |"]
    for r in results:
        growth = r.get("peak_growth_mb")
        lines.append(f"| {r['rows']:,} x {FEATURES} | {r.get('output_mb', 0):,.0f} MB | "
                     f"{'n/a' if growth is None else f'{growth:,.0f} MB'} |")
    return "\n".join(lines)
