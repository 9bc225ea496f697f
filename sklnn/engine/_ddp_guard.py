"""What keeps a data-parallel fit's processes and files from outliving it.

- A worker dies with the process that started it: on Linux the kernel sends it SIGKILL
  when its parent ends (``PR_SET_PDEATHSIG``), and on every platform a thread watches the
  parent's PID and ends the worker when it changes (the worker was re-parented).
- The temporary folder of a fit whose parent was killed (``SIGKILL`` skips its cleanup)
  names the parent's PID; the next data-parallel fit removes such folders.
- Ctrl-C in the parent asks the workers to stop at the end of the epoch (a file in the
  folder, read by every rank and agreed on, so that all stop at the same epoch); the
  workers ignore the terminal's SIGINT themselves, which would interrupt them at
  different points of a collective.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

#: the prefix of a fit's temporary folder; the parent's PID follows
PREFIX = "sklnn-ddp-"
PARENT_ENV = "SKLNN_DDP_PARENT"
STOP_ENV = "SKLNN_DDP_STOP"
_WATCH_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def folder_prefix() -> str:
    return f"{PREFIX}{os.getpid()}-"


def remove_stale_folders(directory: str | None = None) -> list[str]:
    """Remove the temporary folders of data-parallel fits whose parent process has ended
    (POSIX only: there a PID can be probed without touching the process)."""
    if os.name != "posix":
        return []
    directory = directory or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = re.fullmatch(rf"{re.escape(PREFIX)}(\d+)-.*", name)
        path = os.path.join(directory, name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            if os.stat(path).st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's, or unknowable: left alone
    return True


def die_with_parent() -> None:
    """In a worker: end when the parent that started it ends (see the module docstring)."""
    parent = int(os.environ.get(PARENT_ENV, "0"))
    if not parent:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watching thread below still ends the worker
    if os.getppid() != parent:  # the parent died before the kernel could be asked
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="sklnn-ddp-parent-watch", daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent asks them to stop instead


def stop_path(folder: str) -> str:
    return os.path.join(folder, "stop")


def request_stop(folder: str) -> None:
    with open(stop_path(folder), "w"):
        pass


def stop_requested() -> bool:
    """In a worker: whether the parent asked for the fit to stop (Ctrl-C)."""
    path = os.environ.get(STOP_ENV)
    return path is not None and os.path.exists(path)
