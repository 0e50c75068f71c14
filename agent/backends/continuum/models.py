"""What the Continuum PSA API hands over, as frozen dataclasses.

``Site`` and ``Device`` keep every child element of the answer in ``children`` (in order, values
unchanged) so the inventory writer can copy them verbatim; the typed attributes are stripped
conveniences. Missing optional elements are ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

Children = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Site:
    site_code: str
    name: str
    site_id: str = ""
    client_id: str = ""
    client_name: str = ""
    address: str = ""
    children: Children = ()


@dataclass(frozen=True)
class Device:
    device_id: str
    site_code: str
    name: str
    friendly_name: str = ""
    device_type: str = ""
    manufacturer: str = ""
    model: str = ""
    serial_number: str = ""
    operating_system: str = ""
    ip_address: str = ""
    mac_address: str = ""
    last_seen: str = ""
    children: Children = ()


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    title: str = ""
    description: str = ""
    priority: str = ""
    status: str = ""
    assigned_to: str = ""
    source: str = ""
    origin: str = ""
    site_code: str = ""
    device_id: str = ""
    created_on: str = ""
    created_by: str = ""
    updated_on: str = ""
    psa_ticket_id: str = ""


@dataclass(frozen=True)
class Note:
    note_id: str
    text: str = ""
    author: str = ""
    created_on: str = ""
    origin: str = ""


@dataclass(frozen=True)
class Change:
    id: str
    kind: str
    ticket: Ticket
    note: Note | None = None

    @property
    def origin(self) -> str:
        """Who caused the change: the note's Origin if there is a note, else the ticket's."""
        return self.note.origin if self.note is not None else self.ticket.origin


@dataclass(frozen=True)
class ChangePage:
    """One read of the feed. ``next`` is the cursor to ack once these changes are committed
    (``None`` when the server named none, e.g. an empty page); ``more``: call again at once."""

    changes: tuple[Change, ...]
    next: str | None
    more: bool


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of sites or devices; ``total`` is -1 when the server did not say."""

    page: int
    page_size: int
    total: int
    items: tuple[T, ...]


@dataclass(frozen=True)
class Pong:
    partner: str
    activated: bool


@dataclass
class NewTicket:
    """A Continuum ticket to create from a PSA ticket (``POST /psa/v1/tickets``)."""

    site_code: str
    title: str
    description: str = ""
    priority: str = "Medium"
    assign_to: str = "NOC"
    device_id: str | None = None
    note: str | None = None
    psa_ticket_id: str = ""
