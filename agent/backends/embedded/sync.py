"""Sync state: feed cursor, processed changes, outbox, request inbox, audit log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from agent.backends.embedded.db import Database
from agent.errors import NotFoundError
from agent.ports.state import OutboxItem
from agent.ports.times import now_iso
from dbsys.redact import redact


class SyncState:
    """Mixin of :class:`agent.backends.embedded.state.StateStore` for the agent's own bookkeeping."""

    db: Database

    # -- key/value state -------------------------------------------------------------------
    def get_state(self, key: str, default: str | None = None) -> str | None:
        value = self.db.scalar("SELECT value FROM sync_state WHERE key = ?", (key,))
        return default if value is None else value

    def set_state(self, key: str, value: str | None) -> None:
        """Set a key; ``None`` removes it."""
        self.set_states({key: value})

    def get_states(self, keys: Iterable[str]) -> dict[str, str]:
        """The values of those of ``keys`` that are set, in one query."""
        keys = list(keys)
        if not keys:
            return {}
        return {r[0]: r[1] for r in self.db.query(
            "SELECT s.key, s.value FROM json_each(?) j JOIN sync_state s ON s.key = j.value"
            " WHERE s.value IS NOT NULL", (json.dumps(keys),))}

    def get_states_with_prefix(self, prefix: str) -> dict[str, str]:
        """The keys that start with ``prefix`` (not empty) and their values, in one range read."""
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return {r[0]: r[1] for r in self.db.query(
            "SELECT key, value FROM sync_state WHERE key >= ? AND key < ? AND value IS NOT NULL", (prefix, after))}

    def set_states(self, values: Mapping[str, str | None]) -> None:
        """Set several keys at once; ``None`` removes a key (so per-change keys do not pile up)."""
        if not values:
            return
        with self.db.transaction() as conn:
            conn.executemany("INSERT INTO sync_state(key, value) VALUES (?, ?)"
                             " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                             [(k, _clean(v)) for k, v in values.items() if v is not None])
            conn.executemany("DELETE FROM sync_state WHERE key = ?", [(k,) for k, v in values.items() if v is None])

    @property
    def feed_cursor(self) -> str | None:
        return self.get_state("feed_cursor")

    # -- processed changes (exactly-once effect of the feed) -------------------------------
    def is_processed(self, change_id: str) -> bool:
        return self.db.scalar("SELECT 1 FROM processed_changes WHERE change_id = ?", (change_id,)) is not None

    def mark_processed(self, change_id: str) -> bool:
        """Record a change as applied; ``False`` if it was recorded already."""
        cur = self.db.execute("INSERT OR IGNORE INTO processed_changes(change_id, processed_at) VALUES (?, ?)",
                              (change_id, now_iso()))
        return cur.rowcount == 1

    def processed_among(self, change_ids: Iterable[str]) -> set[str]:
        """Which of ``change_ids`` are recorded as processed, in one query (a page's worth at a time)."""
        ids = list(change_ids)
        if not ids:
            return set()
        return {r[0] for r in self.db.query(
            "SELECT p.change_id FROM json_each(?) j JOIN processed_changes p ON p.change_id = j.value",
            (json.dumps(ids),))}

    def mark_processed_many(self, change_ids: Iterable[str]) -> int:
        """Record changes as applied in one statement; how many were not recorded already."""
        stamp = now_iso()
        with self.db.transaction() as conn:
            cur = conn.executemany("INSERT OR IGNORE INTO processed_changes(change_id, processed_at) VALUES (?, ?)",
                                   [(change_id, stamp) for change_id in change_ids])
        return max(cur.rowcount, 0)

    def prune_processed(self, before: str, limit: int = 10_000) -> int:
        """Forget processed changes recorded before ``before`` (a stored time); how many went.

        Looks at the ``limit`` oldest records only (in the order they were written, which is
        the order of their times), so one call is cheap however large the table has grown;
        called again, it goes on where it stopped.
        """
        with self.db.transaction() as conn:
            return conn.execute(
                "DELETE FROM processed_changes WHERE rowid IN"
                " (SELECT rowid FROM processed_changes ORDER BY rowid LIMIT ?) AND processed_at < ?",
                (limit, before)).rowcount

    # -- outbox ----------------------------------------------------------------------------
    def enqueue_outbox(self, idem_key: str, ticket_rec_id: str, action: str, payload: dict[str, Any], *,
                       request_id: str | None = None, requested_by: str = "") -> int | None:
        """Queue an outbound action; ``None`` if that idempotency key is queued already."""
        stamp = now_iso()
        cur = self.db.execute(
            "INSERT OR IGNORE INTO outbox(idem_key, ticket_rec_id, action, payload, request_id, requested_by,"
            " next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?)",
            (idem_key, ticket_rec_id, action, json.dumps(payload), request_id, requested_by, stamp, stamp))
        return cur.lastrowid if cur.rowcount == 1 else None

    def due_outbox(self, now: str, limit: int = 100, *, skip: Iterable[str] = ()) -> list[OutboxItem]:
        """The head of each ticket (its oldest pending row: order per ticket) when it is due, oldest
        first; tickets in ``skip`` are left out (their head is on its way already).

        Walks the pending-only index ticket by ticket (a seek for the next ticket, one for its
        head), so a call costs about the number of tickets with pending rows, not the rows.
        """
        rows = self.db.query(_DUE_OUTBOX, (now, json.dumps(list(skip)), limit))
        return [_outbox(r) for r in rows]

    def get_outbox(self, item_id: int) -> OutboxItem:
        row = self.db.query_one("SELECT * FROM outbox WHERE id = ?", (item_id,))
        if row is None:
            raise NotFoundError(f"no outbox row {item_id}")
        return _outbox(row)

    def outbox_id(self, idem_key: str) -> int | None:
        """The row queued under ``idem_key``, if any."""
        return self.db.scalar("SELECT id FROM outbox WHERE idem_key = ?", (idem_key,))

    def count_outbox(self, ticket_rec_id: str, actions: Iterable[str], states: Iterable[str] = ("pending",)) -> int:
        """How many rows of a ticket have one of ``actions`` and one of ``states``."""
        return self.db.scalar(
            "SELECT COUNT(*) FROM outbox WHERE ticket_rec_id = ? AND action IN (SELECT value FROM json_each(?))"
            " AND state IN (SELECT value FROM json_each(?))",
            (ticket_rec_id, json.dumps(list(actions)), json.dumps(list(states))))

    def first_pending_outbox_id(self, ticket_rec_id: str) -> int | None:
        """The ticket's oldest pending row: the one that must go out first."""
        return self.db.scalar("SELECT MIN(id) FROM outbox INDEXED BY outbox_queue"
                              " WHERE ticket_rec_id = ? AND state = 'pending'", (ticket_rec_id,))

    def pending_outbox_of(self, ticket_rec_id: str, limit: int) -> list[OutboxItem]:
        """The ticket's oldest ``limit`` pending rows, in the order they must go out (one seek
        on the pending-only index)."""
        rows = self.db.query("SELECT * FROM outbox INDEXED BY outbox_queue WHERE ticket_rec_id = ?"
                             " AND state = 'pending' ORDER BY id LIMIT ?", (ticket_rec_id, limit))
        return [_outbox(r) for r in rows]

    def next_outbox_attempt(self) -> str | None:
        """When the earliest pending row is due (``None``: nothing is pending)."""
        return self.db.scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")

    def outbox_retry_later(self, item_id: int, next_attempt_at: str, error: str) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                        " WHERE id = ?", (next_attempt_at, _clean(error), item_id))

    def outbox_due_now(self, ids: Iterable[int], now: str) -> int:
        """Make those of the pending rows ``ids`` that wait for a later time due at ``now``; how many."""
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))"
                " AND state = 'pending' AND next_attempt_at > ?", (now, json.dumps(list(ids)), now)).rowcount

    def outbox_finish(self, item_id: int, state: str, *, result: dict[str, Any] | None = None,
                      error: str | None = None) -> None:
        self.db.execute("UPDATE outbox SET state = ?, attempts = attempts + 1, result = ?, last_error = ?,"
                        " finished_at = ? WHERE id = ?",
                        (state, json.dumps(result or {}), _clean(error), now_iso(), item_id))

    def completed_without_close(self, completed: Iterable[str], limit: int = 500) -> list[str]:
        """Of the PSA tickets given (Completed ones), those linked to Continuum for which no close
        was ever queued (R15), at most ``limit``."""
        ids = list(completed)
        if not ids:
            return []
        return [r[0] for r in self.db.query(
            "SELECT l.ticket_rec_id FROM json_each(?) j JOIN ticket_links l ON l.ticket_rec_id = j.value"
            " WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ticket_rec_id = l.ticket_rec_id"
            " AND o.action = 'close') LIMIT ?", (json.dumps(ids), limit))]

    def outbox_depth(self) -> int:
        return self.db.scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")

    def oldest_pending_outbox(self) -> str | None:
        return self.db.scalar("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'")

    # -- request inbox ---------------------------------------------------------------------
    def request_seen(self, request_id: str) -> dict[str, Any] | None:
        """The record of a request; its ``extra`` is what it made (``{"AccountRecID": ...}``) or ``None``."""
        row = self.db.query_one("SELECT * FROM requests WHERE request_id = ?", (request_id,))
        return _request(row) if row else None

    def record_request(self, request_id: str, content_hash: str, filename: str, action: str, user: str,
                       status: str, *, error_code: str | None = None, error_message: str | None = None,
                       continuum_ticket_id: str | None = None, extra: Mapping[str, str] | None = None) -> bool:
        """Claim a request id; ``False`` if it was claimed already (a duplicate)."""
        finished = None if status == "Queued" else now_iso()
        cur = self.db.execute(
            "INSERT OR IGNORE INTO requests(request_id, content_hash, filename, action, user, status, error_code,"
            " error_message, continuum_ticket_id, extra, received_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (request_id, content_hash, filename, action, user, status, error_code, _clean(error_message),
             continuum_ticket_id, json.dumps(dict(extra)) if extra else None, now_iso(), finished))
        return cur.rowcount == 1

    def finish_request(self, request_id: str, status: str, *, error_code: str | None = None,
                       error_message: str | None = None, continuum_ticket_id: str | None = None) -> None:
        self.db.execute("UPDATE requests SET status = ?, error_code = ?, error_message = ?,"
                        " continuum_ticket_id = COALESCE(?, continuum_ticket_id), finished_at = ?"
                        " WHERE request_id = ?",
                        (status, error_code, _clean(error_message), continuum_ticket_id, now_iso(), request_id))

    def list_requests(self, *, failed_only: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
        sql = "SELECT * FROM requests"
        if failed_only:
            sql += " WHERE status = 'Failed'"
        return [_request(r) for r in self.db.query(sql + " ORDER BY received_at DESC LIMIT ?", (limit,))]

    def request_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.query("SELECT status, COUNT(*) FROM requests GROUP BY status")}

    # -- audit -----------------------------------------------------------------------------
    def audit(self, who: str, action: str, detail: str = "") -> None:
        self.db.execute("INSERT INTO audit(at, who, action, detail) VALUES (?,?,?,?)",
                        (now_iso(), who or "", action, _clean(detail)))

    def audit_log(self, limit: int = 100, *, since: str | None = None) -> list[dict[str, Any]]:
        """The newest audit rows first; ``since`` (a stored time) keeps those at or after it."""
        return [dict(r) for r in self.db.query("SELECT * FROM audit WHERE at >= ? ORDER BY id DESC LIMIT ?",
                                               (since or "", limit))]


