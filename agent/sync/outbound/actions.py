"""The checks and payloads of the outbound actions on PSA tickets (the registry's ``take``).

Each action checks its preconditions first (reads only, so a refusal changes nothing), then
makes the PSA-side change, the outbox row and an audit entry, all in the ONE unit of work its
caller opened (the request processor for a drop, the command line, the web console): an action
opens none of its own (D2). The outbox sender delivers the row later with its idempotency key.
Callers reach these through :mod:`agent.sync.outbound.registry`, which first refuses what the
configured RMM cannot do.

Privileges (R21): creating a Continuum ticket and reassigning one hand work to Continuum's
NOC or Virtual Service Desk, so both need the Continuum Integration privilege. Adding a note
and completing a ticket are everyday PSA work: they need a known employee, of any group.

A note, reassignment or close may be queued while the ticket's creation in Continuum is still
pending: the outbox keeps the order per ticket, so it goes out once the ticket exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from agent.errors import AlreadyLinked, MissingUser, NotLinked, PreconditionError, UsageError, ZenithError
from agent.ports.psa import STATUS_COMPLETED, Ticket
from agent.ports.rmm import WriteBack, capabilities_of
from agent.ports.state import AlertTicket, AlertTickets, Employees
from agent.sync import records
from agent.sync.alerts.lifecycle import clear_request
from agent.sync.engine_app import EngineApp
from agent.sync.outbound.vocabulary import ASSIGN, CLEAR, CLOSE, CREATE, CREATE_ASSIGNEE, NOTE, REASSIGN_ASSIGNEE

TITLE_LIMIT = 200


@dataclass(frozen=True)
class ActionOutcome:
    """What an action did: the outbox row it queued, or none when nothing had to be sent
    (``outbox_id`` is ``None``: a completed ticket whose close is queued or sent already)."""

    ticket_rec_id: str
    action: str
    outbox_id: int | None
    idem_key: str | None
    continuum_ticket_id: str | None = None
    message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def has_outbox_row(self) -> bool:
        """Whether an outbox row carries the action to the RMM (else there was nothing to send)."""
        return self.outbox_id is not None


def idempotency_key(request_id: str | None) -> str:
    """The outbox row's key: stable for a request drop (a replay queues nothing new), else random."""
    return f"zl-req-{request_id}" if request_id else f"zl-{uuid.uuid4().hex}"


# -- the four actions ------------------------------------------------------------------------

def create_in_continuum(app: EngineApp, ticket_rec_id: str, assign_to: str, note: str | None, user: str | None,
                        request_id: str | None = None, site_code: str | None = None) -> ActionOutcome:
    """Queue the creation of a Continuum ticket for a PSA ticket (R13); ``site_code`` chooses
    among the sites of an account linked to several (default: the site of the asset's device; with
    none, an account of several sites is refused, listing them, rather than one picked)."""
    state, psa = app.state, app.psa
    assign_to = CREATE_ASSIGNEE.choose(assign_to, "create a Continuum ticket")
    ticket = records.get_ticket(state, psa, ticket_rec_id, history=False)
    state.require_privilege(user, "create Continuum tickets")
    if ticket.continuum_ticket_id:
        raise AlreadyLinked(f"ticket {ticket_rec_id}", f"Continuum ticket {ticket.continuum_ticket_id}",
                            "use reassign or note to update it instead of creating another one")
    if state.count_outbox(ticket_rec_id, (CREATE,)):
        raise PreconditionError(f"the Continuum ticket for {ticket_rec_id} is queued already; "
                                "wait for it ('zenithlink tickets show' lists the result in its history).",
                                web_message=f"the Continuum ticket for {ticket_rec_id} is queued already; the "
                                            "ticket's page shows when it is sent.")
    site_code, device_id = _place(app, ticket, site_code)
    title = _title(ticket.description)
    payload = {"site_code": site_code, "device_id": device_id, "title": title,
               "description": ticket.description, "priority": "Medium", "assign_to": assign_to,
               "note": _text(note), "psa_ticket_id": ticket.rec_id, "author": user}
    return _queue(app, ticket_rec_id, CREATE, payload, user, request_id,
                  f"create in Continuum for site {site_code}, assigned to {assign_to}")


