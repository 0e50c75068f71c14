"""The folder lock (R23): one agent per Dbsys folder, its pid readable by every other process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.errors import AlreadyRunning
from agent.runtime.installers import agent_running
from agent.runtime.lock import LOCK_NAME, PID_NAME, FolderLock, holder, is_held
from agent.sync.inventory.refresh import sweep_if_idle


def python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_another_process_reads_the_holders_pid_while_the_lock_is_held(tmp_path):
    with FolderLock(tmp_path):
        # The pid is in a file of its own, never in the locked file (whose locked byte another
        # process cannot read on Windows).
        assert (tmp_path / PID_NAME).read_text() == str(os.getpid())
        child = python("""
            import sys
            from pathlib import Path
            from agent.runtime.installers import agent_running
            print(open(Path(sys.argv[1]) / '.zenithlink.pid').read())
            print(agent_running(Path(sys.argv[1])))
        """, str(tmp_path))
        assert child.returncode == 0, child.stderr
        assert child.stdout.splitlines() == [str(os.getpid()), f"(True, {os.getpid()})"]
        assert (tmp_path / PID_NAME).read_text() == str(os.getpid())  # the look changed nothing
    assert agent_running(tmp_path) == (False, None)
    assert not (tmp_path / PID_NAME).exists()


def test_a_lock_held_by_another_process_is_seen_with_its_pid_and_refused(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from agent.runtime.lock import FolderLock
        lock = FolderLock(Path(sys.argv[1]))
        lock.acquire()
        print('held', flush=True)
        sys.stdin.readline()
        lock.release()
        print('released', flush=True)
    """), str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert agent_running(tmp_path) == (True, child.pid)
        with pytest.raises(AlreadyRunning, match=f"pid {child.pid}"):
            FolderLock(tmp_path).acquire()
        assert sweep_if_idle(type("S", (), {"dbsys_folder": tmp_path})()) == 0  # a command leaves it alone
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
    finally:
        child.stdin.close()
        child.wait(30)
    assert agent_running(tmp_path) == (False, None)
    with FolderLock(tmp_path):  # free again
        assert holder(tmp_path) == (True, os.getpid())


def test_a_crashed_holders_pid_file_is_not_believed(tmp_path):
    (tmp_path / LOCK_NAME).write_text("")
    (tmp_path / PID_NAME).write_text("999999")  # left by an agent that died
    assert agent_running(tmp_path) == (False, None)
    with FolderLock(tmp_path):
        assert agent_running(tmp_path) == (True, os.getpid())


def test_looking_creates_nothing(tmp_path):
    folder = tmp_path / "Dbsys"
    assert agent_running(folder) == (False, None)
    assert not is_held(folder)
    assert not folder.exists()


def test_a_second_lock_in_the_same_process_is_refused(tmp_path):
    first = FolderLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning):
            FolderLock(tmp_path).acquire()
        assert is_held(tmp_path)
    finally:
        first.release()
    assert not is_held(Path(tmp_path))
