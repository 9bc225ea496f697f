"""Pipelines with sklnn steps in one file, without pickle: ``sklnn.save`` / ``sklnn.load``.

A bundle is a zip archive: ``bundle.json`` (format, versions, where each network goes),
``objects.skops`` (the pipeline with each sklnn step replaced by a marker, written by
skops, whose loader builds only the types it trusts) and ``estimator-<k>.sklnn`` (each
sklnn step as an sklnn model file, loaded with all of :func:`sklnn.persistence.load`'s
checks). A bare sklnn estimator is saved as a plain model file, as ``estimator.save``
writes it; ``load`` reads both kinds.
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
import zipfile

from sklnn._atomic import atomic_write
from sklnn._version import __version__
from sklnn.persistence import _archive, _io, _registry
from sklnn.persistence._classes import UntrustedTypesError, trusted_names
from sklnn.persistence._codec import ModelFileError, parse_json

BUNDLE = "bundle.json"
OBJECTS = "objects.skops"
BUNDLE_FORMAT = 1
MAX_ESTIMATORS = 64
_MARKER = "sklnn-estimator-{}"


def _skops():
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError("Saving or loading a Pipeline needs skops: pip install "
                          "'sklnn[pipeline]' (or skops).") from exc
    return skops.io


def _is_sklnn(obj) -> bool:
    """An sklnn estimator, or a subclass of one (which the model-file writer refuses)."""
    return isinstance(obj, tuple(_registry._CLASSES.values()))


def _member(k: int) -> str:
    return f"estimator-{k}.sklnn"


# ------------------------------------------------------------------ save
def save(obj, path) -> None:
    """Write an sklnn estimator, or a Pipeline with sklnn steps, to ``path`` without pickle.

    A fitted sklnn estimator is written as an sklnn model file (as
    ``estimator.save(path)``). A scikit-learn ``Pipeline`` (nested Pipelines
    included) whose steps include sklnn estimators is written as one zip
    archive: the sklnn steps in sklnn's format, everything else with skops. Read
    either with :func:`load`. The write is atomic: a crash leaves the old file.

    Parameters
    ----------
    obj : fitted sklnn estimator or scikit-learn Pipeline
    path : str or path-like
    """
    if _is_sklnn(obj):
        _io.save(obj, path)
        return
    sio = _skops()
    estimators, places = [], []
    stripped = _strip(obj, (), estimators, places)
    where = ("sklnn.save writes sklnn estimators that are steps of a Pipeline (nested "
             "Pipelines too); save one held elsewhere (in a GridSearchCV, a ColumnTransformer) "
             "with its own save() and the rest with skops.")
    try:
        objects = sio.dumps(stripped)
    except Exception as exc:  # skops names what it cannot write
        raise TypeError(f"sklnn.save cannot write this {type(obj).__name__}: skops failed "
                        f"with {type(exc).__name__}: {exc}. {where}") from exc
    hidden = [t for t in sio.get_untrusted_types(data=objects) if t.startswith(("sklnn.",
                                                                               "torch."))]
    if hidden:
        raise TypeError(f"This {type(obj).__name__} holds {hidden[0]} outside a Pipeline's "
                        f"steps. {where}")
    manifest = {
        "format": "sklnn-bundle", "format_version": BUNDLE_FORMAT,
        "sklnn_version": __version__, "skops_version": _version("skops"),
        "estimators": [{"member": _member(k), "path": list(p)} for k, p in enumerate(places)],
    }
    payload = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, \
            zipfile.ZipFile(payload, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(BUNDLE, json.dumps(manifest))
        archive.writestr(OBJECTS, objects)
        for k, estimator in enumerate(estimators):
            _io.save(estimator, os.path.join(folder, _member(k)))
            archive.write(os.path.join(folder, _member(k)), _member(k))
    atomic_write(os.fspath(path), payload.getvalue())


def _strip(obj, place, estimators, places):
    """``obj`` with every sklnn step of its (nested) Pipelines replaced by a marker; the
    estimators and their step-index paths are appended to ``estimators`` and ``places``."""
    steps = getattr(obj, "steps", None)
    if not isinstance(steps, list):
        return obj
    new_steps = list(steps)
    for i, step in enumerate(steps):
        name, estimator = step[0], step[1]
        if _is_sklnn(estimator):
            estimators.append(estimator)
            places.append((*place, i))
            new_steps[i] = (name, _MARKER.format(len(estimators) - 1), *step[2:])
        else:
            new_steps[i] = (name, _strip(estimator, (*place, i), estimators, places),
                            *step[2:])
    if len(estimators) > MAX_ESTIMATORS:
        raise ValueError(f"sklnn.save writes at most {MAX_ESTIMATORS} sklnn steps.")
    stripped = copy.copy(obj)  # the caller's pipeline keeps its steps
    stripped.steps = new_steps
    return stripped


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


# ------------------------------------------------------------------ load
def load(path, *, device: str | None = None, max_bytes: int | None = None, trusted=None):
    """Load what :func:`save` (or ``estimator.save``) wrote.

    Parameters
    ----------
    path : str or path-like
    device : str or None, default=None
        Where to put the networks (see :func:`sklnn.persistence.load`).
    max_bytes : int or None, default=None
        Memory budget of each network, and of the archive's other members (see
        :func:`sklnn.persistence.load`).
    trusted : list of classes or str, default=None
        Types the file may hold beyond those trusted by default, as classes or
        dotted names (``"mymodule.MyScaler"``): a user's own torch module or loss
        in a NeuralNetClassifier or NeuralNetRegressor (PyTorch's own layers,
        losses and optimisers are trusted), and types in a pipeline's
        scikit-learn part beyond those skops trusts (scikit-learn's and numpy's
        own). List only types you trust: building them may run their code. The
        check runs before anything of an untrusted type is imported.

    Returns
    -------
    estimator or Pipeline

    Raises
    ------
    ModelFileError
        Anything wrong with the file's content: corrupt, truncated, inconsistent,
        hostile, too new, or needing more memory than ``max_bytes``; the message
        says what. A subclass of ``ValueError``.
    UntrustedTypesError
        The file holds types that are neither trusted by default nor listed in
        ``trusted``; the message names them. A subclass of ``ModelFileError``.
    OSError
        The file cannot be read (``FileNotFoundError``, ``PermissionError``, ...).

    Whatever a file holds, these are the only exceptions it can cause, so
    ``except (ModelFileError, OSError)`` catches every bad file. Bad arguments
    raise ``TypeError`` (``trusted`` not a list) or ``ValueError`` (``max_bytes``
    not a positive int, an unknown ``device``), and reading a Pipeline bundle
    without skops installed raises ``ImportError``, whatever the file.
    """
    where = os.fspath(path)
    names = trusted_names(trusted)
    with open(where, "rb") as handle:
        if not _is_bundle(handle):
            return _io.load(where, device=device, max_bytes=max_bytes, trusted=names)
        archive = zipfile.ZipFile(handle)
        with archive:
            infos = {info.filename: info for info in archive.infolist()}
            # The default budget follows the bytes actually on disk, not what the archive
            # declares about itself (each member is also held to the inflation rule).
            budget = _archive.Budget(max_bytes, os.fstat(handle.fileno()).st_size)
            manifest = _manifest(archive, infos, budget, where)
            members = {BUNDLE, OBJECTS} | {e["member"] for e in manifest["estimators"]}
            if len(infos) != len(archive.infolist()) or set(infos) != members:
                raise ModelFileError(f"{where} holds members {sorted(infos)[:8]}; its "
                                     f"{BUNDLE} lists {sorted(members)}, each once.")
            for info in infos.values():
                if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                                       zipfile.ZIP_DEFLATED):
                    raise ModelFileError(f"{where}: member {info.filename} is encrypted or "
                                         "compressed with a method sklnn does not write.")
                _archive.check_inflation(info, budget)
            budget.need(sum(i.file_size for i in infos.values()), where)
            objects = _archive.read_member(archive, infos[OBJECTS])
            networks = [_archive.read_member(archive, infos[e["member"]])
                        for e in manifest["estimators"]]
    _archive.check_skops(objects, budget, f"{where}: {OBJECTS}")
    pipeline = _load_objects(objects, names, where)
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline):  # sklnn.save writes bundles of Pipelines only
        raise ModelFileError(f"{where}: {OBJECTS} holds a {type(pipeline).__name__}, not the "
                             "Pipeline an sklnn bundle holds.")
    with tempfile.TemporaryDirectory() as folder:
        for k, (entry, data) in enumerate(zip(manifest["estimators"], networks)):
            file = os.path.join(folder, _member(k))
            with open(file, "wb") as out:
                out.write(data)
            try:
                estimator = _io.load(file, device=device, max_bytes=max_bytes, trusted=names)
            except ModelFileError as exc:
                raise ModelFileError(str(exc).replace(file, f"{where}: {entry['member']}")
                                     ) from None
            _put(pipeline, entry["path"], k, estimator, where)
    _check_filled(pipeline, where)
    return pipeline


def _is_bundle(handle) -> bool:
    entries = _archive._entries(handle)
    handle.seek(0)
    if entries is None or not 2 <= entries <= 2 + MAX_ESTIMATORS:
        return False  # the model-file loader explains what is wrong
    try:
        with zipfile.ZipFile(handle) as archive:
            return BUNDLE in archive.namelist()
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError):
        return False
    finally:
        handle.seek(0)


def _manifest(archive, infos, budget, where) -> dict:
    info = infos[BUNDLE]
    _archive.check_inflation(info, budget)
    budget.need(_archive.JSON_FACTOR * info.file_size, BUNDLE)
    manifest = parse_json(_archive.read_member(archive, info), BUNDLE)
    entries = manifest.get("estimators") if isinstance(manifest, dict) else None
    if (manifest.get("format") if isinstance(manifest, dict) else None) != "sklnn-bundle" \
            or not isinstance(entries, list) or len(entries) > MAX_ESTIMATORS:
        raise ModelFileError(f"{where}: {BUNDLE} is not an sklnn bundle manifest.")
    version = manifest.get("format_version")
    if type(version) is not int or not 1 <= version <= BUNDLE_FORMAT:
        raise ModelFileError(f"{where} was written by a newer sklnn (bundle format "
                             f"{manifest.get('format_version')!r}); upgrade sklnn to read it.")
    for k, entry in enumerate(entries):
        path = entry.get("path") if isinstance(entry, dict) else None
        if entry != {"member": _member(k), "path": path} or not path or len(path) > 16 or \
                not all(type(i) is int and 0 <= i < 10_000 for i in path):
            raise ModelFileError(f"{where}: {BUNDLE}'s estimator entry {k} is malformed.")
    return manifest


def _load_objects(data: bytes, trusted, where):
    sio = _skops()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a malformed skops member, whatever skops raises for it
        raise ModelFileError(f"{where}: {OBJECTS} cannot be read: {type(exc).__name__}: "
                             f"{exc}") from None
    refused = [t for t in untrusted if t not in trusted]
    if refused:
        raise UntrustedTypesError(
            f"{where}: the pipeline holds types that skops does not trust by default: "
            f"{refused}. Building them may run their code. If you trust this file and these "
            "types, pass trusted=[...] naming them to sklnn.load."
        )
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as exc:
        raise ModelFileError(f"{where}: {OBJECTS} cannot be read: {type(exc).__name__}: "
                             f"{exc}") from None


def _put(pipeline, path, k, estimator, where) -> None:
    """Put ``estimator`` back at step ``path`` in place of its marker."""
    owner = pipeline
    for depth, index in enumerate(path):
        steps = getattr(owner, "steps", None)
        if not isinstance(steps, list) or index >= len(steps):
            break
        step = steps[index]
        if not _is_step(step):
            break
        if depth == len(path) - 1:
            if step[1] != _MARKER.format(k):
                break
            steps[index] = (step[0], estimator, *step[2:])
            return
        owner = step[1]
    raise ModelFileError(f"{where}: {BUNDLE} places estimator {k} at step {path}, where the "
                         "pipeline has no sklnn step.")


def _is_step(step) -> bool:
    return isinstance(step, tuple) and len(step) >= 2 and isinstance(step[0], str)


def _check_filled(pipeline, where) -> None:
    """Every step of the (nested) pipeline is a ``(name, estimator)`` pair, and no marker of
    an sklnn step is left without its network."""
    steps = getattr(pipeline, "steps", None)
    if not isinstance(steps, list):
        raise ModelFileError(f"{where}: a pipeline in {OBJECTS} has no list of steps.")
    for step in steps:
        if not _is_step(step):
            raise ModelFileError(f"{where}: a pipeline step in {OBJECTS} is not a "
                                 f"(name, estimator) pair: {str(step)[:60]!r}.")
        if isinstance(step[1], str) and step[1].startswith(_MARKER.format("")):
            raise ModelFileError(f"{where}: step {step[0]!r} is a network that {BUNDLE} "
                                 "does not list.")
        if hasattr(step[1], "steps"):
            _check_filled(step[1], where)
