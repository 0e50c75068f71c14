"""The web console's tables: sign-in passwords and sessions, and the outbox as the console shows it."""

from __future__ import annotations

from typing import Any

from agent.backends.embedded.db import Database
from agent.backends.embedded.sync import _outbox
from agent.ports.state import OutboxItem
from agent.ports.times import now_iso


class ConsoleTables:
    """Mixin of :class:`agent.backends.embedded.state.StateStore` for the web console (D10)."""

    db: Database

    # -- passwords -------------------------------------------------------------------------
    def set_web_password(self, login: str, password_hash: str) -> None:
        """Store the employee's password hash; every session of that login ends with it."""
        with self.db.transaction():
            self.db.execute("INSERT INTO web_passwords(login, password_hash, set_at) VALUES (?,?,?)"
                            " ON CONFLICT(login) DO UPDATE SET password_hash = excluded.password_hash,"
                            " set_at = excluded.set_at", (login, password_hash, now_iso()))
            self.db.execute("DELETE FROM web_sessions WHERE login = ?", (login,))

    def web_password(self, login: str) -> str | None:
        return self.db.scalar("SELECT password_hash FROM web_passwords WHERE login = ?", (login,))

    # -- sessions --------------------------------------------------------------------------
    def add_web_session(self, id_hash: str, login: str, csrf_token: str, expires_at: str) -> None:
        self.db.execute("INSERT INTO web_sessions(id_hash, login, csrf_token, created_at, expires_at)"
                        " VALUES (?,?,?,?,?)", (id_hash, login, csrf_token, now_iso(), expires_at))

    def web_session(self, id_hash: str) -> dict[str, Any] | None:
        """The session's ``login``, ``csrf_token`` and ``expires_at``, or ``None`` if it ended."""
        row = self.db.query_one("SELECT login, csrf_token, expires_at FROM web_sessions WHERE id_hash = ?",
                                (id_hash,))
        return dict(row) if row is not None else None

    def end_web_session(self, id_hash: str) -> None:
        self.db.execute("DELETE FROM web_sessions WHERE id_hash = ?", (id_hash,))

    def prune_web_sessions(self, now: str) -> int:
        return self.db.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,)).rowcount

    # -- outbox as shown to people ---------------------------------------------------------
    def outbox_for_ticket(self, ticket_rec_id: str) -> list[OutboxItem]:
        """Every outbox row of a ticket, oldest first (queued, sent and failed)."""
        return [_outbox(r) for r in self.db.query("SELECT * FROM outbox WHERE ticket_rec_id = ? ORDER BY id",
                                                  (ticket_rec_id,))]

    def failed_outbox(self, limit: int = 50) -> list[OutboxItem]:
        """The latest outbox rows Continuum refused for good, newest first."""
        return [_outbox(r) for r in self.db.query("SELECT * FROM outbox WHERE state = 'failed'"
                                                  " ORDER BY id DESC LIMIT ?", (limit,))]
