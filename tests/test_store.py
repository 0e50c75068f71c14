"""The embedded store: migrations, REC IDs, the PSA model, links, backup while writing."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from stores import embedded

from agent.backends.embedded import StateStore
from agent.backends.embedded.migrations import MIGRATIONS
from agent.errors import MissingUser, NotFoundError, PrivilegeError, UsageError
from agent.ports.psa import STATUS_COMPLETED, PsaNotFound
from agent.ports.recid import PATTERN, is_rec_id, new_rec_id
from agent.ports.times import now_iso, parse_stored_time, stored_time
from agent.sync import records
from agent.sync.inbound.rules import human_time, seen_fields, store_time


@pytest.fixture
def stores(tmp_path):
    with embedded(tmp_path / "z.sqlite3") as pair:
        yield pair


@pytest.fixture
def state(stores):
    return stores[0]


@pytest.fixture
def psa(stores):
    return stores[1]


def test_migrates_from_empty_and_reopens(tmp_path):
    path = tmp_path / "z.sqlite3"
    with embedded(path) as (s, psa):
        assert s.db.schema_version == len(MIGRATIONS)
        rec = psa.add_account("ACME")
    with embedded(path) as (s, psa):
        assert s.db.schema_version == len(MIGRATIONS)
        assert psa.get_account(rec).name == "ACME"


def test_request_extras_move_from_the_sync_state_into_the_request(tmp_path):
    path = tmp_path / "z.sqlite3"
    conn = sqlite3.connect(path)
    for step, script in enumerate(MIGRATIONS[:2], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version={step}")
    conn.executemany("INSERT INTO requests(request_id, content_hash, filename, action, status, received_at)"
                     " VALUES (?, 'h', 'f.xml', 'LinkSite', 'Done', 'now')", [("r1",), ("r2",)])
    conn.executemany("INSERT INTO sync_state(key, value) VALUES (?, ?)",
                     [("request_extra:r1", '{"AccountRecID": "CRD1"}'), ("feed_cursor", "c9")])
    conn.commit()
    conn.close()
    with embedded(path) as (s, psa):
        assert s.request_seen("r1")["extra"] == {"AccountRecID": "CRD1"}
        assert s.request_seen("r2")["extra"] is None
        assert s.get_state("request_extra:r1") is None and s.feed_cursor == "c9"
        assert s.record_request("r3", "h", "r3.xml", "CreateAssetFromDevice", "ann", "Done",
                                extra={"AssetRecID": "AST1"})
        assert s.request_seen("r3")["extra"] == {"AssetRecID": "AST1"}
        assert {r["request_id"]: r["extra"] for r in s.list_requests()} == {
            "r1": {"AccountRecID": "CRD1"}, "r2": None, "r3": {"AssetRecID": "AST1"}}


def test_last_seen_fields_move_from_the_sync_state_onto_the_ticket_links(tmp_path):
    path = tmp_path / "z.sqlite3"
    conn = sqlite3.connect(path)
    for step, script in enumerate(MIGRATIONS[:3], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version={step}")
    conn.execute("INSERT INTO accounts(rec_id, name, seq, created_at) VALUES ('CRD1', 'A', 1, 'now')")
    for n in (1, 2, 3):
        conn.execute("INSERT INTO tickets(rec_id, ticket_no, account_rec_id, description, created_at, updated_at)"
                     f" VALUES ('TKT{n}', {n}, 'CRD1', 'd', 'now', 'now')")
        conn.execute("INSERT INTO ticket_links(continuum_ticket_id, ticket_rec_id, linked_at)"
                     f" VALUES ('C{n}', 'TKT{n}', 'now')")
    old = {"title": "Disk low", "description": "C: 4%", "priority": "High", "status": "New",
           "assigned_to": "NOC", "site_code": "S1", "device_id": ""}
    conn.executemany("INSERT INTO sync_state(key, value) VALUES (?, ?)",
                     [("continuum_ticket:C1", json.dumps(old)), ("continuum_ticket:C2", "not json"),
                      ("continuum_ticket:C9", json.dumps(old)), ("feed_cursor", "c9")])
    conn.commit()
    conn.close()
    with embedded(path) as (s, psa):
        links = s.ticket_links_among(["C1", "C2", "C3", "C9"])
        assert set(links) == {"C1", "C2", "C3"}
        assert seen_fields(links["C1"][1]) == old
        assert links["C2"] == ("TKT2", None) and links["C3"] == ("TKT3", None)
        assert s.db.scalar("SELECT COUNT(*) FROM sync_state WHERE key GLOB 'continuum_ticket:*'") == 0
        assert s.feed_cursor == "c9"
        s.set_seen_many([("C3", "t" + "\x1f" * 6)])
        assert seen_fields(s.ticket_links_among(["C3"])["C3"][1])["title"] == "t"


def test_pragmas_wal_and_full_sync(state, psa):
    assert state.db.scalar("PRAGMA journal_mode") == "wal"
    assert state.db.scalar("PRAGMA synchronous") == 2


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "z.sqlite3"
    StateStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(Exception, match="newer zenithlink"):
        StateStore(path)


@pytest.mark.parametrize("table,prefix", [("account", "CRD"), ("asset", "AST"), ("ticket", "TKT"),
                                          ("history", "HIS"), ("employee", "EMP")])
def test_rec_id_format(table, prefix):
    ids = {new_rec_id(table) for _ in range(500)}
    assert len(ids) == 500
    for rec in ids:
        assert len(rec) == 20 and rec.startswith(prefix) and PATTERN.match(rec)
        assert is_rec_id(rec, table)


def test_rec_id_starts_with_the_creation_millisecond():
    before = time.time_ns() // 1_000_000
    rec = new_rec_id("ticket")
    after = time.time_ns() // 1_000_000
    assert before <= int(rec[3:12], 36) <= after


def test_stored_times_read_back_and_sort_as_text():
    moment = datetime(2026, 11, 27, 10, 0, 5, 120, tzinfo=timezone(timedelta(hours=2)))
    text = stored_time(moment)
    assert text == "2026-11-27T08:00:05.000120Z"
    assert parse_stored_time(text) == moment
    now = now_iso()
    assert len(now) == len(text) and parse_stored_time(now) > moment and now > text


def test_continuum_times_in_the_store_and_in_notes():
    assert store_time("2026-11-27T10:00:00Z") == "2026-11-27T10:00:00.000000Z"
    assert human_time("2026-11-27T10:00:59Z") == "2026-11-27 10:00 UTC"
    assert human_time("yesterday") == "yesterday" and human_time("") == "an unknown time"
    assert parse_stored_time(store_time("yesterday")) > datetime(2026, 1, 1, tzinfo=timezone.utc)  # now


def test_accounts_keep_creation_order_and_first_account(state, psa):
    a = psa.add_account("Own business")
    b = psa.add_account("ACME")
    assert [x.rec_id for x in psa.list_accounts()] == [a, b]
    assert psa.first_account().rec_id == a
    assert psa.find_account("acme").rec_id == b
    with pytest.raises(UsageError):
        psa.add_account("  ")


def test_builtin_groups_and_privilege(state, psa):
    groups = {g["name"]: g["continuum"] for g in state.list_groups()}
    assert groups == {"Full": True, "Partial": False, "Limited": False, "Sys Admin": True}
    state.add_group("Dispatch", continuum=True)
    state.add_employee("ann", group="Dispatch")
    state.add_employee("bob", group="Limited")
    assert state.require_privilege("ann", "link sites")["login"] == "ann"
    with pytest.raises(PrivilegeError) as info:
        state.require_privilege("bob", "link sites")
    assert "Continuum Integration" in info.value.message and "Limited" in info.value.message
    assert info.value.exit_code == 3
    with pytest.raises(MissingUser) as missing:
        state.require_privilege(None, "link sites")
    assert missing.value.exit_code == 2
    assert [(e["login"], e["name"], e["group"], e["continuum"]) for e in state.list_employees()] == [
        ("ann", "ann", "Dispatch", True), ("bob", "bob", "Limited", False)]
    assert state.list_employees()[1] == state.get_employee("BOB")


def test_tickets_history_status_inbox(state, psa):
    acc = psa.add_account("ACME")
    ast = psa.add_asset("PC-1", acc, serial="S1")
    t = psa.add_ticket(acc, "Disk full", asset_rec_id=ast, in_inbox=True)
    psa.add_history(t, "first", at="2026-11-27T10:00:00Z")
    psa.add_history(t, "second", at="2026-11-27T11:00:00Z")
    assert psa.set_ticket_status(t, STATUS_COMPLETED) == 100
    ticket = records.get_ticket(state, psa, t)
    doc = ticket.as_dict()
    assert doc["status"] == "Completed" and doc["status_code"] == 1000 and doc["in_inbox"] is False
    assert [h["text"] for h in doc["history"]] == ["first", "second"]
    assert set(doc) >= {"rec_id", "ticket_no", "description", "status", "status_code", "in_inbox",
                        "account_rec_id", "asset_rec_id", "manager", "continuum_ticket_id", "history"}
    assert records.list_tickets(state, psa, inbox=True) == []  # Completed: out of the Inbox
    with pytest.raises(NotFoundError):
        records.get_ticket(state, psa, "TKT00000000000000000")


def test_transaction_rolls_back_everything(state, psa):
    with pytest.raises(RuntimeError):
        with state.transaction():
            psa.add_account("A")
            state.set_state("feed_cursor", "c-9")
            raise RuntimeError("crash")
    assert psa.list_accounts() == [] and state.feed_cursor is None


def test_unlink_account_cascade_and_merge(state, psa):
    auto = psa.add_account("[Continuum AUTO CREATED] ACME", auto_created=True)
    real = psa.add_account("ACME")
    state.link_site("ACME-HQ", auto)
    state.link_site("ACME-BR", auto)
    asset = psa.add_asset("DC01", auto)
    state.link_device("D-1", asset)
    t = psa.add_ticket(auto, "x")
    state.link_ticket("2026000001", t)
    moved = records.merge_accounts(state, psa, auto, real)
    assert moved == {"sites": 2, "tickets": 1, "assets": 1}
    assert state.account_for_site("ACME-HQ") == real
    assert records.get_ticket(state, psa, t).account_rec_id == real
    with pytest.raises(NotFoundError):
        psa.get_account(auto)
    removed = records.unlink_account(state, psa, real)
    assert removed == {"sites": ["ACME-BR", "ACME-HQ"], "ticket_links": 1, "device_links": 1}
    assert state.site_links() == {} and state.device_links() == {} and state.continuum_for_ticket(t) is None


def test_outbox_orders_per_ticket_and_dedupes_keys(state, psa):
    acc = psa.add_account("A")
    t1, t2 = psa.add_ticket(acc, "one"), psa.add_ticket(acc, "two")
    first = state.enqueue_outbox("k1", t1, "create", {"a": 1})
    state.enqueue_outbox("k2", t1, "note", {})
    state.enqueue_outbox("k3", t2, "note", {})
    assert state.enqueue_outbox("k1", t1, "create", {"a": 1}) is None
    due = state.due_outbox("9999")
    assert [i.idem_key for i in due] == ["k1", "k3"]
    state.outbox_finish(first, "done")
    assert [i.idem_key for i in state.due_outbox("9999")] == ["k2", "k3"]
    assert state.outbox_depth() == 2


def test_outbox_lookups_by_key_ticket_action_and_state(state, psa):
    acc = psa.add_account("A")
    t1, t2 = psa.add_ticket(acc, "one"), psa.add_ticket(acc, "two")
    create = state.enqueue_outbox("k1", t1, "create", {})
    note = state.enqueue_outbox("k2", t1, "note", {})
    state.enqueue_outbox("k3", t2, "close", {})
    assert state.outbox_id("k2") == note and state.outbox_id("nope") is None
    assert state.count_outbox(t1, ("create",)) == 1
    assert state.count_outbox(t1, ("create", "note")) == 2
    assert state.count_outbox(t1, ("close",)) == 0
    assert state.first_pending_outbox_id(t1) == create
    state.outbox_finish(create, "done", result={"continuum_ticket_id": "77"})
    assert state.count_outbox(t1, ("create",)) == 0
    assert state.count_outbox(t1, ("create",), states=("pending", "done")) == 1
    assert state.first_pending_outbox_id(t1) == note
    assert state.get_outbox(create).result == {"continuum_ticket_id": "77"}
    assert state.get_outbox(note).result is None
    state.outbox_retry_later(note, "2999-01-01T00:00:00.000000Z", "later")
    assert state.next_outbox_attempt() == state.get_outbox(state.outbox_id("k3")).next_attempt_at
    for key in ("k2", "k3"):
        state.outbox_finish(state.outbox_id(key), "failed")
    assert state.next_outbox_attempt() is None and state.first_pending_outbox_id(t1) is None


def test_requests_are_claimed_once(state, psa):
    assert state.record_request("r1", "h", "r1.xml", "AddNote", "ann", "Queued")
    assert not state.record_request("r1", "h", "r1.xml", "AddNote", "ann", "Queued")
    state.finish_request("r1", "Done", continuum_ticket_id="42")
    assert state.request_seen("r1")["status"] == "Done"


def test_backup_while_writing(state, psa, tmp_path):
    acc = psa.add_account("A")
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            psa.add_ticket(acc, "load")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for n in range(3):
            target = tmp_path / f"backup{n}.sqlite3"
            state.db.backup(target)
            copy = sqlite3.connect(target)
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 1
            copy.close()
    finally:
        stop.set()
        thread.join()
    assert psa.count_tickets() > 0


# -- batch methods and per-transaction memos the inbound sync relies on -----------------------

def test_processed_changes_in_batches(state, psa):
    assert state.processed_among([]) == set() and state.mark_processed_many([]) == 0
    state.mark_processed("c-1")
    assert state.mark_processed_many(["c-2", "c-1", "c-3", "c-2"]) == 2  # c-1 known, c-2 twice
    assert state.processed_among(["c-0", "c-1", "c-2", "c-3", "c-4"]) == {"c-1", "c-2", "c-3"}
    assert all(state.is_processed(c) for c in ("c-1", "c-2", "c-3")) and not state.is_processed("c-4")
    many = [f"x-{n}" for n in range(2000)]  # more than a page, in one query
    state.mark_processed_many(many[::2])
    assert state.processed_among(many) == set(many[::2])


def test_states_in_batches(state, psa):
    state.set_states({"a": "1", "b": "2", "c": None})
    state.set_states({"b": "3"})
    state.set_states({})
    assert state.get_states(["a", "b", "c", "d"]) == {"a": "1", "b": "3"}
    assert state.get_state("b") == "3" and state.get_state("c", "none") == "none"
    assert state.get_states([]) == {}
    state.set_states({"fail:1": "2", "fail:2": "1", "fail;": "x", "fail": "y", "failed:1": "z"})
    assert state.get_states_with_prefix("fail:") == {"fail:1": "2", "fail:2": "1"}


def test_tickets_for_continuum_in_one_query(state, psa):
    acct = psa.add_account("ACME")
    t1, t2 = psa.add_ticket(acct, "one"), psa.add_ticket(acct, "two")
    state.link_ticket("C-1", t1)
    state.link_ticket("C-2", t2)
    assert state.tickets_for_continuum(["C-1", "C-2", "C-3"]) == {"C-1": t1, "C-2": t2}
    assert state.tickets_for_continuum([]) == {}


def test_account_manager_and_unknown_or_merged_accounts(state, psa):
    state.add_employee("alice")
    a = psa.add_account("ACME", manager="alice")
    b = psa.add_account("Beta")
    assert psa.account_manager(a) == "alice" and psa.account_manager(b) is None
    with pytest.raises(NotFoundError):
        psa.account_manager("CRD00000000000000000")
    records.merge_accounts(state, psa, b, a)
    with pytest.raises(NotFoundError):
        psa.account_manager(b)
    with pytest.raises(NotFoundError):
        psa.add_ticket(b, "into a merged account")


def test_ticket_numbers_run_on_within_and_across_transactions(state, psa):
    acct = psa.add_account("ACME")
    first = psa.add_ticket(acct, "before")
    with state.transaction():
        inside = [psa.add_ticket(acct, f"t{n}") for n in range(5)]
    with pytest.raises(RuntimeError):
        with state.transaction():
            psa.add_ticket(acct, "rolled back")
            raise RuntimeError("boom")
    # a ticket written by another connection between two transactions of this one
    other = sqlite3.connect(state.path)
    other.execute("INSERT INTO tickets(rec_id, ticket_no, account_rec_id, description, created_at, updated_at)"
                  " VALUES ('TKT00000000000000001', 7, ?, 'elsewhere', 'x', 'x')", (acct,))
    other.commit()
    other.close()
    with state.transaction():
        after = psa.add_ticket(acct, "after")
    numbers = {t.rec_id: t.ticket_no for t in records.list_tickets(state, psa, )}
    assert [numbers[t] for t in [first, *inside]] == [1, 2, 3, 4, 5, 6]
    assert numbers[after] == 8 and len(numbers) == 8


class _Statements:
    """The store's connection, counting the statements run on it (``execute`` and ``executemany``)."""

    def __init__(self, conn):
        self.conn, self.calls = conn, []

    def execute(self, sql, params=()):
        self.calls.append(("execute", sql.split("(")[0].strip(), 1))
        return self.conn.execute(sql, params)

    def executemany(self, sql, rows):
        rows = list(rows)
        self.calls.append(("executemany", sql.split("(")[0].strip(), len(rows)))
        return self.conn.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self.conn, name)


