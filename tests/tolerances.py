"""Tolerances for comparing two computations that should agree, and why each is what it is.

Two runs of the same network differ in the last bits whenever the reduction order differs:
another batch size (prediction batches, a one-row vs a 100-row forecast), another thread
count (sklnn picks one or two threads from the machine's load) or another kernel (the
channels-last inference copy, cuDNN). Each such difference is a few units in the last
place of the outputs, so every comparison carries an absolute tolerance as well as a
relative one: a value near zero has no meaningful relative error.
"""

# float64 outputs of order 1 (probabilities, scaled regression targets): reduction-order
# noise is ~1e-16 per operation; a few hundred operations deep stays far below 1e-12.
F64_OUTPUT = dict(rtol=1e-10, atol=1e-12)

# float32 outputs of order 1: machine epsilon is 1.2e-7, and a forward pass accumulates a
# few of those through each layer's sums, so 1e-6 absolute and relative.
F32_OUTPUT = dict(rtol=1e-5, atol=1e-6)

# float32 recursive forecasts: every forecast step feeds the previous step's output back
# in, so step k carries k steps' worth of rounding (12 steps of a 2-layer RNN).
F32_RECURSIVE = dict(rtol=1e-5, atol=1e-5)
