"""Training throughput of the lecture CNN and ResNet-20 on a GPU, and the share of its peak.

``python -m benchmarks.gpu_throughput [--peak-tflops-fp32 X] [--peak-tflops-bf16 Y]``

Fits each estimator for a few epochs on random 28x28 images already on the device, times
the epochs after the first (warm-up, cuDNN autotuning), and converts samples/s into achieved
TFLOP/s with the network's forward FLOPs counted layer by layer (x3 for forward + backward).
The peaks default to an H100 SXM's dense figures (67 TFLOP/s FP32 without TF32, 989 TFLOP/s
BF16 tensor cores); pass your card's numbers for another GPU. CPU machines print a note.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from sklnn import CNNImageClassifier, ResNetClassifier
from sklnn.callbacks import Callback


def forward_flops(module: torch.nn.Module, sample_shape) -> float:
    """Multiply-adds x 2 of the convolutions and linear layers for one sample."""
    total = 0.0
    hooks = []

    def count(layer, inputs, output):
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            per_output = layer.in_channels // layer.groups * np.prod(layer.kernel_size)
            total += 2.0 * per_output * output[0].numel()
        elif isinstance(layer, torch.nn.Linear):
            total += 2.0 * layer.in_features * layer.out_features

    for layer in module.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            hooks.append(layer.register_forward_hook(count))
    device = next(module.parameters()).device
    with torch.no_grad():
        module.eval()(torch.zeros((1, *sample_shape), device=device))
    for hook in hooks:
        hook.remove()
    return total


class EpochTimer(Callback):
    def on_train_begin(self, trainer, **kwargs):
        self.durations_ = []

    def on_epoch_begin(self, trainer, *, epoch, **kwargs):
        torch.cuda.synchronize()
        self._start = time.perf_counter()

    def on_epoch_end(self, trainer, *, record, **kwargs):
        torch.cuda.synchronize()
        self.durations_.append(time.perf_counter() - self._start)


def measure(name, estimator, X, y, peak):
    timer = EpochTimer()
    estimator.set_params(callbacks=[timer], max_iter=4, n_iter_no_change=100, tol=0.0)
    estimator.fit(X, y)
    seconds = float(np.median(timer.durations_[1:]))
    rate = len(X) / seconds
    flops = 3 * forward_flops(estimator.module_, (int(np.prod(X.shape[1:])),))
    achieved = rate * flops / 1e12
    return {"model": name, "precision": estimator.precision, "samples_per_s": round(rate),
            "tflops": round(achieved, 2), "share_of_peak": round(achieved / peak, 4),
            "gflops_per_sample": round(flops / 1e9, 4), "batch_size": estimator.batch_size}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peak-tflops-fp32", type=float, default=67.0)
    parser.add_argument("--peak-tflops-bf16", type=float, default=989.0)
    parser.add_argument("--n-samples", type=int, default=20_000)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("No CUDA device: this benchmark measures GPU throughput only.")
        return
    rng = np.random.RandomState(0)
    X = torch.from_numpy(rng.rand(args.n_samples, 1, 28, 28).astype(np.float32)).cuda()
    y = rng.randint(0, 10, args.n_samples)
    rows = []
    peaks = (("float32", args.peak_tflops_fp32), ("bfloat16", args.peak_tflops_bf16))
    for precision, peak in peaks:
        for name, make in (
            # the lecture's training (no dropout, shifts or schedule), as the table measured it
            ("lecture CNN", lambda p: CNNImageClassifier(batch_size=256, precision=p,
                                                         dropout=0.0, shift_range=0,
                                                         learning_rate="constant",
                                                         random_state=0)),
            ("ResNet-20", lambda p: ResNetClassifier(depth=20, batch_size=256, precision=p,
                                                     random_state=0)),
        ):
            row = measure(name, make(precision), X, y, peak)
            rows.append(row)
            print(json.dumps(row))
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