def test_a_batch_writes_new_tickets_their_notes_and_links_together_before_the_next_read(state, psa):
    acct = psa.add_account("ACME")
    spy = state.db.conn = _Statements(state.db.conn)
    with state.transaction(), psa.batch():
        made = []
        for n in range(3):
            ticket = psa.add_ticket(acct, f"alert {n}", in_inbox=True)
            psa.add_history(ticket, f"Created {n}", at=now_iso(), touch=False)
            state.link_ticket(f"CT-{n}", ticket)
            made.append(ticket)
        assert state.get_state("feed_cursor") is None  # a read of another table cannot see them...
        inserts = [c for c in spy.calls if c[1].startswith("INSERT")]
        assert inserts == []  # ...so they are held still
        assert psa.count_tickets() == 3  # a read finds them written
        inserts = [c for c in spy.calls if c[1].startswith("INSERT")]
        assert inserts == [("executemany", "INSERT INTO tickets", 3), ("executemany", "INSERT INTO history", 3),
                           ("executemany", "INSERT INTO ticket_links", 3)]
        late = psa.add_ticket(acct, "late")
    assert [t.rec_id for t in psa.list_tickets()] == [*made, late]  # held rows are written by the commit
    assert state.ticket_for_continuum("CT-2") == made[2]


def test_rows_held_in_a_savepoint_that_fails_are_dropped_with_it(state, psa):
    acct = psa.add_account("ACME")
    with state.transaction(), psa.batch():
        kept = psa.add_ticket(acct, "kept")
        with pytest.raises(RuntimeError), state.savepoint():
            psa.add_ticket(acct, "undone")
            raise RuntimeError("boom")
        assert [t.rec_id for t in psa.list_tickets()] == [kept]
    with pytest.raises(RuntimeError), state.transaction(), psa.batch():
        psa.add_ticket(acct, "rolled back")
        raise RuntimeError("boom")
    assert [t.rec_id for t in psa.list_tickets()] == [kept]


