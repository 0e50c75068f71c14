"""Files that hold the PSG or the PSA's records are readable by their owner only (POSIX modes;
on Windows the folder's ACLs decide), and ``run`` says when the INI is not."""

from __future__ import annotations

import os
import stat

import pytest

from agent.backends.embedded import StateStore

from conftest import run_cli, write_ini

pytestmark = pytest.mark.posix


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def _usual_umask():
    previous = os.umask(0o022)  # the common default, under which the defects showed
    yield
    os.umask(previous)


def test_init_writes_the_ini_readable_by_its_owner_only(tmp_path):
    target = tmp_path / "CmtZenithLink.ini"
    res = run_cli(["init", str(target)])
    assert res.code == 0, res.err
    assert _mode(target) == 0o600


def test_the_store_its_wal_and_a_backup_are_readable_by_their_owner_only(tmp_path):
    path = tmp_path / "Dbsys" / "zenithlink.sqlite3"
    with StateStore(path) as state:
        state.add_employee("alice", "Alice", "Full")  # the WAL and its index exist while the store is open
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            assert _mode(name) == 0o600, name
        state.backup(tmp_path / "copy.sqlite3")
    assert _mode(tmp_path / "copy.sqlite3") == 0o600


def test_run_warns_when_the_ini_is_readable_by_others_and_says_the_chmod(tmp_path):
    ini = write_ini(tmp_path)
    ini.chmod(0o644)
    res = run_cli(["run", "--once"], config=ini)
    assert f"chmod 600 '{ini}'" in res.err and "other users of this machine can read it" in res.err
    ini.chmod(0o600)
    assert "chmod 600" not in run_cli(["run", "--once"], config=ini).err
