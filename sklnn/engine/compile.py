"""``torch.compile`` for training, trusted only once it matches eager mode on a batch."""

from __future__ import annotations

import copy

import torch
from torch import nn

from sklnn._warnings import warn_user


def compile_module(module: nn.Module):
    """``torch.compile(module)``, or None (with a warning) when the compiler is unavailable."""
    try:
        return torch.compile(module)
    except Exception as exc:  # noqa: BLE001 - any compiler failure means eager mode
        warn_user(f"torch.compile is unavailable ({exc}); training in eager mode.",
                      RuntimeWarning)
        return None


def gradients_match(get_loss, eager: nn.Module, compiled, X, y, w, generator=None,
                    rtol=1e-3) -> bool:
    """Compare compiled and eager gradients of ``get_loss`` on one batch (both passes see
    the same random draws, from the global RNG and from the fit's ``generator``)."""
    rng_state = torch.get_rng_state()
    fit_state = None if generator is None else generator.get_state()

    def grads(forward):
        torch.set_rng_state(rng_state)
        if generator is not None:
            generator.set_state(fit_state)
        eager.zero_grad(set_to_none=True)
        loss, _ = get_loss(forward(X), y, w)
        loss.backward()
        return [
            torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
            for p in eager.parameters()
        ]

    saved = copy.deepcopy(eager.state_dict())  # batch norm statistics move in train mode
    try:
        reference = grads(eager)
        candidate = grads(compiled)
    except Exception as exc:  # noqa: BLE001 - a compiler failure means eager mode
        warn_user(f"torch.compile failed ({exc}); training in eager mode.", RuntimeWarning)
        return False
    finally:
        eager.load_state_dict(saved)
        eager.zero_grad(set_to_none=True)
        if generator is not None:
            generator.set_state(fit_state)
    for a, b in zip(reference, candidate):
        scale = a.abs().max().clamp_min(1e-12)
        if not torch.allclose(a, b, rtol=rtol, atol=rtol * scale.item()):
            return False
    return True


def checked_compiled_forward(trainer, batches):
    """The trainer's compiled forward (``trainer.compile_module``), or None when the
    compiler is unavailable or its gradients differ from eager mode on the first batch."""
    X, y, w = next(iter(batches.epoch(None)))
    compiled = trainer.compile_module(trainer.module)
    if compiled is None:
        return None
    if gradients_match(trainer.get_loss, trainer.module, compiled, X, y, w, trainer.generator):
        return compiled
    warn_user(
        "torch.compile produced gradients that differ from eager mode on the first "
        "batch; training continues without compilation.",
        RuntimeWarning)
    return None
