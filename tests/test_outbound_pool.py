"""The sender's pool: tickets side by side, each ticket's rows one at a time and in order.

A recorder inside the sandbox Continuum holds every note request a moment and notes when it
arrived and which others were in flight meanwhile; nothing here measures time.
"""

from __future__ import annotations

import threading
import time

import pytest

from agent.sandbox import SandboxServer
from agent.sync.outbound import actions
from agent.sync.outbound.sender import OutboxSender

from test_outbound_support import PSG, env, ledger_by_key  # noqa: F401 - env is a fixture


class Recorder:
    """Wraps the sandbox API: each note request is held ``hold`` seconds while it counts as in
    flight; keeps the arrival order of idempotency keys per ticket and the most in flight at once,
    per ticket and in all. ``on_arrival(n)`` is called with the number of notes arrived so far."""

    def __init__(self, sandbox, hold: float, on_arrival=None) -> None:
        self.hold = hold
        self.on_arrival = on_arrival
        self.arrivals: dict[str, list[str]] = {}
        self.most_per_ticket = 0
        self.most_in_all = 0
        self._flying: dict[str, int] = {}
        self._lock = threading.Lock()
        self._real = sandbox.api.handle
        sandbox.api.handle = self.handle

    def handle(self, req):
        parts = req.path.strip("/").split("/")
        if req.method != "POST" or parts[-1] != "notes":
            return self._real(req)
        ticket = parts[-2]
        with self._lock:
            self.arrivals.setdefault(ticket, []).append(req.headers.get("Idempotency-Key"))
            self._flying[ticket] = self._flying.get(ticket, 0) + 1
            self.most_per_ticket = max(self.most_per_ticket, self._flying[ticket])
            self.most_in_all = max(self.most_in_all, sum(self._flying.values()))
            arrived = sum(len(keys) for keys in self.arrivals.values())
        if self.on_arrival is not None:
            self.on_arrival(arrived)
        try:
            time.sleep(self.hold)
            return self._real(req)
        finally:
            with self._lock:
                self._flying[ticket] -= 1


@pytest.fixture
def sandbox():
    with SandboxServer(psg=PSG, seed=5, sites=4, devices=12) as server:
        yield server


def queue_notes(env, tickets: int, per_ticket: int) -> dict[str, list[str]]:
    """Notes queued round-robin over new linked tickets; the keys in queue order by Continuum ticket."""
    linked = [env.linked_ticket() for _ in range(tickets)]
    keys: dict[str, list[str]] = {tid: [] for _rec, tid in linked}
    for n in range(per_ticket):
        for rec_id, tid in linked:
            keys[tid].append(actions.add_note(env.app, rec_id, f"note {n}", "jsmith").idem_key)
    return keys


def test_each_tickets_rows_go_one_at_a_time_in_order_while_tickets_overlap(env, sandbox):
    keys = queue_notes(env, tickets=6, per_ticket=5)
    recorder = Recorder(sandbox, hold=0.05)
    sender = OutboxSender(env.app, workers=4)
    assert sender.run_once() == 30
    assert recorder.arrivals == keys  # every ticket's notes in the order they were queued
    assert recorder.most_per_ticket == 1  # never two rows of one ticket in flight
    assert 2 <= recorder.most_in_all <= 4  # tickets side by side, never more than the pool
    assert set(ledger_by_key(sandbox).values()) == {1} and len(sandbox.world.ledger) == 30
    assert env.state.outbox_depth() == 0


def test_a_pool_of_one_sends_one_row_at_a_time(env, sandbox):
    keys = queue_notes(env, tickets=3, per_ticket=3)
    recorder = Recorder(sandbox, hold=0.02)
    assert OutboxSender(env.app, workers=1).run_once() == 9
    assert recorder.most_in_all == 1 and recorder.arrivals == keys


