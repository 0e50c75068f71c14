"""The PSA model: accounts, employees, privilege groups, assets, tickets, history notes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agent.backends.embedded.db import Database, now_iso
from agent.backends.embedded.recid import is_rec_id, new_rec_id
from agent.errors import NotFoundError, PrivilegeError, UsageError

# RangerMSP's ticket status codes; Completed (1000) is the one the integration relies on.
STATUS_NAMES = {100: "New", 200: "In Progress", 300: "Waiting for Customer",
                400: "Waiting for Vendor", 500: "Scheduled", 1000: "Completed"}
STATUS_NEW = 100
STATUS_COMPLETED = 1000
BUILTIN_GROUPS = ("Full", "Partial", "Limited", "Sys Admin")
CONTINUUM_PRIVILEGE = "Continuum Integration"
ACCOUNT_MEMO = "account"  # names of the store's per-transaction memos (Database.cached)
SITE_ACCOUNT_MEMO = "site_account"
FIRST_ACCOUNT_MEMO = "first_account"


@dataclass
class Account:
    rec_id: str
    name: str
    manager: str | None
    auto_created: bool
    seq: int
    created_at: str
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Asset:
    rec_id: str
    account_rec_id: str
    name: str
    serial: str
    manufacturer: str
    notes: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HistoryNote:
    rec_id: str
    at: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Ticket:
    rec_id: str
    ticket_no: int
    description: str
    status_code: int
    in_inbox: bool
    account_rec_id: str
    asset_rec_id: str | None
    manager: str | None
    continuum_ticket_id: str | None
    created_at: str
    history: list[HistoryNote] = field(default_factory=list)

    @property
    def status(self) -> str:
        return STATUS_NAMES.get(self.status_code, str(self.status_code))

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the CLI contract."""
        return {"rec_id": self.rec_id, "ticket_no": self.ticket_no, "description": self.description,
                "status": self.status, "status_code": self.status_code, "in_inbox": self.in_inbox,
                "account_rec_id": self.account_rec_id, "asset_rec_id": self.asset_rec_id,
                "manager": self.manager, "continuum_ticket_id": self.continuum_ticket_id,
                "created_at": self.created_at, "history": [h.as_dict() for h in self.history]}


