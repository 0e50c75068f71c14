"""The sandbox's state: inventory, tickets, the change feed, links and the ledger.

Every public method takes the world's lock, so the HTTP threads and a test driving the
world directly see one consistent order of events. The PSA-side methods (``psa_*``, ``ack``)
are what the API endpoints call; the others are the Continuum side, driven by tests and
the admin endpoints.
"""

from __future__ import annotations

import random
from typing import Any

from agent.sandbox import worldgen
from agent.sandbox.errors import conflict, invalid, not_found
from agent.sandbox.inventory import Inventory
from agent.sandbox.model import (
    ASSIGNEES,
    ORIGIN_OF_SOURCE,
    PRIORITIES,
    RETURN_STATUSES,
    SOURCES,
    STATUSES,
    Change,
    Note,
    Ticket,
    change_id,
    now_iso,
    parse_change_id,
)
from agent.sandbox.render import change_xml

TICKET_FIELDS = {"title": "title", "description": "description", "priority": "priority",
                 "status": "status", "assigned_to": "assigned_to", "site_code": "site_code",
                 "device_id": "device_id"}


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise invalid(f"{what} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


class World(Inventory):
    """Thread-safe state of one sandbox Continuum; deterministic from ``seed``."""

    def __init__(self, *, seed: int = 1, sites: int = 20, devices: int = 200, tickets: int = 0,
                 activated: bool = True) -> None:
        rng = random.Random(seed)
        site_list, prefixes = worldgen.generate_sites(rng, sites)
        super().__init__(site_list, worldgen.generate_devices(rng, devices, site_list, prefixes))
        self._rng = random.Random(f"tickets-{seed}")
        self._activated = activated
        self._tickets: dict[str, Ticket] = {}
        self._changes: list[Change] = []
        self._acked = 0
        self._links: dict[str, str] = {}
        self._ledger: list[dict] = []
        self._next_ticket = 1
        self._next_note = 1
        for _ in range(tickets):
            self.open_ticket(**worldgen.ticket_spec(self._rng, site_list, self._device_list()))

    # ---- views ---------------------------------------------------------------------------
    @property
    def activated(self) -> bool:
        return self._activated

    @property
    def acked_cursor(self) -> str | None:
        with self.lock:
            return change_id(self._acked) if self._acked else None

    @property
    def links(self) -> dict[str, str]:
        with self.lock:
            return dict(self._links)

    @property
    def tickets(self) -> dict[str, dict]:
        with self.lock:
            return {tid: t.to_dict() for tid, t in self._tickets.items()}

    @property
    def ledger(self) -> list[dict]:
        with self.lock:
            return [dict(e) for e in self._ledger]

    @property
    def changes(self) -> list[dict]:
        with self.lock:
            return [c.to_dict() for c in self._changes]

    def get_ticket(self, ticket_id: str) -> Ticket:
        """The live ticket record (hold ``lock`` while reading it from another thread)."""
        with self.lock:
            return self._ticket(ticket_id)

    def ticket(self, ticket_id: str) -> dict:
        with self.lock:
            return self._ticket(ticket_id).to_dict()

    def state(self) -> dict:
        with self.lock:
            return {"activated": self._activated, "acked_cursor": self.acked_cursor,
                    "last_change": change_id(len(self._changes)) if self._changes else None,
                    "changes": len(self._changes), "sites": self.site_count(),
                    "devices": self.device_count(), "links": dict(self._links),
                    "tickets": self.tickets}

    def set_activated(self, activated: bool) -> None:
        with self.lock:
            self._activated = bool(activated)

    # ---- internals -----------------------------------------------------------------------
    def _ticket(self, ticket_id: str) -> Ticket:
        ticket = self._tickets.get(str(ticket_id))
        if ticket is None:
            raise not_found(f"No ticket {ticket_id!r}; list tickets with GET /sandbox/state.")
        return ticket

    def _append(self, kind: str, ticket: Ticket, note: Note | None = None) -> Change:
        seq = len(self._changes) + 1
        cid = change_id(seq)
        change = Change(seq, cid, kind, ticket.ticket_id, ticket.origin, change_xml(cid, kind, ticket, note))
        self._changes.append(change)
        return change

    def _record(self, action: str, ticket_id: str | None, key: str | None, **extra: Any) -> None:
        self._ledger.append({"action": action, "ticket_id": ticket_id, "idempotency_key": key,
                             "at": now_iso(), **extra})

    def _new_note(self, text: str, author: str, origin: str) -> Note:
        note = Note(f"N-{self._next_note}", text, author, now_iso(), origin)
        self._next_note += 1
        return note

    def _touch(self, ticket: Ticket, origin: str) -> None:
        ticket.origin = origin
        ticket.updated_on = now_iso()

    def _check_place(self, site_code: str | None, device_id: str | None) -> None:
        if site_code and self.find_site(site_code) is None:
            raise not_found(f"No site {site_code!r}; list sites with GET /psa/v1/sites.")
        if device_id:
            device = self.find_device(device_id)
            if device is None:
                raise not_found(f"No device {device_id!r}; list devices with GET /psa/v1/devices.")
            if site_code and device.site_code != site_code:
                raise invalid(f"Device {device_id!r} belongs to site {device.site_code!r}, not {site_code!r}.")

    def _new_ticket(self, **fields: Any) -> Ticket:
        tid = f"{worldgen.TICKET_DATE}{self._next_ticket:04d}"
        self._next_ticket += 1
        stamp = now_iso()
        ticket = Ticket(ticket_id=tid, created_on=stamp, updated_on=stamp, **fields)
        self._tickets[tid] = ticket
        return ticket

    # ---- Continuum side ------------------------------------------------------------------
    def open_ticket(self, site_code: str | None = None, device_id: str | None = None, title: str = "Alert",
                    description: str = "", priority: str = "High", source: str = "Alert") -> dict:
        """A ticket opened in Continuum (an alert, or by the NOC): appends ``TicketCreated``."""
        with self.lock:
            _choice(priority, PRIORITIES, "priority")
            _choice(source, SOURCES[:3], "source")
            if device_id and not site_code:
                device = self.find_device(device_id)
                site_code = device.site_code if device else site_code
            self._check_place(site_code, device_id)
            created_by = {"Alert": "Monitoring", "NOC": "NOC", "Manual": "NOC Technician"}[source]
            ticket = self._new_ticket(title=str(title), description=str(description), priority=priority,
                                      status="New", assigned_to="NOC", source=source,
                                      origin=ORIGIN_OF_SOURCE[source], site_code=site_code,
                                      device_id=device_id or None, created_by=created_by)
            self._append("TicketCreated", ticket)
            return ticket.to_dict()

    def open_tickets(self, count: int) -> list[str]:
        """``count`` new tickets, a realistic mix of device alerts, site alerts and NOC tickets."""
        if not isinstance(count, int) or count < 0:
            raise invalid("count must be a whole number of 0 or more.")
        with self.lock:
            sites, devices = self._site_list(), self._device_list()
            return [self.open_ticket(**worldgen.ticket_spec(self._rng, sites, devices))["ticket_id"]
                    for _ in range(count)]

    def return_ticket(self, ticket_id: str, status: str = "Work Completed", note: str | None = None) -> dict:
        """The NOC hands the ticket back to the partner: appends ``TicketReturned``."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            ticket.status = _choice(status, RETURN_STATUSES, "status")
            origin = "VSD" if ticket.assigned_to == "VSD" else "NOC"
            ticket.assigned_to = "Partner"
            self._touch(ticket, origin)
            self._append("TicketReturned", ticket, self._attach(ticket, note, origin))
            return ticket.to_dict()

    def close_ticket(self, ticket_id: str, note: str | None = None) -> dict:
        """The NOC closes the ticket: appends ``TicketClosed`` (nothing when already closed)."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            if ticket.status != "Closed":
                ticket.status = "Closed"
                self._touch(ticket, "NOC")
                self._append("TicketClosed", ticket, self._attach(ticket, note, "NOC"))
            return ticket.to_dict()

    def add_note(self, ticket_id: str, text: str, author: str = "NOC") -> dict:
        """A note added in Continuum: appends ``NoteAdded``; returns the note."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            if not str(text).strip():
                raise invalid("A note needs a non-empty text.")
            origin = author if author in ("NOC", "VSD") else "NOC"
            note = self._add_note(ticket, str(text), origin, author=str(author))
            self._touch(ticket, origin)
            self._append("NoteAdded", ticket, note)
            return note.to_dict()

    def update_ticket(self, ticket_id: str, **fields: Any) -> dict:
        """Any other change of the ticket's fields in Continuum: appends ``TicketUpdated``."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            unknown = sorted(set(fields) - set(TICKET_FIELDS))
            if unknown or not fields:
                raise invalid(f"Fields to update: {', '.join(TICKET_FIELDS)}; got {', '.join(unknown) or 'none'}.")
            self._validate_update(fields)
            for name, value in fields.items():
                setattr(ticket, TICKET_FIELDS[name], value)
            self._touch(ticket, "NOC")
            self._append("TicketUpdated", ticket)
            return ticket.to_dict()

    def _validate_update(self, fields: dict) -> None:
        for name, allowed in (("priority", PRIORITIES), ("status", STATUSES), ("assigned_to", ASSIGNEES)):
            if name in fields:
                _choice(fields[name], allowed, name)
        for name in ("title", "description"):
            if name in fields and not isinstance(fields[name], str):
                raise invalid(f"{name} must be a string.")
        self._check_place(fields.get("site_code"), fields.get("device_id"))

    def _attach(self, ticket: Ticket, text: str | None, origin: str, author: str | None = None) -> Note | None:
        return self._add_note(ticket, text, origin, author) if text else None

    def _add_note(self, ticket: Ticket, text: str, origin: str, author: str | None = None) -> Note:
        note = self._new_note(str(text), author or origin, origin)
        ticket.notes.append(note)
        return note

    # ---- PSA side (the API) --------------------------------------------------------------
    def psa_create(self, fields: dict, key: str | None = None) -> Ticket:
        """``POST /psa/v1/tickets``: a ticket created from a PSA ticket (an echo in the feed)."""
        with self.lock:
            site_code, device_id = fields["site_code"], fields.get("device_id")
            self._check_place(site_code, device_id)
            ticket = self._new_ticket(title=fields["title"], description=fields["description"],
                                      priority=fields["priority"], status="New",
                                      assigned_to=fields["assign_to"], source="PSA", origin="PSA",
                                      site_code=site_code, device_id=device_id, created_by="PSA",
                                      psa_ticket_id=fields.get("psa_ticket_id"))
            if ticket.psa_ticket_id:
                self._links[ticket.ticket_id] = ticket.psa_ticket_id
            self._append("TicketCreated", ticket)
            note = self._attach(ticket, fields.get("note"), "PSA", author="PSA")
            if note is not None:
                self._append("NoteAdded", ticket, note)
            self._record("create", ticket.ticket_id, key)
            return ticket

    def psa_assign(self, ticket_id: str, assign_to: str, note: str | None, key: str | None = None) -> Ticket:
        """``POST /psa/v1/tickets/{id}/assign`` (``AssignTo`` is checked by the body parser)."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            if ticket.status == "Closed":
                raise invalid(f"Ticket {ticket_id} is closed; it cannot be reassigned.")
            if assign_to != "Keep":
                ticket.assigned_to = assign_to
                if ticket.status in RETURN_STATUSES and assign_to != "Partner":
                    ticket.status = "In Progress"
            self._touch(ticket, "PSA")
            self._append("TicketUpdated", ticket)
            added = self._attach(ticket, note, "PSA", author="PSA")
            if added is not None:
                self._append("NoteAdded", ticket, added)
            self._record("assign", ticket.ticket_id, key, assign_to=assign_to)
            return ticket

    def psa_note(self, ticket_id: str, text: str, author: str, key: str | None = None) -> Note:
        """``POST /psa/v1/tickets/{id}/notes``."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            note = self._add_note(ticket, text, "PSA", author=author)
            self._touch(ticket, "PSA")
            self._append("NoteAdded", ticket, note)
            self._record("note", ticket.ticket_id, key, note_id=note.note_id)
            return note

    def psa_close(self, ticket_id: str, resolution: str | None, key: str | None = None) -> tuple[Ticket, bool]:
        """``POST /psa/v1/tickets/{id}/close``; returns the ticket and whether anything changed."""
        with self.lock:
            ticket = self._ticket(ticket_id)
            if ticket.status == "Closed":
                return ticket, False
            ticket.status = "Closed"
            self._touch(ticket, "PSA")
            self._append("TicketClosed", ticket, self._attach(ticket, resolution, "PSA", author="PSA"))
            self._record("close", ticket.ticket_id, key)
            return ticket, True

    # ---- the feed --------------------------------------------------------------------------
    def _seq_of(self, cursor: str) -> int:
        seq = parse_change_id(cursor)
        if seq is None or not 1 <= seq <= len(self._changes):
            raise invalid(f"Unknown cursor {cursor!r}; use the 'next' of a page or leave it out.")
        return seq

    def feed(self, after: str | None, limit: int, *, redeliver: bool = False) -> tuple[list[Change], str, bool]:
        """The changes after ``after`` (absent: after the acked cursor), the next cursor, more?"""
        with self.lock:
            start = self._acked if (after is None or redeliver) else self._seq_of(after)
            page = self._changes[start:start + limit]
            if page:
                next_cursor = page[-1].change_id
            else:
                next_cursor = change_id(start) if start else ""
            return page, next_cursor, start + len(page) < len(self._changes)

    def ack(self, cursor: str, links: list[tuple[str, str]], key: str | None = None) -> str:
        """Acknowledge up to ``cursor`` and record links; all-or-nothing. Returns the acked cursor."""
        with self.lock:
            seq = self._seq_of(cursor)
            fresh = self._check_links(links)
            if seq > self._acked:
                self._acked = seq
                self._record("ack", None, key, cursor=cursor)
            for tid, psa_id in fresh:
                self._links[tid] = psa_id
                self._tickets[tid].psa_ticket_id = psa_id
                self._record("link", tid, key, psa_ticket_id=psa_id)
            return change_id(self._acked)

    def _check_links(self, links: list[tuple[str, str]]) -> list[tuple[str, str]]:
        fresh: dict[str, str] = {}
        for tid, psa_id in links:
            self._ticket(tid)
            known = self._links.get(tid) or fresh.get(tid)
            if known is not None and known != psa_id:
                raise conflict(f"Ticket {tid} is already linked to PSA ticket {known}, not {psa_id}.")
            if known is None:
                fresh[tid] = psa_id
        return list(fresh.items())

