"""What the alert lifecycle needs of the state store (its roles, typed)."""

from __future__ import annotations

from typing import Protocol

from agent.ports.state import AlertTickets, Outbox, SiteLinks, Transactions


class AlertStore(Transactions, SiteLinks, AlertTickets, Outbox, Protocol):
    """The state store as the alert lifecycle uses it: links, alert tickets, the outbox, in one unit of work."""
