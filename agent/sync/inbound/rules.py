"""One feed change into PSA records: rules R1-R11 of the design, through the hooks.

:class:`PageApplier` applies the changes of one feed page inside the page's transaction (which
:class:`agent.sync.inbound.engine.InboundSync` opens, commits and acknowledges). The policies are hooks: the
skip rule (echoes, R11), the account resolver (R2-R4), the asset resolver (R6), the manager rule
(R5) and the ticket description, each a built-in plugin a third-party plugin can override.

Decisions where the contract is silent:

- A ``TicketReturned``, ``NoteAdded`` or ``TicketUpdated`` for a Continuum ticket that has no
  PSA ticket (it was opened before the server's oldest retained change) creates the PSA ticket
  from the ticket element the change carries, exactly as a ``TicketCreated`` would, and then
  applies the change. No extra request is made: every change carries the whole ticket. Not
  adopted: a ticket that is closed, and a ticket Continuum says is mastered by a PSA ticket
  already (``PsaTicketID``), e.g. one whose link was removed on purpose (R19).
- History notes carry Continuum's time of the event (``CreatedOn`` of the ticket or the note,
  ``UpdatedOn`` for other changes); a ticket's history is listed in the order it was written.
- ``TicketUpdated`` notes list what changed since the last change seen for that ticket; the
  last seen fields are kept on the ticket's link (and go when the link goes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from loguru import logger

from agent import events
from agent.errors import ZenithError
from agent.hookcalls import first_result
from agent.ports.rmm import Change, Note
from agent.ports.rmm import Ticket as RmmTicket
from agent.ports.times import now_iso, stored_time
from agent.sync.inventory import index as inventory_index

if TYPE_CHECKING:
    from agent.sync.engine_app import EngineApp

AUTHOR = "Continuum"
KINDS = ("TicketCreated", "TicketReturned", "TicketClosed", "NoteAdded", "TicketUpdated")
SNAPSHOT_FIELDS = (("title", "Title"), ("description", "Description"), ("priority", "Priority"),
                   ("status", "Status"), ("assigned_to", "Assigned to"), ("site_code", "Site"),
                   ("device_id", "Device"))
_SNAPSHOT_NAMES = tuple(name for name, _ in SNAPSHOT_FIELDS)
_snapshot_values = attrgetter(*_SNAPSHOT_NAMES)
_SEEN_SEP = "\x1f"


class BadChange(ZenithError):
    """A feed change whose data cannot be applied; it is recorded as processed and skipped."""

    code = "BadChange"


class PageApplier:
    """Applies the single changes of one page inside the page's transaction; collects nothing but events.

    What the page needs from the store is read once when the page starts (the PSA tickets of
    its Continuum tickets, their last seen fields) and kept up to date as the page is applied:
    within the page's transaction only this page writes ticket links. The last seen fields of
    tickets linked before the page are written when the page ends (:meth:`finish`); PSA records
    (accounts, tickets, history notes, ticket links) are written at once, so the hooks called
    for a later change of the page see them. ``new_links`` lists the links the page made, for
    the ack.
    """

    def __init__(self, app: EngineApp, changes: Iterable[Change] = ()) -> None:
        self.settings = app.settings
        self.state, self.psa, self.view = app.state, app.psa, app.psa_view
        hook = app.pm.hook
        self._resolve_account = first_result(hook.zenith_resolve_account)
        self._resolve_asset = first_result(hook.zenith_resolve_asset)
        self._ticket_manager = first_result(hook.zenith_ticket_manager)
        self._ticket_description = first_result(hook.zenith_ticket_description)
        self._handlers = {"TicketCreated": self._created, "TicketReturned": self._returned,
                          "TicketClosed": self._closed, "NoteAdded": self._note_added,
                          "TicketUpdated": self._updated}
        tickets = [change.ticket for change in changes]
        known = self.state.ticket_links_among({ticket.ticket_id for ticket in tickets})
        # The resolvers ask for the links of each new ticket's site and device: read together.
        new = [ticket for ticket in tickets if ticket.ticket_id not in known]
        self.state.read_links_of({t.site_code for t in new if t.site_code}, {t.device_id for t in new if t.device_id})
        self._links = {tid: rec_id for tid, (rec_id, _) in known.items()}
        self._seen = {tid: seen for tid, (_, seen) in known.items() if seen}
        self._remembered: dict[str, str] = {}
        self.new_links: list[tuple[str, str]] = []
        self._lookups: dict[str, Callable[[str], dict[str, str] | None]] = {}
        self._account_names: dict[str, str] = {}
        self._site_names: dict[str, str | None] = {}
        self._at = events.utcnow()  # the page's events happen together, to the second

    def finish(self) -> None:
        """Write what the page remembered of its tickets; call once, inside the page's transaction."""
        self.state.set_seen_many(self._remembered.items())
        self._remembered = {}

    def apply(self, change: Change) -> list[events.Event] | None:
        """Apply one change; its events, or ``None`` when it asks for nothing (R10, orphans)."""
        handler = self._handlers.get(change.kind)
        if handler is None:
            raise BadChange(f"unknown change kind {change.kind!r}; this agent knows {', '.join(KINDS)}")
        return handler(change)

    # -- kinds -----------------------------------------------------------------------------
    def _created(self, change: Change) -> list[events.Event] | None:
        ticket = change.ticket
        if ticket.ticket_id in self._links:
            return None  # R10: this Continuum ticket has its PSA ticket already
        return [self._create(ticket)]

    def _returned(self, change: Change) -> list[events.Event] | None:
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        ticket, note = change.ticket, change.note
        self.psa.set_inbox(rec_id, True)
        text = f"Returned by {_who(ticket.origin)} in Continuum with status {ticket.status or 'unknown'}"
        self._history(rec_id, text + _note_suffix(note), note.created_on if note else ticket.updated_on)
        self._remember(ticket)
        produced.append(self._event(events.TICKET_RETURNED, f"Continuum ticket {ticket.ticket_id} returned "
                                    f"({ticket.status}) into the Inbox as {rec_id}", ticket, rec_id,
                                    status=ticket.status, note=note.text if note else ""))
        return produced

    def _closed(self, change: Change) -> list[events.Event] | None:
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        ticket, note = change.ticket, change.note
        text = f"Closed in Continuum by {_who(ticket.origin)}; the status of this ticket is unchanged"
        self._history(rec_id, text + _note_suffix(note), note.created_on if note else ticket.updated_on)
        self._remember(ticket)
        produced.append(self._event(events.TICKET_CLOSED_IN_CONTINUUM,
                                    f"Continuum ticket {ticket.ticket_id} was closed in Continuum ({rec_id})",
                                    ticket, rec_id))
        return produced

    def _note_added(self, change: Change) -> list[events.Event] | None:
        note = change.note
        if note is None:
            raise BadChange("a NoteAdded change without its <Note>")
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        author = note.author or _who(note.origin)
        self._history(rec_id, f"Note from {author} in Continuum: {note.text}", note.created_on)
        self._remember(change.ticket)
        return produced

    def _updated(self, change: Change) -> list[events.Event] | None:
        ticket = change.ticket
        before = self._snapshot(ticket.ticket_id)
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        if produced:
            before = None  # adopted just now from this very change: nothing to compare with
        text = f"Updated in Continuum by {_who(ticket.origin)}: {update_summary(before, ticket)}"
        self._history(rec_id, text, ticket.updated_on)
        self._remember(ticket)
        return produced

    # -- shared steps ----------------------------------------------------------------------
    def _linked(self, change: Change) -> tuple[list[events.Event], str | None]:
        """The PSA ticket of the change's Continuum ticket, adopting it when sensible."""
        ticket = change.ticket
        rec_id = self._links.get(ticket.ticket_id)
        if rec_id:
            return [], rec_id
        if change.kind == "TicketClosed" or ticket.status == "Closed" or ticket.psa_ticket_id:
            logger.info("{} of Continuum ticket {} ignored: no PSA ticket is linked to it{}", change.kind,
                        ticket.ticket_id, f" (Continuum names {ticket.psa_ticket_id})" if ticket.psa_ticket_id else "")
            return [], None
        created = self._create(ticket)
        return [created], created.data["ticket_rec_id"]

    def _create(self, ticket: RmmTicket) -> events.Event:
        """R1-R6: one PSA ticket in the Inbox, linked to the Continuum ticket."""
        psa, view, settings = self.psa, self.view, self.settings
        account = self._resolve_account(ticket=ticket, psa=view, settings=settings)
        if not account:
            raise BadChange(f"no plugin chose an account for Continuum ticket {ticket.ticket_id}; "
                            "enable the account_resolver plugin or a replacement")
        asset = self._resolve_asset(ticket=ticket, account=account, psa=view, settings=settings)
        manager = self._ticket_manager(ticket=ticket, account=account, psa=view, settings=settings)
        device = self._device(ticket.device_id) if ticket.device_id else None
        description = self._ticket_description(ticket=ticket, device=device, asset=asset, settings=settings)
        with psa.keyed(f"ticket:{ticket.ticket_id}", external_id=ticket.ticket_id):
            rec_id = psa.add_ticket(account, description or _fallback_description(ticket), asset_rec_id=asset,
                                    manager=manager, in_inbox=True)
        self._history(rec_id, created_text(ticket), ticket.created_on, touch=False)
        seen = self._seen[ticket.ticket_id] = _snapshot(ticket)
        self.state.link_ticket(ticket.ticket_id, rec_id, seen=seen)
        self._links[ticket.ticket_id] = rec_id
        self.new_links.append((ticket.ticket_id, rec_id))
        # Names beside the REC IDs: a person reading the alert knows the customer, not its REC ID.
        return self._event(events.TICKET_CREATED, f"Continuum ticket {ticket.ticket_id} became PSA ticket {rec_id}",
                           ticket, rec_id, account_rec_id=account, account_name=self._account_name(account),
                           asset_rec_id=asset, manager=manager, title=ticket.title,
                           site_name=self._site_name(ticket.site_code), device_name=(device or {}).get("Name"))

    def _event(self, kind: str, summary: str, ticket: RmmTicket, rec_id: str, **data: Any) -> events.Event:
        return events.Event(kind, summary, {"ticket_rec_id": rec_id, "continuum_ticket_id": ticket.ticket_id,
                                            "site_code": ticket.site_code, "device_id": ticket.device_id, **data},
                            at=self._at)

    def _site_name(self, site_code: str) -> str | None:
        # A page's tickets share a few sites: each site's record is read once a page.
        if not site_code:
            return None
        if site_code not in self._site_names:
            self._site_names[site_code] = (self._record("sites", site_code) or {}).get("Name")
        return self._site_names[site_code]

    def _account_name(self, rec_id: str) -> str:
        # Hooks cannot rename an account (the view they get has no rename), so a name read once
        # holds for the page: a page's tickets share a few accounts.
        name = self._account_names.get(rec_id)
        if name is None:
            name = self._account_names[rec_id] = self.psa.get_account(rec_id).name
        return name

    def _device(self, device_id: str) -> dict[str, str] | None:
        return self._record("devices", device_id)

    def _record(self, kind: str, key: str) -> dict[str, str] | None:
        # The inventory file as it is when the page first needs it: one stat a page, not one a ticket.
        lookup = self._lookups.get(kind)
        if lookup is None:
            lookup = self._lookups[kind] = inventory_index.record_lookup(self.settings, kind)
        return lookup(key)

    def _history(self, rec_id: str, text: str, when: str, *, touch: bool = True) -> None:
        self.psa.add_history(rec_id, text, at=store_time(when), author=AUTHOR, touch=touch)

    def _snapshot(self, ticket_id: str) -> dict[str, str] | None:
        raw = self._seen.get(ticket_id)
        return seen_fields(raw) if raw else None

    def _remember(self, ticket: RmmTicket) -> None:
        self._seen[ticket.ticket_id] = self._remembered[ticket.ticket_id] = _snapshot(ticket)


