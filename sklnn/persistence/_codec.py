"""Plain values to JSON and back, with limits a hostile file cannot get around.

Floats are stored as ``{"__float__": repr}`` (JSON has no inf or nan), numpy arrays as
``{"__ndarray__": items, "dtype": str}``, tuples and dicts with non-string keys under
their own tags, and classes (a user's torch module, a loss, an optimiser) by name as
``{"__class__": [module, qualname]}``. Decoding accepts exactly these shapes and nothing
else, and turns a class name into a :class:`ClassRef`: it imports nothing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import torch

MAX_DEPTH = 16
MAX_INT_DIGITS = 20  # int64 and uint64 fit; longer literals are refused before int() runs
MAX_STRING = 1 << 16
_SCALAR_KINDS = "biuf"
_MAX_UNICODE_CHARS = 1024  # per element of a "<U..." array: labels and feature names


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True)
class ClassRef:
    """A class named by a model file, not imported: the loader imports it only when the
    caller trusts it (see :func:`sklnn.persistence._classes.resolve`)."""

    module: str
    qualname: str

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"


class ModelFileError(ValueError):
    """The file is not a model sklnn can load: corrupt, hostile, too large or too new.

    The message names what was wrong. Subclasses ValueError, so code that caught the
    ValueError of older versions keeps working.
    """


# ------------------------------------------------------------------ encoding
def encode(value, where: str):
    """``value`` as JSON-ready plain data; TypeError for what cannot be stored safely."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"__float__": repr(float(value))}  # keeps inf and nan exact
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            items = [encode(v, where) for v in value.ravel().tolist()]
            return {"__ndarray__": items, "dtype": "object", "shape": list(value.shape)}
        if value.dtype.kind not in _SCALAR_KINDS + "U":
            raise TypeError(
                f"{where} has dtype {value.dtype}, which cannot be saved without pickle; use "
                "labels of type int, float, bool or str, or pickle the estimator instead."
            )
        return {"__ndarray__": encode(value.tolist(), where), "dtype": value.dtype.str}
    if isinstance(value, (list, tuple)):
        items = [encode(v, where) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return {"__dict_items__": [[encode(k, where), encode(v, where)]
                                       for k, v in value.items()]}
        return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, type):
        return {"__class__": [value.__module__, value.__qualname__]}
    raise TypeError(
        f"{where} is a {type(value).__name__}, which save() cannot store safely; pickle the "
        "estimator instead (and load such files only from sources you trust)."
    )


# ------------------------------------------------------------------ parsing
def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ModelFileError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _refuse_constant(name: str):
    raise ModelFileError(f"the JSON constant {name} (floats are written as strings)")


def parse_json(data: bytes, name: str):
    """Parse UTF-8 JSON with bounded integers and nesting; ModelFileError otherwise."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
    except ModelFileError as exc:
        raise ModelFileError(f"{name} holds {exc}.") from None
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{name} is not UTF-8 text ({exc}).") from None
    except RecursionError:
        raise ModelFileError(f"{name} is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # json.JSONDecodeError
        raise ModelFileError(f"{name} is not valid JSON ({exc}).") from None
    _check_depth(value, name)
    return value


def _check_depth(value, name: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and overlong strings, without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if len(item) > MAX_STRING:
                raise ModelFileError(f"{name} holds a string of {len(item)} characters "
                                     f"(at most {MAX_STRING}).")
            continue
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
        if children and depth >= MAX_DEPTH:
            raise ModelFileError(f"{name} is nested deeper than {MAX_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in children)


# ------------------------------------------------------------------ decoding
def _fail(where: str, what: str):
    raise ModelFileError(f"{where}: {what}")


def _tag(value: dict, where: str, keys: set[str]) -> None:
    if set(value) != keys:
        _fail(where, f"a tagged value must have exactly the keys {sorted(keys)}; got "
                     f"{sorted(value)[:8]}")


def _array_dtype(text, where: str) -> np.dtype:
    if not isinstance(text, str) or len(text) > 16:
        _fail(where, f"array dtype {text!r} is not a dtype name")
    try:
        dtype = np.dtype(text)
    except TypeError:
        _fail(where, f"array dtype {text!r} is not a dtype name")
    if dtype.kind in _SCALAR_KINDS and dtype.itemsize <= 8:
        return dtype
    if dtype.kind == "U" and 0 < dtype.itemsize // 4 <= _MAX_UNICODE_CHARS:
        return dtype
    _fail(where, f"array dtype {text!r} is not allowed (bool, int, float of up to 64 bits or "
                 f"str of up to {_MAX_UNICODE_CHARS} characters)")


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def decode(value, where: str):
    """Inverse of :func:`encode`; ModelFileError for anything encode cannot have written."""
    if isinstance(value, list):
        return [decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        _tag(value, where, {"__float__"})
        text = value["__float__"]
        if not isinstance(text, str) or len(text) > 32:
            _fail(where, f"{text!r} is not a float")
        try:
            return float(text)
        except ValueError:
            _fail(where, f"{text!r} is not a float")
    if "__ndarray__" in value:
        return _decode_array(value, where)
    if "__tuple__" in value:
        _tag(value, where, {"__tuple__"})
        if not isinstance(value["__tuple__"], list):
            _fail(where, "a tuple must hold a list")
        return tuple(decode(value["__tuple__"], where))
    if "__class__" in value:
        _tag(value, where, {"__class__"})
        parts = value["__class__"]
        if not (isinstance(parts, list) and len(parts) == 2 and all(
                isinstance(p, str) and len(p) <= 256 and _DOTTED.fullmatch(p) for p in parts)):
            _fail(where, "a class is named by [module, qualname], dotted Python names")
        return ClassRef(*parts)
    if "__dict_items__" in value:
        _tag(value, where, {"__dict_items__"})
        pairs = value["__dict_items__"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and _is_scalar(decode(p[0], where)) for p in pairs
        ):
            _fail(where, "a dict's items must be [key, value] pairs with plain keys")
        result = {decode(k, where): decode(v, f"{where}[{k!r}]") for k, v in pairs}
        if len(result) != len(pairs):
            _fail(where, "a dict has a key twice")
        return result
    return {k: decode(v, f"{where}[{k!r}]") for k, v in value.items()}


def _decode_array(value: dict, where: str) -> np.ndarray:
    items = value["__ndarray__"]
    if not isinstance(items, list):
        _fail(where, "an array must hold a list")
    if value.get("dtype") == "object":
        _tag(value, where, {"__ndarray__", "dtype", "shape"})
        shape = value["shape"]
        if not (isinstance(shape, list) and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ) and math.prod(shape) == len(items)):
            _fail(where, f"object array shape {shape!r} does not fit its {len(items)} items")
        decoded = [decode(v, where) for v in items]
        if not all(_is_scalar(v) for v in decoded):
            _fail(where, "an object array may hold only str, int, float, bool or None")
        array = np.empty(len(decoded), dtype=object)
        array[:] = decoded
        return array.reshape(shape)
    _tag(value, where, {"__ndarray__", "dtype"})
    dtype = _array_dtype(value["dtype"], where)
    try:
        array = np.array(decode(items, where), dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        _fail(where, f"the items do not form a {dtype} array ({exc})")
    if array.dtype == object:
        _fail(where, "the items do not form a regular array")
    return array
