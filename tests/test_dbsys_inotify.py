"""The request folder's own inotify reader (Linux): the events the intake needs, no pairing of moves."""

from __future__ import annotations

import os
import struct
import sys
import threading
from pathlib import Path

import pytest

from dbsys import inotify
from dbsys.watcher import FolderWatcher

from conftest import wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")


def _event(mask: int, name: bytes) -> bytes:
    padded = name + b"\0" * (16 - len(name) % 16) if name else b""
    return struct.pack("iIII", 1, mask, 0, len(padded)) + padded


def test_parse_reads_every_event_of_one_read_and_strips_the_padding():
    buffer = _event(inotify.IN_MOVED_TO, b"a.xml") + _event(inotify.IN_Q_OVERFLOW, b"") + _event(
        inotify.IN_CLOSE_WRITE, b"a-much-longer-name-than-sixteen.xml")
    assert inotify.parse(buffer) == [(inotify.IN_MOVED_TO, b"a.xml"), (inotify.IN_Q_OVERFLOW, b""),
                                     (inotify.IN_CLOSE_WRITE, b"a-much-longer-name-than-sixteen.xml")]


class Calls:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.complete: list[str] = []
        self.overflows = 0
        self.lock = threading.Lock()

    def path(self, path: str) -> None:
        with self.lock:
            self.paths.append(path)

    def done(self, path: str) -> None:
        with self.lock:
            self.complete.append(path)

    def overflow(self) -> None:
        self.overflows += 1


def test_renamed_in_and_written_files_are_told_moved_out_files_and_folders_are_not(tmp_path):
    calls = Calls()
    (tmp_path / "Processed").mkdir()
    (tmp_path / "old.xml").write_text("<x/>")
    events = inotify.FolderEvents(tmp_path, calls.path, calls.done, calls.overflow)
    events.start()
    try:
        os.replace(tmp_path / "old.xml", tmp_path / "Processed" / "old.xml")  # moved away: nothing to say
        (tmp_path / "Sub").mkdir()
        (tmp_path / ".r1.tmp").write_text("<x/>")
        os.replace(tmp_path / ".r1.tmp", tmp_path / "r1.xml")
        (tmp_path / "r2.xml").write_text("<x/>")
        wait_for(lambda: str(tmp_path / "r2.xml") in calls.complete, 10, "the close of r2.xml")
    finally:
        events.stop()
        events.join(5)
    assert str(tmp_path / "r1.xml") in calls.complete
    assert {str(tmp_path / n) for n in ("r1.xml", "r2.xml", ".r1.tmp")} <= set(calls.paths)
    assert not {str(tmp_path / n) for n in ("old.xml", "Sub")} & set(calls.paths + calls.complete)
    assert calls.overflows == 0


def test_a_burst_moved_out_of_the_folder_makes_no_events_to_pair(tmp_path):
    """watchdog held each unpaired "moved from" half a second and paired every rename by scanning
    them; here hundreds of drops moved away make no event at all, and the next drop is told."""
    calls = Calls()
    (tmp_path / "Processed").mkdir()
    for n in range(300):
        (tmp_path / f"d{n}.xml").write_text("<x/>")
    events = inotify.FolderEvents(tmp_path, calls.path, calls.done, calls.overflow)
    events.start()
    try:
        for n in range(300):
            os.replace(tmp_path / f"d{n}.xml", tmp_path / "Processed" / f"d{n}.xml")
        (tmp_path / "next.xml").write_text("<x/>")
        wait_for(lambda: str(tmp_path / "next.xml") in calls.complete, 10, "the next drop")
    finally:
        events.stop()
        events.join(5)
    assert all(Path(p).name == "next.xml" for p in calls.paths)


def test_an_overflow_read_from_the_kernel_scans_the_folder_at_once(tmp_path):
    seen: list[set[Path]] = []
    got = threading.Event()

    def callback(paths: set[Path]) -> None:
        seen.append(paths)
        got.set()

    watcher = FolderWatcher(tmp_path, callback, debounce=0.01, scan_interval=3600)
    watcher._on_path = lambda path: None  # every event lost
    (tmp_path / "first.xml").write_text("<x/>")
    with watcher:
        assert got.wait(5)
        got.clear()
        (tmp_path / "lost.xml").write_text("<x/>")
        assert isinstance(watcher._observer, inotify.FolderEvents)
        watcher._observer._dispatch([(inotify.IN_Q_OVERFLOW, b"")])
        assert got.wait(5)
    assert {p.name for p in seen[-1]} == {"first.xml", "lost.xml"}


def test_without_inotify_the_watcher_falls_back_to_watchdog(tmp_path, monkeypatch):
    def refuse(folder: bytes) -> int:
        raise inotify.Unavailable(24, "inotify_init1: Too many open files")

    monkeypatch.setattr(inotify, "_open", refuse)
    seen: set[Path] = set()
    with FolderWatcher(tmp_path, seen.update, debounce=0.01, scan_interval=3600) as watcher:
        (tmp_path / ".late.tmp").write_text("<x/>")
        os.replace(tmp_path / ".late.tmp", tmp_path / "late.xml")
        wait_for(lambda: tmp_path / "late.xml" in seen, 10, "the drop through watchdog")
        assert not isinstance(watcher._observer, inotify.FolderEvents)
        target = tmp_path / "late.xml"
        wait_for(lambda: watcher.writer_done(target, target.stat().st_mtime_ns), 10, "the rename-in")


def test_stopping_twice_or_after_the_reader_ended_writes_to_no_other_file(tmp_path):
    calls = Calls()
    events = inotify.FolderEvents(tmp_path, calls.path, calls.done, calls.overflow)
    events.start()
    events.stop()
    events.join(5)
    other = os.open(tmp_path / "other.bin", os.O_RDWR | os.O_CREAT)  # may take a number the reader freed
    try:
        events.stop()
        assert os.fstat(other).st_size == 0
    finally:
        os.close(other)


def test_off_linux_there_is_no_inotify_and_the_module_still_imports(monkeypatch, tmp_path):
    # The watcher imports the module on every platform; Windows keeps watchdog's observer.
    monkeypatch.setattr(inotify.sys, "platform", "win32")
    with pytest.raises(inotify.Unavailable, match="no inotify on win32"):
        inotify.FolderEvents(tmp_path, lambda _p: None, lambda _p: None, lambda: None)