# -- texts -----------------------------------------------------------------------------------
def created_text(ticket: RmmTicket) -> str:
    """The History Note of a new ticket, with Continuum's creation date and time (R1)."""
    by = ticket.created_by or "Continuum"
    source = f" ({ticket.source})" if ticket.source else ""
    return (f"Created in Continuum on {human_time(ticket.created_on)} by {by}{source}; "
            f"Continuum ticket {ticket.ticket_id}")


def update_summary(before: dict[str, str] | None, ticket: RmmTicket) -> str:
    """What changed (``before`` is the last seen fields), or the current fields if unknown."""
    now = {name: getattr(ticket, name) or "" for name, _ in SNAPSHOT_FIELDS}
    if before is None:
        return "; ".join(f"{label} {_short(now[name]) or '(none)'}" for name, label in SNAPSHOT_FIELDS if now[name])
    changed = [f"{label} {_short(before.get(name, '')) or '(none)'} -> {_short(now[name]) or '(none)'}"
               for name, label in SNAPSHOT_FIELDS if before.get(name, "") != now[name]]
    if changed:
        return "; ".join(changed)
    return "no change to the title, description, priority, status, assignee, site or device"


def human_time(value: str) -> str:
    times = _times(value)
    return times[1] if times else (value or "an unknown time")


