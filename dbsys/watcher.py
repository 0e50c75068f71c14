"""Folder and file watchers: watchdog event handlers only enqueue, one worker debounces and acts.

File-system events are hints (D3): inotify drops events under bursts and network shares
may send none, so :class:`FolderWatcher` also scans the whole folder at start and every
``scan_interval``, and :class:`FileWatcher` polls its file every two seconds.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from loguru import logger
from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_OPENED,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from dbsys import host, inotify
from dbsys.atomic import is_temp_name

_IGNORED_EVENTS = {EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE}
# What can make a file a candidate, or say that its writer is done with it. The rest (opened,
# closed unwritten, deleted: every drop the agent reads and moves away makes those) is not even
# asked of the kernel: under a burst of drops watchdog pairs its events by scanning a queue
# that grows with them, and that scan took the interpreter from the intake and the sender.
# Where closes are reported, a write in place ends with one, so its every write (modified) need
# not be heard either.
_CANDIDATE_EVENTS: list[type[FileSystemEvent]] = [FileCreatedEvent, FileMovedEvent, FileClosedEvent]
_CANDIDATE_EVENTS_WITHOUT_CLOSES: list[type[FileSystemEvent]] = [*_CANDIDATE_EVENTS, FileModifiedEvent]
# A steady stream of events must not postpone the callback for ever.
_MAX_BATCH_WAIT = 1.0
_POLL_SECONDS = 2.0
_MAX_COMPLETE = 10_000
_WATCHDOG_LOGGER = "watchdog.observers.inotify_c"


def _event_paths(event: FileSystemEvent) -> Iterable[str]:
    if event.event_type in _IGNORED_EVENTS or event.is_directory:
        return ()
    paths = [os.fsdecode(event.src_path)]
    dest = getattr(event, "dest_path", "")
    if dest:
        paths.append(os.fsdecode(dest))
    return paths


class _Handler(FileSystemEventHandler):
    def __init__(self, on_path: Callable[[str], None], on_complete: Callable[[str], None] | None = None) -> None:
        self._on_path = on_path
        self._on_complete = on_complete

    def on_any_event(self, event: FileSystemEvent) -> None:
        if self._on_complete is not None and not event.is_directory:
            # Closed after writing, or renamed in (written under another name first): what the
            # file holds now is all its writer meant to write.
            if event.event_type == EVENT_TYPE_CLOSED:
                self._on_complete(os.fsdecode(event.src_path))
            elif event.event_type == EVENT_TYPE_MOVED:
                self._on_complete(os.fsdecode(event.dest_path))
        for path in _event_paths(event):
            self._on_path(path)


class _Worker:
    """The thread, stop flag and condition shared by both watchers."""

    def __init__(self, name: str) -> None:
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run_safely, name=name, daemon=True)
        self._observer: BaseObserver | inotify.FolderEvents | None = None

    def _observe(self, folder: Path, event_filter: list[type[FileSystemEvent]] | None = None) -> None:
        observer = Observer()
        observer.schedule(_Handler(self._on_path, self._on_complete), str(folder), recursive=False,
                          event_filter=event_filter)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; waits up to ``timeout`` seconds for a running callback to end."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("The {} callback did not finish within {} s", self._thread.name, timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run_safely(self) -> None:
        try:
            self._run()
        except Exception:  # the loop itself failed: say so rather than die silently
            logger.exception("The {} stopped after an unexpected error", self._thread.name)

    def _on_path(self, path: str) -> None:
        raise NotImplementedError

    _on_complete: Callable[[str], None] | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def _call(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("The {} callback failed; watching goes on", self._thread.name)


class FolderWatcher(_Worker):
    """Call ``callback(paths)`` with candidate files of ``folder`` matching ``patterns``.

    Candidates come from events (debounced by ``debounce`` seconds of quiet, at most one
    second late under a steady stream) and from full scans at start, every
    ``scan_interval`` seconds and on :meth:`kick`. The callback runs in one worker thread,
    never concurrently with itself; only files that still exist are passed. The folder is
    created if missing. Subfolders are not watched.
    """

    def __init__(self, folder: str | os.PathLike[str], callback: Callable[[set[Path]], None], *,
                 patterns: tuple[str, ...] = ("*.xml",), debounce: float = 0.1,
                 scan_interval: float = 30.0) -> None:
        super().__init__(f"folder watcher of {Path(folder).name}")
        self.folder = Path(folder).absolute()
        self._folder_text = str(self.folder)
        self._callback = callback
        self._patterns = tuple(p.lower() for p in patterns)
        self._debounce = debounce
        self._scan_interval = scan_interval
        self._pending: set[Path] = set()
        self._first_event = 0.0
        self._last_event = 0.0
        self._scan_due = True
        self._complete: dict[Path, int] = {}  # file -> its mtime when its writer was done with it
        self._overflow = _OverflowHandler(self.kick)
        self._on_complete = self._note_complete if host.reports_closed_files() else None

    def start(self) -> FolderWatcher:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self._on_complete and self._read_inotify()):
            self._observe(self.folder, _CANDIDATE_EVENTS if self._on_complete else _CANDIDATE_EVENTS_WITHOUT_CLOSES)
        logging.getLogger(_WATCHDOG_LOGGER).addHandler(self._overflow)
        return super().start()

    def stop(self, timeout: float = 10.0) -> None:
        logging.getLogger(_WATCHDOG_LOGGER).removeHandler(self._overflow)
        super().stop(timeout)

    def _read_inotify(self) -> bool:
        """Read the folder's inotify events without watchdog (see :mod:`dbsys.inotify`); False where
        the kernel refuses (its limit of instances or watches reached): watchdog's observer then."""
        if not sys.platform.startswith("linux"):
            return False  # Windows: ReadDirectoryChangesW through watchdog, which pairs nothing
        try:
            events = inotify.FolderEvents(self.folder, self._on_path, self._note_complete, self.kick)
        except inotify.Unavailable as exc:
            logger.info("watching {} through watchdog: {}", self.folder, exc)
            return False
        events.start()
        self._observer = events
        return True

    def kick(self) -> None:
        """Scan the whole folder now (from any thread)."""
        with self._cond:
            self._scan_due = True
            self._cond.notify_all()

    def _matches(self, name: str) -> bool:
        lower = name.lower()
        return not is_temp_name(name) and any(fnmatch.fnmatchcase(lower, p) for p in self._patterns)

    def _on_path(self, path: str) -> None:
        # Called for every event of a burst: the name is judged before a Path is made of it.
        parent, name = os.path.split(path)
        if not self._matches(name) or not self._in_folder(parent):
            return
        candidate = Path(path)
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            self._pending.add(candidate)
            self._last_event = now
            self._cond.notify_all()

    def _in_folder(self, parent: str) -> bool:
        # The string first (events name the folder as it was given); Path's comparison too, which
        # folds case on Windows.
        return parent == self._folder_text or Path(parent) == self.folder

    def _note_complete(self, path: str) -> None:
        parent, name = os.path.split(path)
        if not self._matches(name) or not self._in_folder(parent):
            return
        candidate = Path(path)
        try:
            mtime = os.stat(candidate).st_mtime_ns
        except OSError:
            return
        with self._cond:
            if len(self._complete) > _MAX_COMPLETE:
                self._complete.clear()  # a bound, not a history: an unknown file waits out its grace
            self._complete[candidate] = mtime

    def writer_done(self, path: Path, mtime_ns: int) -> bool | None:
        """Whether the writer of ``path`` closed it (or renamed it in) after its last change:
        ``None`` where the file system does not say (no close events: Windows, network shares)."""
        if self._on_complete is None:
            return None
        with self._cond:
            return self._complete.get(Path(path).absolute()) == mtime_ns

    def _scan(self) -> set[Path]:
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            logger.warning("Could not scan {}: {}", self.folder, exc)
            return set()
        return {Path(e.path) for e in entries if self._matches(e.name) and _is_file(e)}

    def _run(self) -> None:
        next_scan = time.monotonic()
        while True:
            with self._cond:
                while not self._stopping and not self._pending and not self._scan_due:
                    timeout = next_scan - time.monotonic()
                    if timeout <= 0:
                        break
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                scan = self._scan_due or time.monotonic() >= next_scan
                self._scan_due = False
            batch = set()
            if scan:
                batch = self._scan()
                next_scan = time.monotonic() + self._scan_interval
            batch |= self._take_pending()
            if self._stopping:
                return
            batch = {p for p in batch if p.exists()}
            if batch:
                self._call(self._callback, batch)

    def _take_pending(self) -> set[Path]:
        with self._cond:
            while self._pending and not self._stopping:
                now = time.monotonic()
                wait = min(self._last_event + self._debounce, self._first_event + _MAX_BATCH_WAIT) - now
                if wait <= 0:
                    break
                self._cond.wait(wait)
            batch, self._pending = self._pending, set()
            return batch


