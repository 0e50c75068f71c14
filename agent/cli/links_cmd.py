"""``zenithlink links …``: view, suggest, link and unlink Continuum sites and devices (R17-R22)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from agent.cli.options import json_option, of_rmm, rmm_option, user_option
from agent.cli.output import done, emit_json, listing, table
from agent.cli.readonly import read_only
from agent.hookspecs import APPLIED_VERDICTS, VERDICTS
from agent.sync import accounts, links_file, lookup
from agent.sync.links import REVIEW_BY, DevicePlanRow, LinksManager, SitePlanRow
from agent.sync.links import plan as plans
from dbsys.atomic import atomic_write

# Above this many rows a listing is printed as tab-separated lines instead of a drawn table.


def _linked_option(func):
    func = click.option("--unlinked", "linked", flag_value=False, help="Only those not linked yet.")(func)
    return click.option("--linked", "linked", flag_value=True, default=None, help="Only linked ones.")(func)


@click.group("links")
def links() -> None:
    """Links between Continuum sites/devices and PSA accounts/assets."""


# -- listings --------------------------------------------------------------------------------
@links.command("sites")
@_linked_option
@rmm_option
@json_option
@click.pass_obj
@read_only
def links_sites(app, linked: bool | None, rmm: str | None, as_json: bool) -> None:
    """List the Continuum sites with the account each is linked to."""
    rows = LinksManager(of_rmm(app, rmm)).sites(linked)
    if as_json:
        emit_json(rows)
        return
    title = {True: "Linked sites", False: "Unlinked sites", None: "Sites"}[linked]
    listing(title, ["site code", "name", "client", "account", "account name"],
              [(r["site_code"], r["name"] if r["in_inventory"] else "(no longer in Continuum)", r["client_name"],
                r["account_rec_id"], r["account_name"]) for r in rows])


@links.command("devices")
@_linked_option
@rmm_option
@json_option
@click.pass_obj
@read_only
def links_devices(app, linked: bool | None, rmm: str | None, as_json: bool) -> None:
    """List the Continuum devices with the asset each is linked to."""
    rows = LinksManager(of_rmm(app, rmm)).devices(linked)
    if as_json:
        emit_json(rows)
        return
    title = {True: "Linked devices", False: "Unlinked devices", None: "Devices"}[linked]
    listing(title, ["device id", "name", "site", "serial", "asset", "asset name"],
              [(r["device_id"], r["name"] if r["in_inventory"] else "(no longer in Continuum)", r["site_code"],
                r["serial"], r["asset_rec_id"], r["asset_name"]) for r in rows])


# -- suggestions and search ------------------------------------------------------------------
@links.group("suggest")
def suggest() -> None:
    """Ranked candidates to link, with scores."""


def _show_suggestions(title: str, found: list, as_json: bool) -> None:
    if as_json:
        emit_json([s.as_dict() for s in found])
        return
    table(title, ["REC ID", "name", "score", "why"], [(s.rec_id, s.name, f"{s.score:.1f}", s.reason) for s in found])


@suggest.command("site")
@click.argument("site_code")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@json_option
@click.pass_obj
@read_only
def suggest_site(app, site_code: str, limit: int, as_json: bool) -> None:
    """Accounts whose names are most alike the site's."""
    _show_suggestions(f"Accounts for site {site_code}", LinksManager(app).suggest_accounts(site_code, limit), as_json)


@suggest.command("device")
@click.argument("device_id")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
@json_option
@click.pass_obj
@read_only
def suggest_device(app, device_id: str, limit: int, as_json: bool) -> None:
    """Assets most likely to be the device's (same serial number first)."""
    _show_suggestions(f"Assets for device {device_id}", LinksManager(app).suggest_assets(device_id, limit), as_json)


@links.group("search")
def search() -> None:
    """Find accounts or assets by keyword."""


@search.command("accounts")
@click.argument("keyword")
@json_option
@click.pass_obj
@read_only
def search_accounts(app, keyword: str, as_json: bool) -> None:
    """Accounts whose name holds every word of KEYWORD."""
    rows = LinksManager(app).search_accounts(keyword)
    if as_json:
        emit_json(rows)
        return
    table(f"Accounts matching {keyword!r}", ["REC ID", "name", "sites"],
          [(r["rec_id"], r["name"], ", ".join(r["sites"])) for r in rows])


