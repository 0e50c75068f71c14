"""The records the sandbox holds: sites, devices, tickets, notes and feed changes.

Optional fields use ``None`` for "absent" and ``""`` for "present but empty", because the
contract allows both and a client must cope with either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

PRIORITIES = ("Critical", "High", "Medium", "Low")
STATUSES = ("New", "In Progress", "Work Completed", "Approval Required", "Info Needed", "Closed")
RETURN_STATUSES = ("Work Completed", "Approval Required", "Info Needed")
ASSIGNEES = ("NOC", "VSD", "Partner")
SOURCES = ("Alert", "NOC", "Manual", "PSA")
ORIGIN_OF_SOURCE = {"Alert": "System", "NOC": "NOC", "Manual": "NOC", "PSA": "PSA"}
DEVICE_TYPES = ("Server", "Desktop", "Laptop", "Network", "Other")
KINDS = ("TicketCreated", "TicketReturned", "TicketClosed", "NoteAdded", "TicketUpdated")


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with the ``Z`` suffix, to the second."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(datetime.now(timezone.utc))


@dataclass(slots=True)
class Site:
    site_id: int
    site_code: str
    name: str
    client_id: int
    client_name: str
    address: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Device:
    device_id: str
    site_code: str
    name: str
    friendly_name: str | None = None
    device_type: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    operating_system: str | None = None
    ip_address: str | None = None
    mac_address: str | None = None
    last_seen: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Note:
    note_id: str
    text: str
    author: str
    created_on: str
    origin: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Ticket:
    ticket_id: str
    title: str
    description: str
    priority: str
    status: str
    assigned_to: str
    source: str
    origin: str
    site_code: str | None
    device_id: str | None
    created_on: str
    created_by: str
    updated_on: str
    psa_ticket_id: str | None = None
    notes: list[Note] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Change:
    seq: int
    change_id: str
    kind: str
    ticket_id: str
    origin: str
    xml: str  # rendered once when the change happens: the ticket as it was then

    def to_dict(self) -> dict:
        return {"id": self.change_id, "kind": self.kind, "ticket_id": self.ticket_id, "origin": self.origin}


def change_id(seq: int) -> str:
    return f"c-{seq:06d}"


def parse_change_id(cursor: str) -> int | None:
    """The sequence number of a cursor, or ``None`` when it is not of the form ``c-000123``."""
    if not cursor.startswith("c-") or not cursor[2:].isdigit() or not cursor[2:].isascii():
        return None
    return int(cursor[2:])
