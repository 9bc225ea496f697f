"""predict writes each batch into one preallocated output: peak memory is O(batch) plus
the output, measured in a child process (its peak RSS is its own)."""

import json
import subprocess
import sys
import textwrap

import pytest

# Before the output was preallocated, predict_proba on 2M x 8 rows with 256 hidden units
# raised this child's peak RSS by 1.9 GB (the issue measured 3.9 GB): per-batch outputs
# kept in a list fragmented the heap. Now it is ~30 MB (docs/benchmarks.md). The bound
# leaves room for the allocator's arenas and thread pools on any machine, and is still
# far below the fragmented case.
ROWS = 2_000_000
MAX_GROWTH_MB = 300

CHILD = textwrap.dedent("""
    import gc, json, resource, sys
    import numpy as np
    from sklnn import MLPClassifierGPU

    def rss_kib(field):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])

    rng = np.random.default_rng(0)
    X_train = rng.standard_normal((500, 8), dtype=np.float32)
    model = MLPClassifierGPU(hidden_layer_sizes=(256,), max_iter=1, device="cpu",
                             random_state=0).fit(X_train, X_train[:, 0] > 0)
    X = rng.standard_normal((int(sys.argv[1]), 8), dtype=np.float32)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
    before = rss_kib("VmRSS")
    proba = model.predict_proba(X)
    print(json.dumps({"growth_mb": (rss_kib("VmHWM") - before) / 1024,
                      "output_mb": proba.nbytes / 2**20, "shape": list(proba.shape),
                      "rows_sum_to_one": bool(np.allclose(proba.sum(axis=1), 1.0))}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="reads and resets the peak-RSS mark in /proc/self (Linux only)")
def test_predict_peak_memory_is_the_output_plus_a_few_batches():
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", CHILD, str(ROWS)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["shape"] == [ROWS, 2] and report["rows_sum_to_one"]
    assert report["growth_mb"] < report["output_mb"] + MAX_GROWTH_MB, report
