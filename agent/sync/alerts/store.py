"""What the alert lifecycle needs of the state store (a role of it, typed)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from agent.ports.state import AlertTicket


class AlertStore(Protocol):
    """The state store as the alert lifecycle uses it: links, alert tickets, the outbox."""

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Any]: ...

    def account_for_site(self, site_code: str) -> str | None: ...

    def asset_for_device(self, device_id: str) -> str | None: ...

    def open_alert_tickets(self, rmm: str = "") -> list[AlertTicket]: ...

    def add_alert_ticket(self, *, rmm: str, device_id: str, check_name: str, alert_id: str, site_code: str,
                         ticket_rec_id: str, failed_since: str, agent_mark: str) -> int: ...

    def update_alert_ticket(self, row_id: int, **changes: Any) -> None: ...

    def enqueue_outbox(self, idem_key: str, ticket_rec_id: str, action: str, payload: dict[str, Any], *,
                       request_id: str | None = None, requested_by: str = "") -> int | None: ...
