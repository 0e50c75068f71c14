"""The Links Manager screen of sites ↔ accounts, an account's links, and the bulk review of sites (R17-R22).

The devices' screen is :mod:`agent.web.routes_devices`. Every change calls the same
:class:`agent.sync.links.LinksManager` method as its ``zenithlink links …`` command.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from agent.errors import NotFoundError, PreconditionError, UsageError
from agent.sync import accounts, records
from agent.sync.links import InventoryNotDownloaded, LinksManager, Listing, account_name_for_site
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


# -- sites: the Links Manager screen -----------------------------------------------------------
@page
def sites(request: Request, viewer: Viewer) -> Response:
    return manager_screen(request, viewer, "sites", "site_code", site_detail)

def site_detail(links: LinksManager, view: ManagerView, listing: Listing) -> dict[str, Any]:
    """What the details side shows of the selected site."""
    code = view.sel
    try:
        record = links.site(code)
    except (NotFoundError, PreconditionError) as exc:
        return {"code": code, "problem": exc.web_message}
    state, psa = links.state, links.psa
    account_rec_id = state.account_for_site(code)
    account = psa.get_account(account_rec_id) if account_rec_id else None
    found = links.search_accounts(view.find, PICK_ROWS + 1) if view.find and not account else []
    names = [account_name_for_site(code, record)]
    if record.get("Name") and record["Name"] not in names:
        names.append(" ".join(record["Name"].split()))
    return {"code": code, "record": record, "account": account,
            "account_sites": state.sites_for_account(account.rec_id) if account else [],
            "suggestions": [] if account else links.suggest_accounts(code, limit=6),
            "matches": found[:PICK_ROWS], "more_matches": len(found) > PICK_ROWS, "names": names,
            "devices": links.devices_of_site(code),
            "next": listing.next_unlinked(code) if not account else None}


@page
def site(request: Request, viewer: Viewer) -> Response:
    """The one-site address of earlier versions: the Links Manager with the site selected."""
    code = request.query_params.get("code", "").strip()
    linked = bool(code) and console_of(request).app.state.account_for_site(code) is not None
    return RedirectResponse(ManagerView("/sites", "linked" if linked else "unlinked", sel=code).url(), 303)


@action("link sites to accounts")
def site_link(request: Request, viewer: Viewer, form: FormData) -> Response:
    code, account = field(form, "code"), field(form, "account")
    view = ManagerView.of_form("/sites", form, code)
    links = links_of(request, view.rmm)
    following = links.listing("sites", view.q).next_unlinked(code) if then_next(form) else None
    previous = links.link_site(code, account, viewer.login)
    name = console_of(request).app.psa.get_account(account).name
    said = f"Site {code} linked to {name}" + (f" (was {previous})." if previous else ".")
    return after_change(request, view, form, following, said)


@action("create accounts from sites")
def site_create_account(request: Request, viewer: Viewer, form: FormData) -> Response:
    code = field(form, "code")
    view = ManagerView.of_form("/sites", form, code)
    links = links_of(request, view.rmm)
    following = links.listing("sites", view.q).next_unlinked(code) if then_next(form) else None
    rec_id = links.create_account_from_site(code, viewer.login, field(form, "name", required=False) or None)
    name = console_of(request).app.psa.get_account(rec_id).name
    said = f"Account {name} ({rec_id}) created from site {code} and linked to it."
    return after_change(request, view, form, following, said)


@action("unlink sites")
def site_unlink(request: Request, viewer: Viewer, form: FormData) -> Response:
    code = field(form, "code")
    account = links_of(request).unlink_site(code, viewer.login)
    view = ManagerView.of_form("/sites", form, code)
    return redirect(request, view.url(), f"Site {code} is no longer linked to account {account}.")


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
    removed = accounts.unlink_account(console_of(request).app, rec_id, viewer.login)
    return redirect(request, "/sites?tab=linked", f"Account {rec_id}: {len(removed['sites'])} site link(s), "
                    f"{removed['ticket_links']} ticket link(s) and {removed['device_links']} device link(s) removed.")


# -- review of sites -------------------------------------------------------------------------
@page
def sites_review(request: Request, viewer: Viewer) -> Response:
    keyword = request.query_params.get("q", "").strip()
    links = links_of(request)
    try:
        found = links.find_sites(linked=False, keyword=keyword, limit=REVIEW_MAX_ROWS)
    except InventoryNotDownloaded as exc:
        return no_inventory(request, viewer, exc, "sites")
    plan = links.review_plan(None, only=[r["site_code"] for r in found.rows]) if found.rows else []
    return render(request, "sites_review.html", viewer, nav="sites", q=keyword, plan=plan, total=found.total,
                  limit=REVIEW_MAX_ROWS)


@action("link sites to accounts")
def sites_review_apply(request: Request, viewer: Viewer, form: FormData) -> Response:
    chosen = {code: str(form.get(f"account:{code}") or "") for code in form.getlist("link") if isinstance(code, str)}
    if not chosen:
        raise UsageError("no site was ticked; tick the sites to link, then apply")
    links = links_of(request)
    # Link what the person saw: a suggestion that changed since the preview is left for another look.
    plan = [row.decided(bool(row.account_rec_id) and row.account_rec_id == chosen.get(row.site_code))
            for row in links.review_plan(None, only=chosen)]
    changed = len(plan) - plans.to_link(plan)
    linked = plans.linked(links.apply(plan, viewer.login))
    note = f" {changed} left as they were: their suggestion changed since the preview." if changed else ""
    return redirect(request, "/sites/review", f"{linked} site(s) linked.{note}")


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
]
