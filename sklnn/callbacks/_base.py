"""The callback protocol: hook names, the do-nothing base class and the checks at fit.

The training loop calls each hook with the trainer as its only positional argument
and the rest as keyword arguments (``on_epoch_end(trainer, record=...)``). A hook that
takes ``**kwargs`` keeps working when a later version passes more; one that does not
gets only the keywords it names (see :func:`sklnn.engine.hooks.hook_lists`).
"""

from __future__ import annotations

import inspect

import torch

from sklnn.engine.hooks import BATCH_HOOKS, HOOKS


class Callback:
    """Base class with do-nothing hooks; override the ones you need.

    Every hook takes the running :class:`~sklnn.engine.Trainer` first and the rest
    as keyword arguments; keep ``**kwargs`` in an override's signature.
    """

    def on_train_begin(self, trainer, **kwargs) -> None:
        """Called before the first epoch of every fit."""

    def on_epoch_begin(self, trainer, *, epoch: int, **kwargs) -> None:
        """Called before each epoch; ``epoch`` counts from 1 across warm starts."""

    def on_batch_begin(self, trainer, *, batch_index: int, **kwargs) -> None:
        """Called before each batch's forward pass."""

    def on_grad_computed(self, trainer, *, batch_index: int, **kwargs) -> None:
        """Called after the batch's gradients (L2 term included) are in each ``.grad``,
        before the optimiser steps: clip, inspect or log them here."""

    def on_batch_end(self, trainer, *, batch_index: int, loss: torch.Tensor, **kwargs) -> None:
        """Called after each optimiser step; ``loss`` stays on the device (no sync)."""

    def on_epoch_end(self, trainer, *, record: dict, **kwargs) -> bool | None:
        """Called after each epoch with its history record; return True to stop."""

    def on_train_end(self, trainer, **kwargs) -> None:
        """Called once training has stopped, after the best weights are restored."""

    def state_dict(self) -> dict:
        """What this callback has learnt during the fit (tensors and plain values), saved
        by :class:`~sklnn.callbacks.Checkpoint` so a resumed fit continues exactly;
        nothing by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s output."""

    def get_params(self, deep=True) -> dict:
        """The constructor's parameters and their values, as scikit-learn's estimators
        give them: ``callbacks__NAME__PARAM`` reaches them through the estimator's
        ``get_params``/``set_params``, so a search can tune them."""
        return {name: getattr(self, name) for name in _init_parameters(type(self))}

    def set_params(self, **params):
        """Set constructor parameters (the next fit uses them); unknown names raise."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for callback {type(self).__name__}; valid "
                    f"parameters are {sorted(valid)}.")
            setattr(self, name, value)
        return self

    def wants_batches(self) -> bool:
        """Whether the per-batch hooks must be called (each costs a call per step); by
        default, when a subclass overrides one of them."""
        return any(getattr(type(self), name) is not getattr(Callback, name)
                   for name in BATCH_HOOKS)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_")
        )
        return f"{type(self).__name__}({fields})"


def _init_parameters(cls) -> list[str]:
    """The named parameters of ``cls.__init__`` (not ``*args``/``**kwargs``)."""
    signature = inspect.signature(cls.__init__)
    return [p.name for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def named_callbacks(callbacks) -> list[tuple[str | None, object]]:
    """``(name, callback)`` for each entry of a ``callbacks`` parameter: a callback, or a
    ``(name, callback)`` pair; the name is None for an unnamed one. Names must be unique
    strings without ``"__"``, which separates them from the callback's parameters."""
    entries, names = [], set()
    for index, entry in enumerate(callbacks or ()):
        if isinstance(entry, tuple):
            if len(entry) != 2 or not isinstance(entry[0], str):
                raise TypeError(
                    f"callbacks[{index}] is {entry!r}; an entry is a callback or a pair "
                    "(name, callback) with a string name, e.g. ('stop', EarlyStopping()).")
            name, cb = entry
            if not name or "__" in name or name in names:
                raise ValueError(
                    f"callbacks[{index}] is named {name!r}; names must be unique, non-empty "
                    "and without '__' (callbacks__NAME__PARAM reaches a named callback's "
                    "parameters).")
            names.add(name)
            entries.append((name, cb))
        else:
            entries.append((None, entry))
    return entries


def callback_params(callbacks) -> dict:
    """``callbacks__NAME`` and ``callbacks__NAME__PARAM`` for the named callbacks (the
    nested parameters of an estimator's ``get_params(deep=True)``)."""
    params = {}
    if not isinstance(callbacks, (list, tuple)):
        return params  # not a list of callbacks: fit reports it
    for entry in callbacks:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
            continue
        name, cb = entry
        params[f"callbacks__{name}"] = cb
        if callable(getattr(cb, "get_params", None)) and not isinstance(cb, type):
            params.update({f"callbacks__{name}__{k}": v for k, v in cb.get_params().items()})
    return params


