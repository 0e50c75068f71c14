"""PSA records: accounts, employees, privilege groups, assets, tickets, and ``backup``."""

from __future__ import annotations

from pathlib import Path

import click

from agent.cli.options import json_option, privileged_user_option
from agent.cli.output import done, emit_json, table
from agent.cli.readonly import read_only
from agent.errors import PreconditionError, UsageError
from agent.sync import accounts as accounts_core
from agent.sync import lookup, record_import, records


# -- accounts --------------------------------------------------------------------------------
@click.group("accounts")
def accounts() -> None:
    """PSA accounts (customers)."""


@accounts.command("add")
@click.argument("name")
@click.option("--manager", default=None, help="Employee login of the account manager.")
@json_option
@click.pass_obj
def accounts_add(app, name: str, manager: str | None, as_json: bool) -> None:
    """Create an account."""
    if manager:
        app.state.get_employee(manager)
    rec_id = app.psa.add_account(name, manager)
    emit_json({"rec_id": rec_id}) if as_json else done(f"Account {name!r} created: {rec_id}")


@accounts.command("list")
@click.option("--auto-created", is_flag=True, help="Only the accounts made for tickets of unlinked sites (R4).")
@json_option
@click.pass_obj
@read_only
def accounts_list(app, auto_created: bool, as_json: bool) -> None:
    """List the accounts, oldest first, with their linked sites."""
    state, psa = app.state, app.psa
    rows = [dict(a.as_dict(), sites=state.sites_for_account(a.rec_id)) for a in psa.list_accounts()
            if a.auto_created or not auto_created]
    if as_json:
        emit_json(rows)
        return
    table("Auto-created accounts" if auto_created else "Accounts", ["REC ID", "name", "manager", "sites"],
          [(r["rec_id"], r["name"], r["manager"], ", ".join(r["sites"])) for r in rows])


@accounts.command("show")
@click.argument("rec_id")
@json_option
@click.pass_obj
@read_only
def accounts_show(app, rec_id: str, as_json: bool) -> None:
    """Show one account with its sites, assets and tickets."""
    state, psa = app.state, app.psa
    account = psa.get_account(rec_id)
    doc = dict(account.as_dict(), sites=state.sites_for_account(rec_id),
               assets=[a.rec_id for a in psa.list_assets(rec_id)],
               tickets=[t.rec_id for t in psa.list_tickets(account_rec_id=rec_id)])
    if as_json:
        emit_json(doc)
        return
    table(f"Account {account.name}", ["field", "value"],
          [(k, ", ".join(v) if isinstance(v, list) else v) for k, v in doc.items()])


@accounts.command("rename")
@click.argument("rec_id")
@click.argument("name")
@click.pass_obj
def accounts_rename(app, rec_id: str, name: str) -> None:
    """Rename an account, e.g. an auto-created one that becomes the site's real account."""
    old = accounts_core.rename_account(app, rec_id, name, app.user)
    done(f"Account {rec_id} renamed from {old!r} to {name!r}; its site links stay as they are.")


@accounts.command("merge")
@click.argument("source")
@click.argument("into")
@privileged_user_option
@click.pass_obj
def accounts_merge(app, source: str, into: str, user: str | None) -> None:
    """Merge account SOURCE into INTO: site links, tickets and assets move; no relinking needed."""
    psa = app.psa
    src_name, dst_name = psa.get_account(source).name, psa.get_account(into).name
    moved = accounts_core.merge_accounts(app, source, into, user)
    done(f"Merged {src_name!r} into {dst_name!r}: {moved['sites']} site link(s), {moved['tickets']} ticket(s), "
         f"{moved['assets']} asset(s) moved.")


@accounts.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-duplicates", is_flag=True, help="Create an account even when one of that name exists.")
@json_option
@click.pass_obj
def accounts_import(app, csv_file: Path, allow_duplicates: bool, as_json: bool) -> None:
    """Create accounts in bulk from a CSV file whose first line names the columns: name (needed),
    manager and notes (optional); commas, semicolons or tabs between them.

    The whole file is checked first: every bad row is reported with its line number and nothing is
    created unless every row is good. Accounts whose name exists already are skipped.
    """
    result = record_import.import_accounts(app.state, app.psa, csv_file, allow_duplicates=allow_duplicates,
                                           user=app.user)
    if as_json:
        emit_json(result.as_dict())
        return
    done(f"Imported {len(result.created)} account(s) from {csv_file.name}" + _skipped(result.skipped, "account"))


def _skipped(lines: list[int], kind: str) -> str:
    if not lines:
        return "."
    return (f"; {len(lines)} skipped: an {kind} of that name exists already (line(s) "
            f"{', '.join(map(str, lines[:20]))}{' …' if len(lines) > 20 else ''}; --allow-duplicates creates them).")


