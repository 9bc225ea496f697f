"""Reading a model file's zip archive within a memory budget.

Everything a member will cost is known before it is read: the zip directory declares each
member's inflated size, the network rebuilt on PyTorch's ``meta`` device (shapes only,
no storage) declares what the weights must be, and each ``.npy`` header declares its
array's shape and dtype. Nothing is inflated or allocated until those declarations fit
the budget and agree with each other.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy

from sklnn.persistence._codec import ModelFileError

METADATA = "metadata.json"
WEIGHTS = "weights.npz"
MIN_BUDGET = 256 * 2**20
WEIGHTS_FACTOR = 4
# Deflate inflates at most about 1,000x; weights compress to ~90% and JSON to ~10-20% of
# their size, so a member inflating more than this is refused as a zip bomb by default.
MAX_INFLATION = 100
INFLATION_FREE = 2**20
# Python objects parsed from JSON take up to this many bytes per byte of JSON (e.g.
# "[{},{},...]": an empty dict and its pointer per 3 bytes), counting the decoded copy.
JSON_FACTOR = 64
NPY_OVERHEAD = 4096  # an array's .npy header, zip headers and name inside weights.npz
_CHUNK = 2**20


class Budget:
    """How many bytes loading may allocate, and the checks against it."""

    def __init__(self, max_bytes, file_size: int):
        if max_bytes is None:  # from the bytes on disk: an archive's declarations are not
            self.limit = max(MIN_BUDGET, WEIGHTS_FACTOR * file_size)
            self.default = True
        else:
            if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
                raise ValueError(f"max_bytes must be a positive int or None; got {max_bytes!r}.")
            self.limit = max_bytes
            self.default = False

    def need(self, n_bytes: float, what: str) -> None:
        if n_bytes > self.limit:
            how = ("the default is 4x the file's size on disk, at least 256 MiB"
                   if self.default else "max_bytes")
            raise ModelFileError(
                f"{what} needs about {_mib(n_bytes)} to load, more than the budget of "
                f"{_mib(self.limit)} ({how}). If you trust the file, pass a larger max_bytes "
                "to sklnn.load."
            )


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.1f} MiB"


def _entries(handle) -> int | None:
    """Entries the archive's end record declares, read before zipfile builds its directory."""
    end = getattr(zipfile, "_EndRecData", None)
    if end is None:
        return None
    try:
        record = end(handle)
    except (OSError, ValueError, zipfile.BadZipFile):
        return None
    return None if record is None else record[zipfile._ECD_ENTRIES_TOTAL]


def open_members(archive_file, names: set[str], where: str) -> tuple[zipfile.ZipFile, dict]:
    """Open a zip archive holding exactly the members ``names``, each once."""
    entries = _entries(archive_file)
    if entries is not None and entries != len(names):
        raise ModelFileError(f"{where} has {entries} members; expected exactly {sorted(names)}, "
                             "each once.")
    try:
        archive = zipfile.ZipFile(archive_file)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(
            f"{where} is not a readable sklnn model file ({exc}); it may be truncated or not "
            "written by sklnn.save."
        ) from None
    infos = archive.infolist()
    found = [info.filename for info in infos]
    if sorted(found) != sorted(names):
        archive.close()
        raise ModelFileError(f"{where} holds members {found[:8]}; expected exactly "
                             f"{sorted(names)}, each once (duplicates are refused).")
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                               zipfile.ZIP_DEFLATED):
            archive.close()
            raise ModelFileError(f"{where}: member {info.filename} is encrypted or compressed "
                                 "with a method sklnn does not write.")
    return archive, {info.filename: info for info in infos}


