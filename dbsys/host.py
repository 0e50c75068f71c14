"""What differs between the platforms the agent runs on, behind one seam.

Production is Windows Server; development and the Linux CI are not. Code asks this module
instead of ``os.name`` or ``sys.platform``, so that a test can monkeypatch :func:`is_windows`
and exercise the Windows behaviour on Linux.
"""

from __future__ import annotations

import codecs
import locale
import os
import sys
from pathlib import Path


def is_windows() -> bool:
    """True on Windows."""
    return os.name == "nt"


def line_ending() -> str:
    """The line ending of text files people open here: CRLF on Windows (old Notepad shows a file
    with bare LF as one line), LF elsewhere."""
    return "\r\n" if is_windows() else "\n"


def with_line_endings(data: bytes) -> bytes:
    """``data`` (text with ``\\n`` line ends) with :func:`line_ending` instead."""
    ending = line_ending().encode("ascii")
    return data if ending == b"\n" else data.replace(b"\n", ending)


def ansi_encoding() -> str:
    """The encoding Notepad calls "ANSI" here: the system's code page, and ``cp1252`` (Western
    Windows) where the locale says UTF-8 or plain ASCII (Linux, Python's UTF-8 mode)."""
    name = codecs.lookup(locale.getencoding()).name
    return "cp1252" if name in ("utf-8", "ascii") else name


#: The mode of files only the agent's own account may read (the INI with the PSG, the store).
OWNER_ONLY = 0o600


def readable_by_others(path: str | os.PathLike[str]) -> bool:
    """Whether users other than the file's owner may read ``path`` (its group or everyone). Always
    False on Windows, where who reads a file is the folder's ACLs' business, not a mode."""
    if is_windows():
        return False
    return bool(os.stat(path).st_mode & 0o044)


def names_fold_case(folder: str | os.PathLike[str]) -> bool:
    """Whether file names in ``folder`` ignore case: always on Windows and macOS; elsewhere when
    the folder answers to its name in another case too (a case-insensitive share or disk)."""
    if is_windows() or sys.platform == "darwin":
        return True
    folder = Path(folder).absolute()
    other = folder.with_name(folder.name.swapcase()) if folder.name else folder
    if other == folder:
        return False
    try:
        return os.path.samefile(folder, other)
    except OSError:
        return False


def reports_closed_files() -> bool:
    """Whether file-system events here say when a writer closed a file (inotify, on Linux): then a
    drop written in place is judged when its writer is done with it, not by a fixed grace."""
    return sys.platform.startswith("linux")
