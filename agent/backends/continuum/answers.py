"""Turning Continuum's XML answers into models.

Every answer goes through :func:`dbsys.safexml.parse_bytes` (no DOCTYPE, no entities, no
network, size cap); any problem, including an unexpected root element or a non-integer paging
attribute, becomes :class:`BadAnswer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from lxml import etree

from agent.ports.rmm import Fields, InventoryRecord
from dbsys.safexml import UnsafeXML, child_text, parse_bytes

from .errors import BadAnswer
from .models import Change, ChangePage, Device, Note, Page, Pong, Site, Ticket

T = TypeVar("T", bound=InventoryRecord)

_SITE_FIELDS = {
    "SiteID": "site_id", "SiteCode": "site_code", "Name": "name",
    "ClientID": "client_id", "ClientName": "client_name", "Address": "address",
}
_DEVICE_FIELDS = {
    "DeviceID": "device_id", "SiteCode": "site_code", "Name": "name",
    "FriendlyName": "friendly_name", "DeviceType": "device_type", "Manufacturer": "manufacturer",
    "Model": "model", "SerialNumber": "serial_number", "OperatingSystem": "operating_system",
    "IPAddress": "ip_address", "MACAddress": "mac_address", "LastSeen": "last_seen",
}
_TICKET_FIELDS = {
    "TicketID": "ticket_id", "Title": "title", "Description": "description",
    "Priority": "priority", "Status": "status", "AssignedTo": "assigned_to", "Source": "source",
    "Origin": "origin", "SiteCode": "site_code", "DeviceID": "device_id",
    "CreatedOn": "created_on", "CreatedBy": "created_by", "UpdatedOn": "updated_on",
    "PsaTicketID": "psa_ticket_id",
}
SITE_REQUIRED = ("SiteCode",)
"""Children a Site must carry with a non-blank value: the code the agent links on. A site with an
empty name is still a site (it is shown by its code); one bad name must not stop the inventory."""
DEVICE_REQUIRED = ("DeviceID", "SiteCode", "Name")
"""Children a Device must carry with a non-blank value (the contract's rule)."""
_NOTE_FIELDS = {
    "NoteID": "note_id", "Text": "text", "Author": "author",
    "CreatedOn": "created_on", "Origin": "origin",
}


def parse(data: bytes, expected: str, *, max_bytes: int) -> etree._Element:
    """Parse an answer safely and check that its root element is ``expected``."""
    try:
        root = parse_bytes(data, max_bytes=max_bytes, what="Continuum answer")
    except UnsafeXML as exc:
        raise BadAnswer(f"Continuum sent an answer that was refused ({exc}); "
                        "the agent will try again later, check the ContinuumURL if this persists.") from None
    if not isinstance(root.tag, str) or root.tag != expected:
        raise BadAnswer(f"Continuum answered with <{_tag(root)}> where <{expected}> was expected; "
                        "check that ContinuumURL points at the Continuum PSA API.")
    return root


def _tag(elem: etree._Element) -> str:
    return elem.tag if isinstance(elem.tag, str) else "?"


def _read(elem: etree._Element, mapping: dict[str, str]) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """Every child verbatim, and the mapped fields (first occurrence, stripped), in one pass.

    One pass instead of a ``find`` per field: this is the hot loop of a 100,000-device inventory.
    """
    children = []
    values = dict.fromkeys(mapping.values(), "")
    seen: set[str] = set()
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        text = child.text or ""
        children.append((tag, text))
        attr = mapping.get(tag)
        if attr is not None and attr not in seen:
            seen.add(attr)
            values[attr] = text.strip()
    return tuple(children), values


def _required(elem: etree._Element, values: dict[str, str], mapping: dict[str, str],
              tags: Sequence[str]) -> dict[str, str]:
    missing = [t for t in tags if not values[mapping[t]]]
    if missing:
        raise _missing(elem, missing)
    return values


def _missing(elem: etree._Element, tags: Sequence[str]) -> BadAnswer:
    return BadAnswer(f"Continuum sent a <{_tag(elem)}> without {', '.join(tags)}; "
                     "the agent will try again later, report this to Continuum if it persists.")


def site(elem: etree._Element) -> Site:
    children, values = _read(elem, _SITE_FIELDS)
    return Site(children=children, **_required(elem, values, _SITE_FIELDS, SITE_REQUIRED))


def device(elem: etree._Element) -> Device:
    children, values = _read(elem, _DEVICE_FIELDS)
    return Device(children=children, **_required(elem, values, _DEVICE_FIELDS, DEVICE_REQUIRED))


def ticket(elem: etree._Element) -> Ticket:
    return Ticket(**_required(elem, _read(elem, _TICKET_FIELDS)[1], _TICKET_FIELDS, ("TicketID",)))


def note(elem: etree._Element) -> Note:
    return Note(**_read(elem, _NOTE_FIELDS)[1])


def change(elem: etree._Element) -> Change:
    ticket_elem = elem.find("Ticket")
    if ticket_elem is None:
        raise BadAnswer("Continuum sent a change without its <Ticket>; "
                        "the agent will try again later, report this to Continuum if it persists.")
    note_elem = elem.find("Note")
    return Change(
        id=_attr(elem, "id"),
        kind=_attr(elem, "kind"),
        ticket=ticket(ticket_elem),
        note=note(note_elem) if note_elem is not None else None,
    )


def changes(root: etree._Element) -> ChangePage:
    items = tuple(change(e) for e in root.iterchildren("Change"))
    more = (root.get("more") or "").strip().lower() == "true"
    return ChangePage(changes=items, next=root.get("next") or None, more=more)


def page(root: etree._Element, item: str, build: Callable[[etree._Element], T], page_size: int) -> Page[T]:
    return _page(root, tuple(build(e) for e in root.iterchildren(item)), page_size)


@dataclass(frozen=True)
class ElementPage(Page[etree._Element]):
    """A page whose ``items`` are the ``<Site>``/``<Device>`` elements as parsed, in order.

    ``texts(tag)`` reads one field of every item at once (cached), without turning the other
    children into Python values.
    """

    root: etree._Element | None = None
    _texts: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def texts(self, tag: str) -> list[str]:
        """The stripped text of each item's first ``tag`` child (``""`` when absent), in item order."""
        cached = self._texts.get(tag)
        if cached is None:
            cached = self._texts[tag] = _first_texts(self.root, self.items, tag)
        return cached


class ElementRecord:
    """One parsed ``<Site>``/``<Device>`` as a neutral inventory record.

    ``fields()`` copies the children into Python values only when asked; the inventory writer
    serialises :meth:`xml_element` unchanged instead, which is much cheaper.
    """

    __slots__ = ("_element",)

    def __init__(self, element: etree._Element) -> None:
        self._element = element

    def fields(self) -> Fields:
        return tuple((c.tag, c.text or "") for c in self._element if isinstance(c.tag, str))

    def xml_element(self) -> etree._Element:
        return self._element


@dataclass(frozen=True)
class RecordPage:
    """An :class:`ElementPage` as the port's inventory page: its items as :class:`ElementRecord`."""

    source: ElementPage
    items: tuple[ElementRecord, ...]

    @classmethod
    def of(cls, source: ElementPage) -> RecordPage:
        return cls(source, tuple(map(ElementRecord, source.items)))

    @property
    def page(self) -> int:
        return self.source.page

    @property
    def page_size(self) -> int:
        return self.source.page_size

    @property
    def total(self) -> int:
        return self.source.total

    def texts(self, name: str) -> list[str]:
        return self.source.texts(name)


def element_page(root: etree._Element, item: str, required: Sequence[str], page_size: int) -> ElementPage:
    """The page with its ``item`` elements as parsed, each checked to carry the ``required`` children.

    Nothing is copied into Python values: the inventory writes these elements through unchanged.
    """
    items = tuple(root.iterchildren(item))
    base = _page(root, items, page_size)
    page = ElementPage(base.page, base.page_size, base.total, items, root)
    for tag in required:
        texts = page.texts(tag)
        if not all(texts):
            bad = items[texts.index("")]
            raise _missing(bad, [t for t in required if not _first_text(bad, t)])
    return page


def _page(root: etree._Element, items: tuple[T, ...], page_size: int) -> Page[T]:
    return Page(
        page=_int(root, "page", 1),
        page_size=_int(root, "pageSize", page_size),
        total=_int(root, "total", -1),
        items=items,
    )


def _first_texts(root: etree._Element | None, items: Sequence[etree._Element], tag: str) -> list[str]:
    # ``items`` are all the same-named children of ``root`` (a page), so one compiled XPath call
    # reads a field of every item: this is the hot loop of a 100,000-device inventory. Each item
    # gives at most one element, so as many elements as items means one per item, in order.
    if not items:
        return []
    finder = _first_child_finder(items[0].tag, tag) if root is not None else None
    if finder is not None:
        found = finder(root)
        if len(found) == len(items):
            return [(c.text or "").strip() for c in found]
    return [_first_text(i, tag) for i in items]


def _first_text(elem: etree._Element, tag: str) -> str:
    for child in elem.iterchildren(tag):
        return (child.text or "").strip()
    return ""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


@lru_cache(maxsize=64)
def _first_child_finder(item: object, tag: str) -> etree.XPath | None:
    # Only plain names go into the expression; anything else takes the per-item path.
    if not (isinstance(item, str) and _NAME.match(item) and _NAME.match(tag)):
        return None
    return etree.XPath(f"{item}/{tag}[1]")


def pong(root: etree._Element) -> Pong:
    return Pong(partner=root.get("partner", ""), activated=(root.get("activated") or "").lower() == "true")


def acked(root: etree._Element) -> str:
    return _attr(root, "cursor")


def error(data: bytes, *, max_bytes: int) -> tuple[str, str]:
    """``(code, message)`` of an error answer; empty strings when the body is not an <Error>."""
    try:
        root = parse(data, "Error", max_bytes=max_bytes)
    except BadAnswer:
        return "", ""
    return (root.get("code") or "").strip(), child_text(root, "Message")


def _attr(elem: etree._Element, name: str) -> str:
    value = (elem.get(name) or "").strip()
    if not value:
        raise BadAnswer(f"Continuum sent a <{_tag(elem)}> without its '{name}' attribute; "
                        "the agent will try again later, report this to Continuum if it persists.")
    return value


def _int(elem: etree._Element, name: str, default: int) -> int:
    raw = elem.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadAnswer(f"Continuum sent {name}={raw[:40]!r}, which is not a number; "
                        "the agent will try again later, report this to Continuum if it persists.") from None