def check_inflation(info: zipfile.ZipInfo, budget: Budget) -> None:
    if budget.default and info.file_size > max(INFLATION_FREE,
                                               MAX_INFLATION * info.compress_size):
        raise ModelFileError(
            f"{info.filename} inflates from {info.compress_size:,} to {info.file_size:,} "
            f"bytes, more than {MAX_INFLATION}x: a zip bomb, or a file sklnn did not write. "
            "If you trust the file, pass max_bytes to sklnn.load."
        )


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, never more than the directory declares."""
    chunks, total = [], 0
    try:
        with archive.open(info) as handle:
            while chunk := handle.read(_CHUNK):
                total += len(chunk)
                if total > info.file_size:
                    raise ModelFileError(f"{info.filename} inflates past its declared size.")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{info.filename} cannot be read ({exc}); the file is corrupt "
                             "or truncated.") from None
    return b"".join(chunks)


def expected_npz_size(expected: dict) -> tuple[int, int]:
    """(bytes of the arrays, most bytes weights.npz may take) for ``{name: (shape, dtype)}``."""
    data = sum(math.prod(shape) * dtype.itemsize for shape, dtype in expected.values())
    return data, data + NPY_OVERHEAD * (len(expected) + 1) + sum(map(len, expected))


def read_arrays(weights: bytes, expected: dict) -> dict[str, np.ndarray]:
    """The arrays of ``weights.npz``, each checked against ``expected`` before it is read."""
    archive, infos = open_members(io.BytesIO(weights), {f"{k}.npy" for k in expected}, WEIGHTS)
    arrays = {}
    with archive:
        for name, (shape, dtype) in expected.items():
            info = infos[f"{name}.npy"]
            nbytes = math.prod(shape) * dtype.itemsize
            if info.file_size > nbytes + NPY_OVERHEAD:
                raise ModelFileError(f"{WEIGHTS}: {name} declares {info.file_size:,} bytes; its "
                                     f"shape {shape} needs {nbytes:,}.")
            try:
                with archive.open(info) as handle:
                    version = npy.read_magic(handle)
                    header = (npy.read_array_header_1_0 if version == (1, 0)
                              else npy.read_array_header_2_0)
                    found_shape, fortran, found_dtype = header(handle)
                    if found_dtype != dtype or tuple(found_shape) != shape or fortran:
                        raise ModelFileError(
                            f"{WEIGHTS}: {name} is a {found_dtype} array of shape "
                            f"{tuple(found_shape)}; the network needs {dtype} {shape}."
                        )
                    array = np.empty(shape, dtype=dtype)
                    view = memoryview(array.reshape(-1).view(np.uint8))
                    if handle.readinto(view) != nbytes or handle.read(1):
                        raise ModelFileError(f"{WEIGHTS}: {name} is truncated or too long.")
            except ModelFileError:
                raise
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise ModelFileError(f"{WEIGHTS}: {name} cannot be read ({exc}).") from None
            # a fit never keeps non-finite weights; such a file would predict NaN or class 0
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                raise ModelFileError(f"{WEIGHTS}: {name} holds NaN or infinite values; sklnn "
                                     "never saves such weights, so the file was altered.")
            arrays[name] = array
    return arrays


def check_skops(data: bytes, budget: Budget, where: str) -> None:
    """Bound what skops will allocate for ``data`` (itself a zip) before skops opens it.

    skops reads its ``schema.json`` and ``.npy`` members without a limit, so each member is
    held to the rules of a model file's members (method, inflation, the budget) and each
    ``.npy`` header's shape to the member's declared size, without inflating anything.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(f"{where} is not a readable zip archive ({exc}).") from None
    with archive:
        infos = archive.infolist()
        if len({info.filename for info in infos}) != len(infos):
            raise ModelFileError(f"{where} holds a member twice.")
        total = 0
        for info in infos:
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                                   zipfile.ZIP_DEFLATED):
                raise ModelFileError(f"{where}: member {info.filename} is encrypted or "
                                     "compressed with a method sklnn does not write.")
            try:
                check_inflation(info, budget)
            except ModelFileError as exc:
                raise ModelFileError(f"{where}: {exc}") from None
            json_member = info.filename.endswith(".json")
            total += info.file_size * (JSON_FACTOR if json_member else 1)
            budget.need(total, where)
            if info.filename.endswith(".npy"):
                _check_npy_header(archive, info, where)
        budget.need(total, where)


def _check_npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> None:
    """An array member's header declares no more data than the member holds."""
    try:
        with archive.open(info) as handle:
            version = npy.read_magic(handle)
            header = (npy.read_array_header_1_0 if version == (1, 0)
                      else npy.read_array_header_2_0)
            shape, _, dtype = header(handle, max_header_size=NPY_OVERHEAD)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ModelFileError(f"{where}: {info.filename} cannot be read ({exc}).") from None
    if any(not isinstance(n, int) or n < 0 for n in shape) or dtype.hasobject:
        raise ModelFileError(f"{where}: {info.filename} declares a {dtype} array of shape "
                             f"{shape}, which sklnn does not read.")
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise ModelFileError(f"{where}: {info.filename} declares a {dtype} array of shape "
                             f"{shape}, more than its {info.file_size:,} bytes hold.")