def test_links_read_together_answer_for_the_transaction_and_follow_link_changes(state, psa):
    a = psa.add_account("A")
    state.link_site("S1", a)
    with state.transaction():
        state.read_links_of(["S1", "S2"], ["D1"])
        spy = state.db.conn = _Statements(state.db.conn)
        assert (state.account_for_site("S1"), state.account_for_site("S2"), state.asset_for_device("D1")) == \
            (a, None, None)
        assert spy.calls == []  # answered from what was read together
        state.link_site("S2", a)
        assert state.account_for_site("S2") == a
    state.db.conn = spy.conn


def test_site_account_memo_follows_link_changes_inside_a_transaction(state, psa):
    a, b = psa.add_account("A"), psa.add_account("B")
    with state.transaction():
        assert state.account_for_site("S1") is None
        state.link_site("S1", a)
        assert state.account_for_site("S1") == a
        state.link_site("S1", b)
        assert state.account_for_site("S1") == b
        state.unlink_site("S1")
        assert state.account_for_site("S1") is None
        state.link_site("S1", a)
        records.merge_accounts(state, psa, a, b)
        assert state.account_for_site("S1") == b
        records.unlink_account(state, psa, b)
        assert state.account_for_site("S1") is None
    with pytest.raises(RuntimeError):
        with state.transaction():
            state.link_site("S2", b)
            assert state.account_for_site("S2") == b
            raise RuntimeError("boom")
    with state.transaction():
        assert state.account_for_site("S2") is None  # nothing remembered from the rolled-back one


