"""Request bodies, built with lxml so that user text is always escaped, never concatenated."""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

from .models import NewTicket


def _sub(parent: etree._Element, tag: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, tag).text = _clean(text)


_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters; lxml would refuse the whole body.
    return _NOT_XML.sub("", text)


def _bytes(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def new_ticket(new: NewTicket) -> bytes:
    root = etree.Element("NewTicket")
    _sub(root, "SiteCode", new.site_code)
    _sub(root, "DeviceID", new.device_id or None)
    _sub(root, "Title", new.title)
    _sub(root, "Description", new.description)
    _sub(root, "Priority", new.priority)
    _sub(root, "AssignTo", new.assign_to)
    _sub(root, "Note", new.note or None)
    _sub(root, "PsaTicketID", new.psa_ticket_id or None)
    return _bytes(root)


def assign(assign_to: str, note: str | None) -> bytes:
    root = etree.Element("Assign")
    _sub(root, "AssignTo", assign_to)
    _sub(root, "Note", note or None)
    return _bytes(root)


def note(text: str, author: str) -> bytes:
    root = etree.Element("Note")
    _sub(root, "Text", text)
    _sub(root, "Author", author)
    return _bytes(root)


def close_ticket(resolution: str | None) -> bytes:
    root = etree.Element("Close")
    _sub(root, "Resolution", resolution or None)
    return _bytes(root)


def ack(cursor: str, links: Iterable[tuple[str, str]]) -> bytes:
    root = etree.Element("Ack", cursor=_clean(cursor))
    for ticket_id, psa_ticket_id in links:
        etree.SubElement(root, "Link", ticketId=_clean(ticket_id), psaTicketId=_clean(psa_ticket_id))
    return _bytes(root)
