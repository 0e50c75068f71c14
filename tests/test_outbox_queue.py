"""The outbox's pick-next query: each ticket's head, through the pending-only index.

What it reads is measured in SQLite virtual-machine steps (a deterministic count), never in time.
"""

from __future__ import annotations

import sqlite3

import pytest
from stores import embedded

from agent.backends.embedded.migrations import MIGRATIONS
from agent.ports.times import now_iso

LATER = "2999-01-01T00:00:00.000000Z"


@pytest.fixture
def state(tmp_path):
    with embedded(tmp_path / "z.sqlite3") as (state, _psa):
        yield state


def fill(state, tickets: int, finished: int, pending: int) -> None:
    """``finished`` then ``pending`` rows for each of ``tickets`` tickets, interleaved as a busy
    queue writes them."""
    rows = [(f"k{n}-{t}", f"TKT{t:04d}", "done" if n < finished else "pending")
            for n in range(finished + pending) for t in range(tickets)]
    with state.db.transaction() as conn:
        conn.executemany("INSERT INTO outbox(idem_key, ticket_rec_id, action, payload, state, next_attempt_at,"
                         " created_at) VALUES (?, ?, 'note', '{}', ?, '2000-01-01', '2000-01-01')", rows)


def steps(state, call) -> int:
    """How many SQLite virtual-machine steps ``call`` makes."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    state.db.conn.set_progress_handler(tick, 1)
    try:
        with state.db.transaction():  # on the writer's connection, whose steps are counted
            call()
    finally:
        state.db.conn.set_progress_handler(None, 1)
    return count[0]


def statements(state, call) -> list[str]:
    """The SQL ``call`` runs, with its parameters in place."""
    seen: list[str] = []
    state.db.conn.set_trace_callback(seen.append)
    try:
        with state.db.transaction():  # on the writer's connection, which is traced
            call()
    finally:
        state.db.conn.set_trace_callback(None)
    return [sql for sql in seen if not sql.startswith(("BEGIN", "COMMIT"))]


def test_the_plan_reads_pending_rows_only(state):
    fill(state, tickets=5, finished=20, pending=20)
    state.db.conn.execute("ANALYZE")  # whatever the statistics say, the plan stays on the queue
    [sql] = statements(state, lambda: state.due_outbox("9999"))
    plan = [r["detail"] for r in state.db.query("EXPLAIN QUERY PLAN " + sql)]
    reads = [d for d in plan if " outbox" in d or d.startswith(("SCAN o", "SEARCH o"))]
    assert reads and all("outbox_queue" in d or "PRIMARY KEY" in d for d in reads), plan
    assert not any(d.startswith("SCAN") and "outbox" in d for d in plan), plan


def test_a_call_costs_the_same_however_many_rows_are_finished_or_waiting(tmp_path):
    costs = {}
    for finished, pending in ((10, 10), (400, 10), (10, 400)):
        with embedded(tmp_path / f"{finished}-{pending}.sqlite3") as (state, _psa):
            fill(state, tickets=20, finished=finished, pending=pending)
            assert len(state.due_outbox("9999")) == 20
            costs[finished, pending] = steps(state, lambda state=state: state.due_outbox("9999"))
    small = costs[10, 10]
    # 20 tickets' heads each time: 40 times the finished rows or the waiting ones read no more.
    assert costs[400, 10] <= small * 1.1 and costs[10, 400] <= small * 1.1, costs


def test_the_first_pending_row_of_a_ticket_is_one_seek(tmp_path):
    costs = []
    for finished in (10, 2000):
        with embedded(tmp_path / f"{finished}.sqlite3") as (state, _psa):
            fill(state, tickets=1, finished=finished, pending=5)
            assert state.first_pending_outbox_id("TKT0000") == finished + 1
            costs.append(steps(state, lambda state=state: state.first_pending_outbox_id("TKT0000")))
    assert costs[1] <= costs[0] * 1.1, costs


def test_heads_only_oldest_first_and_a_waiting_head_holds_its_ticket(state):
    a1 = state.enqueue_outbox("a1", "TKTA", "note", {})
    state.enqueue_outbox("b1", "TKTB", "note", {})
    a2 = state.enqueue_outbox("a2", "TKTA", "note", {})
    c1 = state.enqueue_outbox("c1", "TKTC", "note", {})
    assert [i.idem_key for i in state.due_outbox(now_iso())] == ["a1", "b1", "c1"]
    assert [i.idem_key for i in state.due_outbox(now_iso(), 2)] == ["a1", "b1"]
    state.outbox_retry_later(c1, LATER, "later")  # C's head waits: nothing of C goes before it
    state.enqueue_outbox("c2", "TKTC", "note", {})
    assert [i.idem_key for i in state.due_outbox(now_iso())] == ["a1", "b1"]
    state.outbox_finish(a1, "done")
    assert [i.idem_key for i in state.due_outbox(now_iso())] == ["b1", "a2"]
    state.outbox_finish(a2, "failed")
    assert [i.idem_key for i in state.due_outbox(now_iso())] == ["b1"]
    assert state.due_outbox("2000-01-01T00:00:00.000000Z") == []


def test_tickets_with_a_row_in_flight_are_skipped(state):
    for key, ticket in (("a1", "TKTA"), ("b1", "TKTB"), ("a2", "TKTA"), ("c1", "TKTC")):
        state.enqueue_outbox(key, ticket, "note", {})
    assert [i.idem_key for i in state.due_outbox(now_iso(), skip=["TKTA"])] == ["b1", "c1"]
    assert [i.idem_key for i in state.due_outbox(now_iso(), 1, skip={"TKTA", "TKTB"})] == ["c1"]
    assert state.due_outbox(now_iso(), skip=["TKTA", "TKTB", "TKTC"]) == []


def test_a_store_of_schema_7_gains_the_queue_index_and_keeps_its_rows(tmp_path):
    path = tmp_path / "z.sqlite3"
    conn = sqlite3.connect(path)
    for step, script in enumerate(MIGRATIONS[:7], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version={step}")
    conn.executemany("INSERT INTO outbox(idem_key, ticket_rec_id, action, payload, state, next_attempt_at,"
                     " created_at) VALUES (?, ?, 'note', '{}', ?, '2000-01-01', '2000-01-01')",
                     [("k1", "TKTA", "done"), ("k2", "TKTA", "pending"), ("k3", "TKTB", "pending")])
    conn.commit()
    conn.close()
    with embedded(path) as (state, _psa):
        assert state.db.schema_version == len(MIGRATIONS) >= 8
        assert state.db.scalar("SELECT sql FROM sqlite_master WHERE name = 'outbox_queue'").endswith(
            "WHERE state = 'pending'")
        assert [i.idem_key for i in state.due_outbox("9999")] == ["k2", "k3"]
