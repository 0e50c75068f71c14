"""The embedded PSA store: the one interface through which the agent reads and writes the PSA.

Its vocabulary is RangerMSP's (REC IDs, accounts, assets, tickets, history notes, status
codes) so that a backend for RangerMSP's own API can later stand in its place.
"""

from __future__ import annotations

from pathlib import Path

from agent.backends.embedded.db import Database, now_iso, parse_stored_time, stored_time
from agent.backends.embedded.links import LinkTables
from agent.backends.embedded.psa import (
    STATUS_COMPLETED,
    STATUS_NAMES,
    STATUS_NEW,
    Account,
    Asset,
    HistoryNote,
    PsaModel,
    Ticket,
)
from agent.backends.embedded.sync import OutboxItem, SyncState

__all__ = ["Store", "Account", "Asset", "Ticket", "HistoryNote", "OutboxItem", "STATUS_COMPLETED",
           "STATUS_NAMES", "STATUS_NEW", "now_iso", "parse_stored_time", "stored_time"]


class Store(PsaModel, LinkTables, SyncState):
    """The embedded SQLite store. ``with store.transaction():`` groups calls into one commit."""

    def __init__(self, path: Path | str) -> None:
        self.db = Database(path)

    @property
    def path(self) -> Path:
        return self.db.path

    def transaction(self, *, durable: bool = True):
        """Group calls into one commit; see :meth:`agent.backends.embedded.db.Database.transaction` for ``durable``."""
        return self.db.transaction(durable=durable)

    def on_commit(self, action) -> None:
        """Run ``action`` once the current transaction commits.

        See :meth:`agent.backends.embedded.db.Database.on_commit`."""
        self.db.on_commit(action)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