@accounts.command("set-manager")
@click.argument("rec_id")
@click.argument("login", required=False)
@click.option("--none", "clear", is_flag=True, help="Clear the manager instead.")
@click.pass_obj
def accounts_set_manager(app, rec_id: str, login: str | None, clear: bool) -> None:
    """Make employee LOGIN the manager of account REC_ID (new tickets of the account go to them, R2)."""
    if not login and not clear:
        raise UsageError("name the employee (LOGIN), or pass --none to clear the manager")
    before = accounts_core.set_manager(app, rec_id, None if clear else login, app.user)
    done(f"Account {before.rec_id} {before.name!r}: manager " + (f"{login}." if not clear else "cleared."))


@accounts.command("delete")
@click.argument("rec_id")
@privileged_user_option
@click.pass_obj
def accounts_delete(app, rec_id: str, user: str | None) -> None:
    """Delete account REC_ID; refused while it has tickets, assets or site links."""
    account = accounts_core.delete_account(app, rec_id, user)
    done(f"Account {account.rec_id} {account.name!r} deleted.")


# -- employees and groups -------------------------------------------------------------------
@click.group("employees")
def employees() -> None:
    """PSA employees (the people who act through the agent)."""


@employees.command("add")
@click.argument("login")
@click.option("--name", default="", help="Full name.")
@click.option("--group", default="Full", show_default=True, help="Privilege group.")
@json_option
@click.pass_obj
def employees_add(app, login: str, name: str, group: str, as_json: bool) -> None:
    """Create an employee in a privilege group (Full, Partial, Limited, Sys Admin, or your own)."""
    rec_id = app.state.add_employee(login, name, group)
    emit_json({"rec_id": rec_id}) if as_json else done(f"Employee {login} created in group {group!r}: {rec_id}")


@employees.command("list")
@json_option
@click.pass_obj
@read_only
def employees_list(app, as_json: bool) -> None:
    """List the employees with their group and whether it holds the Continuum privilege."""
    rows = app.state.list_employees()
    if as_json:
        emit_json(rows)
        return
    table("Employees", ["login", "name", "group", "Continuum Integration"],
          [(e["login"], e["name"], e["group"], "yes" if e["continuum"] else "no") for e in rows])


@click.group("groups")
def groups() -> None:
    """Privilege groups."""


@groups.command("add")
@click.argument("name")
@click.option("--continuum", is_flag=True, help="Grant the Continuum Integration privilege.")
@click.pass_obj
def groups_add(app, name: str, continuum: bool) -> None:
    """Create a privilege group."""
    app.state.add_group(name, continuum=continuum)
    done(f"Group {name!r} created" + (" with the Continuum Integration privilege." if continuum else "."))


@groups.command("list")
@json_option
@click.pass_obj
@read_only
def groups_list(app, as_json: bool) -> None:
    """List the privilege groups."""
    rows = app.state.list_groups()
    if as_json:
        emit_json(rows)
        return
    table("Privilege groups", ["name", "Continuum Integration", "built-in"],
          [(g["name"], "yes" if g["continuum"] else "no", "yes" if g["builtin"] else "") for g in rows])


# -- assets ----------------------------------------------------------------------------------
@click.group("assets")
def assets() -> None:
    """PSA assets (customers' equipment)."""


@assets.command("add")
@click.argument("name")
@click.option("--account", "account", required=True, help="REC ID of the owning account.")
@click.option("--serial", default="", help="Serial number.")
@click.option("--manufacturer", default="", help="Manufacturer.")
@json_option
@click.pass_obj
def assets_add(app, name: str, account: str, serial: str, manufacturer: str, as_json: bool) -> None:
    """Create an asset."""
    rec_id = app.psa.add_asset(name, account, serial=serial, manufacturer=manufacturer)
    emit_json({"rec_id": rec_id}) if as_json else done(f"Asset {name!r} created: {rec_id}")


@assets.command("list")
@click.option("--account", default=None, help="Only this account's assets.")
@json_option
@click.pass_obj
@read_only
def assets_list(app, account: str | None, as_json: bool) -> None:
    """List the assets with their linked device."""
    state, psa = app.state, app.psa
    rows = [dict(a.as_dict(), device_id=state.device_for_asset(a.rec_id)) for a in psa.list_assets(account)]
    if as_json:
        emit_json(rows)
        return
    table("Assets", ["REC ID", "name", "account", "serial", "device"],
          [(r["rec_id"], r["name"], r["account_rec_id"], r["serial"], r["device_id"]) for r in rows])


@assets.command("show")
@click.argument("rec_id")
@json_option
@click.pass_obj
def assets_show(app, rec_id: str, as_json: bool) -> None:
    """Show one asset with its account and linked device."""
    asset = app.psa.get_asset(rec_id)
    doc = dict(asset.as_dict(), account_name=app.psa.get_account(asset.account_rec_id).name,
               device_id=app.state.device_for_asset(asset.rec_id))
    if as_json:
        emit_json(doc)
        return
    table(f"Asset {asset.name}", ["field", "value"], list(doc.items()))


