"""Accounts and assets made in bulk from a CSV file: the whole file is checked first, every bad row
reported at once, and nothing is made unless every row is good; records that exist already (by
name) are skipped unless duplicates are asked for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from agent.errors import ZenithError
from agent.ports.psa import PsaStore
from agent.ports.state import AuditLog, Employees, Transactions
from agent.sync import lookup, records
from agent.sync.csvfile import BadRows, CsvTable, read_csv

ACCOUNT_COLUMNS = ("name",)
ACCOUNT_OPTIONAL = ("manager", "notes")
ASSET_COLUMNS = ("name", "account")
ASSET_OPTIONAL = ("serial", "manufacturer", "notes")
ASSET_ALIASES = {"account_rec_id": "account", "account_name": "account", "serial_number": "serial"}


class ImportState(Transactions, Employees, AuditLog, Protocol):
    """The state store as an import uses it: managers checked, the import audited, in one unit of work."""


@dataclass(frozen=True)
class Imported:
    """What an import made: REC IDs created, rows skipped as existing already (by line)."""

    created: list[str]
    skipped: list[int]
    rows: int

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "skipped_lines": self.skipped, "rows": self.rows}


def import_accounts(state: ImportState, psa: PsaStore, path: Path, *, allow_duplicates: bool = False,
                    user: str | None = None) -> Imported:
    """Create an account for every row (columns: name; manager, notes optional)."""
    table = read_csv(path, required=ACCOUNT_COLUMNS, optional=ACCOUNT_OPTIONAL)
    existing = {lookup.fold_name(name) for _, name in psa.account_names()}
    wanted, skipped = [], []
    for row in table.rows:
        name, manager = row.get("name"), row.get("manager")
        if not name:
            table.add(row.line, "no name")
            continue
        if manager and not _known(state, manager, table, row.line):
            continue
        key = lookup.fold_name(name)
        if key in existing and not allow_duplicates:
            skipped.append(row.line)
            continue
        existing.add(key)
        wanted.append((name, manager or None, row.get("notes")))
    _refuse_bad(path, table)
    with records.unit_of_work(state, psa):
        created = [psa.add_account(name, manager, notes=notes) for name, manager, notes in wanted]
        state.audit(user or "", "import_accounts", f"{len(created)} account(s) from {path.name}, "
                        f"{len(skipped)} existing skipped")
    logger.info("imported {} account(s) from {}; {} skipped", len(created), path.name, len(skipped))
    return Imported(created, skipped, len(table.rows))


def import_assets(state: ImportState, psa: PsaStore, path: Path, *, allow_duplicates: bool = False,
                  user: str | None = None) -> Imported:
    """Create an asset for every row (columns: name, account by REC ID or exact name; serial,
    manufacturer, notes optional). An asset of that name in that account exists already: skipped."""
    table = read_csv(path, required=ASSET_COLUMNS, optional=ASSET_OPTIONAL, aliases=ASSET_ALIASES)
    accounts = lookup.account_index(psa)
    existing = {(a.account_rec_id, lookup.fold_name(a.name)) for a in psa.list_assets()}
    wanted, skipped = [], []
    for row in table.rows:
        name = row.get("name")
        if not name:
            table.add(row.line, "no name")
            continue
        try:
            account = accounts.find(row.get("account")) if row.get("account") else None
        except ZenithError as exc:
            table.add(row.line, exc.message)
            continue
        if account is None:
            table.add(row.line, "no account")
            continue
        key = (account.rec_id, lookup.fold_name(name))
        if key in existing and not allow_duplicates:
            skipped.append(row.line)
            continue
        existing.add(key)
        wanted.append((name, account.rec_id, row.get("serial"), row.get("manufacturer"), row.get("notes")))
    _refuse_bad(path, table)
    with records.unit_of_work(state, psa):
        created = [psa.add_asset(name, account, serial=serial, manufacturer=maker, notes=notes)
                   for name, account, serial, maker, notes in wanted]
        state.audit(user or "", "import_assets", f"{len(created)} asset(s) from {path.name}, "
                        f"{len(skipped)} existing skipped")
    logger.info("imported {} asset(s) from {}; {} skipped", len(created), path.name, len(skipped))
    return Imported(created, skipped, len(table.rows))


def _known(state: Employees, login: str, table: CsvTable, line: int) -> bool:
    try:
        state.get_employee(login)
        return True
    except ZenithError as exc:
        table.add(line, exc.message)
        return False


def _refuse_bad(path: Path, table: CsvTable) -> None:
    if table.problems:
        raise BadRows(path, table.problems)
