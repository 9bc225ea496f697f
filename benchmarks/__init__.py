"""Side-by-side benchmarks of sklnn, scikit-learn, skorch and a hand-written PyTorch loop.

Run ``python -m benchmarks.run`` (full) or ``python -m benchmarks.run --quick``.
Workloads live in :mod:`benchmarks.workloads`; add new ones to ``WORKLOAD_FACTORIES``.
"""
