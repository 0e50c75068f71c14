"""When Continuum answers again after failing, the rows that waited because it could not be
reached go at once, whatever backoff the outage gave them; rows that wait for reasons of their
own keep their schedule (issue #26). The sandbox Continuum over loopback HTTP; nothing here
measures time: the backoffs are an hour, so a row that goes did not sit one out."""

from __future__ import annotations

import pytest

from agent.ports.times import now_iso
from agent.sandbox import SandboxServer
from agent.sync.inventory.refresh import InventoryJob
from agent.sync.outbound import actions
from agent.sync.outbound.sender import OutboxSender

from test_outbound_support import PSG, env, ledger_by_key  # noqa: F401 - env is a fixture

HOUR = 3600.0
LATER = "2999-01-01T00:00:00.000000Z"


@pytest.fixture
def sandbox():
    with SandboxServer(psg=PSG, seed=7, sites=4, devices=12) as server:
        yield server


def queue_notes(env, tickets: int, per_ticket: int) -> list[str]:
    linked = [env.linked_ticket()[0] for _ in range(tickets)]
    return [actions.add_note(env.app, rec_id, f"note {n}", "jsmith").idem_key
            for n in range(per_ticket) for rec_id in linked]


def test_rows_that_waited_for_the_outage_go_as_soon_as_continuum_answers_again(env, sandbox):
    sender = OutboxSender(env.app, base_delay=HOUR, max_delay=HOUR, pause_max=HOUR)
    # A row that waits for a reason of its own (as after a Retry-After), queued before the outage.
    own = queue_notes(env, tickets=1, per_ticket=1)[0]
    env.state.outbox_retry_later(env.state.outbox_id(own), LATER, "Continuum asked the agent to wait")

    sandbox.faults.set(outage=True)
    keys = queue_notes(env, tickets=3, per_ticket=2)
    assert sender.run_once() == 0
    heads = [env.state.get_outbox(env.state.outbox_id(k)) for k in keys[:3]]
    assert all(row.attempts == 1 for row in heads)  # each tried once, and given an hour's backoff
    assert env.state.due_outbox(now_iso()) == []
    assert env.app.outage.failing
    assert sender.run_once() == 0 and ledger_by_key(sandbox) == {}  # and the sender pauses

    sandbox.faults.clear()
    env.app.outbox_wake.clear()
    InventoryJob(env.app).run_once()  # another engine's call is answered: Continuum is back
    assert not env.app.outage.failing
    assert env.app.outbox_wake.is_set()  # a sender waiting for work is woken

    assert sender.run_once() == 6  # the outage's rows, without sitting out their backoff
    assert sorted(ledger_by_key(sandbox)) == sorted(keys)
    own_row = env.state.get_outbox(env.state.outbox_id(own))
    assert own_row.state == "pending" and own_row.next_attempt_at == LATER  # its own wait is kept


def test_a_row_refused_for_a_garbled_answer_keeps_its_backoff_when_continuum_answers_again(env, sandbox):
    sender = OutboxSender(env.app, base_delay=HOUR, max_delay=HOUR, pause_max=HOUR)
    (garbled,) = queue_notes(env, tickets=1, per_ticket=1)
    sandbox.faults.set(hostile="malformed", hostile_count=1)
    assert sender.run_once() == 0
    row = env.state.get_outbox(env.state.outbox_id(garbled))
    assert row.attempts == 1 and row.state == "pending"

    InventoryJob(env.app).run_once()  # Continuum answers: the run of failures ends
    assert not env.app.outage.failing
    assert env.state.get_outbox(row.id).next_attempt_at == row.next_attempt_at
    assert sender.run_once() == 0 and ledger_by_key(sandbox) == {garbled: 1}  # not sent again
    assert env.state.get_outbox(row.id).state == "pending"
