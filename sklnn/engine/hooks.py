"""Callback hooks by name, and whether a module has hooks that fast paths would skip."""

from __future__ import annotations

import inspect

from torch import nn
from torch.nn.modules import module as module_globals

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_grad_computed",
         "on_batch_end", "on_epoch_end", "on_train_end")
BATCH_HOOKS = ("on_batch_begin", "on_grad_computed", "on_batch_end")


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
    """Bound hooks per name, each callable as ``hook(trainer, **keywords)``.

    Duck-typed callbacks may define only some hooks; batch hooks are skipped for a
    callback whose ``wants_batches()`` says False, since calling them costs a call per
    step. A hook without ``**kwargs`` receives only the keywords it names, so a
    callback written against fewer hook arguments keeps working.
    """
    lists = {name: [] for name in HOOKS}
    for cb in callbacks:
        wants = getattr(cb, "wants_batches", None)
        batches = wants() if callable(wants) else True
        for name in HOOKS:
            hook = getattr(cb, name, None)
            if hook is not None and (batches or name not in BATCH_HOOKS):
                lists[name].append(_taking_keywords(hook))
    return lists


def _taking_keywords(hook):
    """``hook`` itself when it takes ``**kwargs``, else a wrapper passing only the
    keywords its signature names."""
    try:
        parameters = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: pass everything
        return hook
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return hook
    named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    def call(trainer, **keywords):
        return hook(trainer, **{k: v for k, v in keywords.items() if k in named})

    return call
