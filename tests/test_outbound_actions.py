"""Outbound actions and the outbox sender against the sandbox over loopback HTTP (R13–R16, D2).

They run against the RMM ``ZENITHLINK_TEST_RMM`` names (Continuum by default; N-sight, NinjaOne):
what the RMM cannot do is skipped with the capability it lacks as the reason (``rmm_support``)."""

from __future__ import annotations

import sqlite3

import pytest

from agent import events
from agent.errors import (
    MissingUser,
    NotFoundError,
    NotLinked,
    PreconditionError,
    PrivilegeError,
    StoreError,
    UnknownEmployee,
    UsageError,
)
from agent.ports.psa import STATUS_COMPLETED, STATUS_NEW
from agent.ports.rmm import WriteBack
from agent.ports.times import now_iso
from agent.sync import records
from agent.sync.outbound import actions, registry
from agent.sync.outbound.registry import CLOSE_TICKET
from agent.sync.outbound.sender import OutboxSender
from dbsys import reports

from conftest import psa_backend, wait_for
from rmm_support import lacks, needs, needs_feed
from test_outbound_support import PSG, Capture, ledger_by_key, make_env, sandbox  # noqa: F401 - a fixture

CREATE_TICKET, ASSIGN, ADD_NOTE = needs(WriteBack.CREATE_TICKET), needs(WriteBack.ASSIGN), needs(WriteBack.ADD_NOTE)


@pytest.fixture
def capture():
    return Capture()


@pytest.fixture
def env(tmp_path, sandbox, capture):
    env = make_env(tmp_path, sandbox, capture)
    yield env
    env.app.close()


def send(env) -> int:
    return OutboxSender(env.app, base_delay=0.05).run_once()


def history(env, rec_id) -> list[str]:
    return [h.text for h in records.get_ticket(env.state, env.psa, rec_id).history]


# -- create (R13) ----------------------------------------------------------------------------

@CREATE_TICKET
def test_create_queues_then_sends_with_site_device_and_links(env, sandbox):
    rec_id = env.ticket()
    queued = actions.create_in_continuum(env.app, rec_id, "noc", "Please check the backup job.", "jsmith")
    assert queued.has_outbox_row and queued.payload["assign_to"] == "NOC"
    assert env.state.outbox_depth() == 1
    assert history(env, rec_id) == []  # nothing is claimed before Continuum has it

    assert send(env) == 1
    ticket = records.get_ticket(env.state, env.psa, rec_id)
    remote = sandbox.world.ticket(ticket.continuum_ticket_id)
    assert remote["site_code"] == env.site and remote["device_id"] == env.device
    assert remote["psa_ticket_id"] == rec_id and remote["assigned_to"] == "NOC"
    assert remote["title"] == "Backup job failed"
    assert [e["action"] for e in sandbox.world.ledger] == ["create"]
    assert sandbox.world.ledger[0]["idempotency_key"] == queued.idem_key
    notes = history(env, rec_id)
    assert len(notes) == 1 and notes[0].startswith("Sent to Continuum: new ticket")
    assert "assigned to NOC" in notes[0] and "Please check the backup job." in notes[0]
    assert env.state.outbox_depth() == 0
    assert send(env) == 0


@CREATE_TICKET
def test_create_without_asset_sends_no_device(env, sandbox):
    rec_id = env.ticket(asset=False)
    actions.create_in_continuum(env.app, rec_id, "VSD", None, "jsmith")
    send(env)
    remote = sandbox.world.ticket(env.state.continuum_for_ticket(rec_id))
    assert remote["device_id"] in (None, "") and remote["assigned_to"] == "VSD"


@CREATE_TICKET
def test_create_needs_a_linked_site_and_names_the_account(env):
    rec_id = env.ticket(account=env.unlinked_account)
    with pytest.raises(PreconditionError) as err:
        actions.create_in_continuum(env.app, rec_id, "NOC", None, "jsmith")
    assert "Nobody Ltd" in err.value.message and "link-site" in err.value.message
    assert env.state.outbox_depth() == 0


@CREATE_TICKET
@pytest.mark.parametrize("user,refused,code", [("limited", PrivilegeError, 3), (None, MissingUser, 2)])
def test_create_needs_the_privilege(env, user, refused, code):
    rec_id = env.ticket()
    with pytest.raises(refused) as err:
        actions.create_in_continuum(env.app, rec_id, "NOC", None, user)
    assert err.value.exit_code == code
    assert env.state.outbox_depth() == 0


