"""Replace, rename, remove and read files that another program may hold open.

On Windows a file that another process has open without delete sharing (a RangerMSP client
reading an inventory file over SMB, a script, an antivirus scanner looking at a new file)
cannot be replaced, renamed or removed: the call fails with a sharing violation (winerror 32)
or access denied (winerror 5, a ``PermissionError``). Such holds are usually short, so every
operation here is tried again a few times over about three seconds before it gives up with
:class:`FileInUse`, which names the file and says what to do. Every writer of the agent
replaces, renames and removes files through this module.

The ``_os_*`` functions are the seam: the tests make them fail a number of times.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dbsys import host
from dbsys.backoff import Backoff

#: Pauses between tries (seconds): seven tries over about three seconds (0.05 s doubling, 1.5 s at most).
RETRY_DELAYS: tuple[float, ...] = tuple(Backoff(0.05, 1.5, "none").delays(6))
# ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
_HELD_WINERRORS = frozenset({5, 32, 33})

T = TypeVar("T")


class FileInUse(PermissionError):
    """A file stayed held by another program (or unwritable) through every try."""

    def __init__(self, path: str | os.PathLike[str], doing: str, tries: int, cause: OSError) -> None:
        self.path = Path(path)
        self.message = (
            f"{self.path} could not be {doing} after {tries} tries over {sum(RETRY_DELAYS):.0f} s "
            f"({cause.strerror or cause}). Another program holds it open (a RangerMSP client, a script, "
            f"an antivirus scanner), or the agent's account may not write to {self.path.parent}. Close that "
            "program or exclude the folder from on-access scanning, check the folder's permissions, and "
            "the agent tries again at its next round.")
        super().__init__(errno.EACCES, self.message, str(self.path))

    def __str__(self) -> str:
        return self.message


def is_held_error(exc: OSError) -> bool:
    """Whether ``exc`` may be a hold by another process that goes away if we wait."""
    return isinstance(exc, PermissionError) or getattr(exc, "winerror", None) in _HELD_WINERRORS


def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace(src, dst)``, tried again while ``dst`` or ``src`` is held."""
    _patiently("replaced", dst, lambda: _os_replace(src, dst))


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file the agent replaces (a status file, a result), tried again while it is
    held: on Windows a file refuses to be opened for the moment it is being replaced."""
    return _patiently("read", path, lambda: _os_read_bytes(path))


def remove(path: str | os.PathLike[str]) -> bool:
    """Remove ``path``, tried again while it is held; False when it was gone already."""
    try:
        _patiently("removed", path, lambda: _os_unlink(path))
    except FileNotFoundError:
        return False
    return True


def move_exclusive(src: str | os.PathLike[str], target: str | os.PathLike[str]) -> bool:
    """Move ``src`` to ``target`` without ever replacing ``target``; False when ``target`` exists.

    The file is never left in both places: on Windows a rename refuses an existing target
    by itself; elsewhere a hard link claims ``target``, and the link is undone when ``src``
    cannot be removed.
    """
    if host.is_windows():
        try:
            _patiently(f"moved to {Path(target).parent}", src, lambda: _os_rename(src, target))
        except FileExistsError:
            return False
        return True
    try:
        _os_link(src, target)
    except FileExistsError:
        return False
    except OSError:
        # No hard links here (FAT, some shares): check, then rename; one agent per folder.
        if os.path.lexists(target):
            return False
        _patiently(f"moved to {Path(target).parent}", src, lambda: _os_rename(src, target))
        return True
    try:
        _patiently(f"moved to {Path(target).parent}", src, lambda: _os_unlink(src))
    except BaseException:
        remove(target)
        raise
    return True


def _patiently(doing: str, path: str | os.PathLike[str], call: Callable[[], T]) -> T:
    tries = len(RETRY_DELAYS) + 1
    for attempt in range(tries):
        try:
            return call()
        except OSError as exc:
            if not is_held_error(exc) or isinstance(exc, FileInUse):
                raise
            if attempt == tries - 1:
                raise FileInUse(path, doing, tries, exc) from exc
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.debug("{} is held ({}); trying again in {} s", path, exc, RETRY_DELAYS[attempt])
            time.sleep(RETRY_DELAYS[attempt])
    raise AssertionError("unreachable")


def _os_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    os.replace(src, dst)


def _os_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    os.rename(src, dst)


def _os_read_bytes(path: str | os.PathLike[str]) -> bytes:
    return Path(path).read_bytes()


def _os_unlink(path: str | os.PathLike[str]) -> None:
    os.unlink(path)


def _os_link(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    os.link(src, dst)