@search.command("assets")
@click.argument("keyword")
@json_option
@click.pass_obj
@read_only
def search_assets(app, keyword: str, as_json: bool) -> None:
    """Assets whose name, serial number or manufacturer hold every word of KEYWORD."""
    rows = LinksManager(app).search_assets(keyword)
    if as_json:
        emit_json(rows)
        return
    table(f"Assets matching {keyword!r}", ["REC ID", "name", "serial", "account", "device"],
          [(r["rec_id"], r["name"], r["serial"], r["account_rec_id"], r["device_id"]) for r in rows])


# -- changes ---------------------------------------------------------------------------------
@links.command("link-site")
@click.argument("site_code")
@click.argument("account")
@user_option
@click.pass_obj
def link_site(app, site_code: str, account: str, user: str | None) -> None:
    """Link a site to ACCOUNT, a REC ID or an account's exact name (several sites may share one account).

    A name that several accounts have is refused, listing them: give the REC ID then.
    """
    previous = LinksManager(app).link_site(site_code, account, user)
    _linked(f"Site {site_code}", "account", lookup.account(app.psa, account), previous)


@links.command("unlink-site")
@click.argument("site_code")
@user_option
@click.pass_obj
def unlink_site(app, site_code: str, user: str | None) -> None:
    """Remove the link of one site."""
    account = LinksManager(app).unlink_site(site_code, user)
    done(f"Site {site_code} is no longer linked to account {account}.")


@links.command("unlink-account")
@click.argument("account_rec_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before unlinking (asked only on a terminal).")
@user_option
@click.pass_obj
def unlink_account(app, account_rec_id: str, yes: bool, user: str | None) -> None:
    """Remove every Continuum link of an account: its sites, and its tickets' and assets' links.
    On a terminal you are asked first."""
    if not yes and sys.stdin.isatty():
        app.state.require_privilege(user, "unlink accounts")
        account = app.psa.get_account(account_rec_id)
        sites = app.state.sites_for_account(account.rec_id)
        click.confirm(f"Remove every Continuum link of account {account.rec_id} ({account.name!r}): "
                      f"{len(sites)} site link(s){' (' + ', '.join(sites) + ')' if sites else ''}, and the "
                      "Continuum links of its tickets and assets?", abort=True)
    removed = accounts.unlink_account(app, account_rec_id, user)
    done(f"Account {account_rec_id}: {len(removed['sites'])} site link(s), {removed['ticket_links']} ticket "
         f"link(s) and {removed['device_links']} device link(s) removed.")


@links.command("create-account")
@click.argument("site_code")
@user_option
@json_option
@click.pass_obj
def create_account(app, site_code: str, user: str | None, as_json: bool) -> None:
    """Create an account named after the site's client (else the site) and link it to the site."""
    rec_id = LinksManager(app).create_account_from_site(site_code, user)
    emit_json({"rec_id": rec_id}) if as_json else done(f"Account {rec_id} created from site {site_code} and linked.")


@links.command("link-device")
@click.argument("device_id")
@click.argument("asset")
@user_option
@click.pass_obj
def link_device(app, device_id: str, asset: str, user: str | None) -> None:
    """Link a device to ASSET, a REC ID or an asset's exact name (an ambiguous name is refused, listing them)."""
    previous = LinksManager(app).link_device(device_id, asset, user)
    _linked(f"Device {device_id}", "asset", lookup.asset(app.psa, asset), previous)


def _linked(what: str, kind: str, found, previous: str | None) -> None:
    if previous == found.rec_id:
        done(f"{what} is linked to {kind} {found.rec_id} {found.name!r} already; nothing changed.")
        return
    was = f" (was {previous})." if previous else "."
    done(f"{what} linked to {kind} {found.rec_id} {found.name!r}{was}")


@links.command("unlink-device")
@click.argument("device_id")
@user_option
@click.pass_obj
def unlink_device(app, device_id: str, user: str | None) -> None:
    """Remove the link of one device."""
    asset = LinksManager(app).unlink_device(device_id, user)
    done(f"Device {device_id} is no longer linked to asset {asset}.")


@links.command("create-asset")
@click.argument("device_id")
@click.option("--account", "account", default=None,
              help="REC ID of the owning account (default: the account linked to the device's site).")
