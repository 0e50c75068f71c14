"""The Links Manager screen of devices ↔ assets (R17-R22), and the bulk review of devices.

Every change calls the same :class:`agent.sync.links.LinksManager` method as its ``zenithlink
links …`` command.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from agent.errors import NotFoundError, PreconditionError, UsageError
from agent.sync.links import REVIEW_BY, InventoryNotDownloaded, LinksManager, Listing
from agent.sync.links import plan as plans
from agent.web.context import Viewer, action, console_of, field, page, redirect, render
from agent.web.manager import (
    PICK_ROWS,
    REVIEW_MAX_ROWS,
    ManagerView,
    after_change,
    links_of,
    manager_screen,
    no_inventory,
    then_next,
)


@page
def devices(request: Request, viewer: Viewer) -> Response:
    return manager_screen(request, viewer, "devices", "device_id", device_detail)

def device_detail(links: LinksManager, view: ManagerView, listing: Listing) -> dict[str, Any]:
    """What the details side shows of the selected device; without a linked site, the accounts
    its new asset may go to: the site's suggestions and an account search."""
    device_id = view.sel
    try:
        record = links.device(device_id)
    except (NotFoundError, PreconditionError) as exc:
        return {"device_id": device_id, "problem": exc.web_message}
    state, psa = links.state, links.psa
    asset_rec_id = state.asset_for_device(device_id)
    asset = psa.get_asset(asset_rec_id) if asset_rec_id else None
    site_code = record.get("SiteCode", "")
    account_rec_id = state.account_for_site(site_code) if site_code else None
    detail: dict[str, Any] = {
        "device_id": device_id, "record": record, "asset": asset, "site_code": site_code,
        "site_account": psa.get_account(account_rec_id) if account_rec_id else None,
        "suggestions": [] if asset else links.suggest_assets(device_id, limit=6),
        "matches": [], "account_choices": [], "account_matches": [], "more_matches": False,
        "more_accounts": False, "next": listing.next_unlinked(device_id) if not asset else None}
    if asset:
        return detail
    if view.find:
        found = links.search_assets(view.find)
        detail.update(matches=found[:PICK_ROWS], more_matches=len(found) > PICK_ROWS)
    if account_rec_id is None:
        detail["account_choices"] = _site_suggestions(links, site_code)
        if view.find:
            accounts = links.search_accounts(view.find, PICK_ROWS + 1)
            detail.update(account_matches=accounts[:PICK_ROWS], more_accounts=len(accounts) > PICK_ROWS)
    return detail


def _site_suggestions(links: LinksManager, site_code: str) -> list[Any]:
    if not site_code:
        return []
    try:
        return links.suggest_accounts(site_code, limit=3)
    except (NotFoundError, PreconditionError):  # the site is not in the inventory: the search still helps
        return []


@page
def device(request: Request, viewer: Viewer) -> Response:
    """The one-device address of earlier versions: the Links Manager with the device selected."""
    device_id = request.query_params.get("id", "").strip()
    linked = bool(device_id) and console_of(request).app.state.asset_for_device(device_id) is not None
    return RedirectResponse(ManagerView("/devices", "linked" if linked else "unlinked", sel=device_id).url(), 303)


@action("link devices to assets")
def device_link(request: Request, viewer: Viewer, form: FormData) -> Response:
    device_id, asset = field(form, "id"), field(form, "asset")
    view = ManagerView.of_form("/devices", form, device_id)
    links = links_of(request, view.rmm)
    following = links.listing("devices", view.q).next_unlinked(device_id) if then_next(form) else None
    previous = links.link_device(device_id, asset, viewer.login)
    said = f"Device {device_id} linked to asset {asset}" + (f" (was {previous})." if previous else ".")
    return after_change(request, view, form, following, said)


@action("create assets from devices")
def device_create_asset(request: Request, viewer: Viewer, form: FormData) -> Response:
    device_id = field(form, "id")
    view = ManagerView.of_form("/devices", form, device_id)
    links = links_of(request, view.rmm)
    following = links.listing("devices", view.q).next_unlinked(device_id) if then_next(form) else None
    rec_id = links.create_asset_from_device(device_id, field(form, "account", required=False) or None, viewer.login)
    return after_change(request, view, form, following, f"Asset {rec_id} created from device {device_id} and linked.")


@action("unlink devices")
def device_unlink(request: Request, viewer: Viewer, form: FormData) -> Response:
    device_id = field(form, "id")
    asset = links_of(request).unlink_device(device_id, viewer.login)
    view = ManagerView.of_form("/devices", form, device_id)
    return redirect(request, view.url(), f"Device {device_id} is no longer linked to asset {asset}.")


# -- review of devices -----------------------------------------------------------------------
def _by(value: str | None) -> str:
    return value if value in REVIEW_BY else "serial"


@page
def devices_review(request: Request, viewer: Viewer) -> Response:
    by, keyword = _by(request.query_params.get("by")), request.query_params.get("q", "").strip()
    try:
        plan = links_of(request).device_review_plan(by, keyword)
    except InventoryNotDownloaded as exc:
        return no_inventory(request, viewer, exc, "devices")
    return render(request, "devices_review.html", viewer, nav="devices", by=by, q=keyword,
                  plan=plan[:REVIEW_MAX_ROWS], total=len(plan), limit=REVIEW_MAX_ROWS)


@action("link devices to assets")
def devices_review_apply(request: Request, viewer: Viewer, form: FormData) -> Response:
    by = _by(str(form.get("by") or ""))
    chosen = {d: str(form.get(f"asset:{d}") or "") for d in form.getlist("link") if isinstance(d, str)}
    if not chosen:
        raise UsageError("no device was ticked; tick the devices to link, then apply")
    links = links_of(request)
    plan = [row.decided(chosen.get(row.device_id)) for row in links.device_review_plan(by, only=chosen)]
    linked = plans.linked(links.apply_devices(plan, viewer.login))
    skipped = len(chosen) - plans.to_link(plan)
    note = f" {skipped} left as they were: their match changed since the preview." if skipped else ""
    return redirect(request, f"/devices/review?by={by}", f"{linked} device(s) linked.{note}")


routes = [
    Route("/devices", devices, methods=["GET"]),
    Route("/device", device, methods=["GET"]),
    Route("/device/link", device_link, methods=["POST"]),
    Route("/device/create-asset", device_create_asset, methods=["POST"]),
    Route("/device/unlink", device_unlink, methods=["POST"]),
    Route("/devices/review", devices_review, methods=["GET"]),
    Route("/devices/review", devices_review_apply, methods=["POST"]),
]