def test_a_ticket_whose_head_waits_holds_its_later_rows_while_the_others_go(env, sandbox):
    keys = queue_notes(env, tickets=3, per_ticket=3)
    waiting = next(iter(keys))
    head = env.state.outbox_id(keys[waiting][0])
    env.state.outbox_retry_later(head, "2999-01-01T00:00:00.000000Z", "Continuum was unavailable")
    assert OutboxSender(env.app, workers=3).run_once() == 6
    delivered = {e["idempotency_key"] for e in sandbox.world.ledger}
    assert delivered == {k for tid, ks in keys.items() if tid != waiting for k in ks}
    assert env.state.outbox_depth() == 3  # the waiting ticket's three, behind its head


def test_once_stopping_the_sends_in_flight_finish_and_no_other_starts(env, sandbox):
    stop = threading.Event()
    keys = queue_notes(env, tickets=3, per_ticket=3)
    # The stop request arrives once all three tickets' first notes are on their way.
    Recorder(sandbox, hold=0.1, on_arrival=lambda arrived: arrived >= 3 and stop.set())
    sender = OutboxSender(env.app, workers=3, stop=stop)
    assert sender.run_once() == 3
    assert sorted(e["idempotency_key"] for e in sandbox.world.ledger) == sorted(ks[0] for ks in keys.values())
    assert env.state.outbox_depth() == 6  # the rest waits, queued, for the next start
    states = env.state.db.query("SELECT idem_key, state FROM outbox")
    assert {r["idem_key"] for r in states if r["state"] == "done"} == {ks[0] for ks in keys.values()}


def test_a_tickets_rows_sent_one_after_another_are_recorded_in_one_commit_per_run(env, sandbox, monkeypatch):
    from agent.sync.outbound.sender import RUN_ROWS

    keys = queue_notes(env, tickets=1, per_ticket=2 * RUN_ROWS + 5)
    recorder = Recorder(sandbox, hold=0.0)
    commits: list[int] = []
    real = env.app.unit_of_work

    def counted(**kwargs):
        commits.append(1)
        return real(**kwargs)

    monkeypatch.setattr(env.app, "unit_of_work", counted)
    assert OutboxSender(env.app, workers=4).run_once() == 2 * RUN_ROWS + 5
    assert recorder.arrivals == keys and recorder.most_per_ticket == 1
    assert len(commits) == 3  # a commit per run of RUN_ROWS rows, not one per row
    assert set(ledger_by_key(sandbox).values()) == {1} and env.state.outbox_depth() == 0


def test_a_run_whose_commit_fails_is_sent_again_in_order_with_the_same_keys_and_applied_once(env, sandbox,
                                                                                             monkeypatch):
    from agent.errors import StoreError
    from agent.ports.times import now_iso

    from conftest import wait_for

    now = [1000.0]
    keys = queue_notes(env, tickets=1, per_ticket=10)
    tid = next(iter(keys))
    sender = OutboxSender(env.app, base_delay=0.01, clock=lambda: now[0])
    real = env.state.outbox_finish

    def disk_full(*args, **kwargs):
        raise StoreError("the store failed: database or disk is full")

    monkeypatch.setattr(env.state, "outbox_finish", disk_full)
    assert sender.run_once() == 0  # Continuum took the run; recording it failed, as a crash would lose it
    assert env.state.outbox_depth() == 10 and len(sandbox.world.ledger) == 10
    monkeypatch.setattr(env.state, "outbox_finish", real)
    recorder = Recorder(sandbox, hold=0.0)
    now[0] += 120  # past the sender's pause
    head = env.state.outbox_id(keys[tid][0])
    wait_for(lambda: env.state.get_outbox(head).next_attempt_at <= now_iso(), 5, "the run's head due again")
    assert sender.run_once() == 10
    assert recorder.arrivals == keys  # the same keys, in the same order
    assert set(ledger_by_key(sandbox).values()) == {1} and len(sandbox.world.ledger) == 10
    texts = [n["text"] for n in sandbox.world.ticket(tid)["notes"] if n["text"].startswith("note ")]
    assert texts == [f"note {n}" for n in range(10)]
    assert env.state.outbox_depth() == 0