def reassign(app: EngineApp, ticket_rec_id: str, assign_to: str, note: str | None, user: str | None,
             request_id: str | None = None) -> ActionOutcome:
    """Queue a reassignment (``Keep``: only the note) of the linked Continuum ticket (R14)."""
    state, psa = app.state, app.psa
    assign_to = REASSIGN_ASSIGNEE.choose(assign_to, "reassign a Continuum ticket")
    ticket = records.get_ticket(state, psa, ticket_rec_id, history=False)
    state.require_privilege(user, "reassign Continuum tickets")
    linked = _require_link(app, ticket, "reassign it")
    if assign_to == "Keep" and not _text(note):
        raise UsageError("reassign with Keep only sends the note, and no note was given; add a note "
                         "or choose VSD or Partner.")
    payload = {"assign_to": assign_to, "note": _text(note), "author": user}
    return _queue(app, ticket_rec_id, ASSIGN, payload, user, request_id,
                  f"reassign to {assign_to}", linked)


def add_note(app: EngineApp, ticket_rec_id: str, text: str | None, user: str | None,
             request_id: str | None = None) -> ActionOutcome:
    """Queue a note for the linked Continuum ticket (R14), or for the check of a snapshot RMM the
    ticket was opened for."""
    state, psa = app.state, app.psa
    text = _text(text)
    if not text:
        raise UsageError("a note needs some text; give the note to send to Continuum.")
    ticket = records.get_ticket(state, psa, ticket_rec_id, history=False)
    _require_employee(state, user, "send notes to Continuum")
    alert = None if ticket.continuum_ticket_id else _alert_of(state, ticket.rec_id)
    if alert is not None:
        return _queue(app, ticket_rec_id, NOTE, {"text": text, "author": user, "alert_id": alert.alert_id,
                                                    "check": alert.check_name}, user,
                      request_id, f"note on check {alert.check_name}", alert.alert_id)
    linked = _require_link(app, ticket, "send a note to it")
    payload = {"text": text, "author": user}
    return _queue(app, ticket_rec_id, NOTE, payload, user, request_id, "note", linked)


def complete_ticket(app: EngineApp, ticket_rec_id: str, note: str | None, user: str | None,
                    request_id: str | None = None) -> ActionOutcome:
    """Set the PSA ticket to Completed and queue the close of its Continuum ticket, once (R15)."""
    state, psa = app.state, app.psa
    ticket = records.get_ticket(state, psa, ticket_rec_id, history=False)
    _require_employee(state, user, "complete tickets")
    alert = None if ticket.continuum_ticket_id else _alert_of(state, ticket.rec_id)
    if alert is not None:
        return _complete_alert_ticket(app, ticket, alert, note, user, request_id)
    linked = _require_link(app, ticket, "close it")
    if ticket.status_code != STATUS_COMPLETED:
        psa.set_ticket_status(ticket_rec_id, STATUS_COMPLETED)
        state.audit(user or "", "complete", ticket_rec_id)
    if state.count_outbox(ticket_rec_id, (CLOSE,), states=("pending", "done")):
        return ActionOutcome(ticket_rec_id, CLOSE, None, None, linked,
                             "the ticket is completed; its Continuum ticket is closed (or queued to close) already")
    payload = {"resolution": _text(note), "author": user}
    return _queue(app, ticket_rec_id, CLOSE, payload, user, request_id, "close", linked)


