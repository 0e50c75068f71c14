"""The outbound actions, each declared once (vdirsyncer's `Action` style): one home per action.

An `OutboundAction` says everything about one thing the PSA side may ask of the RMM: its
request drop and the drop's fields (with the assignees it accepts), the command of
`zenithlink tickets` and the web console's form that offer it, the write-back capability the
RMM must declare for it, its checks and payload (`take`, in `outbound/actions.py`), how it goes
through the RMM port (`send`, in `outbound/sends.py`), and its labels. The request processor's
drop table, the command line, the web console, the outbox sender and this reference all read
`ACTIONS`; none keeps a list of its own.

A close travels under one name: the drop `CompleteTicket`, `zenithlink tickets complete` and the
web console's Complete form run `CLOSE_TICKET`, whose outbox row is `close` and whose send is the
port's `close_ticket` (`POST …/close` on Continuum's wire).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import UsageError, ZenithError
from agent.ports.rmm import RmmCapabilities, WriteBack, capabilities_of
from agent.ports.state import OutboxItem
from agent.sync.engine_app import EngineApp
from agent.sync.outbound import actions, sends
from agent.sync.outbound.actions import ActionOutcome
from agent.sync.outbound.sends import Delivery
from agent.sync.outbound.vocabulary import (
    ASSIGN,
    CLEAR,
    CLOSE,
    CREATE,
    CREATE_ASSIGNEE,
    NOTE,
    NOTE_FIELD,
    REASSIGN_ASSIGNEE,
    RESOLUTION_FIELD,
    SITE_FIELD,
    TICKET_FIELD,
    Field,
)
from dbsys.drops import ActionSpec

Fields = Mapping[str, str | None]
"""An action's inputs by the names of its drop's children (``TicketRecID``, ``AssignTo``, ``Note``, …)."""
Take = Callable[[Any, Fields, str | None, str | None], ActionOutcome]
"""``take(app, fields, user, request_id)``: the checks, the PSA-side change and the outbox row."""
Send = Callable[[Any, OutboxItem], Delivery]
"""``send(app, row)``: the one call of the RMM port that carries the row."""


@dataclass(frozen=True)
class OutboundAction:
    """One outbound action, declared once."""

    row: str
    """The outbox row's ``action`` (stored: never renamed)."""
    label: str
    """What the action does, for the web console, the command line and the docs; ``{rmm}`` is the RMM's name."""
    doing: str
    """The action as a verb for sentences: "close the ticket" ("… refused to close the ticket")."""
    write_back: WriteBack
    """What the configured RMM must offer (:class:`agent.ports.rmm.RmmCapabilities`) for the action."""
    send: Send
    drop: str | None = None
    """The request drop's ``action`` attribute; ``None``: no drop asks for it (the agent queues it itself)."""
    command: str | None = None
    """The ``zenithlink tickets`` command; ``None``: none."""
    form: str | None = None
    """The web console's form (``POST /tickets/{rec_id}/<form>``); ``None``: none."""
    on_linked: bool = True
    """Offered for a PSA ticket linked to an RMM ticket (else: for one not linked yet)."""
    required: tuple[Field, ...] = ()
    optional: tuple[Field, ...] = ()
    take: Take | None = None

    def title(self, rmm: str) -> str:
        return self.label.format(rmm=rmm)

    def offered_by(self, capabilities: RmmCapabilities) -> bool:
        return capabilities.supports(self.write_back)

    def require(self, rmm: object) -> None:
        """Refuse, with an :class:`agent.ports.rmm.RmmUnsupported` naming the RMM and what it offers,
        an action the configured RMM cannot do."""
        capabilities_of(rmm).require(self.write_back)

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.required + self.optional

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def drop_spec(self) -> ActionSpec:
        """The request drop's children, as :func:`dbsys.drops.parse_request` checks them."""
        choices = next((f.choices for f in self.fields if f.choices), ())
        return ActionSpec(tuple(f.name for f in self.required), tuple(f.name for f in self.optional), choices)

    def run(self, app: EngineApp, fields: Fields, user: str | None, request_id: str | None = None) -> ActionOutcome:
        """Refuse what the configured RMM cannot do, then check, change and queue, in the unit of
        work the caller opened (one per request: the drop's, the command's, the form's)."""
        if self.take is None:
            raise UsageError(f"nobody asks for {self.row!r}: the agent queues it itself.")
        self.check_offered(app)
        return self.take(app, fields, user, request_id)

    def check_offered(self, app: EngineApp) -> None:
        """:meth:`require` of the app's RMM; nothing when this process has no RMM configured (the
        sender says so when it sends)."""
        try:
            rmm = app.rmm
        except ZenithError:
            return
        self.require(rmm)


