"""The Inbox and tickets, and the ticket actions towards the RMM (R13-R16).

The actions run the outbound registry's (:mod:`agent.sync.outbound.registry`), as ``zenithlink
tickets …`` does, each in a unit of work of its own; each queues an outbox row that the agent's
sender delivers. The ticket page offers only the actions the configured RMM can do, and says
why the others are missing. It shows every row of its outbox: queued, sent, or failed and why;
while one is queued the panel refreshes itself.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.errors import UsageError
from agent.ports.psa import STATUS_NAMES
from agent.ports.rmm import RmmUnsupported
from agent.sync import records
from agent.sync.inventory.index import fold
from agent.sync.outbound import registry
from agent.sync.outbound.actions import ActionOutcome, rmm_name
from agent.sync.outbound.registry import ADD_NOTE, CLOSE_TICKET, CREATE_TICKET, REASSIGN, OutboundAction
from agent.sync.outbound.vocabulary import CREATE, CREATE_ASSIGNEE, REASSIGN_ASSIGNEE
from agent.web.context import Viewer, action, console_of, field, page, redirect, render

OUTBOX_WORDS = {"pending": "queued", "done": "sent", "failed": "failed"}


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
    pending_create = app.state.count_outbox(rec_id, (CREATE,)) > 0
    rmm = rmm_name(app)
    return {"ticket": ticket, "ticket_rec_id": rec_id, "account": account,
            "sites": app.state.sites_for_account(account.rec_id),
            "asset": app.psa.get_asset(ticket.asset_rec_id) if ticket.asset_rec_id else None,
            "outbox": outbox_rows(app, rec_id), "pending_create": pending_create, "rmm": rmm,
            "offered": {a.form for a in registry.offered(app.rmm)}, "refused": _refusals(app),
            "create_assignees": CREATE_ASSIGNEE.choices, "reassign_assignees": REASSIGN_ASSIGNEE.choices}


def _refusals(app) -> dict[str | None, str]:
    """Why each form the configured RMM cannot serve is missing (the sentence a request would get)."""
    refused: dict[str | None, str] = {}
    for known in registry.ACTIONS:
        try:
            known.require(app.rmm)
        except RmmUnsupported as exc:
            refused[known.form] = exc.message
    return refused


def outbox_rows(app, rec_id: str) -> list[dict]:
    rows, rmm = [], rmm_name(app)
    for item in app.state.outbox_for_ticket(rec_id):
        known = registry.by_row(item.action)
        rows.append({"id": item.id, "action": known.title(rmm) if known else item.action,
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


def _perform(request: Request, viewer: Viewer, chosen: OutboundAction, fields: dict[str, str | None]) -> Response:
    """Run one action of the registry for the ticket of the page, in the form's one unit of work."""
    app, rec_id = console_of(request).app, request.path_params["rec_id"]
    with app.unit_of_work():
        outcome = chosen.run(app, {"TicketRecID": rec_id, **fields}, viewer.login)
    return _done(request, rec_id, chosen, outcome)


def _done(request: Request, rec_id: str, chosen: OutboundAction, outcome: ActionOutcome) -> Response:
    app = console_of(request).app
    if outcome.has_outbox_row:
        app.outbox_wake.set()  # a sender of this App waiting for work goes now
    what = chosen.title(rmm_name(app))
    message = f"{what[:1].upper()}{what[1:]}: {outcome.message}." if outcome.has_outbox_row else \
        outcome.message[:1].upper() + outcome.message[1:] + "."
    return redirect(request, f"/tickets/{rec_id}", message)


def _optional(form: FormData, name: str) -> str | None:
    return field(form, name, required=False) or None


@action("create Continuum tickets")
def create(request: Request, viewer: Viewer, form: FormData) -> Response:
    return _perform(request, viewer, CREATE_TICKET, {"AssignTo": field(form, "assign"), "Note": _optional(form, "note"),
                                                     "SiteCode": _optional(form, "site")})


@action("reassign Continuum tickets")
def reassign(request: Request, viewer: Viewer, form: FormData) -> Response:
    return _perform(request, viewer, REASSIGN, {"AssignTo": field(form, "assign"), "Note": _optional(form, "note")})


@action("send notes to Continuum")
def note(request: Request, viewer: Viewer, form: FormData) -> Response:
    text = field(form, "note", required=False)
    if not text:
        raise UsageError(f"a note needs some text; write the note to send to {rmm_name(console_of(request).app)}.")
    return _perform(request, viewer, ADD_NOTE, {"Note": text})


@action("complete tickets")
def complete(request: Request, viewer: Viewer, form: FormData) -> Response:
    return _perform(request, viewer, CLOSE_TICKET, {"Note": _optional(form, "note")})


HANDLERS = {CREATE_TICKET.form: create, REASSIGN.form: reassign, ADD_NOTE.form: note, CLOSE_TICKET.form: complete}
"""The form of each action the registry offers on the ticket page."""

routes = [
    Route("/tickets", tickets, methods=["GET"]),
    Route("/tickets/{rec_id}", ticket, methods=["GET"]),
    Route("/tickets/{rec_id}/outbox", ticket_outbox, methods=["GET"]),
    *(Route(f"/tickets/{{rec_id}}/{form}", handler, methods=["POST"]) for form, handler in HANDLERS.items()),
]