def test_memo_is_not_shared_with_another_thread_outside_the_transaction(state, psa):
    a = psa.add_account("A")
    state.link_site("S1", a)
    seen = []
    with state.transaction():
        assert state.account_for_site("S1") == a
        worker = threading.Thread(target=lambda: seen.append(state.account_for_site("S1")))
        worker.start()
        state.unlink_site("S1")
    worker.join()
    assert seen == [None]  # waited for the commit, then read the store itself


def test_a_transaction_that_need_not_wait_for_the_disk(state, psa):
    with state.transaction(durable=False):
        assert state.db.scalar("PRAGMA synchronous") == 1
        state.set_state("k", "v")
        with state.transaction():  # joins; the outer one decides
            state.set_state("k2", "v2")
    assert state.db.scalar("PRAGMA synchronous") == 2
    assert state.get_states(["k", "k2"]) == {"k": "v", "k2": "v2"}
    with pytest.raises(RuntimeError):
        with state.transaction(durable=False):
            state.set_state("k", "lost")
            raise RuntimeError("boom")
    assert state.db.scalar("PRAGMA synchronous") == 2 and state.get_state("k") == "v"
    with state.transaction():
        with state.transaction(durable=False):
            assert state.db.scalar("PRAGMA synchronous") == 2


def test_unacked_links_use_their_index(state, psa):
    acct = psa.add_account("ACME")
    tickets = [psa.add_ticket(acct, f"t{n}") for n in range(3)]
    for n, rec in enumerate(tickets):
        state.link_ticket(f"C-{n}", rec)
    state.mark_links_acked(["C-1"])
    assert sorted(state.unacked_ticket_links()) == [("C-0", tickets[0]), ("C-2", tickets[2])]
    plan = " ".join(r[3] for r in state.db.query(
        "EXPLAIN QUERY PLAN SELECT continuum_ticket_id, ticket_rec_id FROM ticket_links WHERE acked = 0"))
    assert "ticket_links_unacked" in plan


