"""``save`` and ``load``: see the package docstring for the format and its guarantees."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import warnings
import zipfile

import numpy as np
import torch
from sklearn.preprocessing import LabelBinarizer

from sklnn._atomic import atomic_write
from sklnn._version import __version__
from sklnn.engine.devices import place_module, resolve_device, saved_device
from sklnn.engine.state import ProgressState
from sklnn.history import History
from sklnn.persistence import _archive
from sklnn.persistence._archive import METADATA, WEIGHTS, Budget
from sklnn.persistence._classes import (
    UntrustedTypesError,
    check_savable,
    resolve,
    trusted_names,
    untrusted,
)
from sklnn.persistence._codec import ModelFileError, encode, parse_json
from sklnn.persistence._registry import OPTIONAL_ATTRIBUTES, saveable_class, saved_attributes
from sklnn.persistence._schema import FORMAT_VERSION, check_metadata

# Layer counts a file may ask for: rebuilding the network's shapes (no storage) costs time
# per layer, so these bound the work done before the weights are checked.
_MAX_LIST_PARAM = 1024
_MAX_COUNT_PARAMS = {"num_layers": 1024, "depth": 2000}


# ------------------------------------------------------------------ save
def _weights_bytes(module: torch.nn.Module) -> bytes:
    arrays = {}
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        arrays[name] = tensor.numpy()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save(estimator, path) -> None:
    """Write a fitted sklnn estimator to ``path`` (see :mod:`sklnn.persistence`).

    Callbacks are not saved (they may hold arbitrary objects); the loaded
    estimator has ``callbacks=None``. The optimiser's moments are not saved
    either: ``partial_fit`` after loading starts a fresh optimiser state. The
    file is written like ``open(path, "wb")`` would (the umask applies; an
    existing file keeps its mode), atomically: a crash leaves the old file.
    """
    from sklearn.utils.validation import check_is_fitted


    check_is_fitted(estimator)
    name = type(estimator).__name__
    if saveable_class(name) is not type(estimator):
        raise TypeError(f"save() supports sklnn's estimators, not {name}; use pickle instead.")
    params = _network_params(estimator)
    params["callbacks"] = None
    _check_classes(params, name)
    if not isinstance(params.get("random_state"), (int, type(None))):
        params["random_state"] = None  # a RandomState's stream is not part of the model
    state = {k: v for k, v in vars(estimator).items() if k != "_network_params"}
    keys = [k for k in saved_attributes(name) + OPTIONAL_ATTRIBUTES
            if k in state or k not in OPTIONAL_ATTRIBUTES]
    fitted = {key: encode(state[key], key) for key in keys}
    binarizer = state.get("_label_binarizer")
    weights = _weights_bytes(estimator.module_)
    metadata = {
        "format_version": FORMAT_VERSION,
        "sklnn_version": __version__,
        "torch_version": torch.__version__,
        "estimator": name,
        "params": encode(params, "params"),
        "fitted": fitted,
        "label_type": None if binarizer is None else binarizer.y_type_,
        "progress": encode(dataclasses.asdict(estimator._progress), "progress"),
        "compute_dtype": str(estimator._compute_dtype).removeprefix("torch."),
        "trained_on": str(estimator.device_),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA, json.dumps(metadata, separators=(",", ":")))
        archive.writestr(WEIGHTS, weights)
    atomic_write(os.fspath(path), payload.getvalue())


def _network_params(estimator) -> dict:
    """The parameters, with those the network was built from as they were then: a
    ``set_params(activation=...)`` after fit does not change the fitted network, so the
    file must not claim it (it would rebuild another network, or none that loads)."""
    params = estimator.get_params(deep=False)
    built = vars(estimator).get("_network_params") or {}
    changed = sorted(k for k in built if k in params and not _same(params[k], built[k]))
    if changed:
        warnings.warn(
            f"{type(estimator).__name__}'s {', '.join(changed)} changed after the network "
            f"was built ({', '.join(f'{k}={built[k]!r}' for k in changed)}); the file records "
            "the values the fitted network was built with. Fit again to train with the new "
            "values.", UserWarning, stacklevel=3)
        params.update({k: built[k] for k in changed})
    return params


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):  # arrays and the like: compared by identity only
        return False


def _check_classes(params: dict, name: str) -> None:
    """A user's module, loss or optimiser is saved as a class (by import path) with its
    ``module__*`` parameters; an instance could not be rebuilt from a file."""
    for key, value in params.items():
        if isinstance(value, type):
            check_savable(value, f"{name}'s {key}")
        elif isinstance(value, torch.nn.Module) and key in ("module", "criterion"):
            raise TypeError(
                f"{name}'s {key} is an instance of {type(value).__name__}; a model file "
                f"rebuilds it from its class and the {key}__* parameters. Pass the class "
                f"({key}={type(value).__name__}, {key}__...=...), or save with pickle or "
                "skops and load only files you trust.")


# ------------------------------------------------------------------ load
def load(path, *, device: str | None = None, max_bytes: int | None = None, trusted=None):
    """Load an estimator written by :func:`save` (or ``estimator.save``).

    Parameters
    ----------
    path : str or path-like
    device : str or None, default=None
        Where to put the network; None keeps the saved device when this
        machine has it, else the CPU (a model trained on CUDA loads on a
        CPU-only machine).
    max_bytes : int or None, default=None
        Most bytes loading may allocate, checked before anything is read from
        the sizes the file declares. None allows 4x the file's size on disk
        (at least 256 MiB) and refuses members that inflate more than 100x
        (zip bombs); an int replaces both rules. Raise it only for files you
        trust.
    trusted : list of classes or str, default=None
        A user's own module or loss classes the file may name (PyTorch's own
        are trusted); see :func:`sklnn.load`.

    Returns
    -------
    estimator
        A fitted sklnn estimator.

    Raises
    ------
    ModelFileError
        The file is corrupt, truncated, inconsistent, newer than this sklnn,
        names something that is not an sklnn estimator, or would need more
        memory than the budget; the message says which.
    UntrustedTypesError
        The file names classes that are not trusted; nothing of them was imported.
    """
    where = os.fspath(path)
    names = trusted_names(trusted)
    with open(where, "rb") as handle:  # FileNotFoundError stays what it is
        archive, infos = _archive.open_members(handle, {METADATA, WEIGHTS}, where)
        with archive:
            # the default follows the bytes on disk, not a size the archive declares
            budget = Budget(max_bytes, os.fstat(handle.fileno()).st_size)
            for info in infos.values():
                _archive.check_inflation(info, budget)
            meta_size = infos[METADATA].file_size
            budget.need(_archive.JSON_FACTOR * meta_size, METADATA)
            try:
                decoded = check_metadata(
                    parse_json(_archive.read_member(archive, infos[METADATA]), METADATA)
                )
                refused = untrusted(decoded["params"], names)
                if refused:
                    raise UntrustedTypesError(
                        f"the model names classes that are not trusted: {refused}. Loading "
                        "them runs their code; if you trust this file, pass "
                        f"trusted={refused} (or the classes) to sklnn.load.")
                decoded["params"] = resolve(decoded["params"])
                estimator, module, expected = _rebuild(decoded)
            except ModelFileError as exc:
                raise type(exc)(f"{where}: {exc}") from None
            data, most = _archive.expected_npz_size(expected)
            size = infos[WEIGHTS].file_size
            if not data <= size <= most:
                raise ModelFileError(f"{where}: {WEIGHTS} declares {size:,} bytes; the network "
                                     f"its parameters describe needs {data:,} bytes of weights.")
            budget.need(_archive.JSON_FACTOR * meta_size + size + data, where)
            weights = _archive.read_member(archive, infos[WEIGHTS])
    if hashlib.sha256(weights).hexdigest() != decoded["weights_sha256"]:
        raise ModelFileError(f"{where}: the weights do not match their checksum; the file was "
                             "modified or corrupted after saving.")
    try:
        arrays = _archive.read_arrays(weights, expected)
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    del weights
    module.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True,
                           assign=True)
    target = saved_device(decoded["trained_on"]) if device is None else resolve_device(device)
    estimator.module_ = place_module(module, target).eval()
    estimator.device_ = target
    return estimator


def _rebuild(decoded: dict):
    """The estimator with its fitted attributes, and its network on the meta device."""
    cls, params, fitted = decoded["cls"], decoded["params"], decoded["fitted"]
    for key, value in params.items():
        limit = _MAX_COUNT_PARAMS.get(key)
        if isinstance(value, (list, tuple)) and len(value) > _MAX_LIST_PARAM or (
            limit is not None and isinstance(value, int) and value > limit
        ):
            raise ModelFileError(f"parameter {key} asks for more layers than sklnn rebuilds "
                                 f"from a file ({_MAX_LIST_PARAM} list items, {limit} layers).")
    try:
        estimator = cls(**params)
        estimator._check_params()
        if hasattr(cls, "_parameter_constraints"):
            estimator._validate_params()
        vars(estimator).update(fitted)
        estimator.history_ = History(fitted["history_"])
        _restore_labels(estimator, decoded["label_type"])
        estimator._progress = ProgressState(**decoded["progress"])
        estimator._optimizer_state = None
        estimator._compute_dtype = getattr(torch, decoded["compute_dtype"])
        estimator._restore_derived()
        estimator._remember_network_params()
        expected_activation = estimator._make_objective().out_activation
        if fitted["out_activation_"] != expected_activation:
            raise ValueError(f"out_activation_ is {fitted['out_activation_']!r}; the "
                             f"parameters make {expected_activation!r}")
        # Shapes only: no storage is allocated and no arithmetic is done, whatever the sizes.
        # The device context is thread-local, so other threads' tensors are unaffected.
        with torch.device("meta"):
            module = estimator._build_module(estimator.n_features_in_, estimator.n_outputs_)
        module = module.to(estimator._compute_dtype)
        view = estimator._view()
        view.module_ = module
        if view._n_layers() != fitted["n_layers_"]:
            raise ValueError(f"n_layers_ is {fitted['n_layers_']}; the network has "
                             f"{view._n_layers()}")
        for name in estimator._fit_only_attributes:
            vars(estimator).pop(name, None)
    except ModelFileError:
        raise
    except (TypeError, ValueError, RuntimeError, AttributeError, LookupError,
            ArithmeticError, NotImplementedError) as exc:
        raise ModelFileError(f"the file could not be rebuilt into a {cls.__name__}: "
                             f"{type(exc).__name__}: {exc}") from None
    expected = {
        name: (tuple(tensor.shape), np.dtype(str(tensor.dtype).removeprefix("torch.")))
        for name, tensor in module.state_dict().items()
    }
    return estimator, module, expected


def _restore_labels(estimator, label_type) -> None:
    classes = vars(estimator).get("classes_")
    if (classes is None) != (label_type is None):
        raise ValueError("a classifier needs classes_ and a label_type, a regressor neither")
    if classes is None:
        return
    n_outputs = estimator.n_outputs_
    binarizer = LabelBinarizer()
    if label_type == "multilabel-indicator":
        # Sizes are compared before anything of size n_outputs_ is built: classes_ was
        # already paid for by the metadata's budget, n_outputs_ is only a number.
        if classes.ndim != 1 or len(classes) != n_outputs or not np.array_equal(
                classes, np.arange(len(classes))):
            raise ValueError(f"a multilabel model's classes_ are 0..{len(classes) - 1}, one "
                             f"per output; the file declares {n_outputs} outputs")
        # Two rows (all 0, all 1) give the same fitted binarizer as np.eye(n), in O(n).
        binarizer.fit(np.repeat(np.array([[0], [1]]), n_outputs, axis=1))
    else:
        binarizer.fit(classes)
        if not np.array_equal(binarizer.classes_, classes) or binarizer.y_type_ != label_type:
            raise ValueError(f"classes_ do not make a {label_type} target")
        needed = 1 if len(classes) <= 2 else len(classes)
        kind = vars(estimator).get("_output_kind")
        if kind is not None and len(classes) <= 2:  # a user's module: one logit or two
            needed = 2 if kind[0] == "classes" else 1
        if n_outputs != needed:
            raise ValueError(f"{len(classes)} classes need {needed} outputs here, not "
                             f"{n_outputs}")
    estimator._label_binarizer = binarizer
