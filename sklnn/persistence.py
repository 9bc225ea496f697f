"""Saving and loading fitted estimators without pickle.

A saved model is a zip archive holding ``metadata.json`` (estimator class,
constructor parameters, fitted attributes, versions, a SHA-256 of the weights)
and ``weights.npz`` (the network's tensors, read with ``allow_pickle=False``).
Loading never unpickles and only ever builds sklnn's own estimator classes, so
a file from a stranger cannot run code. Writes go to a temporary file that is
renamed over the target, so a crash mid-save leaves the old file intact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np
import torch
from sklearn.preprocessing import LabelBinarizer

FORMAT_VERSION = 1
_METADATA = "metadata.json"
_WEIGHTS = "weights.npz"
# Attributes rebuilt by the loader itself rather than stored as values.
_REBUILT = {"module_", "device_", "_label_binarizer", "_progress", "_compute_dtype",
            "_optimizer_state"}


class ModelFileError(ValueError):
    """The file is not a model sklnn can load: corrupt, tampered with or too new."""


def _registry() -> dict[str, type]:
    import sklnn

    return {
        name: obj
        for name in sklnn.__all__
        if isinstance(obj := getattr(sklnn, name), type) and hasattr(obj, "_build_module")
    }


# ------------------------------------------------------------------ encoding values
def _encode(value, where: str):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"__float__": repr(float(value))}  # keeps inf and nan exact
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            items = [_encode(v, where) for v in value.ravel().tolist()]
            return {"__ndarray__": items, "dtype": "object", "shape": list(value.shape)}
        if value.dtype.kind not in "biufU":
            raise TypeError(
                f"{where} has dtype {value.dtype}, which cannot be saved without pickle; use "
                "labels of type int, float, bool or str, or pickle the estimator instead."
            )
        return {"__ndarray__": _encode(value.tolist(), where), "dtype": value.dtype.str}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, where) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return {"__dict_items__": [[_encode(k, where), _encode(v, where)]
                                       for k, v in value.items()]}
        return {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    raise TypeError(
        f"{where} is a {type(value).__name__}, which save() cannot store safely; pickle the "
        "estimator instead (and load such files only from sources you trust)."
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__ndarray__" in value:
        if value["dtype"] == "object":
            items = np.empty(len(value["__ndarray__"]), dtype=object)
            items[:] = _decode(value["__ndarray__"])
            return items.reshape(value["shape"])
        return np.array(_decode(value["__ndarray__"]), dtype=np.dtype(value["dtype"]))
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict_items__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict_items__"]}
    return {k: _decode(v) for k, v in value.items()}


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
    """Write a fitted sklnn estimator to ``path`` (see the module docstring for the format).

    Callbacks are not saved (they may hold arbitrary objects); the loaded
    estimator has ``callbacks=None``. The optimiser's moments are not saved
    either: ``partial_fit`` after loading starts a fresh optimiser state.
    """
    from sklearn.utils.validation import check_is_fitted

    import sklnn

    check_is_fitted(estimator)
    name = type(estimator).__name__
    if _registry().get(name) is not type(estimator):
        raise TypeError(f"save() supports sklnn's estimators, not {name}; use pickle instead.")
    params = estimator.get_params(deep=False)
    params["callbacks"] = None
    if not isinstance(params.get("random_state"), (int, type(None))):
        params["random_state"] = None  # a RandomState's stream is not part of the model
    fitted = {
        key: _encode(value, key)
        for key, value in vars(estimator).items()
        if key not in params and key not in _REBUILT
    }
    binarizer = vars(estimator).get("_label_binarizer")
    weights = _weights_bytes(estimator.module_)
    metadata = {
        "format_version": FORMAT_VERSION,
        "sklnn_version": sklnn.__version__,
        "torch_version": torch.__version__,
        "estimator": name,
        "params": _encode(params, "params"),
        "fitted": fitted,
        "label_type": None if binarizer is None else binarizer.y_type_,
        "progress": _encode(dataclasses.asdict(estimator._progress), "progress"),
        "compute_dtype": str(estimator._compute_dtype).removeprefix("torch."),
        "trained_on": str(estimator.device_),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(_METADATA, json.dumps(metadata, indent=1))
        archive.writestr(_WEIGHTS, weights)
    _atomic_write(os.fspath(path), payload.getvalue())


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------ load
def _read(path) -> tuple[dict, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read(_METADATA))
            weights = archive.read(_WEIGHTS)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ModelFileError(
            f"{path} is not a readable sklnn model file ({exc}); it may be truncated or not "
            "written by sklnn.save."
        ) from None
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format {version!r}, written by sklnn "
            f"{metadata.get('sklnn_version')}; this sklnn reads format {FORMAT_VERSION} and "
            "older. Upgrade sklnn to load it."
        )
    if hashlib.sha256(weights).hexdigest() != metadata.get("weights_sha256"):
        raise ModelFileError(f"{path}: the weights do not match their checksum; the file was "
                             "modified or corrupted after saving.")
    return metadata, weights


def load(path, *, device: str | None = None):
    """Load an estimator written by :func:`save` (or ``estimator.save``).

    Parameters
    ----------
    path : str or path-like
    device : str or None, default=None
        Where to put the network; None keeps the saved device when it exists
        here, else the CPU (a model trained on CUDA loads on a CPU-only machine).

    Returns
    -------
    estimator
        A fitted sklnn estimator.
    """
    from sklnn.engine.devices import place_module, resolve_device
    from sklnn.engine.trainer import ProgressState

    metadata, weights = _read(path)
    cls = _registry().get(metadata.get("estimator"))
    if cls is None:
        raise ModelFileError(f"{path} names estimator {metadata.get('estimator')!r}, which is not "
                             "one of sklnn's estimators.")
    try:
        estimator = cls(**_decode(metadata["params"]))
        vars(estimator).update(_decode(metadata["fitted"]))
        if metadata["label_type"] is not None:
            classes = estimator.classes_
            binarizer = LabelBinarizer()
            if metadata["label_type"] == "multilabel-indicator":
                binarizer.fit(np.eye(len(classes), dtype=int))
            else:
                binarizer.fit(classes)
            estimator._label_binarizer = binarizer
        estimator._progress = ProgressState(**_decode(metadata["progress"]))
        estimator._optimizer_state = None
        estimator._compute_dtype = getattr(torch, metadata["compute_dtype"])
        module = estimator._build_module(estimator.n_features_in_, estimator.n_outputs_)
        with np.load(io.BytesIO(weights), allow_pickle=False) as arrays:
            state = {name: torch.from_numpy(arrays[name].copy()) for name in arrays.files}
        module = module.to(estimator._compute_dtype)
        module.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(f"{path} could not be rebuilt into a {cls.__name__}: {exc}") from None
    saved = torch.device(metadata["trained_on"])
    if device is None:
        usable = saved.type == "cpu" or (saved.type == "cuda" and torch.cuda.is_available())
        target = saved if usable else torch.device("cpu")
    else:
        target = resolve_device(device)
    estimator.module_ = place_module(module, target).eval()
    estimator.device_ = target
    return estimator