def test_completed_tickets_without_a_close_since_a_time_use_their_index(state, psa):
    acct = psa.add_account("ACME")
    old, recent, open_ticket = (psa.add_ticket(acct, f"t{n}") for n in range(3))
    for n, rec in enumerate((old, recent, open_ticket)):
        state.link_ticket(f"C-{n}", rec)
    psa.set_ticket_status(old, STATUS_COMPLETED)
    psa.set_ticket_status(recent, STATUS_COMPLETED)
    state.db.execute("UPDATE tickets SET updated_at = '2026-01-01T00:00:00.000000Z' WHERE rec_id = ?", (old,))

    assert sorted(records.completed_without_close(state, psa)) == sorted([old, recent])
    assert records.completed_without_close(state, psa, since="2026-06-01T00:00:00.000000Z") == [recent]
    plan = " ".join(r[3] for r in state.db.query(
        "EXPLAIN QUERY PLAN SELECT rec_id FROM tickets WHERE status_code = 1000 AND updated_at >= ?", ("",)))
    assert "tickets_completed" in plan


def test_now_iso_format():
    from datetime import datetime, timezone

    from agent.ports.times import now_iso

    before = datetime.now(timezone.utc)
    stamp = now_iso()
    after = datetime.now(timezone.utc)
    assert len(stamp) == 27 and stamp.endswith("Z") and stamp[10] == "T"
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert before.replace(microsecond=0) <= moment <= after


