"""The RMM port: what the engines need of a remote monitoring and management system.

The engines (inventory, inbound, outbound) work through :class:`RmmClient` alone: inventory as
pages of neutral site and device records, the change feed (a page after a cursor, then an
acknowledgement with links), ticket actions, a connection check. Records are plain frozen
dataclasses; failures are the neutral :class:`RmmError` tree, so an engine decides what to do
by the class of the error (and its ``retryable`` / ``retry_after``), never by a wire detail.
A backend keeps its own wire format and its own error classes, derived from these.

::

    RmmError                      (agent.errors.ZenithError)
    ├── RmmUnavailable            transient: no answer, timeout, 5xx; try again later
    ├── RmmRateLimited            slow down; ``retry_after`` seconds (may be None)
    ├── RmmCredentialsRefused     the RMM does not accept the agent's credentials: fix the INI
    ├── RmmNotActivated           credentials known, activation not applied yet: keep retrying
    ├── RmmRejected               permanent: this request can never succeed as it is
    └── RmmBadAnswer              the answer could not be used (malformed, hostile, too large)
        (RmmRejected) └── RmmUnsupported   the configured RMM cannot do this at all (a capability)

Two kinds of RMM: one delivers a **change feed** of its own tickets (Continuum), the other a
**snapshot** of what fails now (N-able N-sight's failing checks, NinjaOne's open alerts). A backend
says which, and which write-backs it offers, in :class:`RmmCapabilities` (``capabilities_of``):
engines and screens offer only those, and :meth:`RmmCapabilities.require` turns a request for
another into an :class:`RmmUnsupported` that names the RMM and what to do instead. A snapshot
backend implements :class:`AlertRmm` beside the inventory methods of :class:`RmmClient`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Literal, Protocol, TypeVar, cast

from agent.errors import ZenithError

T = TypeVar("T", bound="InventoryRecord", covariant=True)
R = TypeVar("R", bound="InventoryRecord")

Kind = Literal["sites", "devices"]
Fields = tuple[tuple[str, str], ...]
"""A record's fields as the RMM sent them, in order, values unchanged: ``(("SiteCode", "A"), …)``."""


# -- errors -----------------------------------------------------------------------------------
class RmmError(ZenithError):
    """Base of every error of an RMM backend.

    ``status``, ``code`` and ``server_message`` say what the RMM answered (when it answered),
    ``retryable`` whether trying again later can help, ``retry_after`` how long to wait first
    (seconds) when the RMM or the backend named a delay. The message never holds a secret.
    """

    code = "RmmError"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 server_message: str = "", retry_after: float | None = None,
                 retryable: bool | None = None) -> None:
        super().__init__(message, code=code or None)
        self.status = status
        self.server_message = server_message
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class RmmUnavailable(RmmError):
    """The RMM could not be reached or failed transiently; the same request may succeed later."""

    code = "Unavailable"
    retryable = True


class RmmRateLimited(RmmError):
    """The RMM asked the agent to slow down; wait at least ``retry_after`` seconds (when set)."""

    code = "TooManyRequests"
    retryable = True


class RmmCredentialsRefused(RmmError):
    """The RMM does not accept the agent's credentials; nothing works until the INI changes."""

    code = "CredentialsRefused"


class RmmNotActivated(RmmError):
    """The credentials are known but not activated yet; not the agent's fault, retry slowly."""

    code = "NotActivated"
    retryable = True


class RmmRejected(RmmError):
    """A permanent refusal (unknown ticket, conflict, invalid data): never send it again as is."""

    code = "Rejected"


class RmmBadAnswer(RmmError):
    """The RMM's answer could not be used; later answers may be fine."""

    code = "BadAnswer"
    retryable = True


class RmmUnsupported(RmmRejected):
    """The configured RMM cannot do this at all (not a failure of one request): offer something else."""

    code = "Unsupported"


