"""The ``rangermsp`` PSA backend: accounts, assets, tickets and history notes in RangerMSP itself.

Every record is written and read through RangerMSP's DB API (:class:`DbApi`). The API has no
transactions: each call commits alone, so ``transaction()`` and ``savepoint()`` group nothing
(``joins_state_transaction = False``) and exactly once comes from keyed writes (D9):

- The engines name each unit of work with :meth:`RangerMspPsa.keyed` (a Continuum change, an
  outbox row, a request). Every record created inside gets a key derived from it: the n-th
  ticket, note, account or asset written under that name. A record created outside any unit
  (the CLI, the demo) gets a fresh key of its own.
- The key goes into the record: a ticket's Continuum ticket id (or a generated key) in the
  configured ticket field, a marker line in a note's text or an account's or asset's notes
  (stripped again when read). Key fields too small for their key are refused at start-up.
- Before every insert, first try or retry, journal entry or not, RangerMSP is asked for the key
  with a single-condition query (a busy or failed call may have committed); only a note on a
  ticket this process has just created after its own look-up found nothing is spared that
  question. The intent is made durable in the journal (:mod:`agent.backends.rangermsp.journal`)
  before the DLL call, the REC ID after it; a key written again is answered by the journal.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loguru import logger

from agent.backends.rangermsp import fields as F
from agent.backends.rangermsp.binding import BUSY_RETRIES, DbApi
from agent.backends.rangermsp.journal import SideStore
from agent.backends.rangermsp.messages import Condition
from agent.backends.rangermsp.status import DbApiBusy, DbApiError, DbApiMaintenance, DbApiNotFound
from agent.ports import psa_checks as checks
from agent.ports.psa import (
    STATUS_NEW,
    Account,
    Asset,
    HistoryNote,
    PsaNeedsRestart,
    PsaNotFound,
    PsaRejected,
    PsaUnavailable,
    Ticket,
    in_the_inbox,
)
from agent.ports.recid import is_rec_id
from agent.ports.times import now_iso, parse_stored_time, stored_time

# Every incoming ticket asks for its account (manager rule, then add_ticket's check): without a
# memo that is two DLL calls more per ticket than the ticket and its note (bench/rangermsp).
# Short-lived, so that an account an employee changes in RangerMSP is seen again soon.
ACCOUNT_MEMO_SECONDS = 30.0
# How many of the agent's tickets of a vanished account are read to learn where RangerMSP moved
# them (more only when tickets were deleted there too), and how many merges are followed.
MERGE_WITNESSES = 5
MERGE_CHAIN_LIMIT = 10
# The key marker, and the one of earlier releases ("[zenithlink:<hash>]"), stripped when shown.
_MARKER = re.compile(r"\n?(" + re.escape(F.KEY_MARKER).replace(r"\{\}", r"[0-9a-f]{16}")
                     + r"|\[zenithlink:[0-9a-f]{16}\])\s*$")
FRESH_REMEMBERED = 1000


class _Keys(threading.local):
    def __init__(self) -> None:
        self.stack: list[tuple[str, str | None, dict[str, int]]] = []


class RangerMspPsa:
    """The PSA port on RangerMSP's DB API, with the journal that makes its writes exactly once."""

    joins_state_transaction = False

    def __init__(self, api: DbApi, side: SideStore, *, field_map: F.FieldMap | None = None,
                 stop_files: tuple[Path, ...] = (), key_sizes: dict[str, int] | None = None,
                 start_up_checks: Callable[[], dict[str, int]] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        """``on_close``: releases what the backend was opened with, after the DLLs are terminated."""
        self.api, self.side = api, side
        self._on_close = on_close
        self.f = field_map or F.FieldMap()
        # None: the start-up checks could not be made (maintenance); they are made before the first write.
        self._key_sizes = key_sizes
        self._start_up_checks = start_up_checks
        self._settled = False
        self._fresh = _Recent(FRESH_REMEMBERED)
        self.stop_files = stop_files
        self._keys = _Keys()
        self._accounts = _Memo(ACCOUNT_MEMO_SECONDS)
        self._unmapped: set[str] = set()  # logins already warned of
        try:
            self.resolve_unfinished()
        except DbApiMaintenance:
            logger.warning("RangerMSP is in maintenance: unfinished writes are settled before the first write")
        side.prune()

    # -- units of work ---------------------------------------------------------------------
    def transaction(self) -> Any:
        return nullcontext()

    def savepoint(self) -> Any:
        return nullcontext()

    def close(self) -> None:
        self.api.close()
        self.side.close()
        if self._on_close is not None:
            self._on_close()

    @property
    def restart_needed(self) -> PsaNeedsRestart | None:
        return self.api.restart_needed

    @property
    def administration(self) -> RangerMspPsa:
        """The probe and the employee map (``zenithlink psa``)."""
        return self

    @contextmanager
    def keyed(self, key: str, *, external_id: str | None = None) -> Iterator[None]:
        """Writes inside carry keys derived from ``key``; a ticket made inside keeps ``external_id``
        (the Continuum ticket id) in the Continuum ticket field."""
        self._keys.stack.append((key, external_id, {}))
        try:
            yield
        finally:
            self._keys.stack.pop()

    def batch(self) -> nullcontext[None]:
        """Row by row: each record is journalled and written on its own (D9)."""
        return nullcontext()

    def _next_key(self, kind: str) -> tuple[str, str | None] | None:
        if not self._keys.stack:
            return None
        key, external_id, counts = self._keys.stack[-1]
        counts[kind] = counts.get(kind, 0) + 1
        return f"{key}/{kind}{counts[kind]}", external_id

    # -- the journal -------------------------------------------------------------------------
    def _create(self, kind: F.Kind, values: dict[str, str], *, key_field: str,
                key_value: str | None = None, parent: str | None = None) -> str:
        """Insert a record exactly once per key (D9; the contract's "Exactly once").

        The key goes into ``key_field``: as the whole value (``key_value``: a ticket's key), or as
        a marker appended to its text. Before *every* insert, first try or retry, journal entry or
        not, RangerMSP is asked for the key with a single-condition query: a busy or failed call
        may have committed. One insert is spared that question: a record whose ``parent`` (the
        ticket a note hangs on) this backend created moments ago, after its own look-up found
        nothing — no earlier attempt can have written a record that points to a REC ID that did
        not exist; a retry after an error always asks.
        """
        self._check_writable()
        keyed = self._next_key(kind.name)
        key = keyed[0] if keyed else f"unkeyed:{uuid.uuid4().hex}"
        entry = self.side.entry(key)
        if entry is not None and entry.rec_id:
            return entry.rec_id
        values = dict(values)
        if key_value is not None:
            size = (self._key_sizes or {}).get(key_field)
            if len(key_value) > F.TICKET_KEY_MAX or (size is not None and len(key_value) > size):
                raise PsaRejected(f"the key {key_value!r} is longer than RangerMSP's {key_field} keeps "
                                  f"({size or F.TICKET_KEY_MAX} characters), so the record could not be found again")
            values[key_field] = key_value
            lookup = Condition(key_field, "=", key_value)
        else:
            marker = F.KEY_MARKER.format(hashlib.sha1(key.encode()).hexdigest()[:F.KEY_HASH_LENGTH])
            size = (self._key_sizes or {}).get(key_field)
            values[key_field] = _with_marker(values.get(key_field, ""), marker, size)
            lookup = Condition(key_field, "like", f"%{marker}%")
        conds = [[lookup.field, lookup.op, lookup.value]]
        ask = entry is not None or parent is None or parent not in self._fresh
        attempt = 0
        while True:
            if ask:
                found = self._resolve(kind, conds)
                if found:
                    self.side.complete(key, found)
                    return found
            self.side.intend(key, kind.prefix, conds)
            try:
                rec_id = self.api.insert(kind, values).rec_id
            except DbApiBusy:
                attempt += 1
                if attempt > BUSY_RETRIES:
                    raise
                logger.debug("RangerMSP busy during the insert of {}; looking it up before trying again", key)
                self.api.pause(attempt)
                ask = True
                continue
            except PsaUnavailable:
                raise  # maintenance (1022) or a restart (1023): the intent stays, looked up before the next try
            except DbApiError:
                # Refused: still settle the intent, in case the refusal followed a commit.
                found = self._resolve(kind, conds)
                if found:
                    self.side.complete(key, found)
                    return found
                self.side.forget(key)
                raise
            self.side.complete(key, rec_id)
            if ask:
                self._fresh.add(rec_id)
            return rec_id

    def _resolve(self, kind: F.Kind, lookup: list[list[str]]) -> str | None:
        # Journals of earlier releases hold upper-case operators ("LIKE"): the DLL reads them alike.
        found = self.api.query(kind, [Condition(f, op.lower(), v) for f, op, v in lookup], limit=1)
        return found[0] if found else None

    def resolve_unfinished(self) -> int:
        """Settle every intent a crash left open: completed if RangerMSP has the record, else dropped
        (its write never happened and may be made again). Returns how many were settled."""
        settled = 0
        for entry in self.side.unfinished():
            found = self._resolve(F.KINDS[entry.kind], entry.lookup)
            if found:
                self.side.complete(entry.key, found)
                logger.info("journal: the write {} reached RangerMSP before the agent stopped ({})", entry.key, found)
            else:
                self.side.forget(entry.key)
                logger.info("journal: the write {} never reached RangerMSP; it is made again when due", entry.key)
            settled += 1
        self._settled = True
        return settled

    def _check_writable(self) -> None:
        flag = self.paused_by()
        if flag is not None:
            raise PsaUnavailable(f"RangerMSP is in maintenance ({flag} exists): zenithlink writes nothing "
                                 "to it until that file goes, then goes on by itself")
        if self._key_sizes is None and self._start_up_checks is not None:
            self._key_sizes = self._start_up_checks()
        if not self._settled:
            self.resolve_unfinished()

    def paused_by(self) -> Path | None:
        """The maintenance flag that pauses every write now, or ``None``."""
        return next((flag for flag in self.stop_files if flag.exists()), None)

    def probe(self, *, write_test: str | None = None, read_only: bool = False) -> list[Any]:
        """What of the contract holds on this installation (see :mod:`agent.backends.rangermsp.probe`)."""
        from agent.backends.rangermsp.probe import probe

        return probe(self, write_test=write_test, read_only=read_only)

    # -- employees ---------------------------------------------------------------------------
    def _employee_rec_id(self, login: str | None) -> str:
        if not login:
            return ""
        if is_rec_id(login):
            return login
        rec_id = self.side.employee_rec_id(login)
        if rec_id is None and login not in self._unmapped:
            self._unmapped.add(login)
            logger.warning("employee {!r} has no RangerMSP employee REC ID, so RangerMSP shows no manager on "
                           "their tickets and accounts: run 'zenithlink psa map-employee {} EMPLOYEE_REC_ID'",
                           login, login)
        return rec_id or ""

    def _login(self, stored: str, kept: str | None) -> str | None:
        if kept:
            return kept
        if stored:
            return self.side.employee_login(stored) or stored
        return None

    def map_employee(self, login: str, rec_id: str) -> None:
        """Use RangerMSP employee ``rec_id`` wherever the agent names employee ``login`` as manager."""
        if not is_rec_id(rec_id):
            raise PsaRejected(f"{rec_id!r} is not a REC ID (20 characters, as RangerMSP shows it)")
        try:
            self.api.get(rec_id, [F.ACCOUNT.rec_id_field])
        except DbApiNotFound:
            raise PsaNotFound(f"RangerMSP has no record with REC ID {rec_id!r}: copy the employee's REC ID "
                              "from RangerMSP's employee card") from None
        self.side.map_employee(login, rec_id)
        self._unmapped.discard(login)

    def employee_map(self) -> list[tuple[str, str]]:
        """``(login, RangerMSP employee REC ID)`` of every mapped employee."""
        return self.side.employee_map()

    # -- accounts --------------------------------------------------------------------------
    def add_account(self, name: str, manager: str | None = None, *, auto_created: bool = False,
                    notes: str = "") -> str:
        name = checks.account_name(name)
        values = {self.f.account_name: name, self.f.account_notes: notes}
        worker = self._employee_rec_id(manager)
        if worker:
            values[self.f.account_manager] = worker
        rec_id = self._create(F.ACCOUNT, values, key_field=self.f.account_notes)
        self.side.remember_account(rec_id, auto_created=auto_created, manager=manager or None)
        return rec_id

    def _read(self, rec_id: str, fields: list[str], what: str) -> dict[str, str]:
        try:
            return self.api.get(rec_id, fields)
        except DbApiNotFound:
            raise PsaNotFound(f"no {what} with REC ID {rec_id!r} in RangerMSP (merged or deleted there?)") from None

    def get_account(self, rec_id: str) -> Account:
        if not is_rec_id(rec_id, "account"):
            raise PsaNotFound(f"{rec_id!r} is not an account REC ID")
        seq, auto, manager, merged, created = self.side.account_facts(rec_id)
        if merged:
            raise PsaNotFound(f"the account {rec_id} was merged into {merged}")
        row = self._accounts.get(rec_id, lambda: self._read(rec_id, self.f.account_fields(), "account"))
        if not self._is_account(row):
            raise PsaNotFound(f"{rec_id} is a contact or an employee in RangerMSP, not an account")
        return self._account(row, seq, auto, manager, created)

    def _is_account(self, row: dict[str, str]) -> bool:
        """Accounts share their table with contacts (entity kind 5) and employees (facts §5.3)."""
        kind = row.get(self.f.account_kind, "").strip()
        return not (kind.lstrip("-").isdigit() and int(kind) in self.f.not_account_kinds)

    def _account(self, row: dict[str, str], seq: int, auto: bool, manager: str | None, created: str) -> Account:
        return Account(rec_id=row.get(F.ACCOUNT.rec_id_field, ""), name=row.get(self.f.account_name, ""),
                       manager=self._login(row.get(self.f.account_manager, ""), manager), auto_created=auto,
                       seq=seq, created_at=created, notes=_unmarked(row.get(self.f.account_notes, "")))

    def account_manager(self, rec_id: str) -> str | None:
        return self.get_account(rec_id).manager

    def find_account(self, ref: str) -> Account | None:
        if is_rec_id(ref, "account"):
            try:
                return self.get_account(ref)
            except PsaNotFound:
                return None
        name = ref.strip()
        try:
            matches = self.api.query(F.ACCOUNT, [Condition(self.f.account_name, "=", name)])
        except PsaRejected:  # a name the unescaped query cannot carry: compared here instead
            return min((a for a in self.list_accounts() if a.name == name), key=_age, default=None)
        accounts = [a for a in (self._maybe_account(r) for r in matches) if a is not None]
        return min(accounts, key=_age, default=None)

    def _maybe_account(self, rec_id: str) -> Account | None:
        try:
            return self.get_account(rec_id)
        except PsaNotFound:
            return None

    def first_account(self) -> Account | None:
        accounts = self.list_accounts()
        return accounts[0] if accounts else None

    def list_accounts(self) -> list[Account]:
        facts = self.side.all_account_facts()
        accounts = []
        ids = [r for r in self.api.query(F.ACCOUNT, [Condition(F.ACCOUNT.rec_id_field, "like", "CRD%")])
               if not facts.get(r, (0, False, None, None, ""))[3]]
        rows = self.api.get_many(F.ACCOUNT, ids, self.f.account_fields())
        for rec_id in ids:
            row = rows.get(rec_id)
            if row is None or not self._is_account(row):
                continue
            seq, auto, manager, _, created = facts.get(rec_id, (0, False, None, None, ""))
            accounts.append(self._account(row, seq, auto, manager, created))
        return sorted(accounts, key=_age)

    def account_names(self) -> list[tuple[str, str]]:
        return [(a.rec_id, a.name) for a in self.list_accounts()]

    def rename_account(self, rec_id: str, name: str) -> None:
        name = checks.account_name(name)
        self.get_account(rec_id)
        self._check_writable()
        self.api.update(F.ACCOUNT, rec_id, {self.f.account_name: name})
        self._accounts.forget(rec_id)
        self.side.set_account(rec_id, auto_created=0)

    def set_account_manager(self, rec_id: str, manager: str | None) -> None:
        self.get_account(rec_id)
        self._check_writable()
        self.api.update(F.ACCOUNT, rec_id, {self.f.account_manager: self._employee_rec_id(manager)})
        self.side.set_account(rec_id, manager=manager or None)
        self._accounts.forget(rec_id)

    def delete_account(self, rec_id: str) -> None:
        """RangerMSP's DB API inserts, updates and reads; it cannot delete."""
        self.get_account(rec_id)
        raise PsaRejected(f"RangerMSP's database API cannot delete records: delete account {rec_id} in RangerMSP "
                          "itself (merging it into another account with 'zenithlink accounts merge' works here)")

    def merge_account(self, source: str, into: str) -> dict[str, int]:
        checks.merge(source, into)
        self.get_account(source)
        self.get_account(into)
        self._check_writable()
        tickets = self.api.query(F.TICKET, [Condition(self.f.ticket_account, "=", source)])
        for rec_id in tickets:
            self.api.update(F.TICKET, rec_id, {self.f.ticket_account: into})
            self.side.set_ticket_account(rec_id, into)
        assets = self.api.query(F.ASSET, [Condition(self.f.asset_account, "=", source)])
        for rec_id in assets:
            self.api.update(F.ASSET, rec_id, {self.f.asset_account: into})
        self.side.set_account(source, merged_into=into)
        self._accounts.forget(source)
        return {"tickets": len(tickets), "assets": len(assets)}

    def successor_account(self, rec_id: str) -> str | None:
        """Where a merged-away account went. Merged by the agent: the journal says. Merged in
        RangerMSP's own client (its REC ID then answers 150003): RangerMSP moved the account's
        tickets with it, so the account a ticket the agent made there is in now tells."""
        seen = [rec_id]
        while len(seen) <= MERGE_CHAIN_LIMIT:
            current = seen[-1]
            following = self.side.account_facts(current)[3] or self._moved_to(current)
            if not following or following in seen:
                break
            seen.append(following)
        if len(seen) == 1:
            return None
        for gone in seen[:-1]:
            self.side.set_account(gone, merged_into=seen[-1])
            self.side.move_tickets(gone, seen[-1])
            self._accounts.forget(gone)
        return seen[-1]

    def _moved_to(self, gone: str) -> str | None:
        try:
            self.api.get(gone, [self.f.account_name])
            return None  # still there: not merged
        except DbApiNotFound:
            pass
        for ticket in self.side.tickets_of_account(gone, MERGE_WITNESSES):
            try:
                now = self.api.get(ticket, [self.f.ticket_account]).get(self.f.ticket_account, "")
            except DbApiNotFound:
                continue  # that ticket was deleted there: ask the next one
            if now and now != gone:
                return now
        return None

    # -- assets ----------------------------------------------------------------------------
    def add_asset(self, name: str, account_rec_id: str, *, serial: str = "", manufacturer: str = "",
                  notes: str = "") -> str:
        name = checks.asset_name(name)
        self.get_account(account_rec_id)
        values = {self.f.asset_name: name, self.f.asset_account: account_rec_id, self.f.asset_serial: serial or "",
                  self.f.asset_manufacturer: manufacturer or "", self.f.asset_notes: notes,
                  self.f.asset_type: self.f.asset_type_default, self.f.asset_status: self.f.asset_status_default}
        return self._create(F.ASSET, values, key_field=self.f.asset_notes)

    def get_asset(self, rec_id: str) -> Asset:
        if not is_rec_id(rec_id, "asset"):
            raise PsaNotFound(f"{rec_id!r} is not an asset REC ID")
        return self._asset(self._read(rec_id, self.f.asset_fields(), "asset"))

    def _asset(self, row: dict[str, str]) -> Asset:
        return Asset(rec_id=row.get(F.ASSET.rec_id_field, ""), account_rec_id=row.get(self.f.asset_account, ""),
                     name=row.get(self.f.asset_name, ""), serial=row.get(self.f.asset_serial, ""),
                     manufacturer=row.get(self.f.asset_manufacturer, ""),
                     notes=_unmarked(row.get(self.f.asset_notes, "")), created_at="")

    def list_assets(self, account_rec_id: str | None = None) -> list[Asset]:
        cond = (Condition(self.f.asset_account, "=", account_rec_id) if account_rec_id
                else Condition(F.ASSET.rec_id_field, "like", "AST%"))
        rows = self.api.get_many(F.ASSET, self.api.query(F.ASSET, [cond]), self.f.asset_fields())
        assets = [self._asset(row) for row in rows.values()]
        return sorted(assets, key=lambda a: (a.name.lower(), a.rec_id))

    # -- tickets and history ---------------------------------------------------------------
    def add_ticket(self, account_rec_id: str, description: str, *, asset_rec_id: str | None = None,
                   manager: str | None = None, in_inbox: bool = False, status_code: int = STATUS_NEW) -> str:
        description = checks.ticket_description(description)
        self.get_account(account_rec_id)
        values = {self.f.ticket_account: account_rec_id, self.f.ticket_description: description,
                  self.f.ticket_status: str(self._to_code(status_code))}
        if asset_rec_id:
            values[self.f.ticket_asset] = asset_rec_id
        worker = self._employee_rec_id(manager)
        if worker:
            values[self.f.ticket_manager] = worker
        external = self._keys.stack[-1][1] if self._keys.stack else None
        # A ticket without a Continuum ticket id (the CLI's, the demo's) gets a key of its own.
        key_value = external or F.GENERATED_TICKET_KEY.format(uuid.uuid4().hex[:16])
        rec_id = self._create(F.TICKET, values, key_field=self.f.continuum_ticket, key_value=key_value)
        self.side.remember_ticket(rec_id, manager or None, in_inbox, account_rec_id)
        return rec_id

    def get_ticket(self, rec_id: str, *, history: bool = True) -> Ticket:
        if not is_rec_id(rec_id, "ticket"):
            raise PsaNotFound(f"{rec_id!r} is not a ticket REC ID")
        row = self._read(rec_id, self.f.ticket_fields(), "ticket")
        ticket = self._ticket(rec_id, row)
        if history:
            ticket.history = self._history(rec_id)
        return ticket

    def _ticket(self, rec_id: str, row: dict[str, str]) -> Ticket:
        _, manager, created, in_inbox = self.side.ticket_facts(rec_id)
        status_code = self._from_code(_int(row.get(self.f.ticket_status, "")))
        return Ticket(rec_id=rec_id, ticket_no=_int(row.get(self.f.ticket_no, "")),
                      description=row.get(self.f.ticket_description, ""),
                      status_code=status_code, in_inbox=in_the_inbox(bool(in_inbox), status_code),
                      account_rec_id=row.get(self.f.ticket_account, ""),
                      asset_rec_id=row.get(self.f.ticket_asset) or None,
                      manager=self._login(row.get(self.f.ticket_manager, ""), manager), created_at=created)

    def _history(self, rec_id: str) -> list[HistoryNote]:
        ids = self.api.query(F.HISTORY, [Condition(self.f.history_ticket, "=", rec_id)])
        known = self.side.note_facts(ids)
        notes = []
        rows = self.api.get_many(F.HISTORY, ids, self.f.history_fields())
        for note_id in ids:
            row = rows.get(note_id)
            if row is None:
                continue  # deleted in RangerMSP between the query and the read
            seq, at = known.get(note_id, (10**12, ""))
            at = at or self._from_rangermsp_time(row.get(self.f.history_at, ""))
            notes.append((at, seq, HistoryNote(note_id, at, _unmarked(row.get(self.f.history_text, "")))))
        return [note for _, _, note in sorted(notes, key=lambda n: (n[1], n[0]))]

    def ticket_by_number(self, ticket_no: int) -> Ticket:
        found = self.api.query(F.TICKET, [Condition(self.f.ticket_no, "=", str(ticket_no))], limit=1)
        if not found:
            raise checks.no_ticket_number(ticket_no, " in RangerMSP")
        return self.get_ticket(found[0], history=False)

    def list_tickets(self, *, inbox: bool | None = None, account_rec_id: str | None = None) -> list[Ticket]:
        """The tickets zenithlink made, by number (RangerMSP's own tickets are RangerMSP's to list)."""
        tickets = []
        for rec_id in self.side.known_tickets():
            try:
                ticket = self.get_ticket(rec_id, history=False)
            except PsaNotFound:
                continue
            if inbox is not None and ticket.in_inbox != inbox:
                continue
            if account_rec_id and ticket.account_rec_id != account_rec_id:
                continue
            tickets.append(ticket)
        return sorted(tickets, key=lambda t: t.ticket_no)

    def count_tickets(self) -> int:
        return len(self.side.known_tickets())

    def completed_since(self, since: str | None) -> list[str]:
        """Completed tickets the agent saw become Completed at or after ``since``. The DB API shows no
        last-updated time, so each check queries every Completed ticket and the journal keeps when
        the agent first saw each one so."""
        ids = self.api.query(F.TICKET, [Condition(self.f.ticket_status, "=", str(F.STATUS_COMPLETED))])
        seen = self.side.completed_seen(ids)
        return [rec_id for rec_id in ids if seen.get(rec_id, "") >= (since or "")]

    def add_history(self, ticket_rec_id: str, text: str, *, at: str | None = None, author: str = "",
                    touch: bool = True) -> str:
        account = self.side.ticket_account(ticket_rec_id)
        if account is None:
            account = self._read(ticket_rec_id, [self.f.ticket_account], "ticket").get(self.f.ticket_account, "")
        at = at or now_iso()
        values = {self.f.history_ticket: ticket_rec_id, self.f.history_account: account,
                  self.f.history_at: self._to_rangermsp_time(at), self.f.history_text: text}
        rec_id = self._create(F.HISTORY, values, key_field=self.f.history_text, parent=ticket_rec_id)
        self.side.remember_note(rec_id, at)
        return rec_id

    def set_ticket_status(self, rec_id: str, status_code: int) -> int:
        previous = self.get_ticket(rec_id, history=False).status_code
        self._check_writable()
        self.api.update(F.TICKET, rec_id, {self.f.ticket_status: str(self._to_code(status_code))})
        return previous

    def _to_code(self, status_code: int) -> int:
        """The port's New is the installation's code of New (``NewTicketStatus``); others are RangerMSP's."""
        return self.f.status_new if status_code == STATUS_NEW else status_code

    def _from_code(self, code: int) -> int:
        return STATUS_NEW if code == self.f.status_new else code

    def set_inbox(self, rec_id: str, in_inbox: bool) -> None:
        self.side.set_inbox(rec_id, in_inbox)

    # -- dates, as the installation writes them (CmtGetSystemProperties) ---------------------------
    def _to_rangermsp_time(self, stored: str) -> str:
        try:
            return self.api.dates.format(parse_stored_time(stored))
        except ValueError:
            return self.api.dates.format(datetime.now(timezone.utc))

    def _from_rangermsp_time(self, text: str) -> str:
        try:
            return stored_time(self.api.dates.parse(text).replace(tzinfo=timezone.utc))
        except ValueError:
            return ""


def _with_marker(text: str, marker: str, size: int | None) -> str:
    """``text`` with the key marker on its last line, the text shortened so that the marker is
    never what the field's size cuts off (the DLL truncates to it, 50001)."""
    room = None if size is None else max(0, size - len(marker) - 1)
    body = text if room is None else text[:room]
    return (body + "\n" + marker).lstrip("\n")


def _unmarked(text: str) -> str:
    return _MARKER.sub("", text or "")


def _int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


def _age(account: Account) -> tuple[int, str]:
    # Accounts made before zenithlink (seq 0) are older than every account it made.
    return (account.seq, account.rec_id)


class _Memo:
    """Records read lately, by REC ID, for ``seconds``; thread-safe."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[float, dict[str, str]]] = {}

    def get(self, rec_id: str, load: Any) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            hit = self._rows.get(rec_id)
        if hit is not None and now - hit[0] < self.seconds:
            return hit[1]
        row: dict[str, str] = load()
        with self._lock:
            self._rows[rec_id] = (now, row)
        return row

    def forget(self, rec_id: str) -> None:
        with self._lock:
            self._rows.pop(rec_id, None)


class _Recent:
    """The last ``size`` REC IDs added, for membership tests; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, rec_id: str) -> None:
        with self._lock:
            self._ids[rec_id] = None
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)

    def __contains__(self, rec_id: object) -> bool:
        with self._lock:
            return rec_id in self._ids
