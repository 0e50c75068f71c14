"""The sandbox speaks the Continuum PSA API contract, checked over real HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from agent.sandbox import SandboxServer

PSG = "s3cret-code"


@pytest.fixture
def sb():
    with SandboxServer(psg=PSG, seed=7, sites=12, devices=60, tickets=5) as server:
        yield server


@pytest.fixture
def api(sb):
    with httpx.Client(base_url=sb.url + "/psa/v1", headers={"X-PSG": PSG}, timeout=10) as client:
        yield client


def xml(response: httpx.Response) -> etree._Element:
    assert response.headers["content-type"].startswith("application/xml")
    assert b"<!DOCTYPE" not in response.content
    return etree.fromstring(response.content)


def error_code(response: httpx.Response) -> str:
    root = xml(response)
    assert root.tag == "Error" and root.findtext("Message")
    return root.get("code")


def post(api: httpx.Client, path: str, body: str, key: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/xml; charset=utf-8"}
    if key:
        headers["Idempotency-Key"] = key
    return api.post(path, content=body.encode(), headers=headers)


# ---- transport, auth, activation ------------------------------------------------------------

def test_ping_answers_pong_over_keep_alive(api):
    first = api.get("/ping")
    second = api.get("/ping")
    assert first.status_code == second.status_code == 200
    assert first.http_version == "HTTP/1.1" and first.headers.get("connection") != "close"
    root = xml(first)
    assert root.tag == "Pong" and root.get("activated") == "true" and root.get("partner")


@pytest.mark.parametrize("headers", [{}, {"X-PSG": "bad-code-xyz"}, {"X-PSG": ""}])
def test_missing_or_wrong_psg_is_401_and_never_echoed(sb, headers):
    r = httpx.get(sb.url + "/psa/v1/sites", headers=headers)
    assert r.status_code == 401 and error_code(r) == "BadSecurityCode"
    assert PSG.encode() not in r.content and b"bad-code-xyz" not in r.content


def test_activation_off_is_403_everywhere_then_back(sb, api):
    sb.world.set_activated(False)
    for method, path in [("GET", "/ping"), ("GET", "/sites"), ("GET", "/devices"), ("GET", "/queue"),
                         ("GET", "/tickets/202611270001"), ("POST", "/queue/ack"), ("POST", "/tickets")]:
        r = api.request(method, path, content=b"<x/>" if method == "POST" else None)
        assert r.status_code == 403 and error_code(r) == "NotActivated", path
    httpx.post(sb.url + "/sandbox/activation", json={"activated": True}).raise_for_status()
    assert api.get("/ping").status_code == 200


def test_unknown_path_and_wrong_method(api, sb):
    assert error_code(api.get("/nothing-here")) == "NotFound"
    r = api.get("/queue/ack")
    assert r.status_code == 405 and error_code(r) == "Invalid"
    assert httpx.get(sb.url + "/elsewhere").status_code == 404


# ---- inventory paging -------------------------------------------------------------------------

def test_sites_pages_cover_every_site_once(api):
    seen, page = [], 1
    while True:
        root = xml(api.get("/sites", params={"page": page, "pageSize": 5}))
        assert root.tag == "Sites" and root.get("total") == "12" and root.get("pageSize") == "5"
        codes = [s.findtext("SiteCode") for s in root.findall("Site")]
        if not codes:
            break
        seen += codes
        page += 1
    assert len(seen) == len(set(seen)) == 12 and page == 4
    site = xml(api.get("/sites")).find("Site")
    assert [c.tag for c in site][:5] == ["SiteID", "SiteCode", "Name", "ClientID", "ClientName"]
    assert int(site.findtext("SiteID")) > 0


def test_page_past_end_is_empty_with_total(api):
    root = xml(api.get("/devices", params={"page": 99, "pageSize": 10}))
    assert root.get("total") == "60" and root.get("page") == "99" and len(root) == 0


def test_default_page_size_is_500(api):
    root = xml(api.get("/devices"))
    assert root.get("pageSize") == "500" and root.get("page") == "1" and len(root) == 60


@pytest.mark.parametrize("params", [{"pageSize": 1001}, {"pageSize": 0}, {"page": 0}, {"page": "x"},
                                    {"pageSize": "-5"}])
def test_bad_paging_is_422(api, params):
    r = api.get("/devices", params=params)
    assert r.status_code == 422 and error_code(r) == "Invalid"


def test_page_size_1000_is_allowed(api):
    assert api.get("/sites", params={"pageSize": 1000}).status_code == 200


def test_devices_filter_by_site_code(api, sb):
    code = sb.world.devices_page(1, 1)[1][0].site_code
    root = xml(api.get("/devices", params={"siteCode": code}))
    devices = root.findall("Device")
    assert devices and all(d.findtext("SiteCode") == code for d in devices)
    assert int(root.get("total")) == len(devices) < 60
    assert xml(api.get("/devices", params={"siteCode": "NO-SUCH"})).get("total") == "0"


def test_device_required_children_always_present(api):
    for device in xml(api.get("/devices", params={"pageSize": 1000})).findall("Device"):
        assert device.findtext("DeviceID").startswith("D-")
        assert device.findtext("SiteCode") and device.findtext("Name")


# ---- tickets and the feed -------------------------------------------------------------------------

def feed(api, **params) -> etree._Element:
    r = api.get("/queue", params=params)
    assert r.status_code == 200
    return xml(r)


def test_feed_pages_with_next_and_more(api):
    first = feed(api, limit=2)
    assert [c.get("id") for c in first] == ["c-000001", "c-000002"]
    assert first.get("next") == "c-000002" and first.get("more") == "true"
    rest = feed(api, after="c-000002", limit=500)
    assert [c.get("id") for c in rest] == ["c-000003", "c-000004", "c-000005"]
    assert rest.get("more") == "false" and rest.get("next") == "c-000005"
    empty = feed(api, after="c-000005")
    assert len(empty) == 0 and empty.get("next") == "c-000005" and empty.get("more") == "false"


def test_feed_changes_carry_tickets(api):
    for change in feed(api):
        assert change.get("kind") == "TicketCreated"
        ticket = change.find("Ticket")
        assert ticket.findtext("TicketID").isdigit()
        assert ticket.findtext("Origin") in ("System", "NOC")
        assert ticket.findtext("CreatedOn").endswith("Z")


@pytest.mark.parametrize("params", [{"limit": 501}, {"limit": 0}, {"after": "c-999999"}, {"after": "bogus"}])
def test_bad_feed_parameters_are_422(api, params):
    r = api.get("/queue", params=params)
    assert r.status_code == 422 and error_code(r) == "Invalid"


def test_feed_redelivers_after_acked_cursor(api, sb):
    assert post(api, "/queue/ack", '<Ack cursor="c-000003"/>').status_code == 200
    assert sb.world.acked_cursor == "c-000003"
    root = feed(api)
    assert [c.get("id") for c in root] == ["c-000004", "c-000005"]
    # an older cursor is a no-op
    r = post(api, "/queue/ack", '<Ack cursor="c-000001"/>')
    assert r.status_code == 200 and xml(r).get("cursor") == "c-000003"
    assert sb.world.acked_cursor == "c-000003"
    # nothing acknowledged beyond 3: the same changes come again
    assert [c.get("id") for c in feed(api)] == ["c-000004", "c-000005"]


def test_ack_sets_link_and_contradiction_is_409(api, sb):
    tid = feed(api)[0].findtext("Ticket/TicketID")
    body = f'<Ack cursor="c-000001"><Link ticketId="{tid}" psaTicketId="TKT00000000000000001"/></Ack>'
    r = post(api, "/queue/ack", body)
    assert r.status_code == 200 and xml(r).tag == "Acked" and xml(r).get("cursor") == "c-000001"
    assert sb.world.links == {tid: "TKT00000000000000001"}
    assert xml(api.get(f"/tickets/{tid}")).findtext("PsaTicketID") == "TKT00000000000000001"
    assert post(api, "/queue/ack", body).status_code == 200  # the same link again is fine
    other = f'<Ack cursor="c-000002"><Link ticketId="{tid}" psaTicketId="TKT0000000000000000X"/></Ack>'
    r = post(api, "/queue/ack", other)
    assert r.status_code == 409 and error_code(r) == "Conflict"
    assert sb.world.acked_cursor == "c-000001"  # all or nothing
    assert [e["action"] for e in sb.world.ledger] == ["ack", "link"]


@pytest.mark.parametrize("body,status", [
    ('<Ack cursor="c-000042"/>', 422), ('<Ack/>', 422), ("<Ack cursor=", 422), ("<Other/>", 422),
    ('<Ack cursor="c-000001"><Link ticketId="999" psaTicketId="TKT1"/></Ack>', 404),
    ('<Ack cursor="c-000001"><Link ticketId="202611270001"/></Ack>', 422),
    ('<!DOCTYPE Ack><Ack cursor="c-000001"/>', 422),
])
def test_bad_ack_is_refused(api, body, status):
    r = post(api, "/queue/ack", body)
    assert r.status_code == status
    assert error_code(r) == {422: "Invalid", 404: "NotFound"}[status]


def test_get_ticket_and_unknown_ticket(api):
    tid = feed(api)[0].findtext("Ticket/TicketID")
    ticket = xml(api.get(f"/tickets/{tid}"))
    assert ticket.tag == "Ticket" and ticket.findtext("TicketID") == tid
    assert [c.tag for c in ticket][:8] == ["TicketID", "Title", "Description", "Priority", "Status",
                                          "AssignedTo", "Source", "Origin"]
    r = api.get("/tickets/000000000000")
    assert r.status_code == 404 and error_code(r) == "NotFound"


def test_tickets_opened_in_continuum_show_in_feed_with_origin(api, sb):
    sb.world.open_ticket(site_code=None, title="Maintenance", source="NOC")
    manual = sb.world.open_ticket(site_code="ACME-HQ", title="By hand", source="Manual")
    changes = feed(api, after="c-000005")
    assert [c.findtext("Ticket/Origin") for c in changes] == ["NOC", "NOC"]
    assert changes[0].find("Ticket/SiteCode") is None
    assert changes[1].findtext("Ticket/TicketID") == manual["ticket_id"]


# ---- PSA-side requests -------------------------------------------------------------------------

NEW = ("<NewTicket><SiteCode>ACME-HQ</SiteCode><Title>Printer &amp; scanner</Title>"
       "<Description>Jammed.</Description><Priority>Medium</Priority><AssignTo>NOC</AssignTo>"
       "<Note>first note</Note><PsaTicketID>TKTAAAAAAAAAAAAAAAAA</PsaTicketID></NewTicket>")


def test_create_is_201_with_psa_source_and_echoes(api, sb):
    r = post(api, "/tickets", NEW, key="create-1")
    assert r.status_code == 201
    ticket = xml(r)
    assert ticket.findtext("Source") == "PSA" and ticket.findtext("Origin") == "PSA"
    assert ticket.findtext("Title") == "Printer & scanner" and ticket.findtext("AssignedTo") == "NOC"
    tid = ticket.findtext("TicketID")
    echoes = feed(api, after="c-000005")
    assert [c.get("kind") for c in echoes] == ["TicketCreated", "NoteAdded"]
    assert all(c.findtext("Ticket/Origin") == "PSA" for c in echoes)
    assert echoes[1].findtext("Note/Origin") == "PSA" and echoes[1].findtext("Note/Text") == "first note"
    assert sb.world.ledger[-1] == {**sb.world.ledger[-1], "action": "create", "ticket_id": tid,
                                   "idempotency_key": "create-1"}
    assert sb.world.links[tid] == "TKTAAAAAAAAAAAAAAAAA"


def test_create_with_device(api, sb):
    device = sb.world.devices_page(1, 1)[1][0]
    body = (f"<NewTicket><SiteCode>{device.site_code}</SiteCode><DeviceID>{device.device_id}</DeviceID>"
            "<Title>t</Title><AssignTo>VSD</AssignTo></NewTicket>")
    ticket = xml(post(api, "/tickets", body))
    assert ticket.findtext("DeviceID") == device.device_id and ticket.findtext("AssignedTo") == "VSD"


@pytest.mark.parametrize("body,status", [
    ("<NewTicket><Title>t</Title></NewTicket>", 422),
    ("<NewTicket><SiteCode>ACME-HQ</SiteCode><Title>t</Title><Priority>Urgent</Priority></NewTicket>", 422),
    ("<NewTicket><SiteCode>ACME-HQ</SiteCode><Title>t</Title><AssignTo>Bob</AssignTo></NewTicket>", 422),
    ("<NewTicket><SiteCode>ACME-HQ</SiteCode></NewTicket>", 422),
    ("<NewTicket><SiteCode>NOPE-HQ</SiteCode><Title>t</Title></NewTicket>", 404),
    ("<NewTicket><SiteCode>ACME-HQ</SiteCode><DeviceID>D-999999</DeviceID><Title>t</Title></NewTicket>", 404),
    ("not xml", 422), ("", 422),
])
def test_bad_create_is_refused_and_applies_nothing(api, sb, body, status):
    r = post(api, "/tickets", body)
    assert r.status_code == status and error_code(r) in ("Invalid", "NotFound")
    assert sb.world.ledger == [] and len(sb.world.changes) == 5


def test_assign_note_close_are_echoed_and_recorded(api, sb):
    tid = sb.world.open_ticket(site_code="ACME-HQ", title="x")["ticket_id"]
    r = post(api, f"/tickets/{tid}/assign", "<Assign><AssignTo>VSD</AssignTo><Note>please</Note></Assign>", "a1")
    assert r.status_code == 200 and xml(r).findtext("AssignedTo") == "VSD"
    r = post(api, f"/tickets/{tid}/notes", "<Note><Text>Called the user.</Text><Author>jsmith</Author></Note>", "n1")
    assert r.status_code == 201
    note = xml(r)
    assert note.tag == "Note" and note.findtext("NoteID") and note.findtext("Author") == "jsmith"
    assert note.findtext("Origin") == "PSA"
    r = post(api, f"/tickets/{tid}/close", "<Close><Resolution>Fixed</Resolution></Close>", "c1")
    assert r.status_code == 200 and xml(r).findtext("Status") == "Closed"
    # closing a closed ticket: 200, nothing more
    r = post(api, f"/tickets/{tid}/close", "<Close/>", "c2")
    assert r.status_code == 200 and xml(r).findtext("Status") == "Closed"
    assert [(e["action"], e["idempotency_key"]) for e in sb.world.ledger] == [
        ("assign", "a1"), ("note", "n1"), ("close", "c1")]
    kinds = [(c.get("kind"), c.findtext("Ticket/Origin")) for c in feed(api, after="c-000006")]
    assert kinds == [("TicketUpdated", "PSA"), ("NoteAdded", "PSA"), ("NoteAdded", "PSA"), ("TicketClosed", "PSA")]


@pytest.mark.parametrize("path,body,status", [
    ("/tickets/999/assign", "<Assign><AssignTo>VSD</AssignTo></Assign>", 404),
    ("/tickets/999/notes", "<Note><Text>x</Text></Note>", 404),
    ("/tickets/999/close", "<Close/>", 404),
    ("/tickets/{tid}/assign", "<Assign><AssignTo>Nobody</AssignTo></Assign>", 422),
    ("/tickets/{tid}/assign", "<Assign><AssignTo>Keep</AssignTo><Note>x</Note></Assign>", 422),  # not an assignment
    ("/tickets/{tid}/notes", "<Note><Text>  </Text></Note>", 422),
    ("/tickets/{tid}/notes", "<Assign/>", 422),
])
def test_bad_ticket_requests(api, sb, path, body, status):
    tid = sb.world.open_ticket(site_code="ACME-HQ")["ticket_id"]
    r = post(api, path.format(tid=tid), body)
    assert r.status_code == status and error_code(r) == {404: "NotFound", 422: "Invalid"}[status]


# ---- idempotency ----------------------------------------------------------------------------------

def test_idempotency_key_replays_first_answer(api, sb):
    first = post(api, "/tickets", NEW, key="k-1")
    again = post(api, "/tickets", NEW, key="k-1")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert [e["action"] for e in sb.world.ledger] == ["create"]
    assert len([t for t in sb.world.tickets.values() if t["source"] == "PSA"]) == 1


def test_idempotency_key_with_other_body_is_409(api, sb):
    assert post(api, "/tickets", NEW, key="k-2").status_code == 201
    r = post(api, "/tickets", NEW.replace("Jammed.", "Jammed again."), key="k-2")
    assert r.status_code == 409 and error_code(r) == "Conflict"
    assert len(sb.world.ledger) == 1


def test_idempotency_key_too_long_is_422(api):
    r = post(api, "/tickets", NEW, key="k" * 256)
    assert r.status_code == 422 and error_code(r) == "Invalid"


def test_without_key_each_request_applies(api, sb):
    post(api, "/tickets", NEW)
    post(api, "/tickets", NEW)
    assert [e["action"] for e in sb.world.ledger] == ["create", "create"]


# ---- framing ------------------------------------------------------------------------------------

def _raw(sb, request: bytes) -> bytes:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(sb.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("headers,status", [
    (b"Content-Length: 99999999\r\n", b"413"),
    (b"Transfer-Encoding: chunked\r\n", b"411"),
    (b"Content-Length: lots\r\n", b"400"),
])
def test_unreadable_bodies_get_an_error_body_and_close(sb, headers, status):
    answer = _raw(sb, b"POST /psa/v1/tickets HTTP/1.1\r\nHost: x\r\nX-PSG: " + PSG.encode() + b"\r\n"
                  + headers + b"\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status and b"Connection: close" in head
    assert etree.fromstring(body).get("code") == "Invalid"
