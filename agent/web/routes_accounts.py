"""Auto-created accounts (R4, R20): rename one that is the site's real account, or merge it into the real one."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.errors import ZenithError
from agent.sync import accounts as account_ops
from agent.sync.inventory.index import fold
from agent.sync.links import LinksManager, Page
from agent.web.context import Viewer, action, console_of, field, int_param, page, redirect, render
from agent.web.manager import PAGE_SIZE

MERGE_ROWS = 50


@page
def accounts(request: Request, viewer: Viewer) -> Response:
    """Every account, a page at a time and searchable; the auto-created ones first, to tidy up."""
    app = console_of(request).app
    keyword = request.query_params.get("q", "").strip()
    offset = int_param(request, "offset")
    every = app.psa.list_accounts()
    auto = [a for a in every if a.auto_created]
    words = fold(keyword).split()
    found = [a for a in every if all(w in fold(a.name) for w in words)] if words else every
    shown = found[offset:offset + PAGE_SIZE]
    listed = Page([{"rec_id": a.rec_id} for a in shown], len(found), offset, PAGE_SIZE)
    return render(request, "accounts.html", viewer, nav="accounts",
                  rows=[(a, app.state.sites_for_account(a.rec_id)) for a in auto],
                  accounts=[(a, app.state.sites_for_account(a.rec_id)) for a in shown], q=keyword,
                  found=listed, params={"q": keyword}, page_size=PAGE_SIZE)


@page
def merge_form(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    links = LinksManager(app)
    account = app.psa.get_account(request.query_params.get("rec", ""))
    keyword = request.query_params.get("q", "").strip()
    sites = app.state.sites_for_account(account.rec_id)
    suggestions = []
    for code in sites[:1]:
        try:
            suggestions = [s for s in links.suggest_accounts(code, limit=8) if s.rec_id != account.rec_id]
        except ZenithError:  # the site is gone from the inventory: search by keyword instead
            suggestions = []
    matches = [m for m in links.search_accounts(keyword, MERGE_ROWS + 1) if m["rec_id"] != account.rec_id
               and not m["auto_created"]][:MERGE_ROWS] if keyword else []
    return render(request, "account_merge.html", viewer, nav="accounts", account=account, sites=sites,
                  suggestions=suggestions, q=keyword, matches=matches)


@action("rename accounts")
def rename(request: Request, viewer: Viewer, form: FormData) -> Response:
    rec_id, name = field(form, "rec"), field(form, "name")
    old = account_ops.rename_account(console_of(request).app, rec_id, name, viewer.login)
    return redirect(request, "/accounts", f"Account {rec_id} renamed from {old!r} to {name!r}; its site links stay.")


@action("merge accounts")
def merge(request: Request, viewer: Viewer, form: FormData) -> Response:
    source, into = field(form, "rec"), field(form, "into")
    app = console_of(request).app
    names = app.psa.get_account(source).name, app.psa.get_account(into).name
    moved = account_ops.merge_accounts(app, source, into, viewer.login)
    return redirect(request, "/accounts", f"Merged {names[0]!r} into {names[1]!r}: {moved['sites']} site link(s), "
                    f"{moved['tickets']} ticket(s), {moved['assets']} asset(s) moved.")


def merge_url(rec_id: str) -> str:
    return f"/account/merge?rec={quote(rec_id, safe='')}"


routes = [
    Route("/accounts", accounts, methods=["GET"]),
    Route("/account/merge", merge_form, methods=["GET"]),
    Route("/account/merge", merge, methods=["POST"]),
    Route("/account/rename", rename, methods=["POST"]),
]