class _OverflowHandler(logging.Handler):
    """watchdog says only in its log that the kernel's event queue overflowed (events were lost):
    that is the moment to scan the whole folder, not at the next periodic scan."""

    def __init__(self, kick: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._kick = kick

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._kick()


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False) or entry.is_symlink()
    except OSError:
        return False


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _digest(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


class FileWatcher(_Worker):
    """Call ``callback()`` once each time the content of one file changes.

    In-place writes, rename-saves (an editor writes a temp file and renames it over) and
    delete-and-recreate are all seen: the parent folder is watched and events are filtered
    by name, then debounced by ``debounce`` seconds of quiet. The callback fires only when
    the content hash differs from the last one seen, so touches and spurious events do not
    fire it; a missing file does not fire it either (it fires when the file comes back with
    new content). A poll every two seconds catches missed events.
    """

    def __init__(self, path: str | os.PathLike[str], callback: Callable[[], None], debounce: float = 0.3) -> None:
        super().__init__(f"file watcher of {Path(path).name}")
        self.path = Path(path).absolute()
        # On Windows (and case-insensitive shares) an event may spell the name otherwise than the
        # INI path given (cmtzenithlink.ini for CmtZenithLink.ini): it is the same file.
        self._fold_case = host.names_fold_case(self.path.parent)
        self._callback = callback
        self._debounce = debounce
        self._dirty_at: float | None = None
        self._stat = _signature(self.path)
        self._hash = _digest(self.path)

    def start(self) -> FileWatcher:
        self._observe(self.path.parent)
        return super().start()

    def _is_ours(self, path: str) -> bool:
        candidate = Path(path)
        if not self._fold_case:
            return candidate.name == self.path.name and candidate.parent == self.path.parent
        return (candidate.name.casefold() == self.path.name.casefold()
                and str(candidate.parent).casefold() == str(self.path.parent).casefold())

    def _on_path(self, path: str) -> None:
        if not self._is_ours(path):
            return
        with self._cond:
            self._dirty_at = time.monotonic()
            self._cond.notify_all()

    def _run(self) -> None:
        next_poll = time.monotonic() + _POLL_SECONDS
        while True:
            with self._cond:
                by_event = False
                while not self._stopping:
                    now = time.monotonic()
                    if self._dirty_at is not None and now >= self._dirty_at + self._debounce:
                        by_event = True
                        break
                    if self._dirty_at is None and now >= next_poll:
                        break
                    due = self._dirty_at + self._debounce if self._dirty_at is not None else next_poll
                    self._cond.wait(due - now)
                if self._stopping:
                    return
                self._dirty_at = None
            next_poll = time.monotonic() + _POLL_SECONDS
            if self._changed(always_hash=by_event):
                self._call(self._callback)

    def _changed(self, always_hash: bool) -> bool:
        # The poll trusts (mtime, size); after an event the content is hashed anyway, as a
        # same-size rewrite within the file system's mtime granularity leaves both equal.
        stat = _signature(self.path)
        if stat is None or (stat == self._stat and not always_hash):
            return False
        digest = _digest(self.path)
        if digest is None:
            return False  # unreadable now (an editor holds it): the next poll looks again
        self._stat = stat  # only once read: a failed read must not hide the change from later polls
        if digest == self._hash:
            return False
        self._hash = digest
        return True