@user_option
@json_option
@click.pass_obj
def create_asset(app, device_id: str, account: str | None, user: str | None, as_json: bool) -> None:
    """Create an asset from a device (name, serial number, manufacturer; the rest in its notes) and link it."""
    rec_id = LinksManager(app).create_asset_from_device(device_id, account, user)
    emit_json({"rec_id": rec_id}) if as_json else done(f"Asset {rec_id} created from device {device_id} and linked.")


# -- in and out of a file -------------------------------------------------------------------
@links.command("export")
@click.option("--sites", "kind", flag_value="sites", default=True, help="Sites with their accounts (the default).")
@click.option("--devices", "kind", flag_value="devices", help="Devices with their assets.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.pass_obj
def export(app, kind: str, fmt: str, output: Path | None) -> None:
    """Every site with its account (or device with its asset), linked or not, as CSV or JSON.

    The file can be edited (fill in account names in a spreadsheet) and read back with 'links import'.
    """
    text = links_file.render(links_file.export_rows(LinksManager(app), kind), kind, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    atomic_write(output, text.encode("utf-8"))
    done(f"{kind.capitalize()} written to {output}.")


@links.command("import")
@click.argument("links_file_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; change nothing.")
@user_option
@json_option
@click.pass_obj
def import_(app, links_file_path: Path, dry_run: bool, user: str | None, as_json: bool) -> None:
    """Link sites to accounts (or devices to assets) as a CSV or JSON file says.

    Columns by header name: site_code and account_rec_id, account_name or account (a REC ID or the
    exact name); for devices device_id and asset_rec_id, asset_name or asset. The delimiter is
    sniffed (Excel may write semicolons). The whole file is checked first: every bad row is
    reported with its line and nothing is linked unless every row is good. Rows without an account
    are left alone; importing a file again changes nothing.
    """
    manager = LinksManager(app)
    if not dry_run:
        manager.state.require_privilege(user, "import links")
    plan = links_file.plan_import(manager, links_file_path)
    if not dry_run:
        links_file.apply_import(manager, plan, user, links_file_path.name)
    if as_json:
        emit_json(plan.as_dict())
        return
    word = plan.kind[:-1]
    if plan.changes:
        table(f"{'Would change' if dry_run else 'Changed'}: {word} links", [word, "was", "now", "name", "line"],
              [(c.key, c.before or "", c.after, c.name, c.line) for c in plan.changes])
    rest = f"{plan.unchanged} linked so already" + (f", {plan.left_alone} without a record left alone"
                                                    if plan.left_alone else "")
    if not plan.changes:
        done(f"Nothing to change: every {word} link in {links_file_path.name} is made already ({rest}).")
    elif dry_run:
        done(f"Dry run: {len(plan.changes)} {word} link(s) would be made; {rest}; nothing was changed.")
    else:
        done(f"{len(plan.changes)} {word} link(s) made from {links_file_path.name}; {rest}.")


# -- bulk review -----------------------------------------------------------------------------
@links.group("review", invoke_without_command=True)
@click.option("--apply", "apply_", is_flag=True,
              help="Link every unlinked site whose best account is an exact or strong match.")
@click.option("--exact-only", is_flag=True, help="With --apply: link exact matches only.")
@click.option("--min-score", type=click.FloatRange(0, 100), default=None,
              help="With --apply (implied): link only matches scoring at least this much too.")
@click.option("--dry-run", is_flag=True, help="Only show what --apply would link.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before linking.")
@user_option
@json_option
@click.pass_context
def review(ctx: click.Context, apply_: bool, exact_only: bool, min_score: float | None, dry_run: bool, yes: bool,
           user: str | None, as_json: bool) -> None:
    """Every unlinked site with its best account and the verdict on it; --apply links the exact and
    strong matches.

    Verdicts: exact (exactly the name, or the same name once normalised, and no other account so),
    strong (the telling words in common, no telling word different, well ahead of the next account),
    ambiguous (another account is as good: the contenders are listed), weak, none. Ambiguous and
    weak matches are never linked by a review: link them one by one. The plan is shown first; on a
    terminal you are asked before anything is linked. 'links review devices' reviews the devices.
    """
    if ctx.invoked_subcommand is not None:
        return
    manager = LinksManager(ctx.obj)
    applying = (apply_ or min_score is not None) and not dry_run
    if applying:
        manager.state.require_privilege(user, "link sites to accounts")
    rows = manager.review_plan(min_score, verdicts=("exact",) if exact_only else APPLIED_VERDICTS)
    chosen = plans.to_link(rows)
    if not as_json:
        _show_plan(rows)
    if applying and chosen and not as_json and not yes and sys.stdin.isatty():
        click.confirm(f"Link these {chosen} site(s)?", abort=True)
    if applying:
        rows = manager.apply(rows, user)
    if as_json:
        emit_json([row.as_dict() for row in rows])
    elif applying:
        done(f"{plans.linked(rows)} site(s) linked.")
    else:
        counts = {v: sum(1 for r in rows if r.verdict == v) for v in VERDICTS}
        summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        done(f"{'Dry run: ' if dry_run else ''}{chosen} site(s) would be linked by --apply"
             f"{' --exact-only' if exact_only else ''}; nothing was changed." + (f" ({summary})" if summary else ""))


@review.command("devices")
@click.option("--by", type=click.Choice(REVIEW_BY), default="auto", show_default=True,
              help="auto: the serial number, then the machine name among the assets of the site's account.")
@click.option("--apply", "apply_", is_flag=True, help="Link every device with one sure asset.")
@click.option("--create-missing", is_flag=True,
              help="With --apply: create an asset (and link it) for each unmatched device of a linked site.")
@click.option("--dry-run", is_flag=True, help="Only show what --apply would do.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before linking.")
@user_option
@json_option
@click.pass_obj
def review_devices(app, by: str, apply_: bool, create_missing: bool, dry_run: bool, yes: bool, user: str | None,
                   as_json: bool) -> None:
    """Every unlinked device with an asset of the same serial number (placeholder serials such as
    'To be filled by O.E.M.' never count) or machine name; --apply links the sure ones.

    A match is sure when one device and one asset share the value; when several do, the row reads
    'review' and lists the candidates. --create-missing then creates assets for the devices of
    linked sites that have no candidate at all.
    """
    manager = LinksManager(app)
    applying = apply_ and not dry_run
    if applying:
        manager.state.require_privilege(user, "link devices to assets")
    rows = manager.device_review_plan(by)
    missing = manager.devices_without_candidates(rows) if create_missing else []
    chosen = plans.to_link(rows)
    if not as_json:
        _show_device_plan(rows, missing)
    if applying and (chosen or missing) and not as_json and not yes and sys.stdin.isatty():
        click.confirm(f"Link {chosen} device(s) and create {len(missing)} asset(s)?", abort=True)
    if applying:
        rows = manager.apply_devices(rows, user)
    created = manager.create_missing_assets(missing, user) if applying and missing else []
    if as_json:
        emit_json({"plan": [row.as_dict() for row in rows], "create": [{"device_id": r["device_id"], "name": r["name"],
                                            "site_code": r["site_code"]} for r in missing],
                   "created": created})
    elif applying:
        done(f"{plans.linked(rows)} device(s) linked, {len(created)} asset(s) created and linked.")
    else:
        done(f"{'Dry run: ' if dry_run else ''}--apply would link {chosen} device(s)"
             + (f" and create {len(missing)} asset(s)" if create_missing else "") + "; nothing was changed.")


def _show_device_plan(plan: list[DevicePlanRow], missing: list[dict[str, Any]]) -> None:
    rows: list[Sequence[Any]] = [(r.device_id, r.device_name, r.serial, r.asset_rec_id, r.asset_name, r.reason,
             str(r.action) if not r.tie else f"review ({len(r.candidates)} candidates)") for r in plan]
    rows += [(r["device_id"], r["name"], r["serial"], "", "", "no asset: one is created", "create")
             for r in missing]
    if not rows:
        done("No unlinked device has a matching asset.")
        return
    listing("Review of unlinked devices", ["device", "name", "serial", "asset", "asset name", "why", "action"], rows)


def _show_plan(plan: list[SitePlanRow]) -> None:
    rows: list[Sequence[Any]] = [(r.site_code, r.site_name, r.account_rec_id, r.account_name,
             "" if r.score is None else f"{r.score:.1f}", r.verdict, _why(r), str(r.action)) for r in plan]
    if not rows:
        done("Every site is linked.")
        return
    listing("Review of unlinked sites", ["site code", "site name", "account", "account name", "score", "verdict",
                                           "why", "action"], rows)


def _why(row: SitePlanRow) -> str:
    if not row.contenders:
        return row.reason
    others = "; ".join(f"{c['name']} ({c['rec_id']}, {c['score']:.0f})" for c in row.contenders)
    return f"{row.reason}; as good: {others}"



commands = [links]
