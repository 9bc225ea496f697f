"""Atomic file writes shared by model files (``sklnn.persistence``) and checkpoints."""

from __future__ import annotations

import os
import secrets
import stat
import time
from collections.abc import Callable


def atomic_write(path, data: bytes | Callable, *, make_parents: bool = False,
                 suffix: str = "") -> None:
    """Write ``data`` (bytes, or a function given the open binary file) to ``path`` atomically.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the
    file is renamed over ``path``: readers see the old file or the new one, never a torn
    one, and a crash leaves the old file and no temporary behind (the temporary is removed
    on any exception). The new file gets the permissions ``open(path, "wb")`` would give
    it: the process umask applies to a new file, and an existing file keeps its mode.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if make_parents:
        os.makedirs(directory, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        # the writer's PID in the name tells a later resume whether a writer still owns it
        tmp = os.path.join(directory, f"{temporary_prefix(path)}{os.getpid()}-"
                                      f"{secrets.token_hex(8)}{suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for open()
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.chmod(tmp, mode)
            if callable(data):
                data(handle)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def temporary_prefix(path) -> str:
    """How :func:`atomic_write`'s temporaries for ``path`` begin (a process killed mid-write
    leaves one behind; :func:`remove_stale_temporaries` clears them)."""
    return f".tmp-{os.path.basename(os.fspath(path))}-"


def _writer_gone(name: str, prefix: str) -> bool:
    """Whether the process named in a temporary's name (``<prefix><pid>-<token>``) has
    ended on this machine."""
    pid = name[len(prefix):].split("-", 1)[0]
    if os.name != "posix" or not pid.isdigit() or int(pid) == 0:
        return False  # os.kill(pid, 0) would stop the process on Windows
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # alive under another user, or unknowable: the age rule decides
    return False


def remove_stale_temporaries(path, older_than: float = 60.0) -> list[str]:
    """Delete the temporaries a killed writer left for ``path``: those whose writer (the
    PID in the name) has ended, and any older than ``older_than`` seconds (a writer on
    another machine sharing the folder); a write in progress is left alone. Returns what
    was removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = temporary_prefix(path)
    removed = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    now = time.time()
    for name in names:
        candidate = os.path.join(directory, name)
        if name.startswith(prefix):
            try:
                if _writer_gone(name, prefix) or now - os.stat(candidate).st_mtime > older_than:
                    os.unlink(candidate)
                    removed.append(candidate)
            except FileNotFoundError:
                continue
    return removed