def set_callback_params(callbacks, params: dict) -> list | tuple:
    """``callbacks`` after ``set_params(callbacks__NAME=..., callbacks__NAME__PARAM=...)``:
    a replaced callback gives a new list; a parameter is set on the callback itself."""
    entries = named_callbacks(callbacks)
    by_name = {name: i for i, (name, _) in enumerate(entries) if name is not None}
    replaced = list(callbacks or ())
    nested: dict[str, dict] = {}
    for key, value in params.items():
        name, _, param = key.removeprefix("callbacks__").partition("__")
        if name not in by_name:
            raise ValueError(
                f"Invalid parameter {key!r}: no callback is named {name!r}; the named "
                f"callbacks are {sorted(by_name)} (name one with callbacks=[(name, "
                "callback), ...]).")
        if param:
            nested.setdefault(name, {})[param] = value
        else:
            replaced[by_name[name]] = (name, value)
    for name, values in nested.items():
        cb = replaced[by_name[name]][1]
        if not callable(getattr(cb, "set_params", None)):
            raise ValueError(f"callback {name!r} ({type(cb).__name__}) has no set_params; "
                             "subclass sklnn.callbacks.Callback to tune its parameters.")
        cb.set_params(**values)
    if any(key.count("__") == 1 for key in params):
        return type(callbacks)(replaced) if isinstance(callbacks, tuple) else replaced
    return callbacks


def check_callbacks(callbacks) -> list:
    """The callbacks as a list, each an instance with at least one hook, or a TypeError
    that says what a callback must provide. Entries may be ``(name, callback)`` pairs."""
    checked = []
    for index, (_, cb) in enumerate(named_callbacks(callbacks)):
        if isinstance(cb, type):
            raise TypeError(
                f"callbacks[{index}] is the class {cb.__name__}, not an instance; pass "
                f"{cb.__name__}(...) instead."
            )
        if not any(callable(getattr(cb, name, None)) for name in HOOKS):
            raise TypeError(
                f"callbacks[{index}] ({cb!r}) has none of the hooks a callback provides "
                f"({', '.join(HOOKS)}); subclass sklnn.callbacks.Callback and override the "
                "hooks you need."
            )
        checked.append(cb)
    return checked


def monitored(record: dict, monitor: str, owner: str) -> float:
    """The value ``owner`` monitors in an epoch record, or a ValueError saying why not."""
    if monitor not in record:
        raise ValueError(f"{owner}: monitor={monitor!r} is not one of {sorted(record)}.")
    value = record[monitor]
    if value is None:
        raise ValueError(
            f"{owner} monitors {monitor!r} but this fit has no validation set; pass "
            "validation_data=(X_val, y_val) to fit, set early_stopping=True, or monitor "
            "'train_loss'."
        )
    return value


#: the keys every epoch record has (sklnn.engine.Trainer._record)
RECORD_KEYS = ("epoch", "train_loss", "valid_loss", "valid_score", "lr", "duration")


def check_monitor(trainer, monitor, owner: str) -> bool:
    """At fit start: True when ``monitor`` is a key the epoch records will have, a
    ValueError (with the closest names) when it cannot be, and False when only the first
    record can tell (a user's callback with its own ``on_epoch_end`` may add keys; one
    with a ``record_keys()`` method says which)."""
    import difflib

    if not isinstance(monitor, str):
        raise TypeError(f"{owner}: monitor must be a str naming a key of the epoch record; "
                        f"got {monitor!r}.")
    keys = set(RECORD_KEYS)
    unknown_writers = False
    for cb in trainer.callbacks:
        names = getattr(cb, "record_keys", None)
        if callable(names):
            keys.update(names())
        elif not type(cb).__module__.startswith("sklnn.") and getattr(
                type(cb), "on_epoch_end", None) not in (None, Callback.on_epoch_end):
            unknown_writers = True  # a user's on_epoch_end may add keys to the record
    if monitor in keys:
        return True
    if unknown_writers:
        return False
    close = difflib.get_close_matches(monitor, sorted(keys), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"{owner}: monitor={monitor!r} is not a key of the epoch record, which "
                     f"holds {sorted(keys)}.{hint} An EpochScoring callback adds its "
                     "scorer's key.")


def lower_is_better(monitor: str) -> bool:
    """Losses are minimised; scores (scikit-learn's scorers, "neg_..." included) maximised."""
    return monitor.endswith("loss") and not monitor.startswith("neg_")
