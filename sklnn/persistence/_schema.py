"""Strict validation of a model file's ``metadata.json``.

Every key, type and range is checked before anything is built from it; anything else is
a :class:`ModelFileError` naming the key. ``bool`` is never accepted where an ``int`` is
expected (JSON ``true`` is not a format version).
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from sklnn.engine.state import ProgressState
from sklnn.persistence._codec import ModelFileError, decode
from sklnn.persistence._registry import (
    OPTIONAL_ATTRIBUTES,
    PARAMS_BEFORE_THEY_EXISTED,
    saveable_class,
    saved_attributes,
)

FORMAT_VERSION = 1
OLDEST_FORMAT = 1
LABEL_TYPES = ("binary", "multiclass", "multilabel-indicator")
COMPUTE_DTYPES = ("float32", "float64")
DEVICE_TYPES = ("cpu", "cuda", "mps")
MAX_INT = 2**62
_TOP_LEVEL = {"format_version", "sklnn_version", "torch_version", "estimator", "params",
              "fitted", "label_type", "progress", "compute_dtype", "trained_on",
              "weights_sha256"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OUTPUT_KINDS = [("classes", o) for o in ("logits", "probabilities", "log_probabilities")] + [
    ("labels", "logits"), ("labels", "probabilities"), ("values", "values")]
# a version string echoed in an error: printable, no terminal escapes
_VERSION = re.compile(r"[0-9A-Za-z.+!_-]{1,40}")
_DEVICE = re.compile(r"(cpu|cuda|mps)(:[0-9]{1,3})?")


def _fail(where: str, what: str):
    raise ModelFileError(f"metadata {where}: {what}")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value, where, low=0, high=MAX_INT) -> int:
    if not is_int(value) or not low <= value <= high:
        _fail(where, f"expected an int in [{low}, {high}], got {_show(value)}")
    return value


def _float(value, where, none=True):
    if value is None and none:
        return None
    if is_int(value):
        return float(value)
    if not isinstance(value, float):
        _fail(where, f"expected a float{' or None' if none else ''}, got {_show(value)}")
    return value


def _floats(value, where, none=False):
    if value is None and none:
        return None
    if not isinstance(value, list):
        _fail(where, f"expected a list of floats, got {_show(value)}")
    return [_float(v, f"{where}[{i}]", none=False) for i, v in enumerate(value)]


def _str(value, where, choices=None, longest=256) -> str:
    if not isinstance(value, str) or len(value) > longest or (
        choices is not None and value not in choices
    ):
        allowed = f"one of {list(choices)}" if choices else f"a string of <= {longest} chars"
        _fail(where, f"expected {allowed}, got {_show(value)}")
    return value


def _show(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _history(value, where):
    if not isinstance(value, list):
        _fail(where, f"expected a list of records, got {_show(value)}")
    for i, record in enumerate(value):
        if not isinstance(record, dict) or not all(
            isinstance(k, str) and len(k) <= 64 and (
                v is None or isinstance(v, (bool, int, float)) or (
                    isinstance(v, str) and len(v) <= 1024))
            for k, v in record.items()
        ):
            _fail(f"{where}[{i}]", "a history record maps names to numbers, strings or None")
    return value


def _shape(value, where, length) -> tuple[int, ...]:
    if not (isinstance(value, (tuple, list)) and len(value) == length):
        _fail(where, f"expected {length} ints, got {_show(value)}")
    return tuple(_int(v, where, 1, 2**31) for v in value)


def _array(value, where, kinds, ndim=1) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != ndim or value.dtype.kind not in kinds:
        _fail(where, f"expected a {ndim}-D array of kind {kinds!r}, got {_show(value)}")
    return value


_FITTED = {
    "n_features_in_": lambda v, w: _int(v, w, 1, 2**40),
    "n_iter_": _int,
    "t_": _int,
    "loss_": _float,
    "loss_curve_": _floats,
    "history_": _history,
    "validation_scores_": lambda v, w: _floats(v, w, none=True),
    "best_validation_score_": _float,
    "best_loss_": _float,
    "n_outputs_": lambda v, w: _int(v, w, 1, 2**31),
    "n_layers_": lambda v, w: _int(v, w, 1, 2**20),
    "out_activation_": lambda v, w: _str(v, w, longest=32),
    "n_threads_": lambda v, w: _int(v, w, 1, 2**16),
    "classes_": lambda v, w: _array(v, w, "biufUO"),
    "feature_names_in_": lambda v, w: _array(v, w, "UO"),
    # images: (C, H, W); a user's module: one sample's shape, of any rank up to 8
    "input_shape_": lambda v, w: _shape(v, w, len(v) if isinstance(v, (list, tuple))
                                        and 1 <= len(v) <= 8 else 3),
    "_output_kind": lambda v, w: v if v in _OUTPUT_KINDS else _fail(
        w, f"expected one of {_OUTPUT_KINDS}, got {_show(v)}"),
    "_integer_input": lambda v, w: v if isinstance(v, bool) else _fail(w, "expected a bool"),
    "uses_network_": lambda v, w: v if isinstance(v, bool) else _fail(w, "expected a bool"),
    "_keyword_inputs": lambda v, w: _keyword_inputs(v, w),
    "sequence_shape_": lambda v, w: _shape(v, w, 2),
    "horizon_": lambda v, w: _int(v, w, 1, 2**31),
    "_per_step_targets": lambda v, w: v if isinstance(v, bool) else _fail(w, "expected a bool"),
    "_first_trained_step": lambda v, w: _int(v, w, 0, 2**31),
    "_input_mean": lambda v, w: _array(v, w, "f"),
    "_input_scale": lambda v, w: _array(v, w, "f"),
    "_target_mean": lambda v, w: _float(v, w, none=False),
    "_target_scale": lambda v, w: _float(v, w, none=False),
}


def _keyword_inputs(value, where):
    """A user module's named inputs: None, or up to 64 (name, sample shape, integer)."""
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= 64:
        _fail(where, f"expected a list of up to 64 inputs, got {_show(value)}")
    layout = []
    for i, entry in enumerate(value):
        if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str)
                and entry[0].isidentifier() and len(entry[0]) <= 64
                and isinstance(entry[2], bool) and isinstance(entry[1], tuple)
                and len(entry[1]) <= 8):
            _fail(f"{where}[{i}]", "expected (name, sample shape, integer)")
        layout.append((entry[0], tuple(_int(s, f"{where}[{i}]", 1, 2**31) for s in entry[1]),
                       entry[2]))
    return layout


