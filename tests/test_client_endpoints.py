"""Each endpoint of the Continuum client: request built, answer parsed (httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from agent.backends.continuum import BadAnswer, ContinuumClient, NewTicket, RetryPolicy
from agent.errors import UsageError

TICKET = """<Ticket><TicketID>202611270001</TicketID><Title>Low disk &amp; space</Title>
<Description>Free space below 5%</Description><Priority>High</Priority><Status>New</Status>
<AssignedTo>NOC</AssignedTo><Source>Alert</Source><Origin>NOC</Origin><SiteCode>ACME-HQ</SiteCode>
<DeviceID>D-000123</DeviceID><CreatedOn>2026-11-27T10:00:00Z</CreatedOn><CreatedBy>Monitoring</CreatedBy>
<UpdatedOn>2026-11-27T10:05:00Z</UpdatedOn><PsaTicketID>TKT3K9QZ0A1B2C3D4E5F</PsaTicketID></Ticket>"""


class Recorder:
    """A MockTransport handler that records requests and answers from a route table."""

    def __init__(self, routes: dict[tuple[str, str], object]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes[(request.method, request.url.path)]
        if callable(answer):
            return answer(request)
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        return httpx.Response(status, content=body.encode(), headers={"Content-Type": "application/xml"})


def make(routes: dict, **kwargs) -> tuple[ContinuumClient, Recorder]:
    recorder = Recorder(routes)
    client = ContinuumClient("https://continuum.example/base", "S3CRET-PSG", transport=httpx.MockTransport(recorder),
                             retry=RetryPolicy(max_attempts=1), **kwargs)
    return client, recorder


def test_ping_sends_psg_header_and_parses_pong():
    client, rec = make({("GET", "/base/psa/v1/ping"): '<Pong partner="P-1" activated="true"/>'})
    pong = client.ping()
    assert (pong.partner, pong.activated) == ("P-1", True)
    request = rec.requests[0]
    assert request.headers["X-PSG"] == "S3CRET-PSG"
    assert request.headers["User-Agent"].startswith("zenithlink/")


def test_ping_not_activated_flag():
    client, _ = make({("GET", "/base/psa/v1/ping"): '<Pong partner="P-1" activated="false"/>'})
    assert client.ping().activated is False


def _sites_page(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params["page"])
    size = int(request.url.params["pageSize"])
    total = 5
    first = (page - 1) * size
    items = "".join(
        f"<Site><SiteID>{i}</SiteID><SiteCode>S-{i}</SiteCode><Name> Site {i} </Name>"
        f"<ClientID>7</ClientID><ClientName>Client {i}</ClientName><Extra>x{i}</Extra></Site>"
        for i in range(first, min(first + size, total)))
    body = f'<Sites page="{page}" pageSize="{size}" total="{total}">{items}</Sites>'
    return httpx.Response(200, content=body.encode())


def test_site_pages_stop_when_total_reached():
    client, rec = make({("GET", "/base/psa/v1/sites"): _sites_page})
    pages = list(client.site_pages(page_size=2))
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [p.page for p in pages] == [1, 2, 3]
    assert len(rec.requests) == 3  # no request for an empty fourth page
    assert pages[0].total == 5


def test_sites_keep_children_verbatim_and_typed_attributes():
    client, _ = make({("GET", "/base/psa/v1/sites"): _sites_page})
    sites = list(client.iter_sites(page_size=10))
    assert [s.site_code for s in sites] == ["S-0", "S-1", "S-2", "S-3", "S-4"]
    first = sites[0]
    assert first.name == "Site 0" and first.client_name == "Client 0" and first.address == ""
    assert first.children == (("SiteID", "0"), ("SiteCode", "S-0"), ("Name", " Site 0 "), ("ClientID", "7"),
                              ("ClientName", "Client 0"), ("Extra", "x0"))


def test_pages_are_fetched_lazily():
    client, rec = make({("GET", "/base/psa/v1/sites"): _sites_page})
    pages = client.site_pages(page_size=2)
    assert rec.requests == []
    next(pages)
    assert len(rec.requests) == 1


def test_paging_stops_on_empty_page_without_total():
    calls = []

    def answer(request):
        calls.append(request.url.params["page"])
        body = "<Devices/>" if request.url.params["page"] == "2" else \
            "<Devices><Device><DeviceID>D-1</DeviceID><SiteCode>S</SiteCode><Name>PC</Name></Device></Devices>"
        return httpx.Response(200, content=body.encode())

    client, _ = make({("GET", "/base/psa/v1/devices"): answer})
    assert [d.device_id for d in client.iter_devices(page_size=1)] == ["D-1"]
    assert calls == ["1", "2"]


def test_devices_filter_by_site_and_parse_every_field():
    body = """<Devices page="1" pageSize="500" total="1"><Device><DeviceID>D-000123</DeviceID>
    <SiteCode>ACME-HQ</SiteCode><Name>ACME-DC01</Name><FriendlyName>Domain controller</FriendlyName>
    <DeviceType>Server</DeviceType><Manufacturer>Dell Inc.</Manufacturer><Model>PowerEdge R640</Model>
    <SerialNumber>7XK2Q13</SerialNumber><OperatingSystem>Windows Server 2022</OperatingSystem>
    <IPAddress>10.0.0.5</IPAddress><MACAddress>00:1A:2B:3C:4D:5E</MACAddress>
    <LastSeen>2026-11-27T09:58:00Z</LastSeen></Device></Devices>"""
    client, rec = make({("GET", "/base/psa/v1/devices"): body})
    (device,) = client.iter_devices(site_code="ACME-HQ")
    assert rec.requests[0].url.params["siteCode"] == "ACME-HQ"
    assert rec.requests[0].url.params["pageSize"] == "500"
    assert (device.device_id, device.site_code, device.name, device.friendly_name, device.device_type,
            device.manufacturer, device.model, device.serial_number, device.operating_system,
            device.ip_address, device.mac_address, device.last_seen) == (
        "D-000123", "ACME-HQ", "ACME-DC01", "Domain controller", "Server", "Dell Inc.", "PowerEdge R640",
        "7XK2Q13", "Windows Server 2022", "10.0.0.5", "00:1A:2B:3C:4D:5E", "2026-11-27T09:58:00Z")
    assert [tag for tag, _ in device.children][:3] == ["DeviceID", "SiteCode", "Name"]
    assert len(device.children) == 12


def test_page_size_is_clamped_to_the_contract_maximum():
    client, rec = make({("GET", "/base/psa/v1/devices"): "<Devices/>"})
    list(client.device_pages(page_size=5000))
    assert rec.requests[0].url.params["pageSize"] == "1000"


def test_changes_parse_ticket_note_and_origin():
    body = f"""<Changes next="c-000812" more="true">
      <Change id="c-000811" kind="TicketCreated">{TICKET}</Change>
      <Change id="c-000812" kind="NoteAdded">{TICKET.replace("<Origin>NOC</Origin>", "<Origin>PSA</Origin>")}
        <Note><NoteID>N-77</NoteID><Text>Rebooted.</Text><Author>NOC</Author>
        <CreatedOn>2026-11-27T11:00:00Z</CreatedOn><Origin>NOC</Origin></Note></Change></Changes>"""
    client, rec = make({("GET", "/base/psa/v1/queue"): body})
    page = client.changes("c-000810", limit=50)
    assert rec.requests[0].url.params["after"] == "c-000810"
    assert rec.requests[0].url.params["limit"] == "50"
    assert (page.next, page.more) == ("c-000812", True)
    created, noted = page.changes
    assert (created.id, created.kind, created.note, created.origin) == ("c-000811", "TicketCreated", None, "NOC")
    t = created.ticket
    assert (t.ticket_id, t.title, t.description, t.priority, t.status, t.assigned_to, t.source, t.origin,
            t.site_code, t.device_id, t.created_on, t.created_by, t.updated_on, t.psa_ticket_id) == (
        "202611270001", "Low disk & space", "Free space below 5%", "High", "New", "NOC", "Alert", "NOC",
        "ACME-HQ", "D-000123", "2026-11-27T10:00:00Z", "Monitoring", "2026-11-27T10:05:00Z",
        "TKT3K9QZ0A1B2C3D4E5F")
    assert noted.note.note_id == "N-77" and noted.note.text == "Rebooted."
    assert noted.origin == "NOC"  # the note's origin wins over the ticket's


def test_changes_from_the_beginning_sends_no_cursor():
    client, rec = make({("GET", "/base/psa/v1/queue"): '<Changes more="false"/>'})
    page = client.changes(None, limit=9999)
    assert "after" not in rec.requests[0].url.params
    assert rec.requests[0].url.params["limit"] == "500"
    assert page.changes == () and page.more is False and page.next is None


def test_ticket_without_site_has_empty_site_code():
    body = "<Ticket><TicketID>5</TicketID><SiteCode/></Ticket>"
    client, _ = make({("GET", "/base/psa/v1/tickets/5"): body})
    ticket = client.get_ticket("5")
    assert ticket.site_code == "" and ticket.device_id == "" and ticket.psa_ticket_id == ""


def test_ticket_id_is_escaped_in_the_path():
    client, rec = make({("GET", "/base/psa/v1/tickets/../queue"): TICKET})
    client.get_ticket("../queue")
    assert rec.requests[0].url.raw_path == b"/base/psa/v1/tickets/..%2Fqueue"


def _body(request: httpx.Request) -> etree._Element:
    assert request.headers["Content-Type"] == "application/xml; charset=utf-8"
    return etree.fromstring(request.content)


def test_ack_builds_links_and_returns_cursor():
    client, rec = make({("POST", "/base/psa/v1/queue/ack"): '<Acked cursor="c-9"/>'})
    assert client.ack("c-9", [("202611270001", "TKT1"), ("202611270002", "TKT2")]) == "c-9"
    root = _body(rec.requests[0])
    assert root.tag == "Ack" and root.get("cursor") == "c-9"
    assert [(link.get("ticketId"), link.get("psaTicketId")) for link in root] == [("202611270001", "TKT1"),
                                                                         ("202611270002", "TKT2")]
    assert rec.requests[0].headers["Idempotency-Key"]  # generated when none is given


def test_create_ticket_body_escapes_user_text():
    client, rec = make({("POST", "/base/psa/v1/tickets"): (201, TICKET)})
    new = NewTicket(site_code="ACME-HQ", title="<b>&\"evil\"</b>", description="line1\nline2\x00",
                    priority="Low", assign_to="VSD", device_id="D-1", note="first", psa_ticket_id="TKT1")
    ticket = client.create_ticket(new, idempotency_key="key-1")
    assert ticket.ticket_id == "202611270001"
    request = rec.requests[0]
    assert request.headers["Idempotency-Key"] == "key-1"
    root = _body(request)
    assert [c.tag for c in root] == ["SiteCode", "DeviceID", "Title", "Description", "Priority", "AssignTo",
                                     "Note", "PsaTicketID"]
    assert root.findtext("Title") == "<b>&\"evil\"</b>"
    assert root.findtext("Description") == "line1\nline2"  # NUL cannot travel in XML 1.0


def test_create_ticket_omits_optional_elements():
    client, rec = make({("POST", "/base/psa/v1/tickets"): (201, TICKET)})
    client.create_ticket(NewTicket(site_code="S", title="T"), idempotency_key="k")
    root = _body(rec.requests[0])
    assert root.find("DeviceID") is None and root.find("Note") is None
    assert root.findtext("AssignTo") == "NOC" and root.findtext("Priority") == "Medium"


def test_assign_note_close_bodies():
    client, rec = make({
        ("POST", "/base/psa/v1/tickets/7/assign"): TICKET,
        ("POST", "/base/psa/v1/tickets/7/notes"): (201, "<Note><NoteID>N-1</NoteID><Text>hi</Text>"
                                                        "<Author>jsmith</Author><Origin>PSA</Origin></Note>"),
        ("POST", "/base/psa/v1/tickets/7/close"): TICKET,
    })
    client.assign("7", "VSD", "please", idempotency_key="a")
    note = client.add_note("7", "hi", "jsmith", idempotency_key="b")
    client.close_ticket("7", "fixed", idempotency_key="c")
    client.close_ticket("7", idempotency_key="d")
    assign, add, close, close_bare = (_body(r) for r in rec.requests)
    assert (assign.tag, assign.findtext("AssignTo"), assign.findtext("Note")) == ("Assign", "VSD", "please")
    assert (add.tag, add.findtext("Text"), add.findtext("Author")) == ("Note", "hi", "jsmith")
    assert (close.tag, close.findtext("Resolution")) == ("Close", "fixed")
    assert close_bare.tag == "Close" and close_bare.find("Resolution") is None
    assert (note.note_id, note.author, note.origin) == ("N-1", "jsmith", "PSA")
    assert [r.headers["Idempotency-Key"] for r in rec.requests] == ["a", "b", "c", "d"]


@pytest.mark.parametrize("key", ["", "x" * 256, "bad key", "clé"])
def test_bad_idempotency_keys_are_refused_before_sending(key):
    from agent.errors import ZenithError

    client, rec = make({("POST", "/base/psa/v1/tickets/7/close"): TICKET})
    with pytest.raises(ZenithError):
        client.close_ticket("7", idempotency_key=key)
    assert rec.requests == []


def test_from_settings_and_context_manager():
    class Settings:
        continuum_url = "https://continuum.example"
        psg = "abc"
        request_timeout_seconds = 7
        verify_tls = False

    with ContinuumClient.from_settings(Settings()) as client:
        assert client.timeout == 7.0
        assert "abc" not in repr(client)


# -- raw pages: the items as parsed elements ---------------------------------------------------

def test_raw_pages_page_like_site_pages_and_keep_items_unchanged():
    client, rec = make({("GET", "/base/psa/v1/sites"): _sites_page})
    pages = list(client.raw_pages("sites", page_size=2))
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [p.page for p in pages] == [1, 2, 3] and pages[0].total == 5
    assert len(rec.requests) == 3
    models = list(client.iter_sites(page_size=2))
    elements = [item for page in pages for item in page.items]
    assert all(isinstance(e, etree._Element) and e.tag == "Site" for e in elements)
    assert [[(c.tag, c.text) for c in e] for e in elements] == [list(s.children) for s in models]
    assert pages[0].texts("SiteCode") == ["S-0", "S-1"]
    assert pages[0].texts("Name") == ["Site 0", "Site 1"]  # stripped, like the models' fields


def test_raw_pages_are_lazy_and_refuse_an_unknown_kind():
    client, rec = make({("GET", "/base/psa/v1/devices"): "<Devices/>"})
    pages = client.raw_pages("devices", page_size=5000)
    assert rec.requests == []
    assert list(pages) and rec.requests[0].url.params["pageSize"] == "1000"
    with pytest.raises(UsageError):
        client.raw_pages("tickets")


def test_raw_device_pages_filter_by_site():
    body = ('<Devices page="1" pageSize="500" total="1"><Device><DeviceID>D-1</DeviceID>'
            '<SiteCode>ACME-HQ</SiteCode><Name>PC</Name></Device></Devices>')
    client, rec = make({("GET", "/base/psa/v1/devices"): body})
    (page,) = client.raw_pages("devices", site_code="ACME-HQ")
    assert rec.requests[0].url.params["siteCode"] == "ACME-HQ"
    assert page.texts("DeviceID") == ["D-1"]


def test_texts_of_an_optional_child_follow_the_items_one_to_one():
    body = """<Sites page="1" pageSize="500" total="4">
      <Site><SiteCode>A</SiteCode><Name>a</Name><Address> 1 Main St </Address></Site>
      <Site><SiteCode>B</SiteCode><Name>b</Name></Site>
      <Site><SiteCode>C</SiteCode><Name>c</Name><Address>first</Address><Address>second</Address></Site>
      <Site><SiteCode>D</SiteCode><Name>d</Name><Address/></Site>
    </Sites>"""
    client, _ = make({("GET", "/base/psa/v1/sites"): body})
    (page,) = client.raw_pages("sites")
    assert page.texts("Address") == ["1 Main St", "", "first", ""]
    assert page.texts("SiteCode") == ["A", "B", "C", "D"]
    assert page.texts("Nothing") == ["", "", "", ""]


@pytest.mark.parametrize("kind, item, missing", [
    ("sites", "<Site><SiteID>1</SiteID><Name>n</Name></Site>", "SiteCode"),
    ("devices", "<Device><SiteCode>S</SiteCode><Name>PC</Name></Device>", "DeviceID"),
    ("devices", "<Device><DeviceID>D</DeviceID><Name>PC</Name></Device>", "SiteCode"),
    ("devices", "<Device><DeviceID>D</DeviceID><SiteCode>S</SiteCode><Name/></Device>", "Name"),
    ("devices", "<Device><DeviceID><b>D</b></DeviceID><SiteCode>S</SiteCode><Name>PC</Name></Device>", "DeviceID"),
], ids=["site-code", "device-id", "device-site", "device-name", "device-id-markup"])
def test_an_item_without_a_required_child_is_refused_on_both_paths(kind, item, missing):
    good = {"sites": "<Site><SiteCode>OK</SiteCode><Name>fine</Name></Site>",
            "devices": "<Device><DeviceID>OK</DeviceID><SiteCode>S</SiteCode><Name>fine</Name></Device>"}[kind]
    root = kind.capitalize()
    client, _ = make({("GET", f"/base/psa/v1/{kind}"): f"<{root}>{good}{item}{good}</{root}>"})
    with pytest.raises(BadAnswer) as raw:
        list(client.raw_pages(kind))
    assert missing in str(raw.value) and ("<Site>" in str(raw.value) or "<Device>" in str(raw.value))
    pages = client.site_pages() if kind == "sites" else client.device_pages()
    with pytest.raises(BadAnswer):
        list(pages)


def test_a_site_with_a_blank_name_is_still_a_site():
    body = '<Sites page="1" pageSize="500" total="1"><Site><SiteCode>S</SiteCode><Name> </Name></Site></Sites>'
    client, _ = make({("GET", "/base/psa/v1/sites"): body})
    (page,) = client.raw_pages("sites")
    assert page.texts("SiteCode") == ["S"]
    assert [s.site_code for s in client.iter_sites()] == ["S"]


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE Sites><Sites><Site><SiteCode>S</SiteCode><Name>n</Name></Site></Sites>',
    b'<?xml version="1.0"?><!DOCTYPE Sites [<!ENTITY x "boom">]><Sites><Site><SiteCode>&x;</SiteCode>'
    b'<Name>n</Name></Site></Sites>',
    b'<Sites><Site><SiteCode>S</SiteCode><Name>&nope;</Name></Site></Sites>',
    b'<Sites><Site><SiteCode>S</SiteCode><Name>n</Name></Site>',
    b'<Devices><Device><DeviceID>D</DeviceID><SiteCode>S</SiteCode><Name>n</Name></Device></Devices>',
    b'<Sites total="many"><Site><SiteCode>S</SiteCode><Name>n</Name></Site></Sites>',
], ids=["doctype", "entity", "undefined-entity", "malformed", "wrong-root", "bad-total"])
def test_raw_pages_refuse_hostile_and_malformed_answers(body):
    client, _ = make({("GET", "/base/psa/v1/sites"): body.decode()})
    with pytest.raises(BadAnswer):
        list(client.raw_pages("sites"))


def test_raw_pages_refuse_an_oversized_answer():
    big = "<Sites>" + "<Site><SiteCode>S</SiteCode><Name>n</Name></Site>" * 200 + "</Sites>"
    client, _ = make({("GET", "/base/psa/v1/sites"): big}, max_answer_bytes=1000)
    with pytest.raises(BadAnswer):
        list(client.raw_pages("sites"))