@assets.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-duplicates", is_flag=True, help="Create an asset even when its account has one of that name.")
@json_option
@click.pass_obj
def assets_import(app, csv_file: Path, allow_duplicates: bool, as_json: bool) -> None:
    """Create assets in bulk from a CSV file whose first line names the columns: name and account
    (REC ID or exact name) needed; serial, manufacturer and notes optional.

    Checked as a whole first, as accounts import is; an asset of the same name in the same
    account is skipped.
    """
    result = record_import.import_assets(app.state, app.psa, csv_file, allow_duplicates=allow_duplicates, user=app.user)
    if as_json:
        emit_json(result.as_dict())
        return
    done(f"Imported {len(result.created)} asset(s) from {csv_file.name}" + _skipped(result.skipped, "asset"))


# -- tickets ---------------------------------------------------------------------------------
@click.group("tickets")
def tickets() -> None:
    """PSA tickets."""


@tickets.command("list")
@click.option("--inbox", is_flag=True, help="Only tickets in the Inbox (a Completed ticket is not).")
@click.option("--account", default=None, help="Only this account's (a REC ID or the exact name).")
@click.option("--status", default=None, help="Only tickets of this status (a name such as Completed, or a code).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many (by ticket number).")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many first.")
@json_option
@click.pass_obj
@read_only
def tickets_list(app, inbox: bool, account: str | None, status: str | None, limit: int | None, offset: int,
                 as_json: bool) -> None:
    """List tickets by number (with --inbox, those waiting in the Inbox)."""
    account_rec_id = lookup.account(app.psa, account).rec_id if account else None
    code = lookup.status_code(status) if status else None
    rows = [t for t in app.psa.list_tickets(inbox=True if inbox else None, account_rec_id=account_rec_id)
            if code is None or t.status_code == code]
    rows = records.with_links(app.state, rows[offset:None if limit is None else offset + limit])
    if as_json:
        emit_json([t.as_dict() for t in rows])
        return
    names = dict(app.psa.account_names())
    table("Inbox" if inbox else "Tickets", ["no", "REC ID", "status", "inbox", "account", "Continuum", "description"],
          [(t.ticket_no, t.rec_id, t.status, "yes" if t.in_inbox else "", names.get(t.account_rec_id, t.account_rec_id),
            t.continuum_ticket_id, t.description.splitlines()[0][:60]) for t in rows])


@tickets.command("show")
@click.argument("ticket_ref", metavar="TICKET")
@json_option
@click.pass_obj
@read_only
def tickets_show(app, ticket_ref: str, as_json: bool) -> None:
    """Show one ticket, by ticket number or REC ID, with its history notes."""
    ticket = records.get_ticket(app.state, app.psa, lookup.ticket_rec_id(app.psa, ticket_ref))
    if as_json:
        emit_json(ticket.as_dict())
        return
    doc = ticket.as_dict()
    history = doc.pop("history")
    table(f"Ticket {ticket.ticket_no}", ["field", "value"], list(doc.items()))
    table("History", ["at", "note"], [(h["at"], h["text"]) for h in history])


@tickets.command("add")
@click.option("--account", required=True, help="REC ID of the account.")
@click.option("--description", required=True, help="What the ticket is about.")
@click.option("--asset", default=None, help="REC ID of the asset.")
@json_option
@click.pass_obj
def tickets_add(app, account: str, description: str, asset: str | None, as_json: bool) -> None:
    """Create a PSA ticket by hand (the asset, if given, must be the account's)."""
    if asset:
        _asset_of(app, asset, account)
    rec_id = app.psa.add_ticket(account, description, asset_rec_id=asset)
    emit_json({"rec_id": rec_id}) if as_json else done(f"Ticket created: {rec_id}")


def _asset_of(app, asset_rec_id: str, account_rec_id: str) -> None:
    """Refuse an asset that belongs to another account: the ticket would point at a customer's
    equipment from another customer's ticket."""
    psa = app.psa
    account = psa.get_account(account_rec_id)
    asset = psa.get_asset(asset_rec_id)
    if asset.account_rec_id != account.rec_id:
        owner = psa.get_account(asset.account_rec_id)
        raise PreconditionError(f"asset {asset.rec_id} ({asset.name!r}) belongs to account {owner.rec_id} "
                                f"({owner.name!r}), not to account {account.rec_id} ({account.name!r}); name an asset "
                                f"of {account.name!r} ('zenithlink assets list --account {account.rec_id}'), or "
                                "leave out --asset")


# -- backup ----------------------------------------------------------------------------------
@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.pass_obj
def backup(app, path: Path, force: bool) -> None:
    """Write a consistent copy of the embedded store to PATH, even while the agent runs (the restore:
    'zenithlink docs troubleshooting')."""
    if path.exists() and not force:
        raise PreconditionError(f"{path} exists already (an earlier backup?); name another file, or pass --force "
                                "to overwrite it")
    app.state.backup(path)
    done(f"Backup written to {path}.")


commands = [accounts, employees, groups, assets, tickets, backup]
