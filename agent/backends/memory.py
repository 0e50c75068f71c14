"""The ``memory`` PSA backend: every record in dictionaries, nothing on disk.

For engine tests and plugin development: it keeps the PSA port's contract (the suite in
``tests/contract/psa`` runs on it) without SQLite. Its writes join the state store's
transaction through an undo log: a unit of work or savepoint that raises undoes exactly the
writes made inside it, so the engines' all-or-nothing rules hold in-process. Nothing survives
the process, so it is never the backend of a real installation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from typing import Any

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


class MemoryPsa:
    """A PSA in memory; thread-safe (one lock, like the state store's single writer)."""

    joins_state_transaction = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._merged: dict[str, str] = {}
        self._assets: dict[str, Asset] = {}
        self._tickets: dict[str, Ticket] = {}
        self._history: dict[str, list[HistoryNote]] = {}
        self._updated: dict[str, str] = {}
        self._undo: list[Callable[[], None]] = []
        self._depth = 0

    # -- units of work ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            mark = len(self._undo)
            self._depth += 1
            try:
                yield
            except BaseException:
                self._roll_back_to(mark)
                raise
            finally:
                self._depth -= 1
                if not self._depth:
                    self._undo.clear()

    savepoint = transaction  # nested: undoes only its own writes

    def close(self) -> None:
        """Nothing to release."""

    @property
    def restart_needed(self) -> PsaNeedsRestart | None:
        return None

    @property
    def administration(self) -> None:
        """No administration of its own: the agent's employees are the PSA's."""
        return None

    def keyed(self, key: str, *, external_id: str | None = None) -> AbstractContextManager[None]:
        """Nothing to key: a unit that fails is rolled back whole."""
        return nullcontext()

    def batch(self) -> AbstractContextManager[None]:
        """Nothing to gather: each write is a dictionary's."""
        return nullcontext()

    def _roll_back_to(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    def _set(self, table: dict[str, Any], key: str, value: Any) -> None:
        """Write one entry, remembering how to undo it while a unit of work is open."""
        if self._depth:
            if key in table:
                old = table[key]
                self._undo.append(lambda: table.__setitem__(key, old))
            else:
                self._undo.append(lambda: table.pop(key, None))
        table[key] = value

    def _delete(self, table: dict[str, Any], key: str) -> None:
        """Remove one entry, remembering how to put it back while a unit of work is open."""
        if key not in table:
            return
        old = table.pop(key)
        if self._depth:
            self._undo.append(lambda: table.__setitem__(key, old))

    # -- accounts --------------------------------------------------------------------------
    def add_account(self, name: str, manager: str | None = None, *, auto_created: bool = False,
                    notes: str = "") -> str:
        name = checks.account_name(name)
        with self._lock:
            rec_id = new_rec_id("account")
            seq = max((a.seq for a in self._accounts.values()), default=0) + 1
            self._set(self._accounts, rec_id, Account(rec_id, name, manager or None, auto_created, seq,
                                                      now_iso(), notes))
        return rec_id

    def get_account(self, rec_id: str) -> Account:
        with self._lock:
            account = self._accounts.get(rec_id)
            if account is None or rec_id in self._merged:
                raise checks.not_found("account", rec_id)
            return replace(account)

    def account_manager(self, rec_id: str) -> str | None:
        return self.get_account(rec_id).manager

    def find_account(self, ref: str) -> Account | None:
        with self._lock:
            if is_rec_id(ref, "account"):
                return self.get_account(ref) if ref in self._accounts and ref not in self._merged else None
            wanted = ref.strip().casefold()
            return next((replace(a) for a in self._in_use() if a.name.casefold() == wanted), None)

    def first_account(self) -> Account | None:
        with self._lock:
            return next((replace(a) for a in self._in_use()), None)

    def list_accounts(self) -> list[Account]:
        with self._lock:
            return [replace(a) for a in self._in_use()]

    def account_names(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(a.rec_id, a.name) for a in self._in_use()]

    def _in_use(self) -> list[Account]:
        return sorted((a for a in self._accounts.values() if a.rec_id not in self._merged), key=lambda a: a.seq)

    def rename_account(self, rec_id: str, name: str) -> None:
        name = checks.account_name(name)
        with self._lock:
            account = self.get_account(rec_id)
            self._set(self._accounts, rec_id, replace(account, name=name, auto_created=False))

    def set_account_manager(self, rec_id: str, manager: str | None) -> None:
        with self._lock:
            account = self.get_account(rec_id)
            self._set(self._accounts, rec_id, replace(account, manager=manager or None))

    def delete_account(self, rec_id: str) -> None:
        with self._lock:
            self.get_account(rec_id)
            tickets = sum(1 for t in self._tickets.values() if t.account_rec_id == rec_id)
            assets = sum(1 for a in self._assets.values() if a.account_rec_id == rec_id)
            checks.deletable(rec_id, tickets=tickets, assets=assets)
            self._delete(self._accounts, rec_id)

    def merge_account(self, source: str, into: str) -> dict[str, int]:
        checks.merge(source, into)
        with self.transaction():
            self.get_account(source)
            self.get_account(into)
            tickets = [t for t in self._tickets.values() if t.account_rec_id == source]
            assets = [a for a in self._assets.values() if a.account_rec_id == source]
            for ticket in tickets:
                self._set(self._tickets, ticket.rec_id, replace(ticket, account_rec_id=into))
            for asset in assets:
                self._set(self._assets, asset.rec_id, replace(asset, account_rec_id=into))
            self._undo.append(lambda: self._unmerge(source))
            self._merged[source] = into
        return {"tickets": len(tickets), "assets": len(assets)}

    def _unmerge(self, source: str) -> None:
        self._merged.pop(source, None)

    def successor_account(self, rec_id: str) -> str | None:
        with self._lock:
            return _last_of(self._merged, rec_id)

    # -- assets ----------------------------------------------------------------------------
    def add_asset(self, name: str, account_rec_id: str, *, serial: str = "", manufacturer: str = "",
                  notes: str = "") -> str:
        name = checks.asset_name(name)
        with self._lock:
            self.get_account(account_rec_id)
            rec_id = new_rec_id("asset")
            self._set(self._assets, rec_id, Asset(rec_id, account_rec_id, name, serial or "", manufacturer or "",
                                                  notes, now_iso()))
        return rec_id

    def get_asset(self, rec_id: str) -> Asset:
        with self._lock:
            asset = self._assets.get(rec_id)
            if asset is None:
                raise checks.not_found("asset", rec_id)
            return replace(asset)

    def list_assets(self, account_rec_id: str | None = None) -> list[Asset]:
        with self._lock:
            return sorted((replace(a) for a in self._assets.values()
                           if not account_rec_id or a.account_rec_id == account_rec_id), key=lambda a: a.name)

    # -- tickets and history ---------------------------------------------------------------
    def add_ticket(self, account_rec_id: str, description: str, *, asset_rec_id: str | None = None,
                   manager: str | None = None, in_inbox: bool = False, status_code: int = STATUS_NEW) -> str:
        description = checks.ticket_description(description)
        with self._lock:
            self.get_account(account_rec_id)
            if asset_rec_id:
                self.get_asset(asset_rec_id)
            rec_id = new_rec_id("ticket")
            number = max((t.ticket_no for t in self._tickets.values()), default=0) + 1
            stamp = now_iso()
            self._set(self._tickets, rec_id, Ticket(rec_id, number, description, status_code, in_inbox,
                                                    account_rec_id, asset_rec_id, manager, stamp))
            self._set(self._history, rec_id, [])
            self._set(self._updated, rec_id, stamp)
        return rec_id

    def _ticket(self, rec_id: str) -> Ticket:
        ticket = self._tickets.get(rec_id)
        if ticket is None:
            raise checks.not_found("ticket", rec_id)
        return ticket

    def get_ticket(self, rec_id: str, *, history: bool = True) -> Ticket:
        with self._lock:
            ticket = _as_read(self._ticket(rec_id))
            ticket.history = list(self._history[rec_id]) if history else []
            return ticket

    def ticket_by_number(self, ticket_no: int) -> Ticket:
        with self._lock:
            found = next((t for t in self._tickets.values() if t.ticket_no == ticket_no), None)
            if found is None:
                raise checks.no_ticket_number(ticket_no)
            return _as_read(found)

    def list_tickets(self, *, inbox: bool | None = None, account_rec_id: str | None = None) -> list[Ticket]:
        with self._lock:
            return sorted((t for t in map(_as_read, self._tickets.values())
                           if (inbox is None or t.in_inbox == inbox)
                           and (not account_rec_id or t.account_rec_id == account_rec_id)),
                          key=lambda t: t.ticket_no)

    def count_tickets(self) -> int:
        with self._lock:
            return len(self._tickets)

    def completed_since(self, since: str | None) -> list[str]:
        with self._lock:
            return [t.rec_id for t in self._tickets.values()
                    if t.status_code == STATUS_COMPLETED and self._updated[t.rec_id] >= (since or "")]

    def add_history(self, ticket_rec_id: str, text: str, *, at: str | None = None, author: str = "",
                    touch: bool = True) -> str:
        with self._lock:
            self._ticket(ticket_rec_id)
            rec_id = new_rec_id("history")
            stamp = now_iso()
            self._set(self._history, ticket_rec_id,
                      self._history[ticket_rec_id] + [HistoryNote(rec_id, at or stamp, text)])
            if touch:
                self._set(self._updated, ticket_rec_id, stamp)
        return rec_id

    def set_ticket_status(self, rec_id: str, status_code: int) -> int:
        with self._lock:
            ticket = self._ticket(rec_id)
            self._set(self._tickets, rec_id, replace(ticket, status_code=status_code))
            self._set(self._updated, rec_id, now_iso())
            return ticket.status_code

    def set_inbox(self, rec_id: str, in_inbox: bool) -> None:
        with self._lock:
            ticket = self._ticket(rec_id)
            self._set(self._tickets, rec_id, replace(ticket, in_inbox=in_inbox))
            self._set(self._updated, rec_id, now_iso())


def backend(settings: Any, state: Any) -> MemoryPsa:
    """The ``memory`` PSA backend (tests and plugin development only: nothing is kept)."""
    return MemoryPsa()


def _as_read(ticket: Ticket) -> Ticket:
    """A stored ticket as the port gives it: without history, in the Inbox only while not Completed."""
    return replace(ticket, history=[], in_inbox=in_the_inbox(ticket.in_inbox, ticket.status_code))


def _last_of(merged: dict[str, str], rec_id: str) -> str | None:
    """Where a chain of merges starting at ``rec_id`` ends (``None`` if it was never merged)."""
    seen = {rec_id}
    while rec_id in merged and merged[rec_id] not in seen:
        rec_id = merged[rec_id]
        seen.add(rec_id)
    return rec_id if len(seen) > 1 else None
