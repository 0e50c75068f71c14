"""Records the state store hands to the engines (the store itself is always the local SQLite one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