# -- capabilities -----------------------------------------------------------------------------
Delivery = Literal["feed", "snapshot"]
"""``feed``: changes after a cursor, acknowledged (Continuum). ``snapshot``: what fails now, polled."""


class WriteBack(StrEnum):
    """What the agent may ask of the RMM on the PSA's behalf."""

    CREATE_TICKET = "create_ticket"
    """Open a ticket in the RMM and hand it to its NOC (Continuum only)."""
    ASSIGN = "assign"
    """Hand an RMM ticket to someone else (Continuum only)."""
    ADD_NOTE = "add_note"
    """Add a note to the RMM's ticket or check."""
    CLOSE = "close"
    """Close the RMM's ticket (Continuum) or clear the check / reset the alert (snapshot RMMs)."""

    @property
    def label(self) -> str:
        return _WRITE_BACK_LABELS[self]


_WRITE_BACK_LABELS = {
    WriteBack.CREATE_TICKET: "send a ticket to the RMM's NOC",
    WriteBack.ASSIGN: "reassign the RMM's ticket",
    WriteBack.ADD_NOTE: "add a note in the RMM",
    WriteBack.CLOSE: "close the RMM's ticket or clear its alert",
}


@dataclass(frozen=True)
class RmmCapabilities:
    """What one RMM backend offers: how it delivers, and which :class:`WriteBack` it supports."""

    rmm: str
    """The RMM's name for messages: ``"Continuum"``, ``"N-able N-sight"``."""
    delivery: Delivery
    write_backs: frozenset[WriteBack]

    def supports(self, write_back: WriteBack) -> bool:
        return write_back in self.write_backs

    def require(self, write_back: WriteBack) -> None:
        """Raise :class:`RmmUnsupported` when ``write_back`` is not offered, saying what is."""
        if write_back in self.write_backs:
            return
        offered = ", ".join(w.label for w in WriteBack if w in self.write_backs) or "nothing"
        raise RmmUnsupported(
            f"{self.rmm} cannot {write_back.label}: the agent can only {offered} with this RMM. "
            "Handle it in the RMM's own console, or use an action this RMM offers.")


CONTINUUM_CAPABILITIES = RmmCapabilities(
    rmm="Continuum", delivery="feed",
    write_backs=frozenset({WriteBack.CREATE_TICKET, WriteBack.ASSIGN, WriteBack.ADD_NOTE, WriteBack.CLOSE}))
"""The change-feed RMM the agent was built for; a backend that declares nothing is taken as one."""


def capabilities_of(rmm: object) -> RmmCapabilities:
    """The backend's declared capabilities; a backend that declares none is a change feed like Continuum."""
    declared = getattr(rmm, "capabilities", None)
    return declared if isinstance(declared, RmmCapabilities) else CONTINUUM_CAPABILITIES


def as_alert_rmm(client: object) -> AlertRmm:
    """``client`` as a snapshot RMM (N-sight); :class:`RmmUnsupported` for a change-feed RMM."""
    capabilities = capabilities_of(client)
    if capabilities.delivery != "snapshot":
        raise RmmUnsupported(f"{capabilities.rmm} delivers a change feed of its tickets, not failing checks; "
                             "the alert lifecycle needs a snapshot RMM such as Backend=nsight")
    return cast(AlertRmm, client)


# -- inventory --------------------------------------------------------------------------------
class InventoryRecord(Protocol):
    """One site or device as the RMM sent it; the inventory files copy its fields unchanged."""

    def fields(self) -> Fields: ...


@dataclass(frozen=True)
class Site:
    """A site (a customer location); ``site_code`` is the stable key the agent links on."""

    site_code: str
    name: str
    site_id: str = ""
    client_id: str = ""
    client_name: str = ""
    address: str = ""
    children: Fields = ()

    def fields(self) -> Fields:
        return self.children


@dataclass(frozen=True)
class Device:
    """A managed device; ``device_id`` is stable and unique, ``site_code`` names its site."""

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
    children: Fields = ()

    def fields(self) -> Fields:
        return self.children