def _complete_alert_ticket(app: EngineApp, ticket: Ticket, alert: AlertTicket, note: str | None, user: str | None,
                           request_id: str | None) -> ActionOutcome:
    """Complete the ticket of a snapshot RMM's check and queue the check's clear, under the key the
    alert lifecycle uses for it: whichever sees the completion first queues it, once."""
    state, psa = app.state, app.psa
    if ticket.status_code != STATUS_COMPLETED:
        psa.set_ticket_status(ticket.rec_id, STATUS_COMPLETED)
        state.audit(user or "", "complete", ticket.rec_id)
    key, payload = clear_request(alert, alert.alert_id, ticket.ticket_no, _text(note))
    if alert.state != "failing" or state.outbox_id(key) is not None:
        return ActionOutcome(ticket.rec_id, CLEAR, None, None, alert.alert_id,
                             "the ticket is completed; its check is not failing, or its clear is queued already")
    return _queue(app, ticket.rec_id, CLEAR, payload, user, request_id, f"clear check {alert.check_name}",
                  alert.alert_id, key=key)


def close_completed_tickets(app: EngineApp, since: str | None = None, limit: int = 500) -> int:
    """Queue the close of every linked ticket set to Completed by any means but ``complete_ticket``
    (a plugin, another tool writing the PSA), so that R15 holds whoever completed it.

    Only tickets updated at or after ``since`` (a stored time; ``None``: all) are looked at, at
    most ``limit``; returns how many closes were queued. Each close is one unit of work of its own.
    """
    queued = 0
    for rec_id in records.completed_without_close(app.state, app.psa, since, limit):
        payload = {"resolution": None, "author": ""}
        with app.unit_of_work():
            _queue(app, rec_id, CLOSE, payload, None, None, "close (completed in the PSA)",
                   key=f"zl-completed-{rec_id}")
        queued += 1
    return queued


# -- helpers ---------------------------------------------------------------------------------

def _queue(app: EngineApp, ticket_rec_id: str, action: str, payload: dict[str, Any], user: str | None,
           request_id: str | None, what: str, continuum_id: str | None = None, *,
           key: str | None = None) -> ActionOutcome:
    state = app.state
    key = key or idempotency_key(request_id)
    row = state.enqueue_outbox(key, ticket_rec_id, action, payload, request_id=request_id, requested_by=user or "")
    if row is None:  # the same request queued before (a replay after a crash): nothing new
        row = state.outbox_id(key)
    else:
        state.audit(user or "", f"queue {action}", f"{ticket_rec_id}: {what}")
    logger.info("queued {} for ticket {} ({})", action, ticket_rec_id, what)
    return ActionOutcome(ticket_rec_id, action, row, key, continuum_id,
                         f"queued; the agent sends it to {rmm_name(app)}", payload)


def rmm_name(app: EngineApp, identifier: str = "") -> str:
    """The name for a sentence ("Continuum", "N-able N-sight") of the RMM that ``identifier`` (a
    ticket, check or site it keeps) belongs to, the primary's by default; "the RMM" when this
    process has none configured."""
    try:
        return capabilities_of(app.rmm_owning(identifier)).rmm
    except ZenithError:
        return "the RMM"


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _title(description: str) -> str:
    first = next((line.strip() for line in description.splitlines() if line.strip()), description.strip())
    return first if len(first) <= TITLE_LIMIT else first[:TITLE_LIMIT - 1] + "…"


def _require_employee(state: Employees, login: str | None, action: str) -> dict[str, Any]:
    if not login:
        raise MissingUser(action)
    employee: dict[str, Any] = state.get_employee(login)
    return employee


def _require_link(app: EngineApp, ticket: Ticket, doing: str) -> str | None:
    """The linked RMM ticket id; ``None`` when only its creation is queued (it goes first)."""
    if ticket.continuum_ticket_id:
        return ticket.continuum_ticket_id
    if app.state.count_outbox(ticket.rec_id, (CREATE,)):
        return None
    snapshot = _snapshot_rmm(app)
    if snapshot:  # nothing to create in such an RMM: say which tickets do go back to it
        raise NotLinked(
            f"ticket {ticket.ticket_no} ({ticket.rec_id})", f"a failing check of {snapshot}",
            f"so the agent cannot {doing}: only the tickets it opened for the RMM's failing checks (open "
            "alerts) go back to the RMM. Work this one in the PSA alone")
    rmm = rmm_name(app)
    if not _can_create(app):
        raise NotLinked(f"ticket {ticket.ticket_no} ({ticket.rec_id})", f"a {rmm} ticket",
                        f"so the agent cannot {doing}, and {rmm} takes no tickets from the PSA. Handle it in "
                        f"{rmm}'s own console")
    raise NotLinked(
        f"ticket {ticket.ticket_no} ({ticket.rec_id})", f"a {rmm} ticket",
        f"so the agent cannot {doing}. Create it in {rmm} first ('zenithlink tickets create-in-continuum "
        f"{ticket.ticket_no} --assign NOC', or a CreateTicket request)",
        f"so the agent cannot {doing}. Create it in {rmm} first (Create in {rmm}, on the ticket's page)")


