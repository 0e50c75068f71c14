"""The sandbox's admin endpoints (JSON, no PSG) drive the world; the API shows the result."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from agent.sandbox import SandboxServer


@pytest.fixture
def sb():
    with SandboxServer(psg="demo", seed=5, sites=6, devices=20, tickets=0) as server:
        yield server


@pytest.fixture
def admin(sb):
    with httpx.Client(base_url=sb.url + "/sandbox", timeout=10) as client:
        yield client


def changes(sb) -> list[etree._Element]:
    r = httpx.get(sb.url + "/psa/v1/queue", params={"limit": 500}, headers={"X-PSG": "demo"})
    return list(etree.fromstring(r.content))


def test_index_lists_every_endpoint(admin):
    endpoints = admin.get("/").json()["endpoints"]
    paths = {(e["method"], e["path"]) for e in endpoints}
    assert ("POST", "/sandbox/tickets") in paths and ("DELETE", "/sandbox/faults") in paths
    assert all(e["does"] for e in endpoints)


def test_open_ticket_appears_in_feed_with_origin_from_source(sb, admin):
    device = sb.world.devices_page(1, 1)[1][0]
    alert = admin.post("/tickets", json={"device_id": device.device_id, "title": "Disk < 5%", "source": "Alert"})
    assert alert.status_code == 201
    assert alert.json()["site_code"] == device.site_code  # filled in from the device
    noc = admin.post("/tickets", json={"title": "Maintenance", "source": "NOC", "priority": "Low"}).json()
    feed = changes(sb)
    assert [(c.get("kind"), c.findtext("Ticket/Origin")) for c in feed] == [
        ("TicketCreated", "System"), ("TicketCreated", "NOC")]
    assert feed[0].findtext("Ticket/Title") == "Disk < 5%"
    assert noc["ticket_id"].isdigit() and noc["site_code"] is None


def test_bulk_tickets_are_a_mix(sb, admin):
    ids = admin.post("/tickets/bulk", json={"count": 60}).json()["ticket_ids"]
    assert len(ids) == len(set(ids)) == 60 and all(i.isdigit() for i in ids)
    tickets = [sb.world.ticket(i) for i in ids]
    assert any(t["device_id"] for t in tickets)
    assert any(t["site_code"] and not t["device_id"] for t in tickets)
    assert any(not t["site_code"] and t["source"] == "NOC" for t in tickets)


def test_return_close_note_update(sb, admin):
    tid = admin.post("/tickets", json={"site_code": "ACME-HQ"}).json()["ticket_id"]
    r = admin.post(f"/tickets/{tid}/return", json={"status": "Approval Required", "note": "Need OK"})
    assert r.json()["assigned_to"] == "Partner" and r.json()["status"] == "Approval Required"
    assert admin.post(f"/tickets/{tid}/notes", json={"text": "Rebooted."}).status_code == 201
    assert admin.post(f"/tickets/{tid}/update", json={"priority": "Critical"}).json()["priority"] == "Critical"
    assert admin.post(f"/tickets/{tid}/close", json={}).json()["status"] == "Closed"
    admin.post(f"/tickets/{tid}/close", json={})  # closing again adds nothing
    feed = changes(sb)
    assert [c.get("kind") for c in feed] == ["TicketCreated", "TicketReturned", "NoteAdded",
                                             "TicketUpdated", "TicketClosed"]
    returned = feed[1]
    assert returned.findtext("Ticket/AssignedTo") == "Partner" and returned.findtext("Note/Text") == "Need OK"
    assert feed[2].findtext("Note/Text") == "Rebooted." and feed[2].findtext("Note/Origin") == "NOC"
    assert all(c.findtext("Ticket/Origin") == "NOC" for c in feed[1:])
    assert sb.world.ledger == []  # Continuum-side events are not PSA effects


@pytest.mark.parametrize("path,body,status", [
    ("/tickets", {"priority": "Urgent"}, 422),
    ("/tickets", {"source": "PSA"}, 422),
    ("/tickets", {"site_code": "NOPE"}, 404),
    ("/tickets", {"colour": "red"}, 422),
    ("/tickets/123/return", {}, 404),
    ("/tickets/{tid}/return", {"status": "Closed"}, 422),
    ("/tickets/{tid}/update", {"status": "Sleeping"}, 422),
    ("/tickets/{tid}/update", {}, 422),
    ("/tickets/{tid}/notes", {}, 422),
    ("/tickets/bulk", {"count": -1}, 422),
    ("/nowhere", {}, 404),
])
def test_admin_errors_are_json(admin, path, body, status):
    tid = admin.post("/tickets", json={}).json()["ticket_id"]
    r = admin.post(path.format(tid=tid), json=body)
    assert r.status_code == status and r.json()["error"]["message"]


def test_malformed_json_is_422(admin):
    r = admin.post("/tickets", content=b"{not json")
    assert r.status_code == 422 and r.json()["error"]["code"] == "Invalid"


def test_activation_switch(sb, admin):
    assert admin.post("/activation", json={"activated": False}).json() == {"activated": False}
    assert httpx.get(sb.url + "/psa/v1/ping", headers={"X-PSG": "demo"}).status_code == 403
    assert admin.get("/state").json()["activated"] is False


def test_sites_add_rename_remove(sb, admin):
    site = admin.post("/sites", json={"name": "Widget Works - HQ", "client_name": "Widget Works & Co."})
    assert site.status_code == 201
    code = site.json()["site_code"]
    assert admin.post("/sites", json={"name": "x", "code": code}).status_code == 409
    admin.post(f"/sites/{code}/rename", json={"name": "Widget Works - Main"}).raise_for_status()
    device = admin.post("/devices", json={"site_code": code, "name": "WW-PC1", "serial_number": ""}).json()
    api = {"X-PSG": "demo"}
    sites = etree.fromstring(httpx.get(sb.url + "/psa/v1/sites", headers=api).content)
    assert sites.get("total") == "7"
    assert [s.findtext("Name") for s in sites if s.findtext("SiteCode") == code] == ["Widget Works - Main"]
    devices = etree.fromstring(httpx.get(sb.url + "/psa/v1/devices", params={"siteCode": code}, headers=api).content)
    assert [d.findtext("Name") for d in devices] == ["WW-PC1"]
    assert devices[0].find("SerialNumber").text is None  # present but empty
    admin.post(f"/devices/{device['device_id']}/rename", json={"name": "WW-PC9"}).raise_for_status()
    assert sb.world.find_device(device["device_id"]).name == "WW-PC9"
    assert admin.delete(f"/sites/{code}").status_code == 200
    assert sb.world.site_count() == 6 and sb.world.find_device(device["device_id"]) is None
    assert admin.delete(f"/sites/{code}").status_code == 404


def test_devices_remove(sb, admin):
    device_id = sb.world.devices_page(1, 1)[1][0].device_id
    assert admin.delete(f"/devices/{device_id}").status_code == 200
    assert sb.world.device_count() == 19
    assert admin.delete(f"/devices/{device_id}").status_code == 404


def test_state_and_ledger_after_psa_requests(sb, admin):
    tid = admin.post("/tickets", json={"site_code": "ACME-HQ"}).json()["ticket_id"]
    api = httpx.Client(base_url=sb.url + "/psa/v1", headers={"X-PSG": "demo"})
    api.post("/queue/ack", content=f'<Ack cursor="c-000001"><Link ticketId="{tid}" psaTicketId="TKT9"/></Ack>',
             headers={"Idempotency-Key": "ack-1"}).raise_for_status()
    api.close()
    state = admin.get("/state").json()
    assert state["acked_cursor"] == "c-000001" and state["links"] == {tid: "TKT9"}
    assert state["tickets"][tid]["psa_ticket_id"] == "TKT9"
    ledger = admin.get("/ledger").json()
    assert [(e["action"], e["ticket_id"], e["idempotency_key"]) for e in ledger] == [
        ("ack", None, "ack-1"), ("link", tid, "ack-1")]
    assert all(e["at"].endswith("Z") for e in ledger)
    assert admin.get(f"/tickets/{tid}").json()["ticket_id"] == tid


def _sandbox_stderr_until_served(host: str) -> str:
    """Start ``zenithlink sandbox --host HOST`` as a person would, wait for its URL, stop it; its stderr."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import ROOT, track

    proc = track(subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "sandbox", "--host",
                                   host, "--port", "0", "--sites", "1", "--devices", "1", "--tickets", "0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT))))
    assert proc.stdout is not None and proc.stdout.readline().startswith("http://")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


@pytest.mark.posix
def test_the_sandbox_warns_when_it_listens_beyond_loopback():
    err = _sandbox_stderr_until_served("0.0.0.0")
    assert "warning: the sandbox listens on 0.0.0.0" in err and "for tests only" in err and "no PSG" in err
    assert "warning" not in _sandbox_stderr_until_served("127.0.0.1")
