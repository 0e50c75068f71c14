"""XML answers of the PSA API, built as strings: fast, and exactly the contract's shapes."""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from agent.sandbox.model import Change, Device, Note, Site, Ticket

DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def _el(tag: str, value: str | None) -> str:
    """One child element; ``None`` leaves it out, ``""`` writes it empty."""
    if value is None:
        return ""
    if value == "":
        return f"<{tag}/>"
    return f"<{tag}>{escape(value)}</{tag}>"


def document(body: str) -> bytes:
    return (DECLARATION + body).encode("utf-8")


def error_xml(code: str, message: str) -> bytes:
    return document(f"<Error code={quoteattr(code)}><Message>{escape(message)}</Message></Error>")


def pong_xml(partner: str, activated: bool) -> bytes:
    return document(f"<Pong partner={quoteattr(partner)} activated=\"{'true' if activated else 'false'}\"/>")


def site_xml(s: Site) -> str:
    return (f"<Site><SiteID>{s.site_id}</SiteID><SiteCode>{escape(s.site_code)}</SiteCode>"
            f"<Name>{escape(s.name)}</Name><ClientID>{s.client_id}</ClientID>"
            f"<ClientName>{escape(s.client_name)}</ClientName>{_el('Address', s.address)}</Site>")


def device_xml(d: Device) -> str:
    return (f"<Device><DeviceID>{escape(d.device_id)}</DeviceID><SiteCode>{escape(d.site_code)}</SiteCode>"
            f"<Name>{escape(d.name)}</Name>{_el('FriendlyName', d.friendly_name)}"
            f"{_el('DeviceType', d.device_type)}{_el('Manufacturer', d.manufacturer)}"
            f"{_el('Model', d.model)}{_el('SerialNumber', d.serial_number)}"
            f"{_el('OperatingSystem', d.operating_system)}{_el('IPAddress', d.ip_address)}"
            f"{_el('MACAddress', d.mac_address)}{_el('LastSeen', d.last_seen)}</Device>")


def _page(tag: str, page: int, size: int, total: int, items: Iterable[str]) -> bytes:
    head = f'<{tag} page="{page}" pageSize="{size}" total="{total}">'
    return document(head + "".join(items) + f"</{tag}>")


def sites_xml(page: int, size: int, total: int, sites: list[Site]) -> bytes:
    return _page("Sites", page, size, total, map(site_xml, sites))


def devices_xml(page: int, size: int, total: int, devices: list[Device]) -> bytes:
    return _page("Devices", page, size, total, map(device_xml, devices))


def ticket_xml(t: Ticket) -> str:
    return (f"<Ticket><TicketID>{t.ticket_id}</TicketID>{_el('Title', t.title)}"
            f"{_el('Description', t.description)}<Priority>{t.priority}</Priority>"
            f"<Status>{t.status}</Status><AssignedTo>{t.assigned_to}</AssignedTo>"
            f"<Source>{t.source}</Source><Origin>{t.origin}</Origin>"
            f"{_el('SiteCode', t.site_code)}{_el('DeviceID', t.device_id)}"
            f"<CreatedOn>{t.created_on}</CreatedOn>{_el('CreatedBy', t.created_by)}"
            f"<UpdatedOn>{t.updated_on}</UpdatedOn>{_el('PsaTicketID', t.psa_ticket_id)}</Ticket>")


def note_xml(n: Note) -> str:
    return (f"<Note><NoteID>{escape(n.note_id)}</NoteID>{_el('Text', n.text)}{_el('Author', n.author)}"
            f"<CreatedOn>{n.created_on}</CreatedOn><Origin>{n.origin}</Origin></Note>")


def change_xml(cid: str, kind: str, ticket: Ticket, note: Note | None) -> str:
    inner = ticket_xml(ticket) + (note_xml(note) if note is not None else "")
    return f'<Change id="{cid}" kind="{kind}">{inner}</Change>'


def changes_xml(next_cursor: str, more: bool, changes: Iterable[Change]) -> bytes:
    head = f"<Changes next={quoteattr(next_cursor)} more=\"{'true' if more else 'false'}\">"
    return document(head + "".join(c.xml for c in changes) + "</Changes>")


def acked_xml(cursor: str) -> bytes:
    return document(f"<Acked cursor={quoteattr(cursor)}/>")
