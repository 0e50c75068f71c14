"""One agent per Dbsys folder: an exclusive lock on ``.zenithlink.lock``, the holder's pid beside it.

The lock is a ``filelock`` lock, which the OS frees when the holder dies, even on a crash. The
pid goes to a file of its own (``.zenithlink.pid``): on Windows the locked byte of the lock file
cannot be read by another process, so a pid kept there would be hidden from ``status``. The pid
file is only believed while the lock is held; a crash leaves it behind, and the next holder
replaces it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import AlreadyRunning
from dbsys.atomic import atomic_write, remove_quietly

if TYPE_CHECKING:
    import filelock

LOCK_NAME = ".zenithlink.lock"
PID_NAME = ".zenithlink.pid"
# A look at whether the lock is free holds it for an instant (see :func:`is_held`); a taker waits
# this long before it concludes that an agent runs.
TAKE_WAIT_SECONDS = 0.25


class FolderLock:
    """Held from :meth:`acquire` until :meth:`release` or process exit (the OS frees it on a crash)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.pid_path = Path(folder) / PID_NAME
        self._lock: filelock.BaseFileLock | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        import filelock

        lock = _file_lock(self.path)
        try:
            lock.acquire(timeout=TAKE_WAIT_SECONDS, poll_interval=0.02)
        except filelock.Timeout:
            holder = read_pid(self.path.parent) or "unknown"
            raise AlreadyRunning(f"another zenithlink agent (pid {holder}) is already running for the Dbsys "
                                 f"folder {self.path.parent}; stop it first, or point this one at another "
                                 "folder") from None
        try:
            atomic_write(self.pid_path, str(os.getpid()).encode("ascii"))
        except BaseException:
            lock.release()
            raise
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            # The pid goes first: once the lock is free, the next holder's pid file must stay.
            remove_quietly(self.pid_path)
            self._lock.release()
            self._lock = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def is_held(folder: Path) -> bool:
    """Whether some process (this one included) holds the lock of ``folder``.

    Only looks: a folder without a lock file is not locked, and the lock file is not created.
    To look, the lock is taken and released at once when it is free.
    """
    path = Path(folder) / LOCK_NAME
    if not path.exists():
        return False
    # Imported here: ``status`` asks this at every start, and most folders it asks about have no
    # lock file; filelock's import is one of the dearest of a command's start.
    import filelock

    lock = _file_lock(path)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return True
    except FileNotFoundError:  # the holder released it and the file went meanwhile
        return False
    lock.release()
    return False


def read_pid(folder: Path) -> int | None:
    """The pid in the pid file of ``folder``, or ``None`` (missing, unreadable, not a number)."""
    try:
        text = (Path(folder) / PID_NAME).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def holder(folder: Path) -> tuple[bool, int | None]:
    """``(held, pid)``: whether an agent holds the lock of ``folder``, and its pid while it does."""
    if not is_held(folder):
        return False, None
    return True, read_pid(folder)


def _file_lock(path: Path) -> filelock.BaseFileLock:
    import filelock

    # thread_local=False: the lock belongs to the process (the service takes it on one thread
    # and its workers run on others).
    return filelock.FileLock(path, thread_local=False)
