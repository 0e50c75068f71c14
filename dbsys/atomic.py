"""Atomic file writes (rule D4): a reader never sees a half-written final file.

The data goes to a temporary file ``.<name>.<random>.tmp`` in the same folder (so the
rename cannot cross file systems), is flushed and fsynced, then :func:`dbsys.fsops.replace`
puts it over the final name (trying again while another program holds the final file open)
and the folder itself is fsynced so the rename survives a power cut. On any exception the
temporary file is removed and the final file is left as it was.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dbsys import fsops

TEMP_SUFFIX = ".tmp"
_TEMP_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
# Files are read by the PSA side under other accounts: honour the umask, not 0600.
_FILE_MODE = 0o666


def temp_name(final_name: str) -> str:
    """The temporary name used while ``final_name`` is being written."""
    return f".{final_name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    """True for names made by :func:`temp_name` (and nothing else)."""
    return bool(_TEMP_RE.match(name))


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Make a rename in ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network shares) refuse fsync on folders; the rename stands
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: str | os.PathLike[str], *, mode: int = _FILE_MODE,
                  sync_folder: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file (opened read-write, seekable); on clean exit it replaces ``path``.

    ``mode`` (before the umask) is for a file only its owner may read (``0o600``: the INI).
    ``sync_folder=False`` leaves the folder's fsync to the caller, who writes many files into
    one folder and makes their renames durable with one :func:`fsync_folder` (the file's own
    data is fsynced before the rename either way)."""
    final = Path(path)
    tmp = final.with_name(temp_name(final.name))
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        fsops.replace(tmp, final)
    except BaseException:
        remove_quietly(tmp)
        raise
    if sync_folder:
        fsync_folder(final.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = _FILE_MODE,
                 sync_folder: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (``mode``, ``sync_folder``: see :func:`atomic_writer`)."""
    with atomic_writer(path, mode=mode, sync_folder=sync_folder) as fh:
        fh.write(data)


def sweep_temp_files(folder: str | os.PathLike[str], *, older_than: float = 10.0) -> int:
    """Remove temporary files left in ``folder`` by a crash; return how many were removed.

    Only names made by :func:`temp_name` are touched, and only when older than
    ``older_than`` seconds, so a write in progress in another thread is left alone.
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not is_temp_name(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                continue
            if not fsops.remove(entry.path):
                continue
        except FileNotFoundError:
            continue
        except OSError as exc:
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("Could not remove the stray temporary file {}: {}", entry.name, exc)
            continue
        removed += 1
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.info("Removed the stray temporary file {} left by an interrupted write", entry.name)
    return removed


def remove_quietly(path: Path) -> None:
    """Remove a temporary file; one already gone is fine, one that cannot go is only logged."""
    try:
        fsops.remove(path)
    except OSError as exc:
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.warning("Could not remove the temporary file {}: {}", path, exc)
