"""Where does a second intra-op thread start to pay? ``python -m benchmarks.threads_crossover``.

Times training steps (forward, backward, fused Adam) and inference forwards of
MLPs of growing width at one thread and at the machine's default, interleaved,
and prints the ratio against the work per step in FLOPs. The engine's
``SINGLE_THREAD_FLOPS`` (sklnn/engine/threads.py) is set from this on the
project's 2-core machine, under the load other users put on it.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from sklnn.engine.threads import thread_budget
from sklnn.modules.mlp import MLP

# (inputs, hidden widths, batch rows): step FLOPs from about 1e5 to 1e10
CASES = [
    (2, (16,), 64), (2, (100,), 128), (20, (64,), 128), (20, (128, 64), 256),
    (100, (256,), 256), (100, (512, 256), 256), (784, (300, 100), 128),
    (100, (512, 256), 2048), (784, (300, 100), 2048), (2, (100,), 8192), (784, (300, 100), 8192),
]


def _flops(module, rows: int, backward: bool) -> float:
    return (3 if backward else 1) * rows * 2.0 * sum(p.numel() for p in module.parameters())


def _time_steps(module, X, y, n_steps: int, train: bool) -> float:
    if train:
        optimizer = torch.optim.Adam(module.parameters(), fused=True)
        started = time.perf_counter()
        for _ in range(n_steps):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(module(X), y).backward()
            optimizer.step()
    else:
        with torch.inference_mode():
            started = time.perf_counter()
            for _ in range(n_steps):
                module(X)
    return (time.perf_counter() - started) / n_steps


def main(repeats: int = 5, budget_s: float = 0.15) -> None:
    default = torch.get_num_threads()
    print(f"default threads {default}, load {os.getloadavg()}")
    print(f"{'kind':<7}{'case':<28}{'FLOPs/step':>12}{'1 thread us':>13}"
          f"{f'{default} threads us':>14}{'ratio':>8}")
    for train in (True, False):
        for n_in, hidden, rows in CASES:
            module = MLP(n_in, hidden, 10)
            X, y = torch.randn(rows, n_in), torch.randint(0, 10, (rows,))
            probe = _time_steps(module, X, y, 3, train)
            n_steps = max(3, int(budget_s / max(probe, 1e-6)))
            times = {1: [], default: []}
            for _ in range(repeats):
                for threads in times:
                    with thread_budget(threads):
                        times[threads].append(_time_steps(module, X, y, n_steps, train))
            one, many = statistics.median(times[1]), statistics.median(times[default])
            case = f"{n_in}-{'-'.join(map(str, hidden))}-10 x{rows}"
            print(f"{'train' if train else 'predict':<7}{case:<28}"
                  f"{_flops(module, rows, train):12.2e}{one * 1e6:13.0f}{many * 1e6:14.0f}"
                  f"{many / one:8.2f}", flush=True)
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