def check_metadata(metadata) -> dict:
    """Validate and decode ``metadata``; return the decoded parts load() needs."""
    if not isinstance(metadata, dict):
        raise ModelFileError(f"metadata.json must hold an object, not a {type(metadata).__name__}.")
    version = metadata.get("format_version")
    if not is_int(version) or not OLDEST_FORMAT <= version <= FORMAT_VERSION:
        writer = metadata.get("sklnn_version")
        raise ModelFileError(
            f"the file uses model format {repr(version)[:60]}, written by sklnn "
            f"{writer if isinstance(writer, str) and _VERSION.fullmatch(writer) else '?'}; "
            f"this sklnn reads formats {OLDEST_FORMAT} to {FORMAT_VERSION} (a newer format "
            "needs a newer sklnn: Upgrade sklnn to load it)."
        )
    missing, extra = _TOP_LEVEL - set(metadata), set(metadata) - _TOP_LEVEL
    if missing or extra:
        raise ModelFileError(f"metadata.json lacks keys {sorted(missing)} or has unexpected "
                             f"keys {sorted(extra)[:5]}.")
    _str(metadata["sklnn_version"], "sklnn_version", longest=64)
    _str(metadata["torch_version"], "torch_version", longest=64)
    name = metadata["estimator"]
    cls = saveable_class(name)
    if cls is None:
        raise ModelFileError(f"the file names estimator {_show(name)}, which is not one of "
                             "sklnn's estimators.")
    sha = _str(metadata["weights_sha256"], "weights_sha256", longest=64)
    if not _SHA256.fullmatch(sha):
        _fail("weights_sha256", "expected 64 lowercase hex digits")
    trained_on = _str(metadata["trained_on"], "trained_on", longest=8)
    if not _DEVICE.fullmatch(trained_on):
        _fail("trained_on", f"expected a device such as 'cpu', 'cuda:0' or 'mps', got "
                            f"{trained_on!r}")
    compute_dtype = _str(metadata["compute_dtype"], "compute_dtype", COMPUTE_DTYPES)
    label_type = metadata["label_type"]
    if label_type is not None:
        _str(label_type, "label_type", LABEL_TYPES)
    return {
        "cls": cls,
        "params": _params(cls, metadata["params"]),
        "fitted": _fitted(name, metadata["fitted"]),
        "progress": _progress(metadata["progress"]),
        "label_type": label_type,
        "compute_dtype": compute_dtype,
        "trained_on": trained_on,
        "weights_sha256": sha,
    }


