"""``zenithlink tickets create-in-continuum|reassign|note|complete|actions``.

Each ticket command runs one action of the outbound registry (:mod:`agent.sync.outbound.registry`)
in a unit of work of its own: it queues an outbox row that the agent's service sends; ``--wait
SECONDS`` delivers it from this process right away and prints what the RMM answered. A row that
is still not sent when the wait ends stays queued (exit code 0: it is not lost); a definitive
refusal exits with 1. An action the configured RMM cannot do is refused before anything is
queued, saying what the RMM offers; ``tickets actions`` lists what it offers.
"""

from __future__ import annotations

import time

import click

from agent.cli.options import json_option, user_option
from agent.cli.output import done, emit_json, table
from agent.cli.readonly import read_only
from agent.cli.records_cmd import tickets
from agent.errors import ZenithError, sentence
from agent.ports.rmm import WriteBack, capabilities_of
from agent.sync import lookup
from agent.sync.outbound import registry
from agent.sync.outbound.actions import ActionOutcome, rmm_name
from agent.sync.outbound.registry import ADD_NOTE, CLOSE_TICKET, CREATE_TICKET, REASSIGN, OutboundAction
from agent.sync.outbound.vocabulary import CREATE_ASSIGNEE, REASSIGN_ASSIGNEE