def store_time(value: str) -> str:
    """A Continuum time in the store's own format (so history sorts right); now if unreadable."""
    times = _times(value)
    return times[0] if times else now_iso()


# Tickets opened together share their times to the second, and a new ticket's time is read
# twice (its note's text and its note's time): the formatted pair is remembered by its text.
@lru_cache(maxsize=256)
def _times(value: str) -> tuple[str, str] | None:
    """A Continuum time as the store keeps it and as notes show it; ``None`` if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return stored_time(moment), moment.isoformat(" ", "minutes")[:16] + " UTC"


def _note_suffix(note: Note | None) -> str:
    return f". Note from {note.author or _who(note.origin)}: {note.text}" if note and note.text else ""


def _who(origin: str) -> str:
    names = {"NOC": "the NOC", "VSD": "the Virtual Service Desk", "System": "Continuum"}
    return names.get(origin or "", origin or "Continuum")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fallback_description(ticket: RmmTicket) -> str:
    return ticket.title or ticket.description or f"Continuum ticket {ticket.ticket_id}"




def seen_fields(raw: str) -> dict[str, str]:
    """The last seen fields as stored on a ticket link, by name (see :data:`SNAPSHOT_FIELDS`)."""
    return dict(zip(_SNAPSHOT_NAMES, raw.split(_SEEN_SEP)))


def _snapshot(ticket: RmmTicket) -> str:
    """The last seen fields of a Continuum ticket as stored: the values in SNAPSHOT_FIELDS order
    joined by U+001F, which cannot occur in them (they come from XML, which cannot hold it)."""
    return _SEEN_SEP.join([value or "" for value in _snapshot_values(ticket)])