def _create(app: EngineApp, f: Fields, user: str | None, request_id: str | None) -> ActionOutcome:
    return actions.create_in_continuum(app, f["TicketRecID"] or "", f["AssignTo"] or "", f.get("Note"), user,
                                       request_id, site_code=f.get("SiteCode") or None)


def _reassign(app: EngineApp, f: Fields, user: str | None, request_id: str | None) -> ActionOutcome:
    return actions.reassign(app, f["TicketRecID"] or "", f["AssignTo"] or "", f.get("Note"), user, request_id)


def _note(app: EngineApp, f: Fields, user: str | None, request_id: str | None) -> ActionOutcome:
    return actions.add_note(app, f["TicketRecID"] or "", f.get("Note") or "", user, request_id)


def _complete(app: EngineApp, f: Fields, user: str | None, request_id: str | None) -> ActionOutcome:
    return actions.complete_ticket(app, f["TicketRecID"] or "", f.get("Note"), user, request_id)


CREATE_TICKET = OutboundAction(
    row=CREATE, label="create in {rmm}", doing="create the ticket", write_back=WriteBack.CREATE_TICKET,
    send=sends.create_ticket, drop="CreateTicket", command="create-in-continuum", form="create", on_linked=False,
    required=(TICKET_FIELD, CREATE_ASSIGNEE), optional=(NOTE_FIELD, SITE_FIELD), take=_create)
REASSIGN = OutboundAction(
    row=ASSIGN, label="reassign in {rmm}", doing="reassign the ticket", write_back=WriteBack.ASSIGN,
    send=sends.assign, drop="Reassign", command="reassign", form="reassign",
    required=(TICKET_FIELD, REASSIGN_ASSIGNEE), optional=(NOTE_FIELD,), take=_reassign)
ADD_NOTE = OutboundAction(
    row=NOTE, label="note to {rmm}", doing="add the note", write_back=WriteBack.ADD_NOTE,
    send=sends.add_note, drop="AddNote", command="note", form="note",
    required=(TICKET_FIELD, NOTE_FIELD), take=_note)
CLOSE_TICKET = OutboundAction(
    row=CLOSE, label="complete, and close in {rmm}", doing="close the ticket", write_back=WriteBack.CLOSE,
    send=sends.close_ticket, drop="CompleteTicket", command="complete", form="complete",
    required=(TICKET_FIELD,), optional=(RESOLUTION_FIELD,), take=_complete)
CLEAR_ALERT = OutboundAction(
    row=CLEAR, label="clear the check in {rmm}", doing="clear the check", write_back=WriteBack.CLOSE,
    send=sends.clear_alert)
"""Queued by the alert lifecycle when a person completes the ticket of a failing check."""

ACTIONS: tuple[OutboundAction, ...] = (CREATE_TICKET, REASSIGN, ADD_NOTE, CLOSE_TICKET, CLEAR_ALERT)


def by_row(row: str) -> OutboundAction | None:
    """The action of an outbox row (``None``: a row written by a newer agent)."""
    return next((a for a in ACTIONS if a.row == row), None)


def by_drop(drop: str) -> OutboundAction | None:
    return next((a for a in ACTIONS if a.drop == drop), None)


def drop_specs() -> dict[str, ActionSpec]:
    """The request drops of the outbound actions and their children, for the drop parser."""
    return {a.drop: a.drop_spec() for a in ACTIONS if a.drop}


def offered(rmm: object) -> tuple[OutboundAction, ...]:
    """The actions a person may ask for (a drop, a command, a form) that the configured RMM can do."""
    capabilities = capabilities_of(rmm)
    return tuple(a for a in ACTIONS if a.take is not None and a.offered_by(capabilities))
