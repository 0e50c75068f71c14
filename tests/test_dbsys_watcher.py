"""Watchers with real watchdog observers on real folders."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from dbsys.atomic import atomic_write
from dbsys.watcher import FileWatcher, FolderWatcher

from conftest import wait_for


class Recorder:
    """A callback that records batches and notices if it is ever entered twice at once."""

    def __init__(self, work: float = 0.0) -> None:
        self.seen: set[Path] = set()
        self.calls = 0
        self.active = 0
        self.overlap = False
        self.work = work
        self.lock = threading.Lock()

    def __call__(self, paths: set[Path]) -> None:
        with self.lock:
            self.active += 1
            self.overlap |= self.active > 1
        time.sleep(self.work)
        with self.lock:
            self.seen |= paths
            self.calls += 1
            self.active -= 1


@pytest.mark.parametrize("scan_interval", [60.0, 0.3], ids=["events", "events+scans"])
def test_burst_of_500_files_is_all_delivered_never_concurrently(tmp_path, scan_interval):
    recorder = Recorder(work=0.01)
    with FolderWatcher(tmp_path, recorder, debounce=0.05, scan_interval=scan_interval):
        for i in range(500):
            (tmp_path / f"r{i:03d}.xml").write_bytes(b"<x/>")
        expected = {tmp_path / f"r{i:03d}.xml" for i in range(500)}
        assert wait_for(lambda: expected <= recorder.seen, timeout=10)
    assert not recorder.overlap
    assert recorder.calls < 500  # debounced into batches


def test_initial_scan_finds_files_dropped_while_not_watching(tmp_path):
    (tmp_path / "before.xml").write_bytes(b"x")
    (tmp_path / "skip.txt").write_bytes(b"x")
    (tmp_path / "Processed").mkdir()
    (tmp_path / "Processed" / "old.xml").write_bytes(b"x")
    recorder = Recorder()
    with FolderWatcher(tmp_path, recorder, scan_interval=60):
        assert wait_for(lambda: recorder.seen == {tmp_path / "before.xml"})
    time.sleep(0.1)
    assert recorder.seen == {tmp_path / "before.xml"}


def test_rename_into_place_is_seen_and_temp_files_are_not(tmp_path):
    recorder = Recorder()
    with FolderWatcher(tmp_path, recorder, scan_interval=60) as watcher:
        tmp = tmp_path / "drop.tmp"
        tmp.write_bytes(b"<x/>")
        tmp.rename(tmp_path / "drop.xml")
        atomic_write(tmp_path / "other.xml", b"<y/>")
        assert wait_for(lambda: {tmp_path / "drop.xml", tmp_path / "other.xml"} <= recorder.seen)
        assert all(p.suffix == ".xml" and not p.name.startswith(".") for p in recorder.seen)
        watcher.kick()


def test_kick_scans_and_callback_errors_do_not_kill_the_worker(tmp_path):
    calls: list[set[Path]] = []

    def callback(paths):
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("first call fails")

    (tmp_path / "a.xml").write_bytes(b"x")
    watcher = FolderWatcher(tmp_path, callback, scan_interval=60).start()
    try:
        assert wait_for(lambda: len(calls) == 1)
        watcher.kick()
        assert wait_for(lambda: len(calls) == 2)
        assert calls[1] == {tmp_path / "a.xml"}
    finally:
        watcher.stop()


def test_missing_folder_is_created(tmp_path):
    folder = tmp_path / "ZenithRequests"
    recorder = Recorder()
    with FolderWatcher(folder, recorder, scan_interval=60):
        assert folder.is_dir()
        (folder / "a.xml").write_bytes(b"x")
        assert wait_for(lambda: recorder.seen == {folder / "a.xml"})


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def ini(tmp_path):
    path = tmp_path / "CmtZenithLink.ini"
    path.write_text("[Continuum]\nInstanceID=A\n")
    return path


def settle(counter: Counter, expected: int) -> None:
    assert wait_for(lambda: counter.count >= expected, timeout=10.0), f"fired {counter.count} times"
    time.sleep(1.2)  # more than twice the longest debounce here: an extra firing would show up
    assert counter.count == expected


def test_file_watcher_fires_once_for_a_rename_save(ini):
    counter = Counter()
    with FileWatcher(ini, counter, debounce=0.2):
        tmp = ini.with_name("CmtZenithLink.ini~")
        tmp.write_text("[Continuum]\nInstanceID=B\n")
        os.replace(tmp, ini)
        settle(counter, 1)


def test_file_watcher_fires_once_for_an_in_place_write(ini):
    counter = Counter()
    # The debounce is ten times the writer's pause, so that a loaded machine does not split it in two.
    with FileWatcher(ini, counter, debounce=0.5):
        with open(ini, "w") as fh:
            fh.write("[Continuum]\n")
            fh.flush()
            time.sleep(0.05)
            fh.write("InstanceID=C\n")
        settle(counter, 1)


def test_file_watcher_fires_once_for_delete_and_recreate(ini):
    counter = Counter()
    with FileWatcher(ini, counter, debounce=0.5):  # ten times the gap between delete and re-create
        ini.unlink()
        time.sleep(0.05)
        ini.write_text("[Continuum]\nInstanceID=D\n")
        settle(counter, 1)


def test_file_watcher_ignores_touches_and_neighbours(ini):
    counter = Counter()
    with FileWatcher(ini, counter, debounce=0.1):
        os.utime(ini, (time.time() + 5, time.time() + 5))
        ini.with_name("other.ini").write_text("x")
        ini.read_text()
        time.sleep(0.5)
        assert counter.count == 0
        ini.write_text("[Continuum]\nInstanceID=E\n")
        settle(counter, 1)


@pytest.mark.slow
def test_file_watcher_poll_catches_a_change_without_events(ini):
    counter = Counter()
    watcher = FileWatcher(ini, counter, debounce=0.1)
    watcher.start()
    try:
        watcher._observer.stop()  # simulate a file system that sends no events
        watcher._observer.join()
        ini.write_text("[Continuum]\nInstanceID=F, longer\n")
        assert wait_for(lambda: counter.count == 1, timeout=3.0)
    finally:
        watcher.stop()


def test_periodic_scan_catches_files_whose_events_were_lost(tmp_path):
    recorder = Recorder()
    watcher = FolderWatcher(tmp_path, recorder, scan_interval=0.3).start()
    try:
        watcher._observer.stop()  # as if inotify had overflowed: no more events
        watcher._observer.join()
        (tmp_path / "missed.xml").write_bytes(b"x")
        assert wait_for(lambda: tmp_path / "missed.xml" in recorder.seen, timeout=3)
    finally:
        watcher.stop()


def test_a_failed_read_of_a_changed_file_does_not_hide_the_change_from_the_next_poll(tmp_path, monkeypatch):
    from dbsys import watcher

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nPollIntervalSeconds=30\n")
    seen = FileWatcher(ini, lambda: None)  # not started: _changed is driven by hand, as a poll would
    ini.write_text("[Continuum]\nPollIntervalSeconds=31\n")
    real = watcher._digest
    monkeypatch.setattr(watcher, "_digest", lambda path: None)  # an editor holds the file open
    assert seen._changed(always_hash=False) is False
    monkeypatch.setattr(watcher, "_digest", real)
    assert seen._changed(always_hash=False) is True  # the next poll still sees the change


@pytest.mark.parametrize("windows", [True, False])
def test_the_ini_watcher_takes_the_name_in_any_case_on_windows(tmp_path, monkeypatch, windows):
    from dbsys import host

    monkeypatch.setattr(host, "is_windows", lambda: windows)
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\n")
    watcher = FileWatcher(ini, lambda: None)  # not started: only its filter is looked at
    for spelling in ("cmtzenithlink.ini", "CMTZENITHLINK.INI", "CmtZenithLink.ini"):
        watcher._dirty_at = None
        watcher._on_path(str(tmp_path / spelling))
        assert (watcher._dirty_at is not None) == (windows or spelling == ini.name), spelling
    watcher._dirty_at = None
    watcher._on_path(str(tmp_path / "CmtZenithLink.ini.bak"))
    watcher._on_path(str(tmp_path / "other" / "cmtzenithlink.ini"))
    assert watcher._dirty_at is None


@pytest.mark.posix  # a symlink
def test_a_case_insensitive_folder_is_recognised_without_the_platform(tmp_path, monkeypatch):
    from dbsys import host

    monkeypatch.setattr(host, "is_windows", lambda: False)
    folder = tmp_path / "Dbsys"
    folder.mkdir()
    assert host.names_fold_case(folder) is (host.sys.platform == "darwin")
    (tmp_path / "dBSYS").symlink_to(folder)  # a folder that also answers to its name in another case
    assert host.names_fold_case(folder) is True


def test_an_event_queue_overflow_scans_the_folder_at_once(tmp_path):
    import logging

    seen: list[set] = []
    got = threading.Event()

    def callback(paths):
        seen.append(paths)
        got.set()

    watcher = FolderWatcher(tmp_path, callback, debounce=0.01, scan_interval=3600)
    watcher._on_path = lambda path: None  # every event lost, as when the kernel's queue overflows
    (tmp_path / "first.xml").write_text("<x/>")
    with watcher:
        assert got.wait(5)  # the scan at start has run
        got.clear()
        (tmp_path / "lost.xml").write_text("<x/>")
        assert not got.wait(0.3)  # nothing tells the watcher (the periodic scan is an hour away)
        watchdog_log = logging.getLogger("watchdog.observers.inotify_c")
        watchdog_log.warning("Inotify queue overflowed; filesystem events were lost")
        assert got.wait(5)
    assert {p.name for p in seen[-1]} == {"first.xml", "lost.xml"}
