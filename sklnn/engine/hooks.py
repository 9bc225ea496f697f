"""Callback hooks by name, and whether a module has hooks that fast paths would skip."""

from __future__ import annotations

from torch import nn
from torch.nn.modules import module as module_globals

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_grad_computed",
         "on_batch_end", "on_epoch_end", "on_train_end")
_BATCH_HOOKS = ("on_batch_begin", "on_grad_computed", "on_batch_end")


def has_module_hooks(module: nn.Module) -> bool:
    """Whether any forward or backward hook, on ``module``'s layers or global, is set."""
    names = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
             "_global_backward_pre_hooks")
    if any(getattr(module_globals, name, None) for name in names):
        return True
    return any(
        m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
        or getattr(m, "_backward_pre_hooks", None)
        for m in module.modules()
    )


def hook_lists(callbacks) -> dict[str, list]:
    """Bound hooks per name. Duck-typed callbacks may define only some hooks; batch
    hooks are skipped for a callback whose ``wants_batches()`` says False, since
    calling them costs a call per step."""
    lists = {name: [] for name in HOOKS}
    for cb in callbacks:
        wants = getattr(cb, "wants_batches", None)
        batches = wants() if callable(wants) else True
        for name in HOOKS:
            hook = getattr(cb, name, None)
            if hook is not None and (batches or name not in _BATCH_HOOKS):
                lists[name].append(hook)
    return lists