def _params(cls, encoded) -> dict:
    if not isinstance(encoded, dict):
        _fail("params", f"expected an object, got {_show(encoded)}")
    params = decode(encoded, "params")
    unknown = set(params) - set(cls._get_param_names())
    if getattr(cls, "_required_parameters", None) == ["module"]:  # module__*, criterion__*, ...
        unknown = {k for k in unknown if not k.startswith(("module__", "criterion__",
                                                           "optimizer__"))}
    if unknown:
        _fail("params", f"{cls.__name__} has no parameters {sorted(unknown)[:5]}")
    if params.get("callbacks") is not None:
        _fail("params", "callbacks are never saved; expected None")
    return {**PARAMS_BEFORE_THEY_EXISTED.get(cls.__name__, {}), **params}


def _fitted(name: str, encoded) -> dict:
    if not isinstance(encoded, dict):
        _fail("fitted", f"expected an object, got {_show(encoded)}")
    required = saved_attributes(name)
    known = set(required) | set(OPTIONAL_ATTRIBUTES)
    missing = set(required) - set(encoded)
    unexpected = set(encoded) - known
    if missing:
        _fail("fitted", f"{name} needs the attributes {sorted(missing)[:5]}")
    if unexpected:
        _fail("fitted", f"{name} has no attributes {sorted(unexpected)[:5]}")
    fitted = {}
    for key in sorted(known & set(encoded)):
        value = decode(encoded[key], f"fitted[{key!r}]")
        fitted[key] = _FITTED[key](value, f"fitted[{key!r}]")
    _consistent(fitted)
    return fitted


def _consistent(fitted: dict) -> None:
    n_features = fitted["n_features_in_"]
    for key in ("input_shape_", "sequence_shape_"):
        if key in fitted and math.prod(fitted[key]) != n_features:
            _fail(f"fitted[{key!r}]", f"{fitted[key]} does not hold n_features_in_="
                                      f"{n_features} values")
    names = fitted.get("feature_names_in_")
    if names is not None and len(names) != n_features:
        _fail("fitted['feature_names_in_']", f"{len(names)} names for {n_features} features")
    if "horizon_" in fitted:  # a forecaster: one output per forecast value (and step)
        steps = 1
        if fitted.get("_per_step_targets"):
            steps = fitted["sequence_shape_"][0] - fitted.get("_first_trained_step", 0)
        if fitted["n_outputs_"] != steps * fitted["horizon_"]:
            _fail("fitted['horizon_']", f"horizon_={fitted['horizon_']} does not agree with "
                                        f"n_outputs_={fitted['n_outputs_']}")
    if "sequence_shape_" in fitted and "_input_mean" in fitted:
        for key in ("_input_mean", "_input_scale"):
            if len(fitted[key]) != fitted["sequence_shape_"][1]:
                _fail(f"fitted[{key!r}]", "one value per input feature expected")


def _progress(encoded) -> dict:
    if not isinstance(encoded, dict):
        _fail("progress", f"expected an object, got {_show(encoded)}")
    progress = decode(encoded, "progress")
    fields = {f.name for f in dataclasses.fields(ProgressState)}
    if set(progress) - fields:
        _fail("progress", f"unexpected keys {sorted(set(progress) - fields)[:5]}")
    checks = {
        "n_iter": _int, "t": _int, "no_improvement_count": _int,
        "loss": _float, "best_loss": _float, "best_validation_score": _float,
        "loss_curve": _floats, "validation_scores": lambda v, w: _floats(v, w, none=True),
        "history": _history, "stop_message": lambda v, w: _str(v, w, longest=4096),
    }
    for key, value in progress.items():
        if key in checks:
            progress[key] = checks[key](value, f"progress[{key!r}]")
        elif not (value is None or isinstance(value, (bool, int, float))):
            _fail(f"progress[{key!r}]", f"expected a number or None, got {_show(value)}")
    return progress
