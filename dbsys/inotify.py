"""One folder's inotify events read straight from the kernel (Linux), without watchdog's pairing of moves.

watchdog holds every "moved from" event for half a second to pair it with its "moved to", and
pairs each rename by scanning the queue of events it holds. The request folder's intake moves
every drop it takes to a subfolder that is not watched, so under a burst of drops that queue
grew with the burst and its scans held the interpreter the intake and the outbox sender need.
The intake only needs to know that a name appeared or that its writer is done with it, so this
reader asks the kernel for exactly that (created, moved in, closed after writing) and needs no
pairing at all. Windows (ReadDirectoryChangesW) keeps watchdog's observer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from loguru import logger

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
# Linux's values (the module is imported on Windows too, where os has no O_NONBLOCK).
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
WATCHED = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, length of the name
_READ_BYTES = 64 * 1024


class Unavailable(OSError):
    """This system offers no inotify (not Linux, or its limits of watches or instances are reached)."""


def parse(buffer: bytes) -> list[tuple[int, bytes]]:
    """The ``(mask, name)`` of each event in what one read of an inotify descriptor returned."""
    events, offset = [], 0
    while offset + _HEADER.size <= len(buffer):
        _wd, mask, _cookie, length = _HEADER.unpack_from(buffer, offset)
        offset += _HEADER.size
        events.append((mask, buffer[offset:offset + length].rstrip(b"\0")))
        offset += length
    return events


class FolderEvents:
    """Reads one folder's events on a daemon thread and hands them on: ``on_path(path)`` for a file
    that appeared or changed, ``on_complete(path)`` for one its writer is done with (closed after
    writing, or renamed in), ``on_overflow()`` when the kernel's queue overflowed (events were lost).

    Offers the observer's ``stop()`` and ``join()``, as the watcher stops either alike.
    """

    def __init__(self, folder: Path, on_path: Callable[[str], None], on_complete: Callable[[str], None],
                 on_overflow: Callable[[], None]) -> None:
        self._folder = os.fsencode(folder)
        self._on_path = on_path
        self._on_complete = on_complete
        self._on_overflow = on_overflow
        self._fd = _open(self._folder)
        self._wake_r, self._wake_w = os.pipe()
        self._fds_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"inotify of {Path(folder).name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # Under the lock: once the reader closed its descriptors, their numbers may be another file's.
        with self._fds_lock:
            if not self._closed:
                os.write(self._wake_w, b"x")

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            poller = select.poll()
            poller.register(self._fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if self._wake_r in ready:
                    return
                try:
                    buffer = os.read(self._fd, _READ_BYTES)
                except BlockingIOError:
                    continue
                self._dispatch(parse(buffer))
        except Exception:  # noqa: BLE001 - the periodic scans still find every drop
            logger.exception("reading the file-system events of {} failed; the periodic scans go on",
                             os.fsdecode(self._folder))
        finally:
            with self._fds_lock:
                self._closed = True
                for fd in (self._fd, self._wake_r, self._wake_w):
                    os.close(fd)

    def _dispatch(self, events: list[tuple[int, bytes]]) -> None:
        for mask, name in events:
            if mask & IN_Q_OVERFLOW:
                self._on_overflow()
                continue
            if mask & IN_ISDIR or not name:
                continue
            path = os.fsdecode(os.path.join(self._folder, name))
            if mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                self._on_complete(path)
            if mask & WATCHED:
                self._on_path(path)


def _open(folder: bytes) -> int:
    """An inotify descriptor watching ``folder`` for :data:`WATCHED`."""
    if not sys.platform.startswith("linux"):
        raise Unavailable(f"no inotify on {sys.platform}")
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        init, add_watch = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError) as exc:
        raise Unavailable(f"no inotify here: {exc}") from None
    add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    fd = init(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        raise Unavailable(ctypes.get_errno(), f"inotify_init1: {os.strerror(ctypes.get_errno())}")
    if add_watch(fd, folder, WATCHED | IN_ONLYDIR) < 0:
        errno = ctypes.get_errno()
        os.close(fd)
        raise Unavailable(errno, f"inotify_add_watch {os.fsdecode(folder)}: {os.strerror(errno)}")
    return fd