def test_after_commit_actions_run_once_the_outer_transaction_commits(state, psa):
    ran: list[str] = []
    state.on_commit(lambda: ran.append("outside"))
    assert ran == ["outside"]

    with state.transaction():
        with state.transaction():
            state.set_state("k", "1")
            state.on_commit(lambda: ran.append("inner"))
        assert ran == ["outside"]  # the inner block joined the outer transaction: not committed yet
        state.on_commit(lambda: ran.append("outer"))
    assert ran == ["outside", "inner", "outer"]

    with pytest.raises(RuntimeError):
        with state.transaction():
            state.set_state("k", "2")
            state.on_commit(lambda: ran.append("rolled back"))
            raise RuntimeError("boom")
    assert ran == ["outside", "inner", "outer"] and state.get_state("k") == "1"

    with state.transaction():
        state.on_commit(lambda: ran.append("after the rollback"))
    assert ran[-1] == "after the rollback"


def test_a_failing_after_commit_action_does_not_undo_the_commit(state, psa):
    def broken():
        raise RuntimeError("notifier down")

    with state.transaction():
        state.set_state("k", "kept")
        state.on_commit(broken)
    assert state.get_state("k") == "kept"


@pytest.mark.parametrize("number,width,text", [(0, 9, "000000000"), (36 ** 9 - 1, 9, "ZZZZZZZZZ"), (36, 3, "010"),
                                               (1295, 2, "ZZ"), (1296, 3, "100"), (35, 1, "Z"), (36 ** 4, 4, "0000")])
