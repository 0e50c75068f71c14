"""Result files, error reports and the status file: round trips, unique names, no PSG."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest

from dbsys import reports, results, status
from dbsys.redact import set_redactor
from dbsys.safexml import UnsafeXML

AT = datetime(2026, 11, 27, 10, 0, 3, tzinfo=timezone.utc)
PSG = "S3cr3t-PSG-Code"


@pytest.fixture
def redactor():
    from dbsys import redact as redact_module

    before = redact_module._redactor  # the agent's own, installed at import: the next test needs it
    set_redactor(lambda text: before(text).replace(PSG, "***"))
    yield
    set_redactor(before)


def test_result_round_trip(tmp_path):
    path = results.write_result(tmp_path / "Results", "7f9c-1", "CreateTicket", "Done", at=AT,
                                continuum_ticket_id="202611270042", extra={"PsaTicket": "TKT1"})
    assert path == tmp_path / "Results" / "7f9c-1.xml"
    assert results.read_result(path) == {
        "id": "7f9c-1", "action": "CreateTicket", "status": "Done", "at": "2026-11-27T10:00:03Z",
        "continuum_ticket_id": "202611270042", "error_code": None, "error_message": None,
        "extra": {"PsaTicket": "TKT1"}, "file": "7f9c-1.xml",
    }
    head = b'<ZenithResult id="7f9c-1" action="CreateTicket" status="Done" at="2026-11-27T10:00:03Z">'
    assert head in path.read_bytes()


def test_failed_result_replaces_queued(tmp_path):
    results.write_result(tmp_path, "r1", "AddNote", "Queued", at=AT)
    path = results.write_result(tmp_path, "r1", "AddNote", "Failed", at=AT + timedelta(seconds=5),
                                error_code="NotFound", error_message="No linked ticket & <none>; link it first.")
    got = results.read_result(path)
    assert (got["status"], got["error_code"], got["error_message"]) == (
        "Failed", "NotFound", "No linked ticket & <none>; link it first.")
    assert os.listdir(tmp_path) == ["r1.xml"]


def test_result_rules(tmp_path):
    with pytest.raises(ValueError):
        results.write_result(tmp_path, "r1", "AddNote", "Finished")
    with pytest.raises(ValueError):
        results.write_result(tmp_path, "r1", "AddNote", "Failed")
    # A bad drop's file name stands in for the id: it must stay a plain name in the folder.
    path = results.write_result(tmp_path, "../../evil name?.xml", "", "Failed", error_code="BadId", error_message="bad")
    assert path.parent == tmp_path and "/" not in path.name and not path.name.startswith(".")


def test_list_results_newest_first_skips_junk(tmp_path):
    results.write_result(tmp_path, "old", "AddNote", "Done", at=AT)
    results.write_result(tmp_path, "new", "AddNote", "Done", at=AT + timedelta(minutes=1))
    (tmp_path / "junk.xml").write_bytes(b"<not closed")
    assert [r["id"] for r in results.list_results(tmp_path)] == ["new", "old"]
    assert results.list_results(tmp_path / "missing") == []


def test_report_round_trip_and_listing(tmp_path):
    first = reports.write_report(tmp_path, "inventory", "Inventory download failed", "HTTP 503 from the API",
                                 "Check the Continuum status page", at=AT, details={"attempts": 3, "at": AT})
    assert first.parent == tmp_path / "ZenithErrors"
    assert first.name == "20261127T100003Z-inventory.xml"
    got = reports.read_report(tmp_path, first.name)
    assert got == {"name": first.name, "at": AT, "kind": "inventory", "what": "Inventory download failed",
                   "error": "HTTP 503 from the API", "todo": "Check the Continuum status page",
                   "details": {"attempts": "3", "at": "2026-11-27T10:00:03Z"}}
    assert reports.read_report(tmp_path, first.stem)["name"] == first.name
    later = reports.write_report(tmp_path, "psg refused!", "Continuum refused the PSG", "401", "Fix it",
                                 at=AT + timedelta(hours=1))
    assert later.name == "20261127T110003Z-psg-refused.xml"
    listed = reports.list_reports(tmp_path)
    assert [r.name for r in listed] == [later.name, first.name]
    assert listed[0].kind == "psg-refused" and listed[0].what == "Continuum refused the PSG"


def test_report_names_are_unique_within_one_second(tmp_path):
    paths: list = []

    def write(i):
        paths.append(reports.write_report(tmp_path, "request", f"Request {i} failed", "e", "t", at=AT))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in paths}) == 20
    assert len(reports.list_reports(tmp_path)) == 20
    whats = {reports.read_report(tmp_path, p.name)["what"] for p in paths}
    assert whats == {f"Request {i} failed" for i in range(20)}


def test_read_report_refuses_paths_and_names_missing_ones(tmp_path):
    (tmp_path / "secret.xml").write_bytes(b"<ZenithError/>")
    for name in ("../secret.xml", "/etc/passwd", "..", ""):
        with pytest.raises(ValueError):
            reports.read_report(tmp_path, name)
    with pytest.raises(FileNotFoundError) as info:
        reports.read_report(tmp_path, "20990101T000000Z-none")
    assert "errors list" in str(info.value)
    assert reports.list_reports(tmp_path / "nowhere") == []


def test_status_round_trip(tmp_path):
    path = status.status_path(tmp_path, "I1")
    assert path == tmp_path / "ZenithStatus_I1.xml"
    fields = {"Version": "0.1.0", "StartedAt": "2026-11-27T10:00:00Z", "QueueOn": True, "PollPaused": False,
              "OutboxDepth": 3, "QueueCursor": None, "LastError": "x < y & z", "Load": 0.25}
    status.write_status(path, fields)
    assert status.read_status(path) == fields
    text = path.read_text("utf-8")
    assert "<QueueOn type=\"bool\">true</QueueOn>" in text and "<OutboxDepth type=\"int\">3</OutboxDepth>" in text
    status.write_status(path, {"LastInventory": AT})
    assert status.read_status(path) == {"LastInventory": "2026-11-27T10:00:03Z"}


def test_status_refuses_bad_fields(tmp_path):
    with pytest.raises(ValueError):
        status.write_status(tmp_path / "s.xml", {"bad key": 1})
    with pytest.raises(ValueError):
        status.write_status(tmp_path / "s.xml", {"Nested": {"a": 1}})
    assert not (tmp_path / "s.xml").exists()
    (tmp_path / "s.xml").write_bytes(b"<!DOCTYPE x><ZenithStatus/>")
    with pytest.raises(UnsafeXML):
        status.read_status(tmp_path / "s.xml")


def test_psg_never_reaches_any_file(tmp_path, redactor):
    message = f"Continuum refused the code {PSG}"
    results.write_result(tmp_path / "Results", "r1", "CreateTicket", "Failed", error_code="Auth",
                         error_message=message, extra={"Detail": message})
    reports.write_report(tmp_path, "auth", message, message, message, details={PSG: message})
    status.write_status(tmp_path / "status.xml", {"LastError": message})
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 3
    for path in written:
        data = path.read_bytes()
        assert PSG.encode() not in data, path.name
        assert b"***" in data


def test_folder_layout(tmp_path):
    from dbsys import paths

    requests = paths.requests_folder(tmp_path)
    assert requests == tmp_path / "ZenithRequests"
    assert paths.requests_folder(tmp_path, tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert paths.results_folder(requests) == requests / "Results"
    assert paths.processed_folder(requests) == requests / "Processed"
    assert paths.failed_folder(requests) == requests / "Failed"
    assert paths.reports_folder(tmp_path) == tmp_path / "ZenithErrors"


@pytest.mark.parametrize("reader,name,kind", [
    (results.read_result, "r1.xml", "a result file"),
    (status.read_status, "status.xml", "a status file"),
])
def test_a_file_of_another_kind_is_named_as_such(tmp_path, reader, name, kind):
    path = tmp_path / name
    path.write_text("<ZenithSomethingElse/>", encoding="utf-8")
    with pytest.raises(UnsafeXML, match=f"{name} is not {kind} \\(its root is <ZenithSomethingElse>\\)"):
        reader(path)


def test_a_report_of_another_kind_is_named_as_such(tmp_path):
    folder = tmp_path / "ZenithErrors"
    folder.mkdir()
    (folder / "20261127T100000Z-Boom.xml").write_text("<ZenithResult/>", encoding="utf-8")
    with pytest.raises(UnsafeXML, match="is not an error report"):
        reports.read_report(tmp_path, "20261127T100000Z-Boom.xml")


@pytest.mark.parametrize("windows", [True, False])
def test_error_reports_have_the_platforms_line_endings_and_read_back_the_same(tmp_path, monkeypatch, windows):
    from dbsys import host

    monkeypatch.setattr(host, "is_windows", lambda: windows)
    path = reports.write_report(tmp_path, "inventory", "The inventory refresh failed", "line one\nline two",
                                "Check the network.", details={"pages": 3})
    data = path.read_bytes()
    lines = data.count(b"\n")
    assert lines > 3 and data.count(b"\r\n") == (lines if windows else 0)
    got = reports.read_report(tmp_path, path.name)
    assert got["error"] == "line one\nline two" and got["todo"] == "Check the network."
    assert got["details"] == {"pages": "3"}