wait_option = click.option("--wait", "wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                           help="Send it to the RMM now and wait up to SECONDS for the answer.")


class ActionFailed(ZenithError):
    """The RMM refused the action for good (exit code 1)."""

    code = "Refused"


def _run(app, action: OutboundAction, ticket: str, fields: dict[str, str | None], user: str | None,
         wait: float | None, as_json: bool) -> None:
    action.check_offered(app)  # before the ticket is even looked up: the RMM's refusal is what matters
    rec_id = lookup.ticket_rec_id(app.psa, ticket)
    with app.unit_of_work():  # the command's one unit of work: the action opens none of its own
        outcome = action.run(app, {"TicketRecID": rec_id, **fields}, user or app.user)
    _finish(app, outcome, wait, as_json)


def _finish(app, outcome: ActionOutcome, wait: float | None, as_json: bool) -> None:
    doc = {"ticket_rec_id": outcome.ticket_rec_id, "action": outcome.action, "outbox_id": outcome.outbox_id,
           "state": "pending" if outcome.has_outbox_row else "nothing to send", "message": outcome.message,
           "continuum_ticket_id": outcome.continuum_ticket_id, "error": None}
    if outcome.outbox_id is not None and wait is not None:
        doc.update(_wait(app, outcome.outbox_id, wait))
    rmm = rmm_name(app)
    if as_json:
        emit_json(doc)
    else:
        done(_describe(doc, rmm))
    if doc["state"] == "failed":
        raise ActionFailed(f"{rmm} refused it: {doc['error']}")


def _wait(app, outbox_id: int, wait: float) -> dict:
    from agent.sync.outbound.sender import OutboxSender

    sender = OutboxSender(app)
    deadline = time.monotonic() + wait
    while True:
        state = sender.deliver_row(outbox_id)
        left = deadline - time.monotonic()
        if state != "pending" or left <= 0:
            break
        time.sleep(min(left, max(0.05, min(sender.next_due_seconds(), 1.0))))
    row = app.state.get_outbox(outbox_id)
    ticket_id = (row.result or {}).get("continuum_ticket_id")
    rmm = rmm_name(app)
    return {"state": row.state, "error": row.last_error, "attempts": row.attempts,
            "continuum_ticket_id": ticket_id or app.state.continuum_for_ticket(row.ticket_rec_id),
            "message": {"done": f"sent to {rmm}", "failed": f"refused by {rmm}"}.get(
                row.state, "still queued; the agent keeps trying to send it")}


def _describe(doc: dict, rmm: str) -> str:
    if doc["state"] == "nothing to send":
        return sentence(f"Ticket {doc['ticket_rec_id']}, {doc['action']}: nothing to send, {doc['message']}")
    text = f"Ticket {doc['ticket_rec_id']}: {doc['action']} {doc['message']}"
    if doc.get("continuum_ticket_id"):
        text += f" ({rmm} ticket {doc['continuum_ticket_id']})"
    if doc.get("error") and doc["state"] != "done":
        text = f"{sentence(text)} Last error: {doc['error']}"
    return sentence(text)


def _command(action: OutboundAction) -> str:
    return action.command or action.row


@tickets.command(_command(CREATE_TICKET))
@click.argument("ticket")
@click.option("--assign", "assign_to", required=True, type=click.Choice(CREATE_ASSIGNEE.choices, case_sensitive=False),
              help="Who works on it in the RMM.")
@click.option("--note", default=None, help="A first note for the RMM.")
@click.option("--site", "site_code", default=None, metavar="SITECODE",
              help="The site, when the ticket's account is linked to several (default: the asset's device's site).")
@user_option
@wait_option
@json_option
@click.pass_obj
def create_in_continuum(app, ticket: str, assign_to: str, note: str | None, site_code: str | None,
                        user: str | None, wait: float | None, as_json: bool) -> None:
    """Create the RMM ticket of PSA ticket TICKET, a ticket number or REC ID (its account must be
    linked to a site; to several: name the site with --site). Continuum only."""
    _run(app, CREATE_TICKET, ticket, {"AssignTo": assign_to, "Note": note, "SiteCode": site_code}, user, wait,
         as_json)


@tickets.command(_command(REASSIGN))
@click.argument("ticket")
@click.option("--assign", "assign_to", required=True,
              type=click.Choice(REASSIGN_ASSIGNEE.choices, case_sensitive=False),
              help="Keep (only send the note), VSD or Partner.")
@click.option("--note", default=None, help="A note for the RMM.")
@user_option
@wait_option
@json_option
@click.pass_obj
def reassign(app, ticket: str, assign_to: str, note: str | None, user: str | None, wait: float | None,
             as_json: bool) -> None:
    """Reassign the RMM ticket linked to PSA ticket TICKET (a ticket number or REC ID). Continuum only."""
    _run(app, REASSIGN, ticket, {"AssignTo": assign_to, "Note": note}, user, wait, as_json)


@tickets.command(_command(ADD_NOTE))
@click.argument("ticket")
@click.argument("text")
@user_option
@wait_option
@json_option
@click.pass_obj
def note(app, ticket: str, text: str, user: str | None, wait: float | None, as_json: bool) -> None:
    """Send TEXT as a note to the RMM ticket linked to PSA ticket TICKET (a ticket number or REC ID)."""
    _run(app, ADD_NOTE, ticket, {"Note": text}, user, wait, as_json)


@tickets.command(_command(CLOSE_TICKET))
@click.argument("ticket")
@click.option("--note", default=None, help="The resolution, sent with the close.")
@user_option
@wait_option
@json_option
@click.pass_obj
def complete(app, ticket: str, note: str | None, user: str | None, wait: float | None, as_json: bool) -> None:
    """Set PSA ticket TICKET (a ticket number or REC ID) to Completed; that closes its RMM ticket (once)."""
    _run(app, CLOSE_TICKET, ticket, {"Note": note}, user, wait, as_json)


@tickets.command("actions")
@json_option
@click.pass_obj
@read_only
def actions_list(app, as_json: bool) -> None:
    """The ticket actions, their commands and request drops, and whether the configured RMM offers them."""
    capabilities = capabilities_of(app.rmm)
    rows = [{"action": a.row, "label": a.title(capabilities.rmm), "command": a.command, "drop": a.drop,
             "needs": a.write_back.value, "offered": a.offered_by(capabilities)}
            for a in registry.ACTIONS if a.take is not None]
    if as_json:
        emit_json({"rmm": capabilities.rmm, "actions": rows})
        return
    table(f"Ticket actions with {capabilities.rmm}", ["action", "command", "request drop", "offered"],
          [[r["label"], f"tickets {r['command']}", r["drop"], "yes" if r["offered"] else
            f"no: {capabilities.rmm} cannot {_needs(str(r['needs']))}"] for r in rows])


def _needs(write_back: str) -> str:
    return WriteBack(write_back).label


# The commands join the ``tickets`` group on import; ``requests`` lives in ops_cmd.
commands: list = []
