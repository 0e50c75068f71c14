"""Links in and out of a file: every site with its account (or device with its asset) exported as
CSV or JSON, and such a file imported back — to onboard hundreds of customers from a sheet.

An import names the account by REC ID or exact name (an asset likewise). The whole file is
checked before anything is applied and every bad row is reported with its line; one bad row and
nothing is applied. The changes are made in one transaction with an audit row each, so importing
the same file again changes nothing (and says so). Rows without an account (asset) are left alone:
an import links and moves, it never unlinks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import AlreadyLinked, UsageError, ZenithError
from agent.sync import lookup
from agent.sync.csvfile import BadRows, CsvRow, CsvTable, read_csv
from agent.sync.links import LinksManager

KINDS = ("sites", "devices")
SITE_COLUMNS = ("site_code", "site_name", "client_name", "account_rec_id", "account_name")
DEVICE_COLUMNS = ("device_id", "device_name", "site_code", "serial", "asset_rec_id", "asset_name")
# What an import accepts besides the export's own columns: a hand-made sheet's "account" column.
_EXTRA = ("account", "asset")
_ALIASES = {"sitecode": "site_code", "site": "site_code", "deviceid": "device_id", "device": "device_id"}


@dataclass(frozen=True)
class Change:
    key: str
    before: str | None
    after: str
    name: str
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "before": self.before, "after": self.after, "name": self.name, "line": self.line}


@dataclass
class ImportPlan:
    """What importing a file does: ``changes`` to make, how many rows are ``unchanged`` (linked so
    already) and ``left_alone`` (no account or asset named)."""

    kind: str
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    left_alone: int = 0
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "changes": [c.as_dict() for c in self.changes], "unchanged": self.unchanged,
                "left_alone": self.left_alone, "applied": self.applied}


# -- export ----------------------------------------------------------------------------------
def export_rows(manager: LinksManager, kind: str) -> list[dict[str, Any]]:
    """Every site (device) of the inventory with its account (asset), and links to ones Continuum
    no longer lists: the columns of :data:`SITE_COLUMNS` (:data:`DEVICE_COLUMNS`)."""
    if kind == "sites":
        return [{"site_code": r["site_code"], "site_name": r["name"], "client_name": r["client_name"],
                 "account_rec_id": r["account_rec_id"] or "", "account_name": r["account_name"] or ""}
                for r in manager.sites()]
    return [{"device_id": r["device_id"], "device_name": r["name"], "site_code": r["site_code"], "serial": r["serial"],
             "asset_rec_id": r["asset_rec_id"] or "", "asset_name": r["asset_name"] or ""}
            for r in manager.devices()]


def render(rows: list[dict[str, Any]], kind: str, fmt: str) -> str:
    """The rows as CSV (a header first; comma-separated, as every spreadsheet reads it) or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SITE_COLUMNS if kind == "sites" else DEVICE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# -- import ----------------------------------------------------------------------------------
def plan_import(manager: LinksManager, path: Path) -> ImportPlan:
    """Read and check the whole file; :class:`BadRows` names every bad row, else the plan."""
    table, unit = _read(path)
    kind = "devices" if "device_id" in table.columns else "sites"
    plan = ImportPlan(kind)
    if table.columns and _require_columns(table, kind):  # rows past a bad header mean nothing
        (_plan_sites if kind == "sites" else _plan_devices)(manager, table, plan)
    if table.problems:
        raise BadRows(path, table.problems, outcome="nothing was linked", unit=unit)
    return plan


def apply_import(manager: LinksManager, plan: ImportPlan, user: str | None, source: str) -> ImportPlan:
    """Make the plan's changes in one transaction, each audited; notifiers hear of it once."""
    word = "site" if plan.kind == "sites" else "device"
    manager.state.require_privilege(user, f"import {word} links")
    if not plan.changes:
        return plan
    state = manager.state
    with manager.app.unit_of_work():
        for change in plan.changes:
            if plan.kind == "devices" and change.before:
                state.unlink_device(change.key)  # first: a file may hand an asset from one device to another
        for change in plan.changes:
            if plan.kind == "sites":
                state.link_site(change.key, change.after, by=user or "")
            else:
                state.link_device(change.key, change.after, by=user or "")
            state.audit(user or "", f"link_{word}", f"{word} {change.key} → {change.after} {change.name!r}"
                        + (f" (was {change.before})" if change.before else "") + f" (import of {source})")
    plan.applied = True
    manager.changed(f"{len(plan.changes)} {word} link(s) imported from {source} by {user}", action=f"import_{word}s",
                     user=user, links={c.key: c.after for c in plan.changes})
    return plan


