"""Atomic writes: the old file survives a failed write; readers never see a partial file."""

from __future__ import annotations

import os
import threading
import time

import pytest

from dbsys.atomic import atomic_write, atomic_writer, is_temp_name, sweep_temp_files, temp_name


def test_atomic_write_replaces_content(tmp_path):
    target = tmp_path / "a.xml"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["a.xml"]


def test_failure_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.xml"
    atomic_write(target, b"old content")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["a.xml"]


def test_failure_without_old_file_creates_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_writer(tmp_path / "new.xml") as fh:
            fh.write(b"x")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_written_file_is_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.xml", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.xml").stat().st_mode & 0o044 == 0o044


def test_reader_polling_never_sees_a_truncated_file(tmp_path):
    """A reader polling the file sees a whole old or a whole new version, never part of one. On
    Windows a file being read cannot be replaced: the writer waits for a gap between reads (as a
    RangerMSP client leaves between its reads), and a read that meets the replacement is refused
    (the reader tries again); neither shows a partial file."""
    target = tmp_path / "inv.cmt"
    payloads = [(f"<R n='{i}'>".encode() + b"x" * (20_000 + i * 37) + b"</R>") for i in range(200)]
    atomic_write(target, payloads[0])
    valid = set(payloads)
    seen_bad: list[bytes] = []
    reads = 0
    done = threading.Event()
    pause = 0.02 if os.name == "nt" else 0.0

    def reader():
        nonlocal reads
        while not done.wait(pause):
            try:
                data = target.read_bytes()
            except PermissionError:
                continue
            reads += 1
            if data not in valid:
                seen_bad.append(data[:40])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for payload in payloads:
            atomic_write(target, payload)
    finally:
        done.set()
        thread.join()
    assert reads > 0
    assert seen_bad == []
    assert target.read_bytes() == payloads[-1]


def test_temp_names_are_recognised():
    name = temp_name("ZenithDevices_X.cmt")
    assert name.startswith(".ZenithDevices_X.cmt.") and name.endswith(".tmp")
    assert is_temp_name(name)
    assert not is_temp_name("ZenithDevices_X.cmt")
    assert not is_temp_name(".hidden.tmp")
    assert not is_temp_name("request.tmp")


def test_sweep_removes_only_old_own_temp_files(tmp_path):
    old_temp = tmp_path / temp_name("a.xml")
    fresh_temp = tmp_path / temp_name("b.xml")
    someone_elses = tmp_path / "drop.tmp"
    for p in (old_temp, fresh_temp, someone_elses):
        p.write_bytes(b"x")
    past = time.time() - 60
    os.utime(old_temp, (past, past))
    os.utime(someone_elses, (past, past))
    assert sweep_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh_temp.name, "drop.tmp"])
    assert sweep_temp_files(tmp_path / "missing") == 0