@CREATE_TICKET
def test_create_refuses_unknown_ticket_bad_assignee_and_duplicates(env):
    with pytest.raises(NotFoundError):
        actions.create_in_continuum(env.app, "TKTNOTHERE0000000000", "NOC", None, "jsmith")
    rec_id = env.ticket()
    with pytest.raises(UsageError):
        actions.create_in_continuum(env.app, rec_id, "Keep", None, "jsmith")
    actions.create_in_continuum(env.app, rec_id, "NOC", None, "jsmith")
    with pytest.raises(PreconditionError, match="queued already"):
        actions.create_in_continuum(env.app, rec_id, "NOC", None, "jsmith")
    send(env)
    with pytest.raises(PreconditionError, match="linked to Continuum ticket"):
        actions.create_in_continuum(env.app, rec_id, "NOC", None, "jsmith")


# -- reassign, note (R14) --------------------------------------------------------------------

@ASSIGN
def test_reassign_note_and_keep(env, sandbox):
    rec_id, tid = env.linked_ticket()
    actions.reassign(env.app, rec_id, "VSD", "Over to you.", "jsmith")
    send(env)
    assert sandbox.world.ticket(tid)["assigned_to"] == "VSD"
    actions.reassign(env.app, rec_id, "Keep", "Only a note.", "jsmith")
    actions.add_note(env.app, rec_id, "Rebooted the server.", "limited")
    assert send(env) == 2
    remote = sandbox.world.ticket(tid)
    assert remote["assigned_to"] == "VSD"
    assert [n["text"] for n in remote["notes"]][-3:] == ["Over to you.", "Only a note.", "Rebooted the server."]
    assert remote["notes"][-1]["author"] == "limited"
    notes = history(env, rec_id)
    assert notes[0] == "Sent to Continuum: assigned to VSD, note: Over to you."
    assert notes[1] == "Sent to Continuum: assignment kept, note: Only a note."
    assert notes[2] == "Sent to Continuum: note: Rebooted the server."


@ADD_NOTE
def test_a_note_goes_to_the_rmms_ticket_or_check_and_the_history_says_so(env):
    rec_id, target = env.linked_ticket()
    queued = actions.add_note(env.app, rec_id, "Rebooted the server.", "limited")
    assert queued.has_outbox_row and queued.continuum_ticket_id == target
    assert send(env) == 1
    assert env.remote_notes(target)[-1] == "Rebooted the server."
    assert history(env, rec_id)[-1].startswith(f"Sent to {env.rmm_name}: note")
    assert history(env, rec_id)[-1].endswith("note: Rebooted the server.")
    assert send(env) == 0


@lacks(WriteBack.ADD_NOTE)
def test_a_note_is_refused_before_anything_is_queued_by_an_rmm_that_keeps_none(env):
    from agent.ports.rmm import RmmUnsupported

    rec_id, _target = env.linked_ticket()
    with pytest.raises(RmmUnsupported, match=f"{env.rmm_name} cannot add a note in the RMM"):
        registry.ADD_NOTE.run(env.app, {"TicketRecID": rec_id, "Note": "hello"}, "jsmith")
    assert env.state.outbox_depth() == 0


def test_reassign_note_and_complete_need_a_linked_ticket(env):
    from agent.ports.rmm import capabilities_of

    rec_id = env.ticket()
    offered = capabilities_of(env.app.rmm)
    calls = [lambda: actions.complete_ticket(env.app, rec_id, None, "jsmith")]
    if offered.supports(WriteBack.ASSIGN):
        calls.append(lambda: actions.reassign(env.app, rec_id, "VSD", None, "jsmith"))
    if offered.supports(WriteBack.ADD_NOTE):
        calls.append(lambda: actions.add_note(env.app, rec_id, "hello", "jsmith"))
    expected = f"a failing check of {env.rmm_name}" if env.snapshot else "a Continuum ticket"
    for call in calls:
        with pytest.raises(NotLinked, match=f"is not linked to {expected}"):
            call()
    assert env.state.outbox_depth() == 0
    assert records.get_ticket(env.state, env.psa, rec_id).status_code == STATUS_NEW


@ASSIGN
def test_reassign_privilege_and_note_rules(env):
    rec_id, _tid = env.linked_ticket()
    with pytest.raises(PrivilegeError):
        actions.reassign(env.app, rec_id, "VSD", None, "limited")
    with pytest.raises(UsageError):
        actions.reassign(env.app, rec_id, "Keep", "  ", "jsmith")
    with pytest.raises(UsageError):
        actions.add_note(env.app, rec_id, "", "jsmith")
    with pytest.raises(MissingUser):
        actions.add_note(env.app, rec_id, "hi", None)
    with pytest.raises(UnknownEmployee, match="no employee with login 'ghost'.*employees add ghost"):
        actions.add_note(env.app, rec_id, "hi", "ghost")
    with pytest.raises(UnknownEmployee):
        actions.create_in_continuum(env.app, env.ticket(), "NOC", None, "ghost")
    assert env.state.outbox_depth() == 0


