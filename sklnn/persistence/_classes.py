"""Classes a model file names (a user's torch module, a loss, an optimiser class): by
import path when saving, imported on loading only when the caller trusts them.

A class is trusted when the ``trusted`` argument of ``sklnn.load`` lists it (the class
itself, or its dotted name ``"package.module.Class"``), or when it is one of PyTorch's
own losses, layers or optimisers (``torch.nn``, ``torch.optim``). The check runs on the
name the file gives, before the class's module is imported, so an untrusted class's code
never runs.
"""

from __future__ import annotations

import importlib

from sklnn.persistence._codec import ClassRef, ModelFileError

#: packages whose classes every load trusts: PyTorch's own layers, losses and optimisers
TRUSTED_PACKAGES = ("torch.nn.", "torch.optim.")


class UntrustedTypesError(ModelFileError):
    """A file names types that are not trusted by default; building them may run their code.

    The message names them; pass ``trusted=[...]`` to ``sklnn.load`` to allow them.
    """


def check_savable(cls, where: str) -> None:
    """Refuse, when saving, a class that a later load could not import by name."""
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        place = ("in the script or notebook being run (__main__)" if cls.__module__ == "__main__"
                 else "inside a function")
        raise TypeError(
            f"{where} is {cls.__qualname__}, defined {place}: a model file names the class "
            "by its import path so that loading can rebuild it. Move it into a module that "
            "can be imported (e.g. mynets.py next to the script) and import it from there.")


def trusted_names(trusted) -> set[str]:
    """The dotted names ``trusted`` lists (classes or strings)."""
    if trusted is None:
        return set()
    if isinstance(trusted, (str, type)) or not isinstance(trusted, (list, tuple, set)):
        raise TypeError(
            f"trusted must be a list of classes or dotted names such as 'mynets.MyNet'; "
            f"got {trusted!r}.")
    names = set()
    for entry in trusted:
        if isinstance(entry, type):
            names.add(f"{entry.__module__}.{entry.__qualname__}")
        elif isinstance(entry, str):
            names.add(entry)
        else:
            raise TypeError(f"trusted lists classes or dotted names; got {entry!r}.")
    return names


def untrusted(params: dict, names: set[str]) -> list[str]:
    """The names of the classes in ``params`` (nested values included) not trusted."""
    found = []

    def visit(value):
        if isinstance(value, ClassRef):
            if value.name not in names and not value.name.startswith(TRUSTED_PACKAGES):
                found.append(value.name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(params)
    return sorted(set(found))


def resolve(value):
    """``value`` with every :class:`ClassRef` imported (the caller checked the trust)."""
    if isinstance(value, ClassRef):
        try:
            obj = importlib.import_module(value.module)
            for part in value.qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ModelFileError(
                f"the file names the class {value.name}, which cannot be imported here "
                f"({type(exc).__name__}: {exc}); install or put on the path the code that "
                "defines it.") from None
        if not isinstance(obj, type):
            raise ModelFileError(f"the file names {value.name}, which is not a class.")
        return obj
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v) for v in value)
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    return value
