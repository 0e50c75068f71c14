"""``status``, ``errors`` and ``requests`` on real files and a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from stores import open_embedded

from agent.cli import cli
from agent.runtime.lock import FolderLock
from dbsys import reports, results
from dbsys.status import status_path, write_status


@pytest.fixture()
def site(tmp_path) -> Path:
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nInstanceID=T1\nProcessContinuumUpdatesQueue=Y\n", encoding="utf-8")
    return ini


def run_json(ini: Path, *args: str):
    result = CliRunner().invoke(cli, ["--config", str(ini), *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def zenithlink(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60)


def status_fields(**over):
    fields = {"version": "0.1.0", "pid": 4242, "started_at": "2026-11-27T09:00:00Z",
              "updated_at": "2026-11-27T10:00:00Z", "last_inventory_refresh": "2026-11-27T09:30:00Z",
              "inventory_sites": 20, "inventory_devices": 200, "inventory_changes": 3, "activation": "ok",
              "last_queue_poll": "2026-11-27T09:59:30Z", "queue_cursor": "c-17", "process_queue": True,
              "outbox_depth": 0, "outbox_oldest": None, "requests_done": 0, "requests_failed": 0,
              "last_error": None}
    fields.update(over)
    return fields


def test_fresh_install_not_running_and_nothing_created(site):
    doc = run_json(site, "status")
    assert doc["running"] is False and doc["pid"] is None
    assert doc["status_file_found"] is False and doc["last_inventory_refresh"] is None
    assert doc["inventory_files"] == {"sites": None, "devices": None}
    assert doc["process_queue"] is True
    assert not (site.parent / "Dbsys").exists()  # looking changes nothing


def test_status_file_store_and_reports_together(site):
    dbsys = site.parent / "Dbsys"
    dbsys.mkdir()
    write_status(status_path(dbsys, "T1"), status_fields())
    state, psa = open_embedded(dbsys / "zenithlink.sqlite3")
    account = psa.add_account("ACME")
    ticket = psa.add_ticket(account, "Disk full")
    state.enqueue_outbox("k1", ticket, "close", {"resolution": "done"})
    state.set_state("feed_cursor", "c-18")
    state.record_request("r1", "h1", "r1.xml", "AddNote", "jsmith", "Done")
    state.record_request("r2", "h2", "r2.xml", "LinkSite", "jsmith", "Failed", error_code="NotFound",
                         error_message="no site X")
    state.set_state("last_error", "inventory download: Continuum is unreachable")
    state.close()
    reports.write_report(dbsys, "inventory", "inventory download", "Continuum is unreachable", "wait",
                         at=datetime(2026, 11, 27, 9, 45, tzinfo=timezone.utc))

    doc = run_json(site, "status")
    assert doc["running"] is False and doc["pid"] is None  # the file's pid 4242 is stale
    assert doc["activation"] == "ok" and doc["inventory_sites"] == 20 and doc["inventory_devices"] == 200
    assert doc["last_queue_poll"] == "2026-11-27T09:59:30Z"
    assert doc["queue_cursor"] == "c-18"  # the store is fresher than the status file
    assert doc["outbox_depth"] == 1 and doc["outbox_oldest"]
    assert doc["requests_done"] == 1 and doc["requests_failed"] == 1
    assert doc["last_error"] == "inventory download: Continuum is unreachable"
    assert doc["error_reports"] == 1 and doc["latest_error_report"].endswith("-inventory.xml")

    text = CliRunner().invoke(cli, ["--config", str(site), "status"]).output
    assert "NOT running" in text and "c-18" in text and "1 done, 1 failed" in text


def test_an_outage_is_shown_from_the_store_and_its_end_too(site):
    dbsys = site.parent / "Dbsys"
    dbsys.mkdir()
    write_status(status_path(dbsys, "T1"), status_fields(outage_since="2026-11-27T09:58:00.000000Z"))
    state, _ = open_embedded(dbsys / "zenithlink.sqlite3")
    state.set_state("outage_since", "2026-11-27T09:58:00.000000Z")

    assert run_json(site, "status")["outage_since"] == "2026-11-27T09:58:00.000000Z"
    text = CliRunner().invoke(cli, ["--config", str(site), "status"]).output
    assert "NOT ANSWERING since 2026-11-27T09:58:00" in text

    state.set_state("outage_since", None)  # Continuum answered; the status file is not rewritten yet
    state.close()
    assert run_json(site, "status")["outage_since"] is None
    assert "no outage" in CliRunner().invoke(cli, ["--config", str(site), "status"]).output


def test_running_while_the_folder_lock_is_held(site):
    dbsys = site.parent / "Dbsys"
    with FolderLock(dbsys):
        doc = run_json(site, "status")
        assert doc["running"] is True and doc["pid"] == os.getpid()
        assert (dbsys / ".zenithlink.pid").read_text() == str(os.getpid())  # only looked
    doc = run_json(site, "status")
    assert doc["running"] is False and doc["pid"] is None


def test_an_unreadable_status_file_is_reported_not_fatal(site):
    dbsys = site.parent / "Dbsys"
    dbsys.mkdir()
    status_path(dbsys, "T1").write_text("<!DOCTYPE x><ZenithStatus/>", encoding="utf-8")
    doc = run_json(site, "status")
    assert doc["status_file_problem"].startswith("cannot read ZenithStatus_T1.xml")


def test_errors_list_and_show(site):
    dbsys = site.parent / "Dbsys"
    older = reports.write_report(dbsys, "psg", "Continuum refused the Security Code", "HTTP 401",
                                 "Check PSG in the INI", at=datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    newer = reports.write_report(dbsys, "inventory", "inventory download failed", "timeout", "wait",
                                 at=datetime(2026, 11, 27, 9, tzinfo=timezone.utc), details={"sites": 3})
    listed = run_json(site, "errors", "list")
    assert [r["name"] for r in listed] == [newer.name, older.name]
    assert run_json(site, "errors") == listed  # the default subcommand

    shown = run_json(site, "errors", "show", older.stem)
    assert shown["what"] == "Continuum refused the Security Code" and shown["todo"] == "Check PSG in the INI"
    text = CliRunner().invoke(cli, ["--config", str(site), "errors", "show", newer.name]).output
    assert "inventory download failed" in text and "sites" in text

    missing = zenithlink("--config", str(site), "errors", "show", "20260101T000000Z-nope")
    assert missing.returncode == 1 and "errors list" in missing.stderr
    bad = zenithlink("--config", str(site), "errors", "show", "../CmtZenithLink.ini")
    assert bad.returncode == 2


def test_requests_from_the_store_and_the_result_files(site):
    dbsys = site.parent / "Dbsys"
    dbsys.mkdir()
    state, psa = open_embedded(dbsys / "zenithlink.sqlite3")
    state.record_request("r-done", "h1", "a.xml", "AddNote", "jsmith", "Done")
    state.record_request("r-failed", "h2", "b.xml", "LinkSite", "mary", "Failed", error_code="NotFound",
                         error_message="There is no site X in the inventory.")
    state.close()
    folder = dbsys / "ZenithRequests" / "Results"
    results.write_result(folder, "r-done", "AddNote", "Done")
    # A drop too broken to be recorded has only its result, named after the file.
    results.write_result(folder, "broken.xml", "", "Failed", error_code="BadXML", error_message="not XML")

    rows = run_json(site, "requests")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"r-done", "r-failed", "broken.xml"}
    assert by_id["r-done"]["result_file"] == "r-done.xml" and by_id["r-done"]["user"] == "jsmith"
    assert by_id["broken.xml"]["error_code"] == "BadXML" and by_id["broken.xml"]["status"] == "Failed"

    failed = run_json(site, "requests", "--failed")
    assert sorted(r["id"] for r in failed) == ["broken.xml", "r-failed"]
    text = CliRunner().invoke(cli, ["--config", str(site), "requests", "--failed"]).output
    assert "r-failed" in text and "NotFound:" in text and "r-done" not in text


def test_without_a_status_file_the_store_answers(site):
    dbsys = site.parent / "Dbsys"
    dbsys.mkdir()
    state, psa = open_embedded(dbsys / "zenithlink.sqlite3")
    for key, value in {"activation": "pending", "activation_pending_since": "2026-11-27T08:00:00Z",
                       "inventory_sites": "0", "last_queue_poll": "2026-11-27T09:00:00Z"}.items():
        state.set_state(key, value)
    state.record_request("q1", "h", "q1.xml", "CreateTicket", "jsmith", "Queued")
    state.close()
    doc = run_json(site, "status")
    assert doc["status_file_found"] is False
    assert doc["activation"] == "pending" and doc["activation_pending_since"] == "2026-11-27T08:00:00Z"
    assert doc["inventory_sites"] == 0 and doc["last_queue_poll"] == "2026-11-27T09:00:00Z"
    assert doc["requests_done"] == 1 and doc["requests_queued"] == 1
    text = CliRunner().invoke(cli, ["--config", str(site), "status"]).output
    assert "PENDING since 2026-11-27T08:00:00Z" in text


def test_inventory_files_are_counted_from_their_headers(site):
    from dbsys import cmt

    dbsys = site.parent / "Dbsys"
    dbsys.mkdir()
    generated = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    cmt.write_inventory(cmt.sites_path(dbsys, "T1"), "sites", [[("SiteCode", "S1"), ("Name", "One")]], generated)
    doc = run_json(site, "status")
    assert doc["inventory_files"]["sites"]["file"] == "ZenithSites_T1.cmt"
    assert doc["inventory_files"]["sites"]["count"] == 1
    assert doc["inventory_files"]["devices"] is None


def test_the_status_file_and_status_show_the_same_figures(site):
    from agent.app import App
    from agent.runtime.status import STATUS_FIELDS, file_fields, gather_status
    from dbsys.status import read_status

    app = App(site)
    try:
        app.state.set_states({"inventory_sites": "20", "inventory_devices": "200", "activation": "ok",
                              "last_error": "Continuum refused the PSG"})
        app.state.record_request("r1", "h1", "r1.xml", "AddNote", "jsmith", "Done")
        path = status_path(app.settings.dbsys_folder, "T1")
        write_status(path, file_fields(app, started_at="2026-11-27T09:00:00Z"))
        written, shown = read_status(path), gather_status(app)
    finally:
        app.close()
    assert tuple(written) == STATUS_FIELDS
    assert written["running"] is True and written["pid"] == os.getpid()
    assert written["inventory_sites"] == 20 and written["inventory_devices"] == 200  # typed, as documented
    same = [k for k in STATUS_FIELDS if k not in ("pid", "running", "version", "started_at", "updated_at")]
    assert {k: written[k] for k in same} == {k: shown[k] for k in same}
    assert shown["requests_done"] == 1 and shown["last_error"] == "Continuum refused the PSG"
