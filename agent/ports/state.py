"""Records the state store hands to the engines (the store itself is always the local SQLite one)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

#: The sync-state key counting drops refused because their id was used by another request
#: (they have no request record of their own to count them by).
DUPLICATES_STATE = "requests_failed_duplicate_id"


@dataclass
class OutboxItem:
    id: int
    idem_key: str
    ticket_rec_id: str
    action: str
    payload: dict[str, Any]
    request_id: str | None
    requested_by: str
    state: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    created_at: str
    result: dict[str, Any] | None = None


@dataclass
class AlertTicket:
    """The PSA ticket the agent keeps for one failing check of an alert RMM (see
    :mod:`agent.sync.alerts`). ``state``: ``failing``, ``recovered`` (the ticket stays open), or
    ``closed`` (completed, or closed on recovery: a new failure opens a new ticket)."""

    id: int
    rmm: str
    device_id: str
    check_name: str
    alert_id: str
    site_code: str
    ticket_rec_id: str
    failed_since: str
    repeats: int
    state: str
    agent_mark: str
    opened_at: str
    updated_at: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.device_id, self.check_name)


# The roles of the state store: what each engine needs of it, so that an engine is typed by what it
# uses. The embedded StateStore is the one implementation (it is checked against every role where
# it is defined).


class Transactions(Protocol):
    """Group calls into one commit (re-entrant), a nested unit undone alone, work run once the commit is made."""

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Any]: ...

    def savepoint(self) -> AbstractContextManager[None]: ...

    def on_commit(self, action: Callable[[], None]) -> None: ...


class SyncValues(Protocol):
    """The store's named values: the feed's and the workers' small state, read and written by key."""

    def get_states_with_prefix(self, prefix: str) -> dict[str, str]: ...

    def get_state(self, key: str, default: str | None = None) -> str | None: ...

    def set_state(self, key: str, value: str | None) -> None: ...

    def get_states(self, keys: Iterable[str]) -> dict[str, str]: ...

    def set_states(self, values: Mapping[str, str | None]) -> None: ...


class AuditLog(Protocol):
    """Who did what, kept for the audit log."""

    def audit(self, who: str, action: str, detail: str = "") -> None: ...


class FeedLedger(Protocol):
    """The change feed's cursor and the ids of the changes processed (exactly once)."""

    @property
    def feed_cursor(self) -> str | None: ...

    def processed_among(self, change_ids: Iterable[str]) -> set[str]: ...

    def mark_processed_many(self, change_ids: Iterable[str]) -> int: ...

    def prune_processed(self, before: str, limit: int = 10_000) -> int: ...


class TicketLinks(Protocol):
    """Continuum tickets linked to PSA tickets, their last seen fields and their acks."""

    def link_ticket(self, continuum_ticket_id: str, ticket_rec_id: str, *, acked: bool = False,
                    seen: str | None = None) -> None: ...

    def ticket_links_among(self, continuum_ticket_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]: ...

    def set_seen_many(self, seen: Iterable[tuple[str, str]]) -> None: ...

    def continuum_for_ticket(self, ticket_rec_id: str) -> str | None: ...

    def continuum_for_tickets(self, ticket_rec_ids: Iterable[str]) -> dict[str, str]: ...

    def unacked_ticket_links(self) -> list[tuple[str, str]]: ...

    def mark_links_acked(self, continuum_ticket_ids: list[str]) -> None: ...


