"""The RangerMSP backend's own file: the write journal of D9 and what the DB API cannot keep.

Why a file of its own, beside the state store and not in it: an intent must be on disk
*before* the DLL call that it covers, while the engines hold the state store's transaction
open around a whole feed page (D1). A write on that file would commit only with the page, so
a crash after the DLL call would lose the intent with the page. This file commits each write
at once (``synchronous=FULL``), exactly like RangerMSP does.

What it keeps:

- ``journal``: one row per keyed write. An *intent* (no REC ID) is written and made durable
  before the DLL call; the REC ID completes it after the call. An intent left unfinished by a
  crash is resolved by querying RangerMSP for the key that the write carried (the Continuum
  ticket id in the ticket's user field, a marker in a note's or account's text) before
  anything of that key is written again.
- ``inbox``, ``accounts``, ``tickets``, ``notes``: facts the DB API does not expose (the Inbox
  flag, auto-created accounts and the order accounts were made in, merged-away accounts, the
  manager login the agent gave a record, the tickets and notes it made).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from agent.errors import StoreError
from agent.ports.times import now_iso, parse_stored_time, stored_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, lookup TEXT NOT NULL, rec_id TEXT, written_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (rec_id TEXT PRIMARY KEY, in_inbox INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    rec_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, auto_created INTEGER NOT NULL DEFAULT 0,
    manager TEXT, merged_into TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    rec_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, manager TEXT, account TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (rec_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS completed (rec_id TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS employees (login TEXT PRIMARY KEY COLLATE NOCASE, rec_id TEXT NOT NULL);
"""
RETENTION_DAYS = 30


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str
    lookup: list[list[str]]
    rec_id: str | None