def test_base36_digits(number, width, text):
    from agent.ports.recid import _base36

    assert _base36(number, width) == text


def test_device_asset_lookups_inside_a_transaction_follow_link_changes(state, psa):
    acct = psa.add_account("ACME")
    first, second = psa.add_asset("DC01", acct), psa.add_asset("DC02", acct)
    with state.transaction():
        assert state.asset_for_device("D-1") is None  # remembered for the transaction...
        state.link_device("D-1", first)
        assert state.asset_for_device("D-1") == first  # ...and forgotten when the links change
        state.link_device("D-1", second)
        assert state.asset_for_device("D-1") == second
        state.unlink_device("D-1")
        assert state.asset_for_device("D-1") is None
        state.link_device("D-1", first)
        records.unlink_account(state, psa, acct)
        assert state.asset_for_device("D-1") is None


def test_the_first_account_inside_a_transaction_follows_account_changes(state, psa):
    with state.transaction():
        assert psa.first_account() is None
        first = psa.add_account("Own business")
        assert psa.first_account().rec_id == first
        second = psa.add_account("ACME")
        assert psa.first_account().rec_id == first
        psa.rename_account(first, "Our own business")
        assert psa.first_account().name == "Our own business"
        records.merge_accounts(state, psa, first, second)
        assert psa.first_account().rec_id == second


def test_an_account_read_inside_a_transaction_follows_every_change_to_it(state, psa):
    with state.transaction():
        acme = psa.add_account("ACME", "jsmith")
        other = psa.add_account("Other")
        assert (psa.get_account(acme).name, psa.account_manager(acme)) == ("ACME", "jsmith")
        psa.rename_account(acme, "ACME Corp")
        assert psa.get_account(acme).name == "ACME Corp"
        psa.set_account_manager(acme, "kdoe")
        assert (psa.account_manager(acme), psa.get_account(acme).manager) == ("kdoe", "kdoe")
        records.merge_accounts(state, psa, acme, other)
        with pytest.raises(PsaNotFound):
            psa.get_account(acme)
        with pytest.raises(PsaNotFound):
            psa.account_manager(acme)


def test_processed_changes_are_pruned_oldest_first_a_bounded_number_at_a_time(state, psa):
    for n in range(5):
        state.mark_processed(f"c-{n}")
    state.db.execute("UPDATE processed_changes SET processed_at = '2026-01-0' || (rowid) || 'T00:00:00.000000Z'"
                     " WHERE rowid <= 4")

    assert state.prune_processed("2026-01-03T12:00:00.000000Z", limit=2) == 2  # c-0, c-1
    assert state.prune_processed("2026-01-03T12:00:00.000000Z", limit=2) == 1  # c-2; c-3 is newer
    assert state.prune_processed("2026-01-03T12:00:00.000000Z") == 0
    assert [c for c in ("c-0", "c-1", "c-2", "c-3", "c-4") if state.is_processed(c)] == ["c-3", "c-4"]