# SQLite has no loose index scan, so the distinct tickets of the pending rows are walked by a
# recursive seek; INDEXED BY keeps the plan on the pending-only index (outbox_ticket has the same
# columns, and the planner cannot tell that it holds every finished row too).
_DUE_OUTBOX = """
WITH RECURSIVE tickets(ticket) AS (
    SELECT MIN(ticket_rec_id) FROM outbox INDEXED BY outbox_queue WHERE state = 'pending'
    UNION ALL
    SELECT (SELECT MIN(ticket_rec_id) FROM outbox INDEXED BY outbox_queue
            WHERE state = 'pending' AND ticket_rec_id > tickets.ticket)
    FROM tickets WHERE tickets.ticket IS NOT NULL
)
SELECT o.* FROM tickets JOIN outbox o ON o.id = (
    SELECT MIN(id) FROM outbox INDEXED BY outbox_queue WHERE state = 'pending' AND ticket_rec_id = tickets.ticket)
WHERE o.next_attempt_at <= ? AND tickets.ticket NOT IN (SELECT value FROM json_each(?))
ORDER BY o.id LIMIT ?
"""


def _request(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    record["extra"] = json.loads(record["extra"]) if record["extra"] else None
    return record


def _outbox(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(id=row["id"], idem_key=row["idem_key"], ticket_rec_id=row["ticket_rec_id"],
                      action=row["action"], payload=json.loads(row["payload"]), request_id=row["request_id"],
                      requested_by=row["requested_by"], state=row["state"], attempts=row["attempts"],
                      next_attempt_at=row["next_attempt_at"], last_error=row["last_error"],
                      created_at=row["created_at"], result=json.loads(row["result"]) if row["result"] else None)


def _clean(text: str | None) -> str | None:
    """Free text as it is kept: without secrets (an error's text may quote the PSG), like every file
    the agent writes, because the store goes into every backup (D6)."""
    return None if text is None else redact(text)