class PsaModel:
    """Mixin of :class:`agent.backends.embedded.Store` for the PSA's own records."""

    db: Database

    # -- accounts --------------------------------------------------------------------------
    def add_account(self, name: str, manager: str | None = None, *, auto_created: bool = False,
                    notes: str = "") -> str:
        name = (name or "").strip()
        if not name:
            raise UsageError("an account needs a name")
        if manager:
            self.get_employee(manager)
        rec_id = new_rec_id("account")
        with self.db.transaction() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM accounts").fetchone()[0]
            conn.execute("INSERT INTO accounts(rec_id, seq, name, manager, notes, auto_created, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (rec_id, seq, name, manager or None, notes, int(auto_created), now_iso()))
            self.db.forget(FIRST_ACCOUNT_MEMO)
        return rec_id

    def get_account(self, rec_id: str) -> Account:
        row = self.db.query_one("SELECT * FROM accounts WHERE rec_id = ? AND merged_into IS NULL", (rec_id,))
        if row is None:
            raise NotFoundError(f"no account with REC ID {rec_id!r}; 'zenithlink accounts list' shows them")
        return _account(row)

    def account_manager(self, rec_id: str) -> str | None:
        """The manager login of an account (``None`` if it has none); raises if there is no such account."""
        return self._account_facts(rec_id)[0]

    def _account_facts(self, rec_id: str) -> tuple[str | None]:
        # Asked for every ticket the inbound sync creates (manager rule, then add_ticket's check):
        # remembered for the rest of the transaction; merge_accounts forgets it.
        def load() -> tuple[str | None]:
            row = self.db.query_one("SELECT manager FROM accounts WHERE rec_id = ? AND merged_into IS NULL", (rec_id,))
            if row is None:
                raise NotFoundError(f"no account with REC ID {rec_id!r}; 'zenithlink accounts list' shows them")
            return (row[0],)

        return self.db.cached(ACCOUNT_MEMO, rec_id, load)

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
        if not (name or "").strip():
            raise UsageError("an account needs a name")
        self.get_account(rec_id)
        with self.db.transaction() as conn:
            conn.execute("UPDATE accounts SET name = ?, auto_created = 0 WHERE rec_id = ?", (name.strip(), rec_id))
            self.db.forget(FIRST_ACCOUNT_MEMO)

    # -- employees and privilege groups ----------------------------------------------------
    def add_group(self, name: str, *, continuum: bool = False) -> None:
        name = name.strip()
        if not name:
            raise UsageError("a privilege group needs a name")
        if self.db.query_one("SELECT 1 FROM privilege_groups WHERE name = ?", (name,)):
            raise UsageError(f"the privilege group {name!r} exists already")
        self.db.execute("INSERT INTO privilege_groups(name, continuum) VALUES (?, ?)", (name, int(continuum)))

    def list_groups(self) -> list[dict[str, Any]]:
        return [{"name": r["name"], "continuum": bool(r["continuum"]), "builtin": bool(r["builtin"])}
                for r in self.db.query("SELECT * FROM privilege_groups ORDER BY builtin DESC, name")]

    def add_employee(self, login: str, name: str = "", group: str = "Full") -> str:
        login = login.strip()
        if not login:
            raise UsageError("an employee needs a login")
        row = self.db.query_one("SELECT name FROM privilege_groups WHERE name = ?", (group,))
        if row is None:
            names = ", ".join(g["name"] for g in self.list_groups())
            raise UsageError(f"no privilege group {group!r}; choose one of {names}, "
                             "or create it with 'zenithlink groups add'")
        if self.db.query_one("SELECT 1 FROM employees WHERE login = ?", (login,)):
            raise UsageError(f"an employee with login {login!r} exists already")
        rec_id = new_rec_id("employee")
        self.db.execute("INSERT INTO employees(rec_id, login, name, group_name) VALUES (?, ?, ?, ?)",
                        (rec_id, login, name or login, row["name"]))
        return rec_id

    def get_employee(self, login: str) -> dict[str, Any]:
        row = self.db.query_one(_EMPLOYEES + " WHERE e.login = ?", (login,))
        if row is None:
            raise NotFoundError(f"no employee with login {login!r}; add one with 'zenithlink employees add'")
        return _employee(row)

    def list_employees(self) -> list[dict[str, Any]]:
        return [_employee(r) for r in self.db.query(_EMPLOYEES + " ORDER BY e.login")]

    def require_privilege(self, login: str | None, action: str) -> dict[str, Any]:
        """The employee, if their group holds the Continuum Integration privilege (R21)."""
        if not login:
            raise PrivilegeError(f"{action} needs an employee with the {CONTINUUM_PRIVILEGE} privilege: "
                                 "pass --user LOGIN (or set ZENITHLINK_USER)")
        try:
            employee = self.get_employee(login)
        except NotFoundError as exc:
            raise PrivilegeError(exc.message) from None
        if not employee["continuum"]:
            raise PrivilegeError(
                f"{login} cannot {action}: the privilege group {employee['group']!r} does not hold the "
                f"{CONTINUUM_PRIVILEGE} privilege. Ask an administrator to move {login} to a group that "
                "holds it (Full, Sys Admin, or one made with 'zenithlink groups add NAME --continuum'). "
                "Viewing links needs no privilege.")
        return employee

    # -- assets ----------------------------------------------------------------------------
    def add_asset(self, name: str, account_rec_id: str, *, serial: str = "", manufacturer: str = "",
                  notes: str = "") -> str:
        name = (name or "").strip()
        if not name:
            raise UsageError("an asset needs a name")
        self.get_account(account_rec_id)
        rec_id = new_rec_id("asset")
        self.db.execute("INSERT INTO assets(rec_id, account_rec_id, name, serial, manufacturer, notes, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (rec_id, account_rec_id, name, serial or "", manufacturer or "", notes, now_iso()))
        return rec_id

    def get_asset(self, rec_id: str) -> Asset:
        row = self.db.query_one("SELECT * FROM assets WHERE rec_id = ?", (rec_id,))
        if row is None:
            raise NotFoundError(f"no asset with REC ID {rec_id!r}; 'zenithlink assets list' shows them")
        return Asset(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - a sqlite3.Row iterates its values

    def list_assets(self, account_rec_id: str | None = None) -> list[Asset]:
        if account_rec_id:
            rows = self.db.query("SELECT * FROM assets WHERE account_rec_id = ? ORDER BY name", (account_rec_id,))
        else:
            rows = self.db.query("SELECT * FROM assets ORDER BY name")
        return [Asset(**{k: r[k] for k in r.keys()}) for r in rows]  # noqa: SIM118 - a sqlite3.Row iterates its values

    # -- tickets and history ---------------------------------------------------------------
    def add_ticket(self, account_rec_id: str, description: str, *, asset_rec_id: str | None = None,
                   manager: str | None = None, in_inbox: bool = False, status_code: int = STATUS_NEW) -> str:
        if not (description or "").strip():
            raise UsageError("a ticket needs a description")
        self._account_facts(account_rec_id)
        if asset_rec_id:
            self.get_asset(asset_rec_id)
        rec_id = new_rec_id("ticket")
        stamp = now_iso()
        with self.db.transaction() as conn:
            number = self._next_ticket_no(conn)
            conn.execute("INSERT INTO tickets(rec_id, ticket_no, account_rec_id, asset_rec_id, description,"
                         " status_code, manager, in_inbox, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                         (rec_id, number, account_rec_id, asset_rec_id, description, status_code,
                          manager, int(in_inbox), stamp, stamp))
            self._ticket_no_hint = (self.db.transaction_serial, number + 1)
        return rec_id

    def _next_ticket_no(self, conn) -> int:
        # Inside one transaction nobody else writes, so the next number is known after the
        # first ticket: a page of a thousand tickets asks for MAX() once, not a thousand times.
        serial, number = getattr(self, "_ticket_no_hint", (None, 0))
        if serial is not None and serial == self.db.transaction_serial:
            return number
        return conn.execute("SELECT COALESCE(MAX(ticket_no), 0) + 1 FROM tickets").fetchone()[0]

    def get_ticket(self, rec_id: str, *, history: bool = True) -> Ticket:
        row = self.db.query_one(
            "SELECT t.*, l.continuum_ticket_id FROM tickets t LEFT JOIN ticket_links l"
            " ON l.ticket_rec_id = t.rec_id WHERE t.rec_id = ?", (rec_id,))
        if row is None:
            raise NotFoundError(f"no ticket with REC ID {rec_id!r}; 'zenithlink tickets list' shows them")
        ticket = _ticket(row)
        if history:
            ticket.history = [HistoryNote(r["rec_id"], r["at"], r["text"]) for r in self.db.query(
                "SELECT rec_id, at, text FROM history WHERE ticket_rec_id = ? ORDER BY rowid", (rec_id,))]
        return ticket

    def list_tickets(self, *, inbox: bool | None = None, account_rec_id: str | None = None) -> list[Ticket]:
        sql = ("SELECT t.*, l.continuum_ticket_id FROM tickets t LEFT JOIN ticket_links l"
               " ON l.ticket_rec_id = t.rec_id WHERE 1=1")
        params: list[Any] = []
        if inbox is not None:
            sql += " AND t.in_inbox = ?"
            params.append(int(inbox))
        if account_rec_id:
            sql += " AND t.account_rec_id = ?"
            params.append(account_rec_id)
        return [_ticket(r) for r in self.db.query(sql + " ORDER BY t.ticket_no", tuple(params))]

    def count_tickets(self) -> int:
        return self.db.scalar("SELECT COUNT(*) FROM tickets")

    def add_history(self, ticket_rec_id: str, text: str, *, at: str | None = None, author: str = "",
                    touch: bool = True) -> str:
        """Add a History Note; ``touch=False`` leaves the ticket's ``updated_at`` alone (the first
        note of a ticket made a moment ago in the same transaction)."""
        rec_id = new_rec_id("history")
        stamp = now_iso() if touch or not at else ""
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO history(rec_id, ticket_rec_id, at, text, author) VALUES (?,?,?,?,?)",
                         (rec_id, ticket_rec_id, at or stamp, text, author))
            if touch:
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


_EMPLOYEES = "SELECT e.*, g.continuum FROM employees e JOIN privilege_groups g ON g.name = e.group_name"


def _employee(row) -> dict[str, Any]:
    return {"rec_id": row["rec_id"], "login": row["login"], "name": row["name"],
            "group": row["group_name"], "continuum": bool(row["continuum"])}


def _account(row) -> Account:
    return Account(rec_id=row["rec_id"], name=row["name"], manager=row["manager"],
                   auto_created=bool(row["auto_created"]), seq=row["seq"], created_at=row["created_at"],
                   notes=row["notes"])


def _ticket(row) -> Ticket:
    return Ticket(rec_id=row["rec_id"], ticket_no=row["ticket_no"], description=row["description"],
                  status_code=row["status_code"], in_inbox=bool(row["in_inbox"]),
                  account_rec_id=row["account_rec_id"], asset_rec_id=row["asset_rec_id"],
                  manager=row["manager"], continuum_ticket_id=row["continuum_ticket_id"],
                  created_at=row["created_at"])