def _read(path: Path) -> tuple[CsvTable, str]:
    known = tuple(dict.fromkeys(SITE_COLUMNS + DEVICE_COLUMNS + _EXTRA))
    if path.suffix.lower() == ".json":
        return _read_json(path, known), "entry"
    return read_csv(path, required=(), optional=known, aliases=_ALIASES), "line"


def _read_json(path: Path, known: tuple[str, ...]) -> CsvTable:
    try:
        items = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path.name} is not a JSON document ({exc}); 'zenithlink links export --format json' "
                         "writes one") from None
    if not isinstance(items, list):
        raise UsageError(f"{path.name} must hold a list of objects, as 'zenithlink links export --format json' writes")
    table = CsvTable([])
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            table.add(number, "not an object")
            continue
        values = {_ALIASES.get(str(k), str(k)): "" if v is None else str(v).strip() for k, v in item.items()}
        unknown = [k for k in values if k not in known]
        if unknown:
            table.add(number, f"unknown key(s) {', '.join(unknown)}")
            continue
        seen.update(values)
        table.rows.append(CsvRow(number, values))
    table.columns = sorted(seen)
    return table


def _require_columns(table: CsvTable, kind: str) -> bool:
    key, refs = ("site_code", ("account_rec_id", "account_name", "account")) if kind == "sites" else \
        ("device_id", ("asset_rec_id", "asset_name", "asset"))
    if key not in table.columns or not any(r in table.columns for r in refs):
        table.add(1, f"a {kind} file needs the columns {key} and one of {', '.join(refs)} (as 'zenithlink links "
                     f"export --{kind}' writes them)")
        return False
    return True


def _ref(row: CsvRow, *columns: str) -> str:
    return next((row.get(c) for c in columns if row.get(c)), "")


@dataclass(frozen=True)
class _Side:
    """What differs between importing site links and device links."""

    key_column: str
    ref_columns: tuple[str, ...]
    word: str  # "site", "device"


_SITES = _Side("site_code", ("account_rec_id", "account_name", "account"), "site")
_DEVICES = _Side("device_id", ("asset_rec_id", "asset_name", "asset"), "device")


def _plan_sites(manager: LinksManager, table: CsvTable, plan: ImportPlan) -> None:
    _plan(table, plan, _SITES, lookup.account_index(manager.psa), manager.state.site_links(), manager.site)


def _plan_devices(manager: LinksManager, table: CsvTable, plan: ImportPlan) -> None:
    links = manager.state.device_links()
    _plan(table, plan, _DEVICES, lookup.asset_index(manager.psa), links, manager.device)
    _one_device_per_asset(table, plan, links)


def _plan(table: CsvTable, plan: ImportPlan, side: _Side, index: Any, links: dict[str, str],
          known: Callable[[str], Any]) -> None:
    """Each row's link checked against the inventory (``known``) and the PSA (``index``)."""
    chosen: dict[str, tuple[str, int]] = {}
    for row in table.rows:
        key, ref = row.get(side.key_column), _ref(row, *side.ref_columns)
        if not key:
            table.add(row.line, f"no {side.key_column.replace('_', ' ')}")
            continue
        if not ref:
            plan.left_alone += 1
            continue
        try:
            if key not in links:
                known(key)
            target = index.find(ref)
        except ZenithError as exc:
            table.add(row.line, exc.message)
            continue
        first = chosen.setdefault(key, (target.rec_id, row.line))
        if not _once(table, row.line, f"{side.word} {key}", target.rec_id, first):
            continue
        if chosen[key][1] != row.line:
            continue  # the same link twice: once is enough
        if links.get(key) == target.rec_id:
            plan.unchanged += 1
        else:
            plan.changes.append(Change(key, links.get(key), target.rec_id, target.name, row.line))


def _once(table: CsvTable, line: int, what: str, target: str, first: tuple[str, int]) -> bool:
    """A key given twice must name the same record both times."""
    if first[0] != target:
        table.add(line, f"{what} is on line {first[1]} too, with another record ({first[0]}, here {target}); "
                        "keep one of the two")
        return False
    return True


def _one_device_per_asset(table: CsvTable, plan: ImportPlan, links: dict[str, str]) -> None:
    final = dict(links)
    final.update({c.key: c.after for c in plan.changes})
    devices_of: dict[str, list[str]] = {}
    for device_id, asset in final.items():
        devices_of.setdefault(asset, []).append(device_id)
    for change in plan.changes:
        others = [d for d in devices_of[change.after] if d != change.key]
        if not others:
            continue
        if any(c.key in others for c in plan.changes):
            table.add(change.line, f"asset {change.after} is named for device {change.key} and for "
                                   f"{', '.join(sorted(others))} in this file; an asset is linked to one device")
        else:
            table.add(change.line, AlreadyLinked(f"asset {change.after}", f"device {others[0]}",
                                                 f"unlink it first ('zenithlink links unlink-device {others[0]}') "
                                                 "or move it in this file").message)
