"""Bookkeeping that must never stop an engine: the store's named values read, or written in one
transaction, and an event handed to the notifiers. A failure is logged and given back, not raised
(the engine's own work went through; what failed is recording or telling it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from loguru import logger

from agent import events
from agent.ports.state import SyncValues, Transactions


class ValueStore(SyncValues, Transactions, Protocol):
    """The store's named values, written together."""


class Notifying(Protocol):
    def notify(self, event: events.Event) -> None: ...


def read_value(state: SyncValues, key: str) -> str | None:
    try:
        return state.get_state(key)
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop the engine
        logger.warning("cannot read {} from the store: {}", key, exc)
        return None


def record_values(state: ValueStore, values: Mapping[str, str | None]) -> Exception | None:
    """Write the values in one transaction; the error instead of raising it."""
    try:
        with state.transaction():
            for key, value in values.items():
                state.set_state(key, value)
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop the engine
        logger.warning("cannot record {} in the store: {}", ", ".join(values), exc)
        return exc
    return None


def notify_quietly(app: Notifying, event: events.Event) -> None:
    try:
        app.notify(event)
    except Exception as exc:  # noqa: BLE001 - a broken notifier set-up must not stop the engine
        logger.error("cannot notify {}: {}", event.kind, exc)
