"""``zenithlink tickets create-in-continuum|reassign|note|complete``.

The ticket commands queue an outbox row (the agent's service sends it); ``--wait SECONDS``
delivers it from this process right away and prints what Continuum answered. A row that is
still not sent when the wait ends stays queued (exit code 0: it is not lost); a definitive
refusal exits with 1.
"""

from __future__ import annotations

import time

import click

from agent.cli.options import json_option, user_option
from agent.cli.output import done, emit_json
from agent.cli.records_cmd import tickets
from agent.errors import ZenithError, sentence
from agent.sync import lookup
from agent.sync.outbound import actions

wait_option = click.option("--wait", "wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                           help="Send it to Continuum now and wait up to SECONDS for the answer.")


class ActionFailed(ZenithError):
    """Continuum refused the action for good (exit code 1)."""

    code = "Refused"


def _finish(app, queued: actions.Queued, wait: float | None, as_json: bool) -> None:
    doc = {"ticket_rec_id": queued.ticket_rec_id, "action": queued.action, "outbox_id": queued.outbox_id,
           "state": "pending" if queued.queued else "nothing to send", "message": queued.message,
           "continuum_ticket_id": queued.continuum_ticket_id, "error": None}
    if queued.outbox_id is not None and wait is not None:
        doc.update(_wait(app, queued.outbox_id, wait))
    if as_json:
        emit_json(doc)
    else:
        done(_describe(doc))
    if doc["state"] == "failed":
        raise ActionFailed(f"Continuum refused it: {doc['error']}")


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
    return {"state": row.state, "error": row.last_error, "attempts": row.attempts,
            "continuum_ticket_id": ticket_id or app.state.continuum_for_ticket(row.ticket_rec_id),
            "message": {"done": "sent to Continuum", "failed": "refused by Continuum"}.get(
                row.state, "still queued; the agent keeps trying to send it")}


def _describe(doc: dict) -> str:
    if doc["state"] == "nothing to send":
        return sentence(f"Ticket {doc['ticket_rec_id']}, {doc['action']}: nothing to send, {doc['message']}")
    text = f"Ticket {doc['ticket_rec_id']}: {doc['action']} {doc['message']}"
    if doc.get("continuum_ticket_id"):
        text += f" (Continuum ticket {doc['continuum_ticket_id']})"
    if doc.get("error") and doc["state"] != "done":
        text = f"{sentence(text)} Last error: {doc['error']}"
    return sentence(text)


@tickets.command("create-in-continuum")
@click.argument("ticket")
@click.option("--assign", "assign_to", required=True, type=click.Choice(actions.CREATE_ASSIGNEES, case_sensitive=False),
              help="Who works on it in Continuum.")
@click.option("--note", default=None, help="A first note for Continuum.")
@click.option("--site", "site_code", default=None, metavar="SITECODE",
              help="The site, when the ticket's account is linked to several (default: the asset's device's site).")
@user_option
@wait_option
@json_option
@click.pass_obj
def create_in_continuum(app, ticket: str, assign_to: str, note: str | None, site_code: str | None,
                        user: str | None, wait: float | None, as_json: bool) -> None:
    """Create the Continuum ticket of PSA ticket TICKET, a ticket number or REC ID (its account must be
    linked to a site; to several: name the site with --site)."""
    rec_id = lookup.ticket_rec_id(app.psa, ticket)
    _finish(app, actions.create_in_continuum(app, rec_id, assign_to, note, user or app.user, site_code=site_code),
            wait, as_json)


@tickets.command("reassign")
@click.argument("ticket")
@click.option("--assign", "assign_to", required=True,
              type=click.Choice(actions.REASSIGN_ASSIGNEES, case_sensitive=False),
              help="Keep (only send the note), VSD or Partner.")
@click.option("--note", default=None, help="A note for Continuum.")
@user_option
@wait_option
@json_option
@click.pass_obj
def reassign(app, ticket: str, assign_to: str, note: str | None, user: str | None, wait: float | None,
             as_json: bool) -> None:
    """Reassign the Continuum ticket linked to PSA ticket TICKET (a ticket number or REC ID)."""
    rec_id = lookup.ticket_rec_id(app.psa, ticket)
    _finish(app, actions.reassign(app, rec_id, assign_to, note, user or app.user), wait, as_json)


@tickets.command("note")
@click.argument("ticket")
@click.argument("text")
@user_option
@wait_option
@json_option
@click.pass_obj
def note(app, ticket: str, text: str, user: str | None, wait: float | None, as_json: bool) -> None:
    """Send TEXT as a note to the Continuum ticket linked to PSA ticket TICKET (a ticket number or REC ID)."""
    _finish(app, actions.add_note(app, lookup.ticket_rec_id(app.psa, ticket), text, user or app.user), wait,
            as_json)


@tickets.command("complete")
@click.argument("ticket")
@click.option("--note", default=None, help="The resolution, sent with the close.")
@user_option
@wait_option
@json_option
@click.pass_obj
def complete(app, ticket: str, note: str | None, user: str | None, wait: float | None, as_json: bool) -> None:
    """Set PSA ticket TICKET (a ticket number or REC ID) to Completed; that closes its Continuum ticket (once)."""
    rec_id = lookup.ticket_rec_id(app.psa, ticket)
    _finish(app, actions.complete_ticket(app, rec_id, note, user or app.user), wait, as_json)


# The commands join the ``tickets`` group on import; ``requests`` lives in ops_cmd.
commands: list = []