def test_continuum_links_of_many_tickets_in_one_query(state, psa):
    account = psa.add_account("Acme")
    linked, unlinked = psa.add_ticket(account, "a"), psa.add_ticket(account, "b")
    state.link_ticket("CT-9", linked)
    assert state.continuum_for_tickets([linked, unlinked, "TKT-unknown"]) == {linked: "CT-9"}
    assert state.continuum_for_tickets([]) == {}
    listed = records.list_tickets(state, psa)
    assert [(t.rec_id, t.continuum_ticket_id) for t in listed] == [(linked, "CT-9"), (unlinked, None)]


def test_no_secret_reaches_the_store_or_a_notifier(tmp_path):
    from agent.app import App
    from agent.events import TICKET_CREATED, Event
    from agent.hookspecs import hookimpl

    from conftest import TEST_PSG, write_ini

    heard: list[Event] = []

    class Ear:
        @hookimpl
        def zenith_notify(self, event):
            heard.append(event)

    app = App(write_ini(tmp_path), extra_plugins=[("ear", Ear())])
    try:
        leak = f"a plugin failed with {TEST_PSG} in its message"
        app.state.audit("zenithlink", "skip_change", leak)
        app.state.set_state("last_error", leak)
        app.state.record_request("r-1", "h", "r-1.xml", "AddNote", "tech", "Failed", error_message=leak)
        app.notify(Event(TICKET_CREATED, leak, {"why": leak, "count": 3}))
        assert TEST_PSG not in app.state.audit_log(1)[0]["detail"]
        assert TEST_PSG not in app.state.get_state("last_error")
        assert TEST_PSG not in app.state.request_seen("r-1")["error_message"]
        assert heard and TEST_PSG not in heard[0].summary and TEST_PSG not in heard[0].data["why"]
        assert heard[0].data["count"] == 3
        app.notify(Event(TICKET_CREATED, "Continuum ticket 7 became PSA ticket TKT1", {"site_name": leak}))
        assert TEST_PSG not in heard[1].data["site_name"] and heard[1].summary.endswith("TKT1")
    finally:
        app.close()


def test_a_full_disk_is_reported_as_a_full_disk_and_the_store_goes_on(tmp_path):
    from agent.backends.embedded import StateStore
    from agent.errors import StoreError

    state = StateStore(tmp_path / "zenithlink.sqlite3")
    try:
        state.set_state("kept", "yes")
        pages = state.db.conn.execute("PRAGMA page_count").fetchone()[0]
        state.db.conn.execute(f"PRAGMA max_page_count={pages + 2}")  # a disk with no room left
        with pytest.raises(StoreError) as caught:
            with state.db.transaction():
                state.audit("zenithlink", "big", "x" * 200_000)
        assert "is full" in str(caught.value) and "rollback" not in str(caught.value).lower()
        state.db.conn.execute("PRAGMA max_page_count=1073741823")  # room again
        state.audit("zenithlink", "small", "fits")
        assert state.get_state("kept") == "yes" and state.audit_log(1)[0]["action"] == "small"
    finally:
        state.close()


def test_a_read_outside_a_transaction_does_not_wait_for_another_threads_transaction(state):
    """A batch of request drops holds the writer for a while; the outbox sender's reads go on
    beside it and see what is committed, never what the batch has not committed yet."""
    state.set_state("seen", "before")
    inside, done_reading = threading.Event(), threading.Event()
    waited_out: list[bool] = []

    def long_transaction() -> None:
        with state.transaction():
            state.set_state("seen", "uncommitted")
            inside.set()
            waited_out.append(not done_reading.wait(10))  # True: the read had to wait for this commit

    writer = threading.Thread(target=long_transaction)
    writer.start()
    assert inside.wait(10)
    value = state.get_state("seen")
    done_reading.set()
    writer.join(10)
    assert value == "before" and waited_out == [False]
    assert state.get_state("seen") == "uncommitted"  # committed now: the next read sees it
    with state.transaction():
        state.set_state("seen", "mine")
        assert state.get_state("seen") == "mine"  # a transaction reads its own writes
