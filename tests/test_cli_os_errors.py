"""Operating-system errors as a person meets them at the command line: each gets the sentence
that fits it, not one sentence for all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dbsys import cmt

from conftest import ROOT, run_cli, write_ini
from test_links_manager import GENERATED
from test_links_manager import write_ini as write_links_ini


@pytest.mark.parametrize("command", [["links", "sites"], ["inventory", "sites"], ["inventory", "sites", "--json"]])
def test_a_reader_that_goes_away_is_not_an_error(tmp_path, command):
    ini = write_links_ini(tmp_path)
    sites = [[("SiteID", str(n)), ("SiteCode", f"S{n:05d}"), ("Name", f"Customer number {n}"), ("ClientName", "")]
             for n in range(4000)]
    cmt.write_inventory(cmt.sites_path(tmp_path / "Dbsys", "T1"), "sites", sites, GENERATED)
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "--config", str(ini),
                             *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    assert proc.stdout is not None and proc.stdout.read(100)  # like `| head -c 100`
    proc.stdout.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0, err
    assert b"Error" not in err and b"Traceback" not in err


def test_a_port_in_use_says_so_and_not_to_check_the_disk(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shown = run_cli(["sandbox", "--port", str(port)], timeout=30)
    assert shown.code == 1
    assert "in use" in shown.err and "another port" in shown.err and "disk" not in shown.err


def test_a_dbsys_folder_that_is_a_file_is_named_as_such(tmp_path):
    (tmp_path / "Dbsys").write_text("not a folder")
    shown = run_cli(["accounts", "add", "ACME"], config=write_ini(tmp_path, "[RangerMSP]\nDbsysFolder=Dbsys\n"))
    assert shown.code in (1, 2)
    assert "is a file where a folder is expected" in shown.err, shown.err


@pytest.mark.skipif(os.name == "nt" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="permissions do not stop root, and Windows has none of these modes")
def test_init_into_an_unwritable_folder_names_the_file_not_a_temporary_one(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        shown = run_cli(["init", str(locked / "CmtZenithLink.ini")])
    finally:
        locked.chmod(0o700)
    assert shown.code == 1 and str(locked / "CmtZenithLink.ini") in shown.err and ".tmp" not in shown.err


def test_the_sentence_names_the_file_being_written_not_its_temporary_name():
    from agent.errors import describe

    folder = Path("/srv/x")
    sentence = describe(PermissionError(13, "Permission denied", str(folder / ".CmtZenithLink.ini.0a1b2c3d4e5f.tmp")))
    assert str(folder / "CmtZenithLink.ini") in sentence and ".tmp" not in sentence
    assert "disk is full" in describe(OSError(28, "No space left on device", "/srv/x/zenithlink.sqlite3"))
