"""The Inbox and tickets, and the ticket actions towards Continuum (R13-R16).

The actions call :mod:`agent.sync.outbound.actions`, as ``zenithlink tickets …`` does; each
queues an outbox row that the agent's sender delivers. The ticket page shows every row of its
outbox: queued, sent, or failed and why; while one is queued the panel refreshes itself.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.errors import UsageError
from agent.ports.psa import STATUS_NAMES
from agent.sync import records
from agent.sync.inventory.index import fold
from agent.sync.outbound import actions
from agent.web.context import Viewer, action, console_of, field, page, redirect, render

OUTBOX_WORDS = {"pending": "queued", "done": "sent", "failed": "failed"}
ACTION_WORDS = {actions.CREATE: "create in Continuum", actions.ASSIGN: "reassign", actions.NOTE: "note",
                actions.CLOSE: "close"}


@page
def tickets(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    params = request.query_params
    inbox = params.get("inbox", "1") == "1"
    account = params.get("account", "").strip() or None
    who = params.get("who", "").strip()
    status = params.get("status", "").strip()
    rows = records.list_tickets(app.state, app.psa, inbox=True if inbox else None, account_rec_id=account)
    if status.isdigit():
        rows = [t for t in rows if t.status_code == int(status)]
    elif status == "open":
        rows = [t for t in rows if t.status_code != 1000]
    names = dict(app.psa.account_names())
    words = fold(who).split()
    if words:  # the account is found by the words of its name: no list of every account to scroll
        wanted = {rec for rec, name in names.items() if all(w in fold(name) for w in words)}
        rows = [t for t in rows if t.account_rec_id in wanted]
    return render(request, "tickets.html", viewer, nav="tickets", rows=rows, names=names, inbox=inbox,
                  account=account or "", account_name=names.get(account, account) if account else "", who=who,
                  status=status, statuses=STATUS_NAMES)


def _ticket_context(request: Request, rec_id: str) -> dict:
    app = console_of(request).app
    ticket = records.get_ticket(app.state, app.psa, rec_id)
    account = app.psa.get_account(ticket.account_rec_id)
    pending_create = app.state.count_outbox(rec_id, (actions.CREATE,)) > 0
    return {"ticket": ticket, "ticket_rec_id": rec_id, "account": account,
            "sites": app.state.sites_for_account(account.rec_id),
            "asset": app.psa.get_asset(ticket.asset_rec_id) if ticket.asset_rec_id else None,
            "outbox": outbox_rows(app, rec_id), "pending_create": pending_create,
            "create_assignees": actions.CREATE_ASSIGNEES, "reassign_assignees": actions.REASSIGN_ASSIGNEES}


def outbox_rows(app, rec_id: str) -> list[dict]:
    rows = []
    for item in app.state.outbox_for_ticket(rec_id):
        rows.append({"id": item.id, "action": ACTION_WORDS.get(item.action, item.action),
                     "state": OUTBOX_WORDS.get(item.state, item.state), "attempts": item.attempts,
                     "error": item.last_error, "queued_at": item.created_at, "by": item.requested_by,
                     "continuum_ticket_id": (item.result or {}).get("continuum_ticket_id"),
                     "assign_to": item.payload.get("assign_to")})
    return rows


@page
def ticket(request: Request, viewer: Viewer) -> Response:
    context = _ticket_context(request, request.path_params["rec_id"])
    return render(request, "ticket.html", viewer, nav="tickets", **context)


@page
def ticket_outbox(request: Request, viewer: Viewer) -> Response:
    """The outbox panel, and out of band the parts of the page it changes: the Continuum ticket,
    the status and the history (a sent row fills them in)."""
    context = _ticket_context(request, request.path_params["rec_id"])
    return render(request, "_outbox.html", viewer, oob=True, **context)


def _done(request: Request, rec_id: str, queued: actions.Queued) -> Response:
    if queued.queued:
        console_of(request).app.outbox_wake.set()  # a sender of this App waiting for work goes now
    what = ACTION_WORDS.get(queued.action, queued.action)
    message = f"{what[:1].upper()}{what[1:]}: {queued.message}." if queued.queued else queued.message[:1].upper() + \
        queued.message[1:] + "."
    return redirect(request, f"/tickets/{rec_id}", message)


@action("create Continuum tickets")
def create(request: Request, viewer: Viewer, form: FormData) -> Response:
    rec_id = request.path_params["rec_id"]
    queued = actions.create_in_continuum(console_of(request).app, rec_id, field(form, "assign"),
                                         field(form, "note", required=False) or None, viewer.login,
                                         site_code=field(form, "site", required=False) or None)
    return _done(request, rec_id, queued)


@action("reassign Continuum tickets")
def reassign(request: Request, viewer: Viewer, form: FormData) -> Response:
    rec_id = request.path_params["rec_id"]
    queued = actions.reassign(console_of(request).app, rec_id, field(form, "assign"),
                              field(form, "note", required=False) or None, viewer.login)
    return _done(request, rec_id, queued)


@action("send notes to Continuum")
def note(request: Request, viewer: Viewer, form: FormData) -> Response:
    rec_id = request.path_params["rec_id"]
    text = field(form, "note", required=False)
    if not text:
        raise UsageError("a note needs some text; write the note to send to Continuum.")
    return _done(request, rec_id, actions.add_note(console_of(request).app, rec_id, text, viewer.login))


@action("complete tickets")
def complete(request: Request, viewer: Viewer, form: FormData) -> Response:
    rec_id = request.path_params["rec_id"]
    queued = actions.complete_ticket(console_of(request).app, rec_id, field(form, "note", required=False) or None,
                                     viewer.login)
    return _done(request, rec_id, queued)


routes = [
    Route("/tickets", tickets, methods=["GET"]),
    Route("/tickets/{rec_id}", ticket, methods=["GET"]),
    Route("/tickets/{rec_id}/outbox", ticket_outbox, methods=["GET"]),
    Route("/tickets/{rec_id}/create", create, methods=["POST"]),
    Route("/tickets/{rec_id}/reassign", reassign, methods=["POST"]),
    Route("/tickets/{rec_id}/note", note, methods=["POST"]),
    Route("/tickets/{rec_id}/complete", complete, methods=["POST"]),
]
