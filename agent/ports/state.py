"""Records the state store hands to the engines (the store itself is always the local SQLite one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