@CREATE_TICKET
def test_actions_queued_behind_a_pending_create_go_out_in_order(env, sandbox):
    rec_id = env.ticket()
    actions.create_in_continuum(env.app, rec_id, "NOC", None, "jsmith")
    actions.add_note(env.app, rec_id, "first", "jsmith")
    actions.reassign(env.app, rec_id, "VSD", "second", "jsmith")
    actions.complete_ticket(env.app, rec_id, "done", "jsmith")
    assert send(env) == 4
    assert [e["action"] for e in sandbox.world.ledger] == ["create", "note", "assign", "close"]
    assert sandbox.world.ticket(env.state.continuum_for_ticket(rec_id))["status"] == "Closed"


# -- complete (R15) --------------------------------------------------------------------------

def test_complete_sets_completed_and_closes_once(env):
    rec_id, tid = env.linked_ticket()
    before = history(env, rec_id)
    first = actions.complete_ticket(env.app, rec_id, "Fixed.", "jsmith")
    assert first.has_outbox_row
    assert records.get_ticket(env.state, env.psa, rec_id).status_code == STATUS_COMPLETED
    again = actions.complete_ticket(env.app, rec_id, None, "jsmith")  # while the close is pending
    assert not again.has_outbox_row
    send(env)
    assert not actions.complete_ticket(env.app, rec_id, None, "jsmith").has_outbox_row  # after it was sent
    env.pickup()  # a snapshot RMM's poll sees the completion too, and queues nothing more
    send(env)
    assert env.remote_closed(tid)
    assert env.state.count_outbox(rec_id, ("close", "clear"), states=("pending", "done", "failed")) == 1
    (sent,) = history(env, rec_id)[len(before):]
    assert sent.startswith(f"Sent to {env.rmm_name}: ") and sent.endswith("note: Fixed.")


def test_completed_by_other_means_is_closed_once(env):
    """R15 holds when a plugin or another tool sets the status without going through the CLI."""
    rec_id, tid = env.linked_ticket()
    unlinked = env.ticket()
    env.psa.set_ticket_status(rec_id, STATUS_COMPLETED)
    env.psa.set_ticket_status(unlinked, STATUS_COMPLETED)
    env.pickup()
    send(env)
    env.pickup()
    send(env)
    assert env.remote_closed(tid)
    assert env.state.count_outbox(rec_id, ("close", "clear"), states=("pending", "done", "failed")) == 1
    assert env.state.count_outbox(unlinked, ("close", "clear"), states=("pending", "done", "failed")) == 0
    assert not actions.complete_ticket(env.app, rec_id, None, "jsmith").has_outbox_row


@needs_feed()
def test_one_sender_looks_for_completed_tickets_every_half_minute(env, sandbox):
    now = [1000.0]
    sender = OutboxSender(env.app, base_delay=0.05, clock=lambda: now[0])
    first, _ = env.linked_ticket()
    second, tid = env.linked_ticket()
    env.psa.set_ticket_status(first, STATUS_COMPLETED)
    sender.run_once()
    env.psa.set_ticket_status(second, STATUS_COMPLETED)
    sender.run_once()
    assert sandbox.world.ticket(tid)["status"] != "Closed"
    now[0] += 30
    sender.run_once()
    assert sandbox.world.ticket(tid)["status"] == "Closed"


@needs_feed()
@pytest.mark.skipif(psa_backend() != "embedded", reason="ages a ticket through the embedded PSA's SQLite table")
def test_later_sweeps_look_only_at_tickets_completed_since_the_sweep_before(env, sandbox):
    now = [1000.0]
    sender = OutboxSender(env.app, base_delay=0.05, clock=lambda: now[0])
    sender.run_once()  # the first sweep looks at every completed ticket
    stale, stale_tid = env.linked_ticket()
    fresh, fresh_tid = env.linked_ticket()
    env.psa.set_ticket_status(stale, STATUS_COMPLETED)
    env.psa.set_ticket_status(fresh, STATUS_COMPLETED)
    # Completed (so it says) long before the last sweep: outside the window a sweep reads.
    env.state.db.execute("UPDATE tickets SET updated_at = '2026-01-01T00:00:00.000000Z' WHERE rec_id = ?", (stale,))
    now[0] += 30
    sender.run_once()
    assert sandbox.world.ticket(fresh_tid)["status"] == "Closed"
    assert sandbox.world.ticket(stale_tid)["status"] != "Closed"

    restarted = OutboxSender(env.app, base_delay=0.05, clock=lambda: now[0])
    restarted.run_once()  # a new sender (the service restarted) looks at every one again
    assert sandbox.world.ticket(stale_tid)["status"] == "Closed"


