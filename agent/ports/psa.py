"""The PSA port: what the engines need of the PSA, in RangerMSP's vocabulary.

A PSA backend holds the PSA's own records (accounts, assets, tickets and their history notes);
everything else the agent keeps (feed cursor, outbox, requests, links, audit, employees and
privilege groups) lives in the always-local state store. Backends are chosen with
``[RangerMSP] Backend=`` and registered through the ``zenith_psa_backends`` hook.

Transactions. Engines group writes with ``with psa.transaction():`` nested inside the state
store's transaction, and name each unit of work with ``with psa.keyed(name):``. A backend
whose writes commit and roll back with the state store's transaction sets
``joins_state_transaction = True`` (the embedded backend, whose tables live in the state
store's SQLite file, and the in-memory one). A backend that cannot (RangerMSP's
database API has no transactions) sets it to ``False``; its writes are then made safe by the
journal of D9: each record it creates carries a key derived from the ``keyed`` name.

Errors. A backend raises :class:`PsaUnavailable` for trouble that may pass (the database is
busy, a connection dropped), :class:`PsaRejected` for a write it refuses for good (bad input),
and :class:`PsaNotFound` for a REC ID it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from agent.errors import NotFoundError, UsageError, ZenithError

# RangerMSP's ticket status codes; Completed (1000) is the one the integration relies on.
STATUS_NAMES = {100: "New", 200: "In Progress", 300: "Waiting for Customer",
                400: "Waiting for Vendor", 500: "Scheduled", 1000: "Completed"}
STATUS_NEW = 100
STATUS_COMPLETED = 1000


class PsaError(ZenithError):
    """Base of the errors a PSA backend raises."""

    code = "PsaError"


class PsaUnavailable(PsaError):
    """The PSA cannot be reached or is busy; the same call may work later."""

    code = "PsaUnavailable"
    retryable = True


class PsaNeedsRestart(PsaUnavailable):
    """Trouble the backend cannot get over in this process (RangerMSP's DLLs after an update of its
    API, which cannot be loaded again in the process that loaded the old ones): every later call
    fails the same way until the agent's process is started again."""

    code = "PsaNeedsRestart"


class PsaRejected(UsageError, PsaError):
    """The PSA refused a write for good (a missing name, a value it does not accept)."""

    code = "Invalid"
    retryable = False


class PsaNotFound(NotFoundError, PsaError):
    """No record with that REC ID."""

    code = "NotFound"
    retryable = False

    @property
    def web_message(self) -> str:
        # The message names the command that lists them; a page names what to do on a page.
        what = self.message.split(";", 1)[0]
        return (f"{what}: it may have been merged or deleted since the page was shown. Reload the page and "
                "choose again.")


@dataclass
class Account:
    rec_id: str
    name: str
    manager: str | None
    auto_created: bool
    seq: int
    created_at: str
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Asset:
    rec_id: str
    account_rec_id: str
    name: str
    serial: str
    manufacturer: str
    notes: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HistoryNote:
    rec_id: str
    at: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def in_the_inbox(flagged: bool, status_code: int) -> bool:
    """Whether a ticket shows in the Inbox: put there and not Completed. Completing a ticket ends
    its wait in the Inbox, whoever completes it and however, so every backend reads the flag
    through this."""
    return flagged and status_code != STATUS_COMPLETED


@dataclass
class Ticket:
    """A PSA ticket. ``continuum_ticket_id`` is not the backend's: the state store's ticket link
    fills it in (see :func:`agent.sync.records.with_links`)."""

    rec_id: str
    ticket_no: int
    description: str
    status_code: int
    in_inbox: bool
    account_rec_id: str
    asset_rec_id: str | None
    manager: str | None
    created_at: str
    continuum_ticket_id: str | None = None
    history: list[HistoryNote] = field(default_factory=list)

    @property
    def status(self) -> str:
        return STATUS_NAMES.get(self.status_code, str(self.status_code))

    def linked_to(self, continuum_ticket_id: str | None) -> Ticket:
        return replace(self, continuum_ticket_id=continuum_ticket_id)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the CLI contract."""
        return {"rec_id": self.rec_id, "ticket_no": self.ticket_no, "description": self.description,
                "status": self.status, "status_code": self.status_code, "in_inbox": self.in_inbox,
                "account_rec_id": self.account_rec_id, "asset_rec_id": self.asset_rec_id,
                "manager": self.manager, "continuum_ticket_id": self.continuum_ticket_id,
                "created_at": self.created_at, "history": [h.as_dict() for h in self.history]}


class PsaAdministration(Protocol):
    """What the backend of a real PSA offers its administrator beyond the port (``zenithlink psa``):
    a check of the installation and the employees the agent's logins are written as."""

    def probe(self, *, write_test: str | None = None, read_only: bool = False) -> list[Any]:
        """Findings (``check``, ``verdict``, ``detail``, ``as_dict()``) on this installation."""

    def map_employee(self, login: str, rec_id: str) -> None:
        """Write the PSA's employee ``rec_id`` wherever the agent names employee ``login``."""

    def employee_map(self) -> list[tuple[str, str]]:
        """``(login, the PSA's employee REC ID)`` of every mapped employee."""


