"""``backup`` never overwrites a file unasked, and the restore that docs/troubleshooting.md
describes (stop, remove the -wal/-shm files, copy the backup back) brings the data back."""

from __future__ import annotations

import json
import shutil

from conftest import run_cli, write_ini


def _accounts(ini) -> list[str]:
    res = run_cli(["accounts", "list", "--json"], config=ini)
    assert res.code == 0, res.err
    return [a["name"] for a in json.loads(res.out)]


def test_backup_refuses_to_overwrite_a_file_without_force(tmp_path):
    ini = write_ini(tmp_path)
    assert run_cli(["accounts", "add", "ACME"], config=ini).code == 0
    target = tmp_path / "earlier-backup.sqlite3"
    target.write_bytes(b"an earlier backup")
    res = run_cli(["backup", str(target)], config=ini)
    assert res.code == 1 and str(target) in res.err and "--force" in res.err
    assert target.read_bytes() == b"an earlier backup"
    assert run_cli(["backup", "--force", str(target)], config=ini).code == 0
    assert target.read_bytes().startswith(b"SQLite format 3")


def test_a_backup_copied_back_with_the_agent_stopped_restores_the_data(tmp_path):
    ini = write_ini(tmp_path)
    assert run_cli(["accounts", "add", "ACME"], config=ini).code == 0
    backup = tmp_path / "zenithlink-backup.sqlite3"
    assert run_cli(["backup", str(backup)], config=ini).code == 0
    assert run_cli(["accounts", "add", "Added after the backup"], config=ini).code == 0
    assert _accounts(ini) == ["ACME", "Added after the backup"]

    assert run_cli(["status", "--check"], config=ini).code == 1  # no agent runs: safe to restore
    store = tmp_path / "Dbsys" / "zenithlink.sqlite3"
    for leftover in (store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(backup, store)
    assert _accounts(ini) == ["ACME"]