def test_status_change_and_outbox_row_commit_together(env, monkeypatch):
    rec_id, _tid = env.linked_ticket()

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(env.state, "enqueue_outbox", broken)
    with pytest.raises(StoreError, match="disk I/O error"), env.app.unit_of_work():  # the caller's one unit
        CLOSE_TICKET.run(env.app, {"TicketRecID": rec_id}, "jsmith")  # SQLite's error, as the store's own
    # Rolled back with the row; a backend without transactions keeps the status (D9), and the
    # Completed sweep (R15) closes the ticket in Continuum all the same.
    expected = STATUS_NEW if env.psa.joins_state_transaction else STATUS_COMPLETED
    assert records.get_ticket(env.state, env.psa, rec_id).status_code == expected
    monkeypatch.undo()
    assert actions.complete_ticket(env.app, rec_id, None, "jsmith").has_outbox_row


# -- failures --------------------------------------------------------------------------------

def test_definitive_refusal_fails_the_row_and_tells_the_administrator(env, capture):
    rec_id = env.ticket()
    if env.snapshot:  # a check the RMM never heard of
        env.state.add_alert_ticket(rmm="", device_id=env.device, check_name="Gone", alert_id="999999999",
                                   site_code=env.site, ticket_rec_id=rec_id, failed_since="then", agent_mark="")
    else:
        env.state.link_ticket("999999999", rec_id, acked=True)  # Continuum never heard of it
    actions.complete_ticket(env.app, rec_id, "hello", "jsmith")
    assert send(env) == 1
    row = env.state.get_outbox(1)
    assert row.state == "failed" and row.last_error
    assert any(t.startswith(f"Not sent to {env.rmm_name}") for t in history(env, rec_id))
    assert events.REQUEST_FAILED in capture.kinds()
    assert reports.list_reports(env.app.settings.dbsys_folder)
    assert send(env) == 0


def test_transient_failures_are_retried_with_backoff_until_delivered(env):
    rec_id, tid = env.linked_ticket()
    queued = actions.complete_ticket(env.app, rec_id, "patience", "jsmith")
    env.outage(True)
    sender = OutboxSender(env.app, base_delay=0.05, pause_max=0.05)
    assert sender.run_once() == 0
    row = env.state.get_outbox(queued.outbox_id)
    assert row.state == "pending" and row.attempts == 1 and row.last_error
    assert sender.next_due_seconds() > 0
    env.outage(False)
    wait_for(lambda: sender.next_due_seconds() == 0, 5, "the row to be due again")
    wait_for(lambda: sender.run_once() == 1, 5, "the send once the RMM answers")
    assert env.remote_closed(tid)


@CREATE_TICKET
def test_answer_lost_after_apply_is_applied_once(env, sandbox):
    rec_id = env.ticket()
    actions.create_in_continuum(env.app, rec_id, "NOC", None, "jsmith")
    sandbox.faults.set(drop_after_apply_rate=1.0, paths=["/psa/v1/tickets"])
    sender = OutboxSender(env.app, base_delay=0.01, pause_max=0.01)
    sender.run_once()
    sandbox.faults.clear()
    import time
    time.sleep(0.1)
    sender.run_once()
    assert env.state.continuum_for_ticket(rec_id)
    assert len(sandbox.world.ledger) == 1 and list(ledger_by_key(sandbox).values()) == [1]


def test_bad_security_code_waits_without_failing_the_row(env, capture):
    rec_id, _tid = env.linked_ticket()
    actions.complete_ticket(env.app, rec_id, "hello", "jsmith")
    env.app.set_rmm(env.client(wrong_credentials=True))
    sender = OutboxSender(env.app, pause_max=60)
    assert sender.run_once() == 0
    assert sender.run_once() == 0  # paused: no second report, no hammering
    row = env.state.get_outbox(1)
    assert row.state == "pending"
    assert capture.kinds().count(events.SECURITY_CODE_REFUSED) == 1
    assert PSG not in str(reports.list_reports(env.app.settings.dbsys_folder))
    # a new INI (new settings object) lifts the pause at once
    from config.loader import parse_settings
    settings = parse_settings(env.app.config_path.read_text(), base_dir=env.app.config_path.parent)
    env.app.replace_settings(settings)
    env.app.set_rmm(env.client())
    assert OutboxSender(env.app).run_once() == 1