class SideStore:
    """The backend's SQLite file; thread-safe; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"the RangerMSP backend's journal {path} cannot be opened ({exc}); check the "
                             "folder's permissions and free space") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"the RangerMSP backend's journal {self.path} could not be written ({exc}); "
                                 "check the disk") from exc

    # -- the journal -----------------------------------------------------------------------
    def entry(self, key: str) -> Entry | None:
        rows = self._run("SELECT key, kind, lookup, rec_id FROM journal WHERE key = ?", (key,))
        return _entry(rows[0]) if rows else None

    def intend(self, key: str, kind: str, lookup: list[list[str]]) -> None:
        """Record, durably, that a write of ``key`` is about to be made."""
        self._run("INSERT OR REPLACE INTO journal(key, kind, lookup, rec_id, written_at) VALUES (?, ?, ?, NULL, ?)",
                  (key, kind, json.dumps(lookup), now_iso()))

    def complete(self, key: str, rec_id: str) -> None:
        self._run("UPDATE journal SET rec_id = ? WHERE key = ?", (rec_id, key))

    def forget(self, key: str) -> None:
        self._run("DELETE FROM journal WHERE key = ?", (key,))

    def unfinished(self) -> list[Entry]:
        return [_entry(r) for r in self._run("SELECT key, kind, lookup, rec_id FROM journal WHERE rec_id IS NULL")]

    def prune(self) -> int:
        """Forget finished entries older than the retention: no change is replayed that late."""
        cutoff = stored_time(parse_stored_time(now_iso()) - timedelta(days=RETENTION_DAYS))
        with self._lock:
            return self._conn.execute("DELETE FROM journal WHERE rec_id IS NOT NULL AND written_at < ?",
                                      (cutoff,)).rowcount

    # -- facts the DB API does not keep ----------------------------------------------------
    def next_seq(self, table: str) -> int:
        return int(self._run(f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}")[0][0])  # noqa: S608 - fixed names

    def remember_account(self, rec_id: str, *, auto_created: bool, manager: str | None) -> None:
        self._run("INSERT OR IGNORE INTO accounts(rec_id, seq, auto_created, manager, created_at)"
                  " VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM accounts), ?, ?, ?)",
                  (rec_id, int(auto_created), manager, now_iso()))

    def account_facts(self, rec_id: str) -> tuple[int, bool, str | None, str | None, str]:
        rows = self._run("SELECT seq, auto_created, manager, merged_into, created_at FROM accounts WHERE rec_id = ?",
                         (rec_id,))
        if not rows:
            return (0, False, None, None, "")
        seq, auto, manager, merged, created = rows[0]
        return int(seq), bool(auto), manager, merged, created

    def all_account_facts(self) -> dict[str, tuple[int, bool, str | None, str | None, str]]:
        return {r[0]: (int(r[1]), bool(r[2]), r[3], r[4], r[5]) for r in self._run(
            "SELECT rec_id, seq, auto_created, manager, merged_into, created_at FROM accounts")}

    def set_account(self, rec_id: str, **values: Any) -> None:
        self._run("INSERT OR IGNORE INTO accounts(rec_id, seq, created_at) VALUES (?, 0, '')", (rec_id,))
        for column, value in values.items():
            assert column in ("auto_created", "manager", "merged_into")
            self._run(f"UPDATE accounts SET {column} = ? WHERE rec_id = ?", (value, rec_id))  # noqa: S608

    def remember_ticket(self, rec_id: str, manager: str | None, in_inbox: bool, account: str) -> None:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute("INSERT OR IGNORE INTO tickets(rec_id, seq, manager, account, created_at) VALUES"
                                   " (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tickets), ?, ?, ?)",
                                   (rec_id, manager, account, now_iso()))
                self._conn.execute("INSERT OR REPLACE INTO inbox(rec_id, in_inbox) VALUES (?, ?)",
                                   (rec_id, int(in_inbox)))
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"the RangerMSP backend's journal {self.path} could not be written ({exc})") from exc

    def ticket_facts(self, rec_id: str) -> tuple[int, str | None, str, bool | None]:
        rows = self._run("SELECT t.seq, t.manager, t.created_at, i.in_inbox FROM tickets t"
                         " LEFT JOIN inbox i ON i.rec_id = t.rec_id WHERE t.rec_id = ?", (rec_id,))
        if not rows:
            inbox = self._run("SELECT in_inbox FROM inbox WHERE rec_id = ?", (rec_id,))
            return (0, None, "", bool(inbox[0][0]) if inbox else None)
        seq, manager, created, in_inbox = rows[0]
        return int(seq), manager, created, None if in_inbox is None else bool(in_inbox)

    def ticket_account(self, rec_id: str) -> str | None:
        rows = self._run("SELECT account FROM tickets WHERE rec_id = ?", (rec_id,))
        return rows[0][0] if rows and rows[0][0] else None

    def set_ticket_account(self, rec_id: str, account: str) -> None:
        self._run("UPDATE tickets SET account = ? WHERE rec_id = ?", (account, rec_id))

    def tickets_of_account(self, account: str, limit: int) -> list[str]:
        return [r[0] for r in self._run("SELECT rec_id FROM tickets WHERE account = ? ORDER BY seq DESC LIMIT ?",
                                        (account, limit))]

    def move_tickets(self, source: str, into: str) -> None:
        self._run("UPDATE tickets SET account = ? WHERE account = ?", (into, source))

    def known_tickets(self) -> list[str]:
        return [r[0] for r in self._run("SELECT rec_id FROM tickets ORDER BY seq")]

    def set_inbox(self, rec_id: str, in_inbox: bool) -> None:
        self._run("INSERT OR REPLACE INTO inbox(rec_id, in_inbox) VALUES (?, ?)", (rec_id, int(in_inbox)))

    def remember_note(self, rec_id: str, at: str) -> None:
        self._run("INSERT OR IGNORE INTO notes(rec_id, seq, at) VALUES"
                  " (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM notes), ?)", (rec_id, at))

    def note_facts(self, rec_ids: list[str]) -> dict[str, tuple[int, str]]:
        if not rec_ids:
            return {}
        marks = ",".join("?" * len(rec_ids))
        return {r[0]: (int(r[1]), r[2]) for r in self._run(
            f"SELECT rec_id, seq, at FROM notes WHERE rec_id IN ({marks})", tuple(rec_ids))}  # noqa: S608

    def completed_seen(self, rec_ids: list[str]) -> dict[str, str]:
        """When the agent first saw each ticket Completed (now, for those it sees for the first time)."""
        stamp = now_iso()
        with self._lock:
            self._conn.executemany("INSERT OR IGNORE INTO completed(rec_id, seen_at) VALUES (?, ?)",
                                   [(r, stamp) for r in rec_ids])
            rows = self._conn.execute("SELECT rec_id, seen_at FROM completed").fetchall()
        wanted = set(rec_ids)
        return {r: at for r, at in rows if r in wanted}

    def employee_rec_id(self, login: str) -> str | None:
        rows = self._run("SELECT rec_id FROM employees WHERE login = ?", (login,))
        return rows[0][0] if rows else None

    def employee_login(self, rec_id: str) -> str | None:
        rows = self._run("SELECT login FROM employees WHERE rec_id = ?", (rec_id,))
        return rows[0][0] if rows else None

    def map_employee(self, login: str, rec_id: str) -> None:
        self._run("INSERT OR REPLACE INTO employees(login, rec_id) VALUES (?, ?)", (login, rec_id))

    def employee_map(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._run("SELECT login, rec_id FROM employees ORDER BY login")]


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(row[0], row[1], json.loads(row[2]), row[3])