class InventoryPage(Protocol[T]):
    """One page of sites or devices; ``total`` is -1 when the RMM did not say."""

    @property
    def page(self) -> int: ...

    @property
    def page_size(self) -> int: ...

    @property
    def total(self) -> int: ...

    @property
    def items(self) -> Sequence[T]: ...

    def texts(self, name: str) -> list[str]:
        """The stripped value of each item's first field ``name`` (``""`` if absent), in order."""
        ...


@dataclass(frozen=True)
class Page(Generic[R]):
    """A page of records held in memory: the plain :class:`InventoryPage`."""

    page: int
    page_size: int
    total: int
    items: tuple[R, ...]

    def texts(self, name: str) -> list[str]:
        return [first_field(item.fields(), name) for item in self.items]


def pages_of(items: Sequence[R], page_size: int) -> Iterator[Page[R]]:
    """``items`` held in memory, cut into pages of ``page_size`` (one empty page when there are none)."""
    size = max(1, page_size)
    total = len(items)
    for number, start in enumerate(range(0, total or 1, size), start=1):
        yield Page(page=number, page_size=size, total=total, items=tuple(items[start:start + size]))


class _SitesAndDevices(Protocol):
    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]: ...
    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]: ...


def inventory_pages_of(rmm: _SitesAndDevices, kind: Kind, page_size: int) -> Iterator[InventoryPage[InventoryRecord]]:
    """An RMM's ``inventory_pages`` made of its ``site_pages`` and ``device_pages``."""
    if kind == "sites":
        yield from rmm.site_pages(page_size)
    elif kind == "devices":
        yield from rmm.device_pages(page_size)
    else:
        from agent.errors import UsageError

        raise UsageError(f"no inventory kind {kind!r}: use 'sites' or 'devices'")


def first_field(fields: Iterable[tuple[str, str]], name: str) -> str:
    """The stripped value of the first field called ``name``; ``""`` when there is none."""
    for tag, text in fields:
        if tag == name:
            return text.strip()
    return ""