@runtime_checkable
class PsaStore(Protocol):
    """A PSA backend. Every method may raise the errors above; REC IDs are RangerMSP's."""

    #: ``True`` when the backend's writes commit and roll back with the state store's transaction.
    joins_state_transaction: bool

    # -- units of work ---------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[Any]:
        """Group writes; re-entrant. Entered inside the state store's transaction."""

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested unit whose writes alone are undone when it raises (one request drop's)."""

    def close(self) -> None:
        """Release the backend's resources; the agent calls it once, at exit."""

    @property
    def restart_needed(self) -> PsaNeedsRestart | None:
        """Why only a new process can use the PSA again, or ``None``: the service stops with a
        failure code then, so that Windows' recovery actions start it again."""

    @property
    def administration(self) -> PsaAdministration | None:
        """The PSA's own administration (``zenithlink psa``), or ``None`` for a backend that keeps
        its employees itself (the embedded and in-memory PSAs)."""

    def keyed(self, key: str, *, external_id: str | None = None) -> AbstractContextManager[Any]:
        """Name the unit of work the writes inside belong to (a Continuum change, an outbox row, a
        request): the same name, written again after a crash or a failure, must not make the same
        records twice. A backend that joins the state store's transaction needs nothing of it (a
        failed unit leaves nothing behind); one that cannot keys each record it creates with it (D9).
        ``external_id`` is the Continuum ticket id of a ticket created inside."""

    def batch(self) -> AbstractContextManager[Any]:
        """A run of writes the caller makes one after the other inside a transaction (a feed page's
        tickets). Inside it a backend may hold back the rows of new tickets and their first notes
        (``add_history(..., touch=False)``) and write them together, as long as every later call
        (a read, any other write, the end of the transaction) finds them written; REC IDs are
        returned at once as always. A backend that writes row by row returns a context that does
        nothing (``contextlib.nullcontext()``). The embedded backend writes them with one
        ``executemany`` per table."""

    # -- accounts --------------------------------------------------------------------------
    def add_account(self, name: str, manager: str | None = None, *, auto_created: bool = False,
                    notes: str = "") -> str:
        """Create an account; returns its REC ID. ``manager`` is an employee login (checked by the caller)."""

    def get_account(self, rec_id: str) -> Account:
        """The account (raises :class:`PsaNotFound`; a merged-away account is not found)."""

    def account_manager(self, rec_id: str) -> str | None:
        """The manager login of an account, ``None`` if it has none; raises if there is no such account."""

    def find_account(self, ref: str) -> Account | None:
        """An account by REC ID or, failing that, by exact name (case-insensitive; the oldest of that name)."""

    def first_account(self) -> Account | None:
        """The oldest account still in use (the own-business fallback of R5)."""

    def list_accounts(self) -> list[Account]:
        """Every account in use, oldest first."""

    def account_names(self) -> list[tuple[str, str]]:
        """``(rec_id, name)`` of every account in use, oldest first (for suggestions)."""

    def rename_account(self, rec_id: str, name: str) -> None:
        """Rename; a renamed auto-created account counts as a real one from then on."""

    def set_account_manager(self, rec_id: str, manager: str | None) -> None:
        """Make employee ``manager`` (a login, checked by the caller) the account's manager; ``None`` clears it."""

    def delete_account(self, rec_id: str) -> None:
        """Delete an account that has no tickets and no assets (raises :class:`PsaRejected` while it
        has some, or when the backend cannot delete records at all). Its site links are the state
        store's: the caller checks them."""

    def merge_account(self, source: str, into: str) -> dict[str, int]:
        """Move the tickets and assets of ``source`` to ``into`` and retire ``source`` (R20).
        Returns ``{"tickets": n, "assets": n}``."""

    def successor_account(self, rec_id: str) -> str | None:
        """The account in use that took over ``rec_id`` after it was merged away (by the agent or,
        for a PSA with its own client, there), or ``None`` when it was not merged or nothing tells."""

    # -- assets ----------------------------------------------------------------------------
    def add_asset(self, name: str, account_rec_id: str, *, serial: str = "", manufacturer: str = "",
                  notes: str = "") -> str:
        """Create an asset of an account; returns its REC ID."""

    def get_asset(self, rec_id: str) -> Asset:
        """The asset (raises :class:`PsaNotFound`)."""

    def list_assets(self, account_rec_id: str | None = None) -> list[Asset]:
        """Assets by name, of one account or of all."""

    # -- tickets and history ---------------------------------------------------------------
    def add_ticket(self, account_rec_id: str, description: str, *, asset_rec_id: str | None = None,
                   manager: str | None = None, in_inbox: bool = False, status_code: int = STATUS_NEW) -> str:
        """Create a ticket with the next ticket number; returns its REC ID."""

    def get_ticket(self, rec_id: str, *, history: bool = True) -> Ticket:
        """The ticket, with its history notes in the order they were written unless ``history=False``."""

    def ticket_by_number(self, ticket_no: int) -> Ticket:
        """The ticket with that ticket number, without its history (raises :class:`PsaNotFound`)."""

    def list_tickets(self, *, inbox: bool | None = None, account_rec_id: str | None = None) -> list[Ticket]:
        """Tickets by number, optionally only those in (or out of) the Inbox, or of one account."""

    def count_tickets(self) -> int:
        """How many tickets there are."""

    def completed_since(self, since: str | None) -> list[str]:
        """REC IDs of Completed tickets last updated at or after ``since`` (a stored time; ``None``: all)."""

    def add_history(self, ticket_rec_id: str, text: str, *, at: str | None = None, author: str = "",
                    touch: bool = True) -> str:
        """Add a History Note; ``touch=False`` leaves the ticket's last-updated time alone."""

    def set_ticket_status(self, rec_id: str, status_code: int) -> int:
        """Set the status; returns the previous status code."""

    def set_inbox(self, rec_id: str, in_inbox: bool) -> None:
        """Put the ticket into the Inbox or take it out."""


#: A backend factory: ``factory(settings, state)`` returns a :class:`PsaStore`. ``state`` is the
#: agent's state store (the embedded backend keeps its tables in the same SQLite file).
PsaFactory = Callable[[Any, Any], PsaStore]


class PsaView:
    """What a policy hook may do with the PSA: the reads a policy needs and the few writes a
    resolver makes (the auto-created account of R4 and its site link). Writes join the current
    unit of work."""

    __slots__ = ("_psa", "_site_account", "_state")

    def __init__(self, psa: PsaStore, state: Any, *,
                 site_account: Callable[[str], str | None] | None = None) -> None:
        self._psa = psa
        self._state = state
        self._site_account = site_account

    # reads
    def get_account(self, rec_id: str) -> Account:
        return self._psa.get_account(rec_id)

    def find_account(self, ref: str) -> Account | None:
        return self._psa.find_account(ref)

    def first_account(self) -> Account | None:
        return self._psa.first_account()

    def account_manager(self, rec_id: str) -> str | None:
        return self._psa.account_manager(rec_id)

    def get_asset(self, rec_id: str) -> Asset:
        return self._psa.get_asset(rec_id)

    def list_assets(self, account_rec_id: str | None = None) -> list[Asset]:
        return self._psa.list_assets(account_rec_id)

    def list_accounts(self) -> list[Account]:
        return self._psa.list_accounts()

    def count_tickets(self) -> int:
        """How many tickets the PSA holds (plugins' hooks read it: a manager rule that spreads
        tickets counts them; part of the plugin interface, kept though no engine calls it)."""
        return self._psa.count_tickets()

    def account_for_site(self, site_code: str) -> str | None:
        """The REC ID of the account linked to a Continuum site, or ``None``. What to do with a
        linked account gone from the PSA is the sync layer's policy, handed in as ``site_account``
        (``agent.sync.accounts.psa_view``); without one, the link as the state store holds it."""
        if self._site_account is not None:
            return self._site_account(site_code)
        result: str | None = self._state.account_for_site(site_code)
        return result

    def asset_for_device(self, device_id: str) -> str | None:
        """The REC ID of the asset linked to a Continuum device, or ``None``."""
        result: str | None = self._state.asset_for_device(device_id)
        return result

    def sites_for_account(self, account_rec_id: str) -> list[str]:
        result: list[str] = self._state.sites_for_account(account_rec_id)
        return result

    # writes a resolver makes
    def add_account(self, name: str, manager: str | None = None, *, auto_created: bool = False,
                    notes: str = "") -> str:
        return self._psa.add_account(name, manager, auto_created=auto_created, notes=notes)

    def link_site(self, site_code: str, account_rec_id: str, *, by: str = "") -> None:
        self._state.link_site(site_code, account_rec_id, by=by)

    def audit(self, who: str, action: str, detail: str = "") -> None:
        self._state.audit(who, action, detail)
