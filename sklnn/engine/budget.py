"""How many epochs a fit gets when the user leaves ``max_iter="auto"``.

A fixed number of epochs gives a small training set few optimiser steps (36
sequences, 50 epochs: 1,800 samples seen) and a large one a long fit. The rule
here fixes the number of samples seen instead, within a compute budget:

``epochs = ceil(samples_seen / n_samples)``, kept within ``[min_epochs,
max_epochs]``, then lowered (never below one epoch) until the training FLOPs,
about ``3 * forward_flops_per_sample * n_samples * epochs`` (the backward pass
costs about twice the forward one), fit in ``flop_budget``.

The result depends only on the data's size and the network, never on timings,
so a fit is as reproducible as with an explicit ``max_iter``. Each estimator
that offers ``"auto"`` holds its own :class:`EpochBudget` (its constants are
measured for its network: docs/user_guide.md, "Training budget"), and a
``max_iter`` given by the user always wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the ``max_iter`` value that asks for the rule
AUTO = "auto"


@dataclass(frozen=True)
class EpochBudget:
    """The constants of the rule for one kind of network (see the module docstring)."""

    samples_seen: int
    min_epochs: int
    max_epochs: int
    #: training FLOPs one default fit may spend
    flop_budget: float

    def epochs(self, n_samples: int, forward_flops_per_sample: float) -> int:
        """The number of epochs for ``n_samples`` training samples whose forward pass costs
        ``forward_flops_per_sample`` each."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1; got {n_samples}.")
        wanted = min(max(math.ceil(self.samples_seen / n_samples), self.min_epochs),
                     self.max_epochs)
        per_epoch = 3.0 * max(forward_flops_per_sample, 1.0) * n_samples
        return max(1, min(wanted, int(self.flop_budget // per_epoch)))

    def describe(self) -> str:
        """The rule in words, for the ``max_iter`` parameter's documentation."""
        return (f"``ceil({self.samples_seen:,} / n_samples)`` epochs, at least "
                f"{self.min_epochs} and at most {self.max_epochs}, and fewer (at least one) "
                f"where training would exceed {self.flop_budget:.0e} FLOPs")


def resolve_max_iter(max_iter, budget: EpochBudget | None, n_samples: int,
                     forward_flops_per_sample: float) -> int:
    """``max_iter`` as given, or the budget's epochs when it is ``"auto"``."""
    if max_iter != AUTO:
        return int(max_iter)
    if budget is None:
        raise ValueError('max_iter="auto" needs an EpochBudget; this estimator has none.')
    return budget.epochs(n_samples, forward_flops_per_sample)
