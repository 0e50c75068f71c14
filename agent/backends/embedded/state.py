"""The state store: the agent's own, always local SQLite file (WAL, synchronous=FULL, one writer).

It holds the feed cursor, processed change ids, the outbox, request records, the links, the
audit log, employees and privilege groups. The embedded PSA backend keeps its tables in the same
file, so that its writes and the cursor commit in one transaction (D1).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.backends.embedded.alerts import AlertTables
from agent.backends.embedded.console import ConsoleTables
from agent.backends.embedded.db import Database
from agent.backends.embedded.links import LinkTables
from agent.backends.embedded.people import People
from agent.backends.embedded.sync import SyncState

if TYPE_CHECKING:
    from agent.ports import state as roles


class StateStore(LinkTables, SyncState, People, ConsoleTables, AlertTables):
    """``with state.transaction():`` groups calls into one commit; re-entrant."""

    def __init__(self, path: Path | str, *, before_upgrade: Callable[[int], None] | None = None) -> None:
        self.db = Database(path, before_upgrade=before_upgrade)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    def transaction(self, *, durable: bool = True) -> Any:
        """Group calls into one commit; see :meth:`agent.backends.embedded.db.Database.transaction` for ``durable``."""
        return self.db.transaction(durable=durable)

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit undone alone when it raises; see :meth:`agent.backends.embedded.db.Database.savepoint`."""
        return self.db.savepoint()

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current transaction commits (see ``Database.on_commit``)."""
        self.db.on_commit(action)

    def backup(self, target: Path) -> None:
        """A consistent copy of the whole file (the embedded PSA's records included), even while the agent runs."""
        self.db.backup(target)

    def integrity_check(self) -> str:
        return self.db.integrity_check()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:
    def _plays_every_role(store: StateStore) -> tuple[
            roles.Transactions, roles.SyncValues, roles.AuditLog, roles.FeedLedger, roles.TicketLinks,
            roles.SiteLinks, roles.Outbox, roles.RequestLog, roles.Employees, roles.AlertTickets]:
        """Type checking fails here when the store stops fitting a role the engines are typed with."""
        return (store, store, store, store, store, store, store, store, store, store)
