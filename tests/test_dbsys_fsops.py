"""Replacing, moving and removing files another program holds open (Windows sharing violations).

The seam is :mod:`dbsys.fsops`' ``_os_*`` functions: here they fail a number of times the way
Windows does (``PermissionError`` errno 13, or an ``OSError`` whose ``winerror`` is 32).
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from agent.errors import describe
from dbsys import drops, fsops, host
from dbsys.atomic import atomic_write, is_temp_name

from test_fsops_support import TRIES, held, no_pauses, sharing_violation  # noqa: F401 - a fixture


@pytest.mark.parametrize("error", [lambda: PermissionError(13, "Access is denied"), sharing_violation],
                         ids=["PermissionError", "winerror-32"])
def test_an_atomic_write_over_a_held_file_is_tried_again_and_succeeds(tmp_path, monkeypatch, error):
    target = tmp_path / "ZenithStatus_T1.xml"
    atomic_write(target, b"old")
    replace = held(os.replace, TRIES - 1, error=error)
    monkeypatch.setattr(fsops, "_os_replace", replace)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert len(replace.calls) == TRIES
    assert os.listdir(tmp_path) == [target.name]


def test_a_file_held_through_every_try_fails_with_a_message_that_names_it(tmp_path, monkeypatch):
    target = tmp_path / "ZenithDevices_T1.cmt"
    atomic_write(target, b"old")
    replace = held(os.replace, TRIES)
    monkeypatch.setattr(fsops, "_os_replace", replace)
    with pytest.raises(fsops.FileInUse) as caught:
        atomic_write(target, b"new")
    assert len(replace.calls) == TRIES
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == [target.name]  # no temporary file left
    text = describe(caught.value)
    assert str(target) in text and f"{TRIES} tries" in text
    assert "Another program holds it open" in text and "Close that program" in text
    assert isinstance(caught.value, PermissionError) and caught.value.filename == str(target)


def test_other_errors_are_not_tried_again(tmp_path, monkeypatch):
    replace = held(os.replace, 1, error=lambda: OSError(errno.ENOSPC, "No space left on device"))
    monkeypatch.setattr(fsops, "_os_replace", replace)
    with pytest.raises(OSError, match="No space") as caught:
        atomic_write(tmp_path / "a.xml", b"x")
    assert not isinstance(caught.value, fsops.FileInUse) and len(replace.calls) == 1


def test_remove_tries_again_and_a_missing_file_is_fine(tmp_path, monkeypatch):
    path = tmp_path / "a.xml"
    path.write_bytes(b"x")
    monkeypatch.setattr(fsops, "_os_unlink", held(os.unlink, 2, error=sharing_violation))
    assert fsops.remove(path) is True and not path.exists()
    assert fsops.remove(path) is False


def windows_rename(src, dst):
    """``os.rename`` as Windows does it: an existing target is refused."""
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "Cannot create a file when that file already exists", str(dst))
    os.rename(src, dst)


@pytest.fixture
def drop(tmp_path) -> Path:
    path = tmp_path / "r1.xml"
    path.write_bytes(b"<ZenithRequest/>")
    return path


def test_on_windows_a_held_drop_is_moved_once_it_is_let_go(tmp_path, monkeypatch, drop):
    monkeypatch.setattr(host, "is_windows", lambda: True)
    monkeypatch.setattr(fsops, "_os_link", lambda *a: pytest.fail("no hard links on the Windows route"))
    rename = held(windows_rename, 3, error=sharing_violation)
    monkeypatch.setattr(fsops, "_os_rename", rename)
    (tmp_path / "Processed").mkdir()
    (tmp_path / "Processed" / "r1.xml").write_bytes(b"an older drop of that name")
    moved = drops.move_to(drop, tmp_path / "Processed")
    assert moved.name == "r1-1.xml" and moved.read_bytes() == b"<ZenithRequest/>"
    assert not drop.exists()
    assert (tmp_path / "Processed" / "r1.xml").read_bytes() == b"an older drop of that name"


@pytest.mark.parametrize("windows", [True, False], ids=["windows", "posix"])
def test_a_drop_held_through_every_try_stays_where_it_was_and_only_there(tmp_path, monkeypatch, drop, windows):
    monkeypatch.setattr(host, "is_windows", lambda: windows)
    if windows:
        monkeypatch.setattr(fsops, "_os_rename", held(windows_rename, TRIES, error=sharing_violation))
    else:  # linked into Processed, then the drop cannot be removed: the link is undone
        monkeypatch.setattr(fsops, "_os_unlink", held(os.unlink, TRIES, only=drop))
    with pytest.raises(fsops.FileInUse, match="r1.xml"):
        drops.move_to(drop, tmp_path / "Processed")
    assert drop.read_bytes() == b"<ZenithRequest/>"
    assert os.listdir(tmp_path / "Processed") == []


def test_a_move_without_hard_links_still_never_replaces(tmp_path, monkeypatch, drop):
    monkeypatch.setattr(host, "is_windows", lambda: False)
    monkeypatch.setattr(fsops, "_os_link", held(os.link, 99, error=lambda: OSError(errno.EPERM, "no links")))
    (tmp_path / "Processed").mkdir()
    (tmp_path / "Processed" / "r1.xml").write_bytes(b"older")
    moved = drops.move_to(drop, tmp_path / "Processed")
    assert moved.name == "r1-1.xml" and not drop.exists()
    assert not [n for n in os.listdir(tmp_path / "Processed") if is_temp_name(n)]


# -- real holds: on Windows an open file cannot be replaced or moved (Python opens files without
# delete sharing), so these meet real sharing violations there; elsewhere they pass at once.

def let_go_after(handle, seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, handle.close)
    timer.start()
    return timer


def test_a_reader_holding_the_final_file_for_a_moment_does_not_fail_the_write(tmp_path, monkeypatch):
    monkeypatch.setattr(fsops, "RETRY_DELAYS", (0.05, 0.1, 0.2, 0.4, 0.8, 1.5))
    target = tmp_path / "ZenithDevices_T1.cmt"
    atomic_write(target, b"old")
    reader = open(target, "rb")  # noqa: SIM115 - closed by the timer, as another program would
    timer = let_go_after(reader, 0.3)
    try:
        atomic_write(target, b"new")
    finally:
        timer.join()
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == [target.name]


def test_a_drop_held_open_for_a_moment_is_moved_once_it_is_let_go(tmp_path, monkeypatch, drop):
    monkeypatch.setattr(fsops, "RETRY_DELAYS", (0.05, 0.1, 0.2, 0.4, 0.8, 1.5))
    reader = open(drop, "rb")  # noqa: SIM115 - closed by the timer
    timer = let_go_after(reader, 0.3)
    try:
        moved = drops.move_to(drop, tmp_path / "Processed")
    finally:
        timer.join()
    assert moved.read_bytes() == b"<ZenithRequest/>" and not drop.exists()


def test_a_status_file_read_while_it_is_being_replaced_is_tried_again(tmp_path, monkeypatch):
    # Windows refuses to open a file for the moment the agent replaces it (PermissionError).
    from dbsys.status import read_status, write_status

    path = tmp_path / "ZenithStatus_T1.xml"
    write_status(path, {"running": True})
    read = held(fsops._os_read_bytes, TRIES - 1)
    monkeypatch.setattr(fsops, "_os_read_bytes", read)
    assert read_status(path)["running"] is True
    assert len(read.calls) == TRIES