def _can_create(app: EngineApp) -> bool:
    try:
        return capabilities_of(app.rmm).supports(WriteBack.CREATE_TICKET)
    except ZenithError:
        return True  # no RMM configured for this command: the advice of the RMM the agent was built for


def _snapshot_rmm(app: EngineApp) -> str | None:
    """The configured RMM's name when it is a snapshot RMM (N-sight, NinjaOne); ``None`` otherwise."""
    try:
        offered = capabilities_of(app.rmm)
    except ZenithError:
        return None  # no RMM configured for this command: the change-feed wording, as before
    return offered.rmm if offered.delivery == "snapshot" else None


def _alert_of(state: AlertTickets, ticket_rec_id: str) -> AlertTicket | None:
    """The snapshot RMM's check the ticket was opened for (the latest record of it), if any."""
    rows = state.alert_tickets_of(ticket_rec_id)
    return rows[-1] if rows else None


def _place(app: EngineApp, ticket: Ticket, chosen: str | None = None) -> tuple[str, str | None]:
    """The site and device for a new Continuum ticket (R13)."""
    state, psa = app.state, app.psa
    sites = state.sites_for_account(ticket.account_rec_id)
    if not sites:
        account = psa.get_account(ticket.account_rec_id)
        raise NotLinked(
            f"the account {account.name!r} ({account.rec_id}) of ticket {ticket.rec_id}", "a Continuum site",
            f"so Continuum cannot take the ticket. Link it first: 'zenithlink links link-site SITECODE "
            f"{account.rec_id}' (or a LinkSite request); 'zenithlink links suggest site SITECODE' helps to find "
            "the site",
            "so Continuum cannot take the ticket. Link its site first on the Sites page (the Linked tab and "
            "the search find it)")
    device_id = state.device_for_asset(ticket.asset_rec_id) if ticket.asset_rec_id else None
    device_site = _device_site(app, device_id) if device_id else None
    if chosen:
        if chosen not in sites:
            raise UsageError(f"site {chosen!r} is not linked to the account of ticket {ticket.rec_id}; choose one "
                             f"of {', '.join(sites)}.")
        return chosen, device_id if device_site in (None, chosen) else None
    if device_site and device_site in sites:
        return device_site, device_id
    if len(sites) > 1:
        raise UsageError(f"the account of ticket {ticket.ticket_no} ({ticket.rec_id}) is linked to {len(sites)} "
                         f"sites ({', '.join(sites)}); say which one the Continuum ticket is for with --site "
                         "SITECODE (SiteCode= in a request drop)",
                         web_message=f"the account of ticket {ticket.ticket_no} ({ticket.rec_id}) is linked to "
                                     f"{len(sites)} sites ({', '.join(sites)}); choose the site on the ticket's "
                                     "page.")
    if device_site and device_site not in sites:
        # Continuum refuses a device of another site; the ticket is still worth creating.
        logger.warning("device {} of ticket {} belongs to site {}, not to the account's sites; sent without it",
                       device_id, ticket.rec_id, device_site)
        return sites[0], None
    return sites[0], device_id


def _device_site(app: EngineApp, device_id: str) -> str | None:
    from dbsys.inventory import device_record

    try:
        record = device_record(app.settings, device_id)
    except Exception as exc:  # noqa: BLE001 - the inventory is a hint here, not a requirement
        logger.debug("no inventory record for device {}: {}", device_id, exc)
        return None
    return (record or {}).get("SiteCode") or None

