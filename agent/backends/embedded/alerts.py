"""The alert tickets of alert RMMs: one open PSA ticket per (RMM, device, check)."""

from __future__ import annotations

import sqlite3
from typing import Any

from agent.backends.embedded.db import Database
from agent.ports.state import AlertTicket
from agent.ports.times import now_iso

_COLUMNS = ("rmm", "device_id", "check_name", "alert_id", "site_code", "ticket_rec_id", "failed_since",
            "repeats", "state", "agent_mark")
_CHANGEABLE = {"alert_id", "failed_since", "repeats", "state", "agent_mark"}


class AlertTables:
    """Mixin of :class:`agent.backends.embedded.state.StateStore` for ``alert_tickets``."""

    db: Database

    def open_alert_tickets(self, rmm: str = "") -> list[AlertTicket]:
        """Every alert ticket not closed yet (failing or recovered) of one RMM instance."""
        rows = self.db.query("SELECT * FROM alert_tickets WHERE rmm = ? AND state != 'closed' ORDER BY id", (rmm,))
        return [_alert_ticket(r) for r in rows]

    def alert_tickets_of(self, ticket_rec_id: str) -> list[AlertTicket]:
        rows = self.db.query("SELECT * FROM alert_tickets WHERE ticket_rec_id = ? ORDER BY id", (ticket_rec_id,))
        return [_alert_ticket(r) for r in rows]

    def add_alert_ticket(self, *, rmm: str, device_id: str, check_name: str, alert_id: str, site_code: str,
                         ticket_rec_id: str, failed_since: str, agent_mark: str) -> int:
        stamp = now_iso()
        cur = self.db.execute(
            "INSERT INTO alert_tickets(rmm, device_id, check_name, alert_id, site_code, ticket_rec_id,"
            " failed_since, agent_mark, opened_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (rmm, device_id, check_name, alert_id, site_code, ticket_rec_id, failed_since, agent_mark, stamp, stamp))
        return int(cur.lastrowid or 0)

    def update_alert_ticket(self, row_id: int, **changes: Any) -> None:
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"alert_tickets has no changeable column {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in changes)
        self.db.execute(f"UPDATE alert_tickets SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608
                        (*changes.values(), now_iso(), row_id))


def _alert_ticket(row: sqlite3.Row) -> AlertTicket:
    return AlertTicket(id=row["id"], opened_at=row["opened_at"], updated_at=row["updated_at"],
                       **{name: row[name] for name in _COLUMNS})
