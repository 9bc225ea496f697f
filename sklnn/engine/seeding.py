"""Seeding torch's global generator for one fit without leaking the change."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def seeded_torch_rng(seed: int, device: torch.device):
    """Seed torch's global RNG (dropout draws from it) without leaking the change."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            torch.cuda.manual_seed(seed)
        yield
