"""How each outbound action goes through the RMM port: one function per action of the registry.

Each takes the ``App`` and the outbox row, makes its one call of the port with the row's
idempotency key, and says what the RMM answered as a :class:`Delivery`; the sender records it.
"""

from __future__ import annotations

from agent.errors import PreconditionError
from agent.ports.rmm import NewTicket, as_alert_rmm
from agent.ports.state import OutboxItem
from agent.sync.engine_app import EngineApp
from agent.sync.outbound.actions import rmm_name
from agent.sync.outbound.vocabulary import CLEAR, CREATE


class Delivery:
    """What the RMM answered for one row; ``sent`` is false when nothing had to be sent."""

    def __init__(self, continuum_ticket_id: str, note: str, *, sent: bool = True) -> None:
        self.continuum_ticket_id = continuum_ticket_id
        self.note = note
        self.sent = sent


def create_ticket(app: EngineApp, item: OutboxItem) -> Delivery:
    p = item.payload
    existing = app.state.continuum_for_ticket(item.ticket_rec_id)
    if existing:  # linked by other means meanwhile: never make a second RMM ticket
        return Delivery(existing, f"already linked to {rmm_name(app)} ticket {existing}", sent=False)
    new = NewTicket(site_code=p["site_code"], title=p["title"], description=p.get("description") or "",
                    priority=p.get("priority") or "Medium", assign_to=p["assign_to"],
                    device_id=p.get("device_id"), note=p.get("note"), psa_ticket_id=p["psa_ticket_id"])
    ticket = app.rmm_owning(new.site_code).create_ticket(new, idempotency_key=item.idem_key)
    return Delivery(ticket.ticket_id, sentence(f"new ticket {ticket.ticket_id}, assigned to {p['assign_to']}",
                                               p.get("note")))


def assign(app: EngineApp, item: OutboxItem) -> Delivery:
    p, target = item.payload, linked(app, item)
    if p["assign_to"] == "Keep":
        # Keep is not an assignment (the wire contract): only the note goes, nothing without one.
        if p.get("note"):
            app.rmm_owning(target).add_note(target, p["note"], p.get("author") or item.requested_by or "PSA",
                             idempotency_key=item.idem_key)
        return Delivery(target, sentence("assignment kept", p.get("note")), sent=bool(p.get("note")))
    app.rmm_owning(target).assign(target, p["assign_to"], p.get("note"), idempotency_key=item.idem_key)
    return Delivery(target, sentence(f"assigned to {p['assign_to']}", p.get("note")))


def add_note(app: EngineApp, item: OutboxItem) -> Delivery:
    p = item.payload
    if p.get("alert_id"):  # a snapshot RMM's check: named in the row, as for a clear
        as_alert_rmm(app.rmm_owning(p["alert_id"])).add_alert_note(p["alert_id"], p["text"],
                                                                   idempotency_key=item.idem_key)
        return Delivery(p["alert_id"], sentence(f"note on check {p.get('check') or p['alert_id']}", p["text"]))
    target = linked(app, item)
    app.rmm_owning(target).add_note(target, p["text"], p.get("author") or item.requested_by or "PSA",
                                    idempotency_key=item.idem_key)
    return Delivery(target, sentence("note", p["text"]))


def close_ticket(app: EngineApp, item: OutboxItem) -> Delivery:
    p, target = item.payload, linked(app, item)
    app.rmm_owning(target).close_ticket(target, p.get("resolution"), idempotency_key=item.idem_key)
    return Delivery(target, sentence("closed", p.get("resolution")))


def clear_alert(app: EngineApp, item: OutboxItem) -> Delivery:
    """An alert RMM's check: it is named in the row, not linked."""
    p = item.payload
    as_alert_rmm(app.rmm_owning(p["alert_id"])).clear_alert(p["alert_id"], p["note"], idempotency_key=item.idem_key)
    return Delivery(p["alert_id"], sentence(f"check {p.get('check') or p['alert_id']} cleared", p["note"]))


def target_of(app: EngineApp, item: OutboxItem) -> str:
    """What the row names in the RMM (a site for a creation, a check for a clear, else the linked
    ticket; ``""`` when none is linked yet): its owner is the RMM the row goes to."""
    p = item.payload
    if item.action == CREATE:
        return str(p["site_code"])
    if item.action == CLEAR or p.get("alert_id"):
        return str(p["alert_id"])
    return app.state.continuum_for_ticket(item.ticket_rec_id) or ""


def linked(app: EngineApp, item: OutboxItem) -> str:
    """The RMM ticket the row's PSA ticket is linked to; refused for good when there is none."""
    target: str | None = app.state.continuum_for_ticket(item.ticket_rec_id)
    if not target:
        rmm = rmm_name(app)
        raise PreconditionError(
            f"ticket {item.ticket_rec_id} has no linked {rmm} ticket (its creation failed or its "
            f"links were removed); create it in {rmm} again, then repeat this action.")
    return target


def sentence(what: str, text: str | None) -> str:
    return f"{what}, note: {text}" if text and what != "note" else (f"note: {text}" if text else what)
