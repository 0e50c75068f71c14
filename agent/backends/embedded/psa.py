"""The embedded PSA backend: accounts, assets, tickets and history notes in the state store's SQLite file."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from agent.backends.embedded.db import Database
from agent.ports import psa_checks as checks
from agent.ports.psa import (
    STATUS_COMPLETED,
    STATUS_NEW,
    Account,
    Asset,
    HistoryNote,
    PsaNeedsRestart,
    Ticket,
    in_the_inbox,
)
from agent.ports.recid import is_rec_id, new_rec_id
from agent.ports.times import now_iso

ACCOUNT_MEMO = "account"  # names of the store's per-transaction memos (Database.cached)
SITE_ACCOUNT_MEMO = "site_account"
FIRST_ACCOUNT_MEMO = "first_account"
ASSET_MEMO = "asset"
_INSERT_TICKET = ("INSERT INTO tickets(rec_id, ticket_no, account_rec_id, asset_rec_id, description, status_code,"
                  " manager, in_inbox, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)")
_INSERT_HISTORY = "INSERT INTO history(rec_id, ticket_rec_id, at, text, author) VALUES (?,?,?,?,?)"


class EmbeddedPsa:
    """The PSA port on the agent's own SQLite file; its writes join the state store's transaction."""

    joins_state_transaction = True

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ticket_no_hint: tuple[int | None, int] = (None, 0)
        self._unkeyed: AbstractContextManager[None] = nullcontext()  # stateless: one serves every unit

    def transaction(self) -> Any:
        return self.db.transaction()

    def savepoint(self) -> AbstractContextManager[None]:
        return self.db.savepoint()

    def close(self) -> None:
        """Nothing to release: the state store owns the connection."""

    @property
    def restart_needed(self) -> PsaNeedsRestart | None:
        return None

    @property
    def administration(self) -> None:
        """No administration of its own: the agent's employees are the PSA's."""
        return None

    def keyed(self, key: str, *, external_id: str | None = None) -> AbstractContextManager[None]:
        """Nothing to key: a unit that fails is rolled back whole."""
        return self._unkeyed

    def batch(self) -> AbstractContextManager[None]:
        """New tickets, their first notes (and the ticket links of the state store, which shares the
        file) are written together, one ``executemany`` each, before the next statement that may
        see them (see :meth:`Database.hold_inserts`)."""
        return self.db.hold_inserts()

    # -- accounts --------------------------------------------------------------------------
    def add_account(self, name: str, manager: str | None = None, *, auto_created: bool = False,
                    notes: str = "") -> str:
        name = checks.account_name(name)
        rec_id = new_rec_id("account")
        with self.db.transaction() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM accounts").fetchone()[0]
            conn.execute("INSERT INTO accounts(rec_id, seq, name, manager, notes, auto_created, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (rec_id, seq, name, manager or None, notes, int(auto_created), now_iso()))
            self.db.forget(FIRST_ACCOUNT_MEMO)
        return rec_id

    def get_account(self, rec_id: str) -> Account:
        return _account(self._account_row(rec_id))

    def account_manager(self, rec_id: str) -> str | None:
        """The manager login of an account (``None`` if it has none); raises if there is no such account."""
        manager: str | None = self._account_row(rec_id)["manager"]
        return manager

    def _account_row(self, rec_id: str) -> sqlite3.Row:
        # Asked several times for every ticket the inbound sync creates (the site's account, the
        # manager rule, add_ticket's check, the event's account name): remembered for the rest
        # of the transaction; every method that changes an account forgets it.
        def load() -> sqlite3.Row:
            row = self.db.query_one("SELECT * FROM accounts WHERE rec_id = ? AND merged_into IS NULL", (rec_id,))
            if row is None:
                raise checks.not_found("account", rec_id)
            return row

        row: sqlite3.Row = self.db.cached(ACCOUNT_MEMO, rec_id, load)
        return row

    def find_account(self, ref: str) -> Account | None:
        """An account by REC ID or, failing that, by exact name (the oldest of that name)."""
        if is_rec_id(ref, "account"):
            row = self.db.query_one("SELECT * FROM accounts WHERE rec_id = ? AND merged_into IS NULL", (ref,))
        else:
            row = self.db.query_one("SELECT * FROM accounts WHERE name = ? COLLATE NOCASE AND merged_into IS NULL"
                                    " ORDER BY seq LIMIT 1", (ref.strip(),))
        return _account(row) if row else None

    def first_account(self) -> Account | None:
        # The own-business fallback asks for it for every incoming ticket without a site:
        # remembered for the rest of the transaction; the methods that change accounts forget it.
        row = self.db.cached(FIRST_ACCOUNT_MEMO, None, lambda: self.db.query_one(
            "SELECT * FROM accounts WHERE merged_into IS NULL ORDER BY seq LIMIT 1"))
        return _account(row) if row else None

    def list_accounts(self) -> list[Account]:
        return [_account(r) for r in self.db.query("SELECT * FROM accounts WHERE merged_into IS NULL ORDER BY seq")]

    def account_names(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.query(
            "SELECT rec_id, name FROM accounts WHERE merged_into IS NULL ORDER BY seq")]

    def rename_account(self, rec_id: str, name: str) -> None:
        """Rename an account; a renamed auto-created account counts as a real one from then on."""
        name = checks.account_name(name)
        self.get_account(rec_id)
        with self.db.transaction() as conn:
            conn.execute("UPDATE accounts SET name = ?, auto_created = 0 WHERE rec_id = ?", (name, rec_id))
            self.db.forget(ACCOUNT_MEMO, FIRST_ACCOUNT_MEMO)

    def set_account_manager(self, rec_id: str, manager: str | None) -> None:
        self.get_account(rec_id)
        with self.db.transaction() as conn:
            conn.execute("UPDATE accounts SET manager = ? WHERE rec_id = ?", (manager or None, rec_id))
            self.db.forget(ACCOUNT_MEMO, FIRST_ACCOUNT_MEMO)

    def delete_account(self, rec_id: str) -> None:
        self.get_account(rec_id)
        with self.db.transaction() as conn:
            tickets = conn.execute("SELECT COUNT(*) FROM tickets WHERE account_rec_id = ?", (rec_id,)).fetchone()[0]
            assets = conn.execute("SELECT COUNT(*) FROM assets WHERE account_rec_id = ?", (rec_id,)).fetchone()[0]
            checks.deletable(rec_id, tickets=tickets, assets=assets)
            conn.execute("DELETE FROM accounts WHERE rec_id = ?", (rec_id,))
            self.db.forget(ACCOUNT_MEMO, FIRST_ACCOUNT_MEMO)

    def merge_account(self, source: str, into: str) -> dict[str, int]:
        checks.merge(source, into)
        self.get_account(source)
        self.get_account(into)
        with self.db.transaction() as conn:
            moved = {
                "tickets": conn.execute("UPDATE tickets SET account_rec_id = ? WHERE account_rec_id = ?",
                                        (into, source)).rowcount,
                "assets": conn.execute("UPDATE assets SET account_rec_id = ? WHERE account_rec_id = ?",
                                       (into, source)).rowcount,
            }
            conn.execute("UPDATE accounts SET merged_into = ? WHERE rec_id = ?", (into, source))
            self.db.forget(ACCOUNT_MEMO, FIRST_ACCOUNT_MEMO, ASSET_MEMO)
        return moved

    def successor_account(self, rec_id: str) -> str | None:
        successor, seen = None, {rec_id}
        while True:
            row = self.db.query_one("SELECT merged_into FROM accounts WHERE rec_id = ?", (rec_id,))
            if row is None or not row["merged_into"] or row["merged_into"] in seen:
                return successor
            successor = rec_id = row["merged_into"]
            seen.add(rec_id)

    # -- assets ----------------------------------------------------------------------------
    def add_asset(self, name: str, account_rec_id: str, *, serial: str = "", manufacturer: str = "",
                  notes: str = "") -> str:
        name = checks.asset_name(name)
        self.get_account(account_rec_id)
        rec_id = new_rec_id("asset")
        self.db.execute("INSERT INTO assets(rec_id, account_rec_id, name, serial, manufacturer, notes, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (rec_id, account_rec_id, name, serial or "", manufacturer or "", notes, now_iso()))
        return rec_id

    def get_asset(self, rec_id: str) -> Asset:
        # Asked twice for every incoming ticket of a linked device (the asset resolver, add_ticket's
        # check): remembered for the rest of the transaction; merge_account, the one method that
        # changes an asset, forgets it.
        def load() -> sqlite3.Row:
            row = self.db.query_one("SELECT * FROM assets WHERE rec_id = ?", (rec_id,))
            if row is None:
                raise checks.not_found("asset", rec_id)
            return row

        row: sqlite3.Row = self.db.cached(ASSET_MEMO, rec_id, load)
        return Asset(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - iterating a Row yields its values

    def list_assets(self, account_rec_id: str | None = None) -> list[Asset]:
        if account_rec_id:
            rows = self.db.query("SELECT * FROM assets WHERE account_rec_id = ? ORDER BY name", (account_rec_id,))
        else:
            rows = self.db.query("SELECT * FROM assets ORDER BY name")
        return [Asset(**{k: r[k] for k in r.keys()}) for r in rows]  # noqa: SIM118 - a sqlite3.Row iterates its values

    # -- tickets and history ---------------------------------------------------------------
    def add_ticket(self, account_rec_id: str, description: str, *, asset_rec_id: str | None = None,
                   manager: str | None = None, in_inbox: bool = False, status_code: int = STATUS_NEW) -> str:
        description = checks.ticket_description(description)
        self._account_row(account_rec_id)
        if asset_rec_id:
            self.get_asset(asset_rec_id)
        rec_id = new_rec_id("ticket")
        stamp = now_iso()
        with self.db.writing():
            number = self._next_ticket_no()
            self.db.insert(_INSERT_TICKET, (rec_id, number, account_rec_id, asset_rec_id, description, status_code,
                                            manager, int(in_inbox), stamp, stamp))
            self._ticket_no_hint = (self.db.transaction_serial, number + 1)
        return rec_id

    def _next_ticket_no(self) -> int:
        # Inside one transaction nobody else writes, so the next number is known after the
        # first ticket: a page of a thousand tickets asks for MAX() once, not a thousand times.
        serial, number = self._ticket_no_hint
        if serial is not None and serial == self.db.transaction_serial:
            return number
        result: int = self.db.scalar("SELECT COALESCE(MAX(ticket_no), 0) + 1 FROM tickets")
        return result

    def get_ticket(self, rec_id: str, *, history: bool = True) -> Ticket:
        row = self.db.query_one("SELECT * FROM tickets WHERE rec_id = ?", (rec_id,))
        if row is None:
            raise checks.not_found("ticket", rec_id)
        ticket = _ticket(row)
        if history:
            ticket.history = [HistoryNote(r["rec_id"], r["at"], r["text"]) for r in self.db.query(
                "SELECT rec_id, at, text FROM history WHERE ticket_rec_id = ? ORDER BY rowid", (rec_id,))]
        return ticket

    def ticket_by_number(self, ticket_no: int) -> Ticket:
        row = self.db.query_one("SELECT * FROM tickets WHERE ticket_no = ?", (ticket_no,))
        if row is None:
            raise checks.no_ticket_number(ticket_no)
        return _ticket(row)

    def list_tickets(self, *, inbox: bool | None = None, account_rec_id: str | None = None) -> list[Ticket]:
        sql = "SELECT * FROM tickets t WHERE 1=1"
        params: list[Any] = []
        if inbox is not None:
            sql += " AND (t.in_inbox = 1 AND t.status_code != ?) = ?"
            params += [STATUS_COMPLETED, int(inbox)]
        if account_rec_id:
            sql += " AND t.account_rec_id = ?"
            params.append(account_rec_id)
        return [_ticket(r) for r in self.db.query(sql + " ORDER BY t.ticket_no", tuple(params))]

    def count_tickets(self) -> int:
        return self.db.scalar("SELECT COUNT(*) FROM tickets")

    def completed_since(self, since: str | None) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT rec_id FROM tickets WHERE status_code = ? AND updated_at >= ?", (STATUS_COMPLETED, since or ""))]

    def add_history(self, ticket_rec_id: str, text: str, *, at: str | None = None, author: str = "",
                    touch: bool = True) -> str:
        """Add a History Note; ``touch=False`` leaves the ticket's ``updated_at`` alone (the first
        note of a ticket made a moment ago in the same transaction)."""
        rec_id = new_rec_id("history")
        stamp = now_iso() if touch or not at else ""
        if not touch:
            self.db.insert(_INSERT_HISTORY, (rec_id, ticket_rec_id, at or stamp, text, author))
            return rec_id
        with self.db.transaction() as conn:
            conn.execute(_INSERT_HISTORY, (rec_id, ticket_rec_id, at or stamp, text, author))
            conn.execute("UPDATE tickets SET updated_at = ? WHERE rec_id = ?", (stamp, ticket_rec_id))
        return rec_id

    def set_ticket_status(self, rec_id: str, status_code: int) -> int:
        """Set the status; returns the previous status code."""
        previous = self.get_ticket(rec_id, history=False).status_code
        self.db.execute("UPDATE tickets SET status_code = ?, updated_at = ? WHERE rec_id = ?",
                        (status_code, now_iso(), rec_id))
        return previous

    def set_inbox(self, rec_id: str, in_inbox: bool) -> None:
        self.db.execute("UPDATE tickets SET in_inbox = ?, updated_at = ? WHERE rec_id = ?",
                        (int(in_inbox), now_iso(), rec_id))


def _account(row: sqlite3.Row) -> Account:
    return Account(rec_id=row["rec_id"], name=row["name"], manager=row["manager"],
                   auto_created=bool(row["auto_created"]), seq=row["seq"], created_at=row["created_at"],
                   notes=row["notes"])


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(rec_id=row["rec_id"], ticket_no=row["ticket_no"], description=row["description"],
                  status_code=row["status_code"],
                  in_inbox=in_the_inbox(bool(row["in_inbox"]), row["status_code"]),
                  account_rec_id=row["account_rec_id"], asset_rec_id=row["asset_rec_id"],
                  manager=row["manager"], created_at=row["created_at"])
