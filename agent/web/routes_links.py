"""The links manager pages: sites ↔ accounts and devices ↔ assets, one at a time or by review (R17-R22).

Every change calls the same :class:`agent.sync.links.LinksManager` method as its ``zenithlink
links …`` command.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.errors import UsageError
from agent.sync import records
from agent.sync.links import REVIEW_BY, InventoryNotDownloaded, LinksManager
from agent.web.context import Viewer, action, console_of, field, int_param, page, redirect, render

PAGE_SIZE = 50
REVIEW_MAX_ROWS = 500
TABS = ("unlinked", "linked")


def _links(request: Request) -> LinksManager:
    return LinksManager(console_of(request).app)


def _tab(request: Request) -> str:
    tab = request.query_params.get("tab", "unlinked")
    return tab if tab in TABS else "unlinked"


def _no_inventory(request: Request, viewer: Viewer, exc: InventoryNotDownloaded, nav: str) -> Response:
    return render(request, "no_inventory.html", viewer, message=exc.message, nav=nav)


# -- sites -----------------------------------------------------------------------------------
@page
def sites(request: Request, viewer: Viewer) -> Response:
    tab, keyword = _tab(request), request.query_params.get("q", "").strip()
    offset = int_param(request, "offset")
    try:
        found = _links(request).find_sites(linked=tab == "linked", keyword=keyword, offset=offset, limit=PAGE_SIZE)
    except InventoryNotDownloaded as exc:
        return _no_inventory(request, viewer, exc, "sites")
    return render(request, "sites.html", viewer, nav="sites", tab=tab, q=keyword, found=found,
                  params={"tab": tab, "q": keyword}, page_size=PAGE_SIZE)


@page
def site(request: Request, viewer: Viewer) -> Response:
    code = request.query_params.get("code", "")
    keyword = request.query_params.get("q", "").strip()
    links = _links(request)
    try:
        record = links.site(code)
    except InventoryNotDownloaded as exc:
        return _no_inventory(request, viewer, exc, "sites")
    state, psa = links.state, links.psa
    account_rec_id = state.account_for_site(code)
    account = psa.get_account(account_rec_id) if account_rec_id else None
    suggestions = [] if account else links.suggest_accounts(code, limit=8)
    matches = links.search_accounts(keyword)[:50] if keyword and not account else []
    return render(request, "site.html", viewer, nav="sites", code=code, record=record, account=account,
                  account_sites=state.sites_for_account(account.rec_id) if account else [],
                  suggestions=suggestions, q=keyword, matches=matches)


@action("link sites to accounts")
def site_link(request: Request, viewer: Viewer, form: FormData) -> Response:
    code, account = field(form, "code"), field(form, "account")
    previous = _links(request).link_site(code, account, viewer.login)
    name = console_of(request).app.psa.get_account(account).name
    return redirect(request, _site_url(code), f"Site {code} linked to {name}" + (f" (was {previous})." if previous
                                                                                 else "."))


@action("create accounts from sites")
def site_create_account(request: Request, viewer: Viewer, form: FormData) -> Response:
    code = field(form, "code")
    rec_id = _links(request).create_account_from_site(code, viewer.login)
    return redirect(request, _site_url(code), f"Account {rec_id} created from site {code} and linked to it.")


@action("unlink sites")
def site_unlink(request: Request, viewer: Viewer, form: FormData) -> Response:
    code = field(form, "code")
    account = _links(request).unlink_site(code, viewer.login)
    return redirect(request, _site_url(code), f"Site {code} is no longer linked to account {account}.")


def _site_url(code: str) -> str:
    return f"/site?code={quote(code, safe='')}"


# -- every link of an account (R19) ---------------------------------------------------------
@page
def account_unlink_confirm(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    rec_id = request.query_params.get("rec", "")
    account = app.psa.get_account(rec_id)
    tickets = [t for t in records.list_tickets(app.state, app.psa, account_rec_id=rec_id) if t.continuum_ticket_id]
    assets = [(a, app.state.device_for_asset(a.rec_id)) for a in app.psa.list_assets(rec_id)]
    return render(request, "account_unlink.html", viewer, nav="sites", account=account,
                  sites=app.state.sites_for_account(rec_id), tickets=tickets,
                  assets=[(a, device) for a, device in assets if device])


@action("unlink accounts")
def account_unlink(request: Request, viewer: Viewer, form: FormData) -> Response:
    rec_id = field(form, "rec")
    removed = _links(request).unlink_account(rec_id, viewer.login)
    return redirect(request, "/sites?tab=linked", f"Account {rec_id}: {len(removed['sites'])} site link(s), "
                    f"{removed['ticket_links']} ticket link(s) and {removed['device_links']} device link(s) removed.")


# -- review of sites -------------------------------------------------------------------------
@page
def sites_review(request: Request, viewer: Viewer) -> Response:
    keyword = request.query_params.get("q", "").strip()
    links = _links(request)
    try:
        found = links.find_sites(linked=False, keyword=keyword, limit=REVIEW_MAX_ROWS)
    except InventoryNotDownloaded as exc:
        return _no_inventory(request, viewer, exc, "sites")
    plan = links.review_plan(None, only=[r["site_code"] for r in found.rows]) if found.rows else []
    return render(request, "sites_review.html", viewer, nav="sites", q=keyword, plan=plan, total=found.total,
                  limit=REVIEW_MAX_ROWS)


@action("link sites to accounts")
def sites_review_apply(request: Request, viewer: Viewer, form: FormData) -> Response:
    chosen = {code: str(form.get(f"account:{code}") or "") for code in form.getlist("link") if isinstance(code, str)}
    if not chosen:
        raise UsageError("no site was ticked; tick the sites to link, then apply")
    links = _links(request)
    plan = links.review_plan(None, only=chosen)
    changed = 0
    for row in plan:
        # Link what the person saw: a suggestion that changed since the preview is left for another look.
        if row["account_rec_id"] and row["account_rec_id"] == chosen.get(row["site_code"]):
            row["action"] = "link"
        else:
            row["action"] = "review"
            changed += 1
    linked = links.apply(plan, viewer.login)
    note = f" {changed} left as they were: their suggestion changed since the preview." if changed else ""
    return redirect(request, "/sites/review", f"{linked} site(s) linked.{note}")


# -- devices ---------------------------------------------------------------------------------
@page
def devices(request: Request, viewer: Viewer) -> Response:
    tab, keyword = _tab(request), request.query_params.get("q", "").strip()
    offset = int_param(request, "offset")
    try:
        found = _links(request).find_devices(linked=tab == "linked", keyword=keyword, offset=offset,
                                             limit=PAGE_SIZE)
    except InventoryNotDownloaded as exc:
        return _no_inventory(request, viewer, exc, "devices")
    return render(request, "devices.html", viewer, nav="devices", tab=tab, q=keyword, found=found,
                  params={"tab": tab, "q": keyword}, page_size=PAGE_SIZE)


@page
def device(request: Request, viewer: Viewer) -> Response:
    device_id = request.query_params.get("id", "")
    keyword = request.query_params.get("q", "").strip()
    links = _links(request)
    try:
        record = links.device(device_id)
    except InventoryNotDownloaded as exc:
        return _no_inventory(request, viewer, exc, "devices")
    state, psa = links.state, links.psa
    asset_rec_id = state.asset_for_device(device_id)
    asset = psa.get_asset(asset_rec_id) if asset_rec_id else None
    site_account = state.account_for_site(record.get("SiteCode", "")) if record.get("SiteCode") else None
    return render(request, "device.html", viewer, nav="devices", device_id=device_id, record=record, asset=asset,
                  suggestions=[] if asset else links.suggest_assets(device_id, limit=8), q=keyword,
                  matches=links.search_assets(keyword)[:50] if keyword and not asset else [],
                  site_account=psa.get_account(site_account) if site_account else None)


@action("link devices to assets")
def device_link(request: Request, viewer: Viewer, form: FormData) -> Response:
    device_id, asset = field(form, "id"), field(form, "asset")
    previous = _links(request).link_device(device_id, asset, viewer.login)
    return redirect(request, _device_url(device_id), f"Device {device_id} linked to asset {asset}"
                    + (f" (was {previous})." if previous else "."))


@action("create assets from devices")
def device_create_asset(request: Request, viewer: Viewer, form: FormData) -> Response:
    device_id = field(form, "id")
    rec_id = _links(request).create_asset_from_device(device_id, field(form, "account", required=False) or None,
                                                      viewer.login)
    return redirect(request, _device_url(device_id), f"Asset {rec_id} created from device {device_id} and linked.")


@action("unlink devices")
def device_unlink(request: Request, viewer: Viewer, form: FormData) -> Response:
    device_id = field(form, "id")
    asset = _links(request).unlink_device(device_id, viewer.login)
    return redirect(request, _device_url(device_id), f"Device {device_id} is no longer linked to asset {asset}.")


def _device_url(device_id: str) -> str:
    return f"/device?id={quote(device_id, safe='')}"


# -- review of devices -----------------------------------------------------------------------
def _by(value: str | None) -> str:
    return value if value in REVIEW_BY else "serial"


@page
def devices_review(request: Request, viewer: Viewer) -> Response:
    by, keyword = _by(request.query_params.get("by")), request.query_params.get("q", "").strip()
    try:
        plan = _links(request).device_review_plan(by, keyword)
    except InventoryNotDownloaded as exc:
        return _no_inventory(request, viewer, exc, "devices")
    return render(request, "devices_review.html", viewer, nav="devices", by=by, q=keyword,
                  plan=plan[:REVIEW_MAX_ROWS], total=len(plan), limit=REVIEW_MAX_ROWS)


@action("link devices to assets")
def devices_review_apply(request: Request, viewer: Viewer, form: FormData) -> Response:
    by = _by(str(form.get("by") or ""))
    chosen = {d: str(form.get(f"asset:{d}") or "") for d in form.getlist("link") if isinstance(d, str)}
    if not chosen:
        raise UsageError("no device was ticked; tick the devices to link, then apply")
    links = _links(request)
    plan = links.device_review_plan(by, only=chosen)
    skipped = 0
    for row in plan:
        picked = chosen.get(row["device_id"])
        if picked and picked in {rec_id for rec_id, _ in row["candidates"]}:
            row["asset_rec_id"], row["action"] = picked, "link"
        else:
            row["action"] = "review"
            skipped += 1
    linked = links.apply_devices(plan, viewer.login)
    skipped += len(chosen) - len(plan)
    note = f" {skipped} left as they were: their match changed since the preview." if skipped else ""
    return redirect(request, f"/devices/review?by={by}", f"{linked} device(s) linked.{note}")


routes = [
    Route("/sites", sites, methods=["GET"]),
    Route("/site", site, methods=["GET"]),
    Route("/site/link", site_link, methods=["POST"]),
    Route("/site/create-account", site_create_account, methods=["POST"]),
    Route("/site/unlink", site_unlink, methods=["POST"]),
    Route("/sites/review", sites_review, methods=["GET"]),
    Route("/sites/review", sites_review_apply, methods=["POST"]),
    Route("/account/unlink", account_unlink_confirm, methods=["GET"]),
    Route("/account/unlink", account_unlink, methods=["POST"]),
    Route("/devices", devices, methods=["GET"]),
    Route("/device", device, methods=["GET"]),
    Route("/device/link", device_link, methods=["POST"]),
    Route("/device/create-asset", device_create_asset, methods=["POST"]),
    Route("/device/unlink", device_unlink, methods=["POST"]),
    Route("/devices/review", devices_review, methods=["GET"]),
    Route("/devices/review", devices_review_apply, methods=["POST"]),
]