class SiteLinks(Protocol):
    """Sites linked to accounts and devices to assets."""

    def read_links_of(self, site_codes: Iterable[str], device_ids: Iterable[str]) -> None: ...

    def link_site(self, site_code: str, account_rec_id: str, *, by: str = "") -> str | None: ...

    def unlink_site(self, site_code: str) -> str | None: ...

    def account_for_site(self, site_code: str) -> str | None: ...

    def sites_for_account(self, account_rec_id: str) -> list[str]: ...

    def site_links(self) -> dict[str, str]: ...

    def link_device(self, device_id: str, asset_rec_id: str, *, by: str = "") -> str | None: ...

    def unlink_device(self, device_id: str) -> str | None: ...

    def asset_for_device(self, device_id: str) -> str | None: ...

    def device_for_asset(self, asset_rec_id: str) -> str | None: ...

    def device_links(self) -> dict[str, str]: ...

    def unlink_account(self, account_rec_id: str, *, tickets: Iterable[str] = (),
                       assets: Iterable[str] = ()) -> dict[str, Any]: ...

    def move_site_links(self, source: str, into: str) -> int: ...


class Outbox(Protocol):
    """The durable queue of actions to carry to the RMM."""

    def enqueue_outbox(self, idem_key: str, ticket_rec_id: str, action: str, payload: dict[str, Any], *,
                       request_id: str | None = None, requested_by: str = "") -> int | None: ...

    def pending_outbox_of(self, ticket_rec_id: str, limit: int) -> list[OutboxItem]: ...

    def due_outbox(self, now: str, limit: int = 100, *, skip: Iterable[str] = ()) -> list[OutboxItem]: ...

    def get_outbox(self, item_id: int) -> OutboxItem: ...

    def outbox_id(self, idem_key: str) -> int | None: ...

    def count_outbox(self, ticket_rec_id: str, actions: Iterable[str], states: Iterable[str] = ("pending",)) -> int: ...

    def first_pending_outbox_id(self, ticket_rec_id: str) -> int | None: ...

    def next_outbox_attempt(self) -> str | None: ...

    def outbox_retry_later(self, item_id: int, next_attempt_at: str, error: str) -> None: ...

    def outbox_due_now(self, ids: Iterable[int], now: str) -> int: ...

    def outbox_finish(self, item_id: int, state: str, *, result: dict[str, Any] | None = None,
                      error: str | None = None) -> None: ...

    def completed_without_close(self, completed: Iterable[str], limit: int = 500) -> list[str]: ...


class RequestLog(Protocol):
    """The records of request drops (one per request id) and their outcome."""

    def request_seen(self, request_id: str) -> dict[str, Any] | None: ...

    def record_request(self, request_id: str, content_hash: str, filename: str, action: str, user: str,
                       status: str, *, error_code: str | None = None, error_message: str | None = None,
                       continuum_ticket_id: str | None = None, extra: Mapping[str, str] | None = None) -> bool: ...

    def finish_request(self, request_id: str, status: str, *, error_code: str | None = None,
                       error_message: str | None = None, continuum_ticket_id: str | None = None) -> None: ...


class Employees(Protocol):
    """Employees, their privilege groups, and the privilege an action needs."""

    def get_employee(self, login: str) -> dict[str, Any]: ...

    def require_privilege(self, login: str | None, action: str) -> dict[str, Any]: ...

    def list_employees(self) -> list[dict[str, Any]]: ...

    def remove_employee(self, login: str) -> dict[str, Any]: ...

    def set_employee_group(self, login: str, group: str) -> str: ...

    def set_group_continuum(self, group: str, continuum: bool) -> bool: ...


class AlertTickets(Protocol):
    """The tickets kept for the failing checks of a snapshot RMM."""

    def open_alert_tickets(self, rmm: str = "") -> list[AlertTicket]: ...

    def alert_tickets_of(self, ticket_rec_id: str) -> list[AlertTicket]: ...

    def add_alert_ticket(self, *, rmm: str, device_id: str, check_name: str, alert_id: str, site_code: str,
                         ticket_rec_id: str, failed_since: str, agent_mark: str) -> int: ...

    def update_alert_ticket(self, row_id: int, **changes: Any) -> None: ...


class AgentState(Transactions, SyncValues, AuditLog, FeedLedger, TicketLinks, SiteLinks, Outbox, RequestLog,
                 Employees, AlertTickets, Protocol):
    """Every role at once: the state store as the ``App`` hands it to the engines."""