# -- tickets and the change feed --------------------------------------------------------------
@dataclass(frozen=True)
class Ticket:
    """An RMM ticket; missing optional fields are ``""``. Hooks receive these."""

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
    """One entry of the change feed: ``kind`` is TicketCreated, TicketReturned, TicketClosed,
    NoteAdded or TicketUpdated (others may come and are skipped by the engine)."""

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
    (``None`` when the RMM named none, e.g. an empty page); ``more``: call again at once."""

    changes: tuple[Change, ...]
    next: str | None
    more: bool


@dataclass(frozen=True)
class Pong:
    partner: str
    activated: bool


@dataclass
class NewTicket:
    """An RMM ticket to create from a PSA ticket."""

    site_code: str
    title: str
    description: str = ""
    priority: str = "Medium"
    assign_to: str = "NOC"
    device_id: str | None = None
    note: str | None = None
    psa_ticket_id: str = ""


# -- the port ---------------------------------------------------------------------------------
class RmmClient(Protocol):
    """What the engines need of an RMM. Thread-safe; one per agent; closed once.

    Every method raises only :class:`RmmError` subclasses for what the RMM (or the way to
    it) did, and :class:`agent.errors.UsageError` for arguments that cannot be sent.
    """

    def ping(self) -> Pong:
        """The connection check: who the RMM thinks the agent is, and whether it is activated."""
        ...

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]:
        """Every page of sites, each requested when the caller asks for it."""
        ...

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]:
        """Every page of devices (of one site when ``site_code`` is given), requested lazily."""
        ...

    def inventory_pages(self, kind: Kind, page_size: int = 500) -> Iterator[InventoryPage[InventoryRecord]]:
        """Every page of ``"sites"`` or ``"devices"`` for copying into the inventory files.

        The same items as :meth:`site_pages` / :meth:`device_pages`, each already checked to
        carry its required fields (a site its SiteCode; a device DeviceID, SiteCode, Name), as
        records a backend may keep in its own cheap form.
        """
        ...

    def changes(self, after: str | None, limit: int = 100) -> ChangePage:
        """The changes after cursor ``after`` (``None``: from the oldest the RMM still holds).

        Delivery is at least once: a change may come twice, in one page or after a re-read.
        """
        ...

    def read_changes(self, after: str | None, limit: int = 100) -> Callable[[], ChangePage]:
        """:meth:`changes` in two steps: the request now, the records when the result is called.

        For a reader thread: the request waits on the network, building the records is CPU
        work better left to the thread that applies the page. Errors of the request are raised
        here, errors of the answer's content may be raised by the call.
        """
        ...

    def ack(self, cursor: str, links: Iterable[tuple[str, str]] = (),
            idempotency_key: str | None = None) -> str:
        """Acknowledge every change up to ``cursor``; record ``(ticket_id, psa_ticket_id)`` links.

        Acknowledging an older cursor is a no-op; a link that contradicts an earlier one is
        :class:`RmmRejected`. Returns the cursor the RMM acknowledged.
        """
        ...

    def get_ticket(self, ticket_id: str) -> Ticket: ...

    def create_ticket(self, new: NewTicket, *, idempotency_key: str) -> Ticket:
        """Create a ticket; the same key again returns the first answer and creates nothing."""
        ...

    def assign(self, ticket_id: str, assign_to: str, note: str | None = None, *,
               idempotency_key: str) -> Ticket:
        """Hand the ticket to ``assign_to`` (NOC, VSD, Partner; ``Keep``: only the note)."""
        ...

    def add_note(self, ticket_id: str, text: str, author: str, *, idempotency_key: str) -> Note: ...

    def close_ticket(self, ticket_id: str, resolution: str | None = None, *, idempotency_key: str) -> Ticket:
        """Close the ticket; closing a closed ticket changes nothing."""
        ...

    def close_connection(self) -> None:
        """Release the client's connections; nothing may be called afterwards."""
        ...


# -- snapshot RMMs: failing checks / open alerts -----------------------------------------------
@dataclass(frozen=True)
class Alert:
    """One failing check (N-sight) or open alert (NinjaOne) as the RMM holds it now.

    ``alert_id`` is what the RMM clears or notes (N-sight's checkid); ``(device_id, check)`` is
    what the agent keeps one PSA ticket for. ``failed_since`` names the current failure: the same
    alert seen with a different value has recovered and failed again in between (a repeat).
    """

    alert_id: str
    device_id: str
    site_code: str
    check: str
    description: str = ""
    check_type: str = ""
    severity: str = ""
    failed_since: str = ""
    output: str = ""
    device_name: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.device_id, self.check)


@dataclass(frozen=True)
class AlertSnapshot:
    """Everything failing now, in one poll (one request where the RMM allows it)."""

    alerts: tuple[Alert, ...]
    taken_at: str = ""


class AlertRmm(Protocol):
    """A snapshot RMM: what fails now, notes on a check, clearing it. Same error tree as above."""

    @property
    def capabilities(self) -> RmmCapabilities: ...

    def ping(self) -> Pong: ...

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]: ...

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]: ...

    def inventory_pages(self, kind: Kind, page_size: int = 500) -> Iterator[InventoryPage[InventoryRecord]]: ...

    def failing(self) -> AlertSnapshot:
        """Every failing check / open alert now."""
        ...

    def add_alert_note(self, alert_id: str, text: str, *, idempotency_key: str) -> None:
        """Add a (private, technical) note to the alert; :class:`RmmRejected` for an unknown alert."""
        ...

    def clear_alert(self, alert_id: str, note: str, *, idempotency_key: str) -> None:
        """Clear the check / reset the alert with ``note``; clearing one that no longer fails changes nothing."""
        ...

    def close_connection(self) -> None: ...


RmmFactory = Callable[..., RmmClient]
"""What a backend registers: ``factory(settings) -> RmmClient``."""