def test_next_due_seconds(env):
    sender = OutboxSender(env.app)
    assert sender.next_due_seconds() == float("inf")
    rec_id, _tid = env.linked_ticket()
    actions.complete_ticket(env.app, rec_id, "x", "jsmith")
    assert sender.next_due_seconds() == 0


@ADD_NOTE
def test_a_store_error_after_continuum_took_the_action_backs_off_and_is_never_doubled(env, monkeypatch):
    now = [1000.0]
    sender = OutboxSender(env.app, base_delay=0.05, clock=lambda: now[0], workers=2)
    rec_id, tid = env.linked_ticket()
    queued = actions.add_note(env.app, rec_id, "first try", "jsmith")
    others = [actions.add_note(env.app, env.linked_ticket()[0], f"ticket {n}", "jsmith") for n in range(4)]
    real = env.psa.add_history
    calls = []

    def disk_full(*args, **kwargs):
        calls.append(args)
        raise StoreError("the store failed: database or disk is full")

    monkeypatch.setattr(env.psa, "add_history", disk_full)
    assert sender.run_once() == 0
    # Only the two sends in flight when the store failed are recorded (and fail): no re-send
    # storm, and the rest of the round waits.
    assert len(calls) == 2
    row = env.state.get_outbox(queued.outbox_id)
    assert row.state == "pending" and row.attempts == 1 and "disk is full" in row.last_error
    assert sorted(env.state.get_outbox(q.outbox_id).attempts for q in others) == [0, 0, 0, 1]
    assert sender.run_once() == 0 and len(calls) == 2  # paused: nothing is sent again at once
    monkeypatch.setattr(env.psa, "add_history", real)
    now[0] += 120
    # Both rows whose send failed wait out their own back-off, measured on the store's clock.
    wait_for(lambda: all(env.state.get_outbox(q.outbox_id).next_attempt_at <= now_iso() for q in [queued, *others]),
             5, "the rows due again")
    assert sender.run_once() == 5
    assert env.state.get_outbox(queued.outbox_id).state == "done" and env.state.outbox_depth() == 0
    # Sent twice, applied once: the idempotency key makes the second send a no-op in Continuum (an
    # RMM without such keys, N-sight, keeps the note twice: docs/nsight.md says so).
    assert 1 <= env.remote_notes(tid).count("first try") <= (1 if env.rmm_name == "Continuum" else 2)


@ADD_NOTE
def test_once_stopping_the_sender_finishes_the_send_in_flight_and_starts_no_other(env):
    import threading

    stop = threading.Event()
    sender = OutboxSender(env.app, base_delay=0.05, stop=stop)
    rec_id, tid = env.linked_ticket()
    for n in range(5):
        actions.add_note(env.app, rec_id, f"note {n}", "jsmith")
    client = env.app.rmm
    name = "add_alert_note" if env.snapshot else "add_note"
    real = getattr(client, name)

    def add_note_then_stop(*args, **kwargs):
        stop.set()  # the stop request arrives while the first note is on its way
        return real(*args, **kwargs)

    setattr(client, name, add_note_then_stop)
    try:
        assert sender.run_once() == 1
    finally:
        setattr(client, name, real)
    assert env.remote_notes(tid)[-1] == "note 0"
    assert env.state.outbox_depth() == 4  # the rest waits, queued, for the next start


# -- capabilities of the configured RMM ------------------------------------------------------

def test_an_rmm_without_tickets_of_its_own_refuses_create_and_reassign_with_a_clear_message(env, sandbox):
    from agent.backends.memory_rmm import MemoryRmm
    from agent.ports.rmm import RmmUnsupported
    from agent.sync.outbound.registry import CREATE_TICKET, REASSIGN

    env.app.set_rmm(MemoryRmm())
    rec_id = env.ticket()
    with pytest.raises(RmmUnsupported, match="cannot send a ticket to the RMM's NOC") as info:
        CREATE_TICKET.run(env.app, {"TicketRecID": rec_id, "AssignTo": "NOC"}, "jsmith")
    assert "add a note in the RMM" in str(info.value) and not info.value.retryable
    with pytest.raises(RmmUnsupported, match="cannot reassign"):
        REASSIGN.run(env.app, {"TicketRecID": rec_id, "AssignTo": "VSD", "Note": "over to you"}, "jsmith")
    assert env.state.outbox_depth() == 0
