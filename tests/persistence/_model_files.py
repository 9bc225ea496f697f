"""Building hostile model files, and loading them in a child process that reports peak memory.

Run as a script: ``python _model_files.py FILE...`` loads each file with ``sklnn.load``
and prints one JSON object: for each file the exception's type and message (or "loaded"),
and the growth of the process's peak resident memory over its state before the loads.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np


def read(path) -> tuple[dict, bytes]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json")), archive.read("weights.npz")


def write(path, metadata, weights: bytes, *, fix_sha=True, extra=(), metadata_bytes=None):
    """A model file; ``fix_sha`` recomputes the checksum as a tamperer would."""
    if fix_sha:
        metadata = dict(metadata, weights_sha256=hashlib.sha256(weights).hexdigest())
    text = metadata_bytes if metadata_bytes is not None else json.dumps(metadata).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", text)
            archive.writestr("weights.npz", weights)
            for name, data in extra:
                archive.writestr(name, data)
    return path


def bomb_member(path, name: str, prefix: bytes, n_bytes: int, suffix: bytes, others):
    """A zip whose member ``name`` inflates to about ``n_bytes`` (spaces between prefix and
    suffix), compressed in streaming chunks so building it takes little memory."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w", force_zip64=True) as handle:
            handle.write(prefix)
            chunk = b" " * 2**22
            for _ in range(n_bytes // len(chunk)):
                handle.write(chunk)
            handle.write(suffix)
        for other, data in others:
            archive.writestr(other, data)
    return path


def npz_bomb(good_weights: bytes, n_bytes: int) -> bytes:
    """The good weights.npz with its first array replaced by ``n_bytes`` of deflated zeros
    (a header declaring that many), built in streaming chunks."""
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (n_bytes // 4,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good_weights)) as good, zipfile.ZipFile(
        buffer, "w", compression=zipfile.ZIP_DEFLATED
    ) as archive:
        names = good.namelist()
        with archive.open(names[0], "w", force_zip64=True) as handle:
            handle.write(header.getvalue())
            chunk = bytes(2**22)
            for _ in range(n_bytes // len(chunk)):
                handle.write(chunk)
        for name in names[1:]:
            archive.writestr(name, good.read(name))
    return buffer.getvalue()


def _peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        import os

        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(paths) -> dict:
    import time

    import sklnn
    from sklnn.persistence import ModelFileError

    # Warm up: imports and lazily registered kernels (PyTorch's meta device) on good files.
    for good in sorted((Path(__file__).parent / "data" / "format1").glob("*.sklnn")):
        sklnn.load(good)
    baseline = max(_peak_rss_bytes(), _current_rss_bytes())
    outcomes = {}
    for path in paths:
        start = time.perf_counter()
        try:
            sklnn.load(path)
            outcome = "loaded"
        except ModelFileError as exc:
            outcome = f"ModelFileError: {exc}"
        except BaseException as exc:  # noqa: BLE001 - reported, and the test fails on it
            outcome = f"{type(exc).__name__}: {exc}"
        outcomes[str(path)] = {"outcome": outcome[:500],
                               "seconds": round(time.perf_counter() - start, 3)}
    return {"outcomes": outcomes, "peak_growth": _peak_rss_bytes() - baseline}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
