"""Request drops: every action, its preconditions, bad files, duplicates and crash points (D3)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.ports.psa import STATUS_COMPLETED
from agent.ports.rmm import WriteBack
from agent.sandbox import SandboxServer
from agent.sync import records
from agent.sync.inventory.refresh import InventoryJob
from agent.sync.outbound.sender import OutboxSender
from agent.sync.requests import RequestProcessor
from dbsys.watcher import FolderWatcher

from conftest import rmm_backend
from rmm_support import needs, snapshot_rmm
from test_outbound_support import PSG, age, drop, make_env, request_xml, result, wait_for

CREATE_TICKET, ASSIGN, ADD_NOTE = needs(WriteBack.CREATE_TICKET), needs(WriteBack.ASSIGN), needs(WriteBack.ADD_NOTE)


@pytest.fixture
def sandbox():
    """The configured RMM's sandbox (``ZENITHLINK_TEST_RMM``)."""
    if rmm_backend() == "continuum":
        with SandboxServer(psg=PSG, seed=5, sites=6, devices=30) as server:
            yield server
    else:
        with snapshot_rmm() as rmm:
            yield rmm


@pytest.fixture
def env(tmp_path, sandbox):
    env = make_env(tmp_path, sandbox)
    InventoryJob(env.app).run_once()  # the links manager reads the .cmt files
    yield env
    env.app.close()


@pytest.fixture
def proc(env):
    processor = RequestProcessor(env.app)
    yield processor
    processor.close()


def put(env, request_id, action, user="jsmith", **children):
    return drop(env.requests_folder, f"{request_id}.xml", request_xml(request_id, action, user, **children))


def run(proc, *paths):
    return proc.process(set(paths))


def folder_names(env, sub):
    path = env.requests_folder / sub
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


# -- ticket actions --------------------------------------------------------------------------

@CREATE_TICKET
def test_create_ticket_drop_is_queued_then_done(env, proc, sandbox):
    rec_id = env.ticket()
    path = put(env, "req-1", "CreateTicket", TicketRecID=rec_id, AssignTo="NOC", Note="check it")
    assert run(proc, path) == 1
    assert not path.exists() and folder_names(env, "Processed") == ["req-1.xml"]
    assert result(env.requests_folder, "req-1")["status"] == "Queued"
    OutboxSender(env.app).run_once()
    done = result(env.requests_folder, "req-1")
    assert done["status"] == "Done" and done["action"] == "CreateTicket"
    assert done["continuum_ticket_id"] == env.state.continuum_for_ticket(rec_id)
    assert sandbox.world.ledger[0]["idempotency_key"] == "zl-req-req-1"
    assert env.state.request_seen("req-1")["status"] == "Done"


@ASSIGN
def test_reassign_note_and_complete_drops(env, proc, sandbox):
    rec_id, tid = env.linked_ticket()
    paths = [put(env, "r-a", "Reassign", TicketRecID=rec_id, AssignTo="vsd", Note="over"),
             put(env, "r-b", "AddNote", TicketRecID=rec_id, Note="a note"),
             put(env, "r-c", "CompleteTicket", TicketRecID=rec_id, Note="fixed")]
    assert run(proc, *paths) == 3
    assert records.get_ticket(env.state, env.psa, rec_id).status_code == STATUS_COMPLETED
    assert OutboxSender(env.app).run_once() == 3
    for rid in ("r-a", "r-b", "r-c"):
        got = result(env.requests_folder, rid)
        assert got["status"] == "Done" and got["continuum_ticket_id"] == tid
    assert [e["action"] for e in sandbox.world.ledger] == ["assign", "note", "close"]
    # a second completion: nothing more to send, Done at once
    run(proc, put(env, "r-d", "CompleteTicket", TicketRecID=rec_id))
    assert result(env.requests_folder, "r-d")["status"] == "Done"
    assert env.state.outbox_depth() == 0


def test_note_and_complete_drops_reach_the_rmm_and_a_second_completion_is_done_at_once(env, proc):
    from agent.ports.rmm import capabilities_of

    rec_id, target = env.linked_ticket()
    notes = capabilities_of(env.app.rmm).supports(WriteBack.ADD_NOTE)
    paths = ([put(env, "n-a", "AddNote", TicketRecID=rec_id, Note="a note")] if notes else []) + \
        [put(env, "n-b", "CompleteTicket", TicketRecID=rec_id, Note="fixed")]
    assert run(proc, *paths) == len(paths)
    assert records.get_ticket(env.state, env.psa, rec_id).status_code == STATUS_COMPLETED
    assert OutboxSender(env.app).run_once() == len(paths)
    for rid in ["n-a", "n-b"][-len(paths):]:
        got = result(env.requests_folder, rid)
        assert got["status"] == "Done" and got["continuum_ticket_id"] == target
    assert env.remote_closed(target) and ("a note" in env.remote_notes(target)) == notes
    run(proc, put(env, "n-c", "CompleteTicket", TicketRecID=rec_id))
    assert result(env.requests_folder, "n-c")["status"] == "Done"
    assert env.state.outbox_depth() == 0


@CREATE_TICKET
def test_ticket_preconditions_fail_with_a_clear_result(env, proc):
    unlinked = env.ticket(account=env.unlinked_account)
    linked, _tid = env.linked_ticket()
    paths = [put(env, "p-1", "CreateTicket", TicketRecID=unlinked, AssignTo="NOC"),
             put(env, "p-2", "CreateTicket", user="limited", TicketRecID=env.ticket(), AssignTo="NOC"),
             put(env, "p-3", "AddNote", TicketRecID=unlinked, Note="x"),
             put(env, "p-4", "Reassign", TicketRecID="TKTNOTHERE0000000000", AssignTo="VSD"),
             put(env, "p-5", "AddNote", user="ghost", TicketRecID=linked, Note="x")]
    assert run(proc, *paths) == 5
    codes = {rid: result(env.requests_folder, rid)["error_code"] for rid in ("p-1", "p-2", "p-3", "p-4", "p-5")}
    assert codes == {"p-1": "NotLinked", "p-2": "NoPrivilege", "p-3": "NotLinked", "p-4": "NotFound",
                     "p-5": "UnknownEmployee"}
    assert "Nobody Ltd" in result(env.requests_folder, "p-1")["error_message"]
    assert "new id" in result(env.requests_folder, "p-1")["error_message"]
    assert folder_names(env, "Failed") == [f"p-{n}.xml" for n in range(1, 6)]
    assert env.state.outbox_depth() == 0
    assert len(env.state.list_requests(failed_only=True)) == 5


# -- link actions ----------------------------------------------------------------------------

def test_link_actions(env, proc):
    sites = env.sites()
    site2, site3 = sites[1][0], sites[2][0]
    device2, device3 = env.device_of(site2), env.device_of(site3)
    other_asset = env.psa.add_asset("Spare", env.unlinked_account)
    run(proc, put(env, "l-1", "LinkSite", SiteCode=site2, AccountRecID=env.unlinked_account))
    assert env.state.account_for_site(site2) == env.unlinked_account
    run(proc, put(env, "l-2", "CreateAccountFromSite", SiteCode=site3))
    created = result(env.requests_folder, "l-2")
    assert created["status"] == "Done" and env.state.account_for_site(site3) == created["extra"]["AccountRecID"]
    # the drop's contract: the account is named after the site (the web and the CLI use its client's name)
    assert env.psa.get_account(created["extra"]["AccountRecID"]).name == sites[2][1]
    run(proc, put(env, "l-3", "LinkDevice", DeviceID=device2, AssetRecID=other_asset))
    assert env.state.asset_for_device(device2) == other_asset
    run(proc, put(env, "l-4", "CreateAssetFromDevice", DeviceID=device3))
    assert env.state.asset_for_device(device3) == result(env.requests_folder, "l-4")["extra"]["AssetRecID"]
    run(proc, put(env, "l-5", "UnlinkDevice", DeviceID=device2))
    assert env.state.asset_for_device(device2) is None
    run(proc, put(env, "l-6", "UnlinkSite", SiteCode=site2))
    assert env.state.account_for_site(site2) is None
    run(proc, put(env, "l-7", "UnlinkAccount", AccountRecID=env.account))
    assert env.state.sites_for_account(env.account) == [] and env.state.asset_for_device(env.device) is None
    run(proc, put(env, "l-8", "LinkSite", user="limited", SiteCode=site2, AccountRecID=env.account))
    assert [result(env.requests_folder, f"l-{n}")["status"] for n in range(1, 9)] == ["Done"] * 7 + ["Failed"]
    assert result(env.requests_folder, "l-8")["error_code"] == "NoPrivilege"


# -- bad drops -------------------------------------------------------------------------------

BAD = {
    "malformed.xml": b'<ZenithRequest id="m1" action="AddNote" user="jsmith"><Note>x</Note>',
    "doctype.xml": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                   b'<ZenithRequest id="d1" action="AddNote" user="jsmith"><TicketRecID>&e;</TicketRecID>'
                   b'<Note>x</Note></ZenithRequest>',
    "bomb.xml": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                b'<ZenithRequest id="b1" action="AddNote" user="jsmith"><Note>&lol2;</Note></ZenithRequest>',
    "unknown.xml": request_xml("u1", "DeleteEverything"),
    "missing.xml": request_xml("mc1", "AddNote", TicketRecID="TKT0"),
    "badid.xml": request_xml("bad id/../x", "AddNote", TicketRecID="TKT0", Note="x"),
    "noid.xml": request_xml(None, "AddNote", TicketRecID="TKT0", Note="x"),
    "empty.xml": b"",
    "badassign.xml": request_xml("ba1", "CreateTicket", TicketRecID="TKT0", AssignTo="Keep"),
}


@ADD_NOTE  # a note is the drop these tests send
def test_bad_drops_fail_with_clear_results_and_the_rest_goes_on(env, proc):
    for name, data in BAD.items():
        age(drop(env.requests_folder, name, data))
    huge = env.requests_folder / "huge.xml"
    with open(huge, "wb") as fh:
        fh.write(request_xml("h1", "AddNote", TicketRecID="TKT0", Note="x")[:-18])
        fh.write(b"x" * (10 * 1024 * 1024) + b"</Note></ZenithRequest>")
    age(huge)
    rec_id, _tid = env.linked_ticket()
    good = put(env, "good-1", "AddNote", TicketRecID=rec_id, Note="still works")
    assert proc.scan() == len(BAD) + 2
    assert result(env.requests_folder, "good-1")["status"] == "Queued"
    expected = {"malformed": ("malformed", "Malformed"), "doctype": ("doctype", "Refused"),
                "bomb": ("bomb", "Refused"), "unknown": ("u1", "UnknownAction"), "missing": ("mc1", "MissingField"),
                "badid": ("badid", "BadId"), "noid": ("noid", "BadId"), "empty": ("empty", "Empty"),
                "badassign": ("ba1", "BadValue"), "huge": ("huge", "TooLarge")}
    for stem, (name, code) in expected.items():
        got = result(env.requests_folder, name)
        assert got is not None, stem
        assert got["status"] == "Failed" and got["error_code"] == code, (stem, got)
        assert len(got["error_message"]) > 20
    assert "root:" not in (env.requests_folder / "Results" / "doctype.xml").read_text()
    assert sorted(folder_names(env, "Failed")) == sorted(f"{s}.xml" for s in expected)
    assert folder_names(env, "Processed") == ["good-1.xml"]
    assert not list(env.requests_folder.glob("*.xml"))
    assert not good.exists()


def test_a_device_name_as_id_fails_with_a_result_that_says_why(env, proc):
    named = drop(env.requests_folder, "req-7.xml", request_xml("CON", "AddNote", TicketRecID="TKT0", Note="x"))
    age(named)
    assert run(proc, named) == 1
    got = result(env.requests_folder, "req-7")
    assert got["status"] == "Failed" and got["error_code"] == "BadId"
    assert "reserves for the device CON" in got["error_message"]
    assert not (env.requests_folder / "Results" / "CON.xml").exists()
    assert folder_names(env, "Failed") == ["req-7.xml"]


@pytest.mark.posix  # Windows cannot make a file named after a device: no PSA there can drop one
def test_a_drop_named_after_a_device_fails_with_a_result_under_another_name(env, proc):
    device = drop(env.requests_folder, "nul.xml", request_xml(None, "AddNote", TicketRecID="TKT0", Note="x"))
    age(device)
    assert run(proc, device) == 1
    assert result(env.requests_folder, "_nul")["error_code"] == "BadId"  # never Results/nul.xml
    assert folder_names(env, "Failed") == ["nul.xml"]


@ADD_NOTE  # a note is the drop these tests send
def test_file_still_being_written_waits_then_is_taken(env, proc):
    rec_id, _tid = env.linked_ticket()
    data = request_xml("slow-1", "AddNote", TicketRecID=rec_id, Note="written slowly")
    path = env.requests_folder / "slow-1.xml"
    env.requests_folder.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data[:40])
        fh.flush()
        assert run(proc, path) == 0  # half a file: kept for later, not failed
        assert path.exists() and path in proc.pending and result(env.requests_folder, "slow-1") is None
        time.sleep(0.3)
        fh.write(data[40:])
    wait_for(lambda: result(env.requests_folder, "slow-1"), timeout=5)  # the processor re-checks on its own
    assert result(env.requests_folder, "slow-1")["status"] == "Queued"
    wait_for(lambda: folder_names(env, "Processed") == ["slow-1.xml"], timeout=5)


def test_abandoned_partial_file_fails_after_the_grace_period(env):
    proc = RequestProcessor(env.app, grace_seconds=0.3)
    try:
        path = drop(env.requests_folder, "stuck.xml", b'<ZenithRequest id="stuck" action="AddNote"', in_place=True)
        assert run(proc, path) == 0
        got = wait_for(lambda: result(env.requests_folder, "stuck"), timeout=5)
        assert got["status"] == "Failed" and got["error_code"] == "Malformed"
        wait_for(lambda: folder_names(env, "Failed") == ["stuck.xml"], timeout=5)
    finally:
        proc.close()


# -- duplicates and crash points -------------------------------------------------------------

@ADD_NOTE  # a note is the drop these tests send
def test_same_request_twice_is_taken_once(env, proc):
    rec_id, _tid = env.linked_ticket()
    data = request_xml("dup-1", "AddNote", TicketRecID=rec_id, Note="once")
    run(proc, drop(env.requests_folder, "dup-1.xml", data))
    run(proc, drop(env.requests_folder, "dup-1.xml", data))  # the same file dropped again
    assert env.state.outbox_depth() == 1
    assert folder_names(env, "Processed") == ["dup-1-1.xml", "dup-1.xml"]
    assert result(env.requests_folder, "dup-1")["status"] == "Queued"


@ADD_NOTE  # a note is the drop these tests send
def test_same_id_with_other_content_fails_without_touching_the_first(env, proc):
    rec_id, _tid = env.linked_ticket()
    run(proc, put(env, "dup-2", "AddNote", TicketRecID=rec_id, Note="first"))
    run(proc, drop(env.requests_folder, "again.xml", request_xml("dup-2", "AddNote", TicketRecID=rec_id, Note="2nd")))
    assert env.state.outbox_depth() == 1
    assert result(env.requests_folder, "dup-2")["status"] == "Queued"
    dup = result(env.requests_folder, "dup-2.duplicate")
    assert dup["status"] == "Failed" and dup["error_code"] == "DuplicateId" and "new, unique id" in dup["error_message"]
    assert folder_names(env, "Failed") == ["again.xml"]


@ADD_NOTE  # a note is the drop these tests send
def test_crash_after_commit_before_result_and_move(env, proc, monkeypatch):
    rec_id, _tid = env.linked_ticket()
    path = put(env, "crash-1", "AddNote", TicketRecID=rec_id, Note="once")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(proc, "_settle", crash)
    with pytest.raises(KeyboardInterrupt):
        run(proc, path)
    monkeypatch.undo()
    assert path.exists() and env.state.outbox_depth() == 1
    restarted = RequestProcessor(env.app)
    assert restarted.scan() == 1
    assert env.state.outbox_depth() == 1  # the work was not done twice
    assert result(env.requests_folder, "crash-1")["status"] == "Queued"
    assert folder_names(env, "Processed") == ["crash-1.xml"]


@ADD_NOTE  # a note is the drop these tests send
def test_crash_after_result_before_move(env, proc, monkeypatch):
    from dbsys import drops

    rec_id, _tid = env.linked_ticket()
    path = put(env, "crash-2", "AddNote", TicketRecID=rec_id, Note="once")
    monkeypatch.setattr(drops, "move_to", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run(proc, path)
    monkeypatch.undo()
    OutboxSender(env.app).run_once()  # meanwhile the note went out: the result says Done
    RequestProcessor(env.app).scan()
    assert env.state.outbox_depth() == 0 and len(env.state.list_requests()) == 1
    assert result(env.requests_folder, "crash-2")["status"] == "Done"  # not overwritten by Queued


def test_failure_in_the_work_rolls_back_only_that_request(env, proc, monkeypatch):
    from agent.sync.outbound import actions

    rec_id, _tid = env.linked_ticket()
    real = actions.complete_ticket

    def half_done(app, ticket_rec_id, *args, **kwargs):
        app.psa.set_ticket_status(ticket_rec_id, STATUS_COMPLETED)
        from agent.errors import PreconditionError
        raise PreconditionError("refused after a write")

    monkeypatch.setattr(actions, "complete_ticket", half_done)
    run(proc, put(env, "sp-1", "CompleteTicket", TicketRecID=rec_id))
    assert result(env.requests_folder, "sp-1")["status"] == "Failed"
    status = records.get_ticket(env.state, env.psa, rec_id).status_code
    # Undone with the request's savepoint; a backend without transactions keeps each write (D9).
    assert (status != STATUS_COMPLETED) is env.psa.joins_state_transaction
    monkeypatch.setattr(actions, "complete_ticket", real)


@contextmanager
def held_open(path: Path, monkeypatch) -> Iterator[None]:
    """The PSA side still has the drop open. On Windows for real (an open file refuses to be moved
    or removed: a sharing violation); elsewhere, where an open file can be moved, removing it is
    made to fail the way Windows fails."""
    from dbsys import fsops

    monkeypatch.setattr(fsops, "RETRY_DELAYS", (0.0,) * len(fsops.RETRY_DELAYS))
    if os.name == "nt":
        with open(path, "rb"):
            yield
        return
    real_unlink = os.unlink

    def held_unlink(target):
        if os.fspath(target) == os.fspath(path):
            raise PermissionError(13, "The process cannot access the file", os.fspath(target))
        real_unlink(target)

    monkeypatch.setattr(fsops, "_os_unlink", held_unlink)
    yield
    monkeypatch.setattr(fsops, "_os_unlink", real_unlink)


def test_a_drop_held_open_is_answered_and_moved_at_a_later_scan_never_copied(env, proc, monkeypatch):
    path = put(env, "held-1", "UnlinkSite", SiteCode="NO-SUCH-SITE")
    with held_open(path, monkeypatch):
        assert run(proc, path) == 1
        assert result(env.requests_folder, "held-1") is not None
        assert path.exists() and folder_names(env, "Processed") == folder_names(env, "Failed") == []
    proc.scan()
    assert not path.exists()
    assert folder_names(env, "Processed") + folder_names(env, "Failed") == ["held-1.xml"]


# -- the real watcher --------------------------------------------------------------------------

@ADD_NOTE  # a note is the drop these tests send
def test_watcher_feeds_the_processor(env, proc):
    rec_id, _tid = env.linked_ticket()
    env.requests_folder.mkdir(parents=True, exist_ok=True)
    with FolderWatcher(env.requests_folder, proc.process, debounce=0.05, scan_interval=0.5):
        for n in range(20):
            put(env, f"w-{n}", "AddNote", TicketRecID=rec_id, Note=f"note {n}")
        wait_for(lambda: len(folder_names(env, "Processed")) == 20, timeout=15)
    assert env.state.outbox_depth() == 20
    assert all(result(env.requests_folder, f"w-{n}")["status"] == "Queued" for n in range(20))


@ADD_NOTE  # a note is the drop these tests send
def test_concurrent_calls_take_each_file_once(env, proc):
    rec_id, _tid = env.linked_ticket()
    paths = {put(env, f"c-{n}", "AddNote", TicketRecID=rec_id, Note=f"n{n}") for n in range(30)}
    threads = [threading.Thread(target=proc.process, args=(set(paths),)) for _ in range(4)]
    threads += [threading.Thread(target=RequestProcessor(env.app).process, args=(set(paths),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert env.state.outbox_depth() == 30
    assert len(folder_names(env, "Processed")) == 30


def test_a_queued_drop_wakes_a_sender_of_the_same_app_only(env, proc, tmp_path):
    from agent.app import App
    from agent.sync.outbound.sender import wait_for_work

    other = App(env.app.config_path)
    assert not env.app.outbox_wake.is_set()
    run(proc, put(env, "wake-1", "CompleteTicket", TicketRecID=env.linked_ticket()[0]))
    assert wait_for_work(env.app, 0) is True  # set by the drop, cleared by the wait
    assert wait_for_work(env.app, 0) is False
    assert not other.outbox_wake.is_set()  # no process-wide event: another App is not woken
    other.close()


def test_a_request_rolled_back_to_its_savepoint_announces_nothing_and_leaves_no_memo(env, proc, monkeypatch):
    from agent.sync.links import LinksManager

    site = env.sites()[2][0]

    heard = []
    monkeypatch.setattr(env.app, "notify", heard.append)
    real = LinksManager.link_site

    def link_then_fail(self, site_code, account_rec_id, user=None):
        real(self, site_code, account_rec_id, user)
        assert self.state.account_for_site(site_code) == account_rec_id  # remembered inside the unit
        from agent.errors import PreconditionError
        raise PreconditionError("refused after the link")

    monkeypatch.setattr(LinksManager, "link_site", link_then_fail)
    account = env.psa.add_account("Rolled Back Ltd")
    run(proc, put(env, "sp-link", "LinkSite", SiteCode=site, AccountRecID=account))
    assert result(env.requests_folder, "sp-link")["status"] == "Failed"
    assert env.state.account_for_site(site) is None
    assert heard == []  # the link was never committed, so nobody hears of it


def test_a_partial_drop_with_a_modification_time_in_the_future_fails_after_the_grace_period(env):
    now = [100.0]
    proc = RequestProcessor(env.app, grace_seconds=5, clock=lambda: now[0])
    try:
        path = drop(env.requests_folder, "future.xml", b'<ZenithRequest id="future" action="AddNote"', in_place=True)
        ahead = time.time() + 3600
        os.utime(path, (ahead, ahead))  # the writer's clock is an hour ahead
        assert run(proc, path) == 0 and path.exists()
        now[0] += 4.9
        assert run(proc, path) == 0 and path.exists()  # still within the grace period
        now[0] += 0.2
        assert run(proc, path) == 1
        assert result(env.requests_folder, "future")["error_code"] == "Malformed"
        assert folder_names(env, "Failed") == ["future.xml"]
    finally:
        proc.close()


def test_a_drop_whose_handling_keeps_raising_is_failed_and_reported_after_a_few_tries(env, proc, monkeypatch):
    from dbsys import reports

    def bug(request):
        raise KeyError("a bug in the agent")

    monkeypatch.setattr(proc, "_claim", bug)
    path = put(env, "bug-1", "AddNote", TicketRecID=env.ticket(), Note="x")
    assert run(proc, path) == 0 and path.exists()
    assert run(proc, path) == 0 and path.exists()
    assert run(proc, path) == 1
    got = result(env.requests_folder, "bug-1")
    assert got["status"] == "Failed" and got["error_code"] == "Unprocessable"
    assert "a bug in the agent" in got["error_message"]
    assert folder_names(env, "Failed") == ["bug-1.xml"]
    assert reports.list_reports(env.app.settings.dbsys_folder)  # the administrator is told


def test_a_queued_result_left_by_a_killed_agent_follows_the_store_at_the_next_start(env, proc, monkeypatch):
    from agent.sync import request_results
    from agent.sync.outbound import sender as sender_module

    rec_id, _target = env.linked_ticket()
    run(proc, put(env, "q-1", "CompleteTicket", TicketRecID=rec_id))
    assert result(env.requests_folder, "q-1")["status"] == "Queued"
    # The sender commits, then the agent dies before it rewrites the result file.
    monkeypatch.setattr(sender_module, "write_request_results", lambda *a, **k: [])
    OutboxSender(env.app).run_once()
    monkeypatch.undo()
    assert env.state.request_seen("q-1")["status"] == "Done"
    assert result(env.requests_folder, "q-1")["status"] == "Queued"
    assert request_results.repair_results(env.app) == 1  # what the next start does
    assert result(env.requests_folder, "q-1")["status"] == "Done"
    assert request_results.repair_results(env.app) == 0


# -- what the results and the listings say ---------------------------------------------------
def test_a_bad_request_of_a_known_action_says_which_action_and_its_advice_is_two_sentences(env, proc):
    run(proc, put(env, "ls-1", "LinkSite", SiteCode="X"))  # no <AccountRecID>
    got = result(env.requests_folder, "ls-1")
    assert got["status"] == "Failed" and got["action"] == "LinkSite" and got["error_code"] == "MissingField"
    assert env.state.request_seen("ls-1")["action"] == "LinkSite"
    run(proc, put(env, "ls-2", "LinkSite", SiteCode="NOPE", AccountRecID="CRD" + "0" * 17))
    message = result(env.requests_folder, "ls-2")["error_message"]
    assert ". Then drop the request again with a new id." in message and ".." not in message


@ADD_NOTE  # a note is the drop these tests send
def test_malformed_and_id_less_drops_are_listed_once_and_every_failed_drop_is_counted(env, proc):
    import json

    from conftest import run_cli

    rec_id, _tid = env.linked_ticket()
    bad = drop(env.requests_folder, "bad1.xml", b"<ZenithRequest id='b1' action='AddNote'")  # cut short
    age(bad)  # and left so: no writer is still at it
    run(proc, bad)
    run(proc, drop(env.requests_folder, "noid.xml", b"<ZenithRequest action='AddNote' user='jsmith'/>"))
    run(proc, put(env, "dup-3", "AddNote", TicketRecID=rec_id, Note="first"))
    run(proc, drop(env.requests_folder, "again.xml", request_xml("dup-3", "AddNote", TicketRecID=rec_id, Note="2nd")))
    listed = json.loads(run_cli(["requests", "--failed", "--json"], config=env.app.config_path).out)
    files = sorted((r["filename"] or r["result_file"] or "").rsplit("/", 1)[-1] for r in listed)
    assert len(listed) == 3, files  # the malformed one, the one without an id, the duplicate id
    malformed = next(r for r in listed if (r["filename"] or "") == "bad1.xml" or "bad1" in (r["result_file"] or ""))
    assert "request drop bad1.xml is not well-formed" in malformed["error_message"]
    status = json.loads(run_cli(["status", "--json"], config=env.app.config_path).out)
    assert status["requests_failed"] == len(listed)


@ADD_NOTE  # a note is the drop these tests send
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="close events come from inotify")
def test_a_drop_written_in_place_with_a_pause_is_taken_whole(env, proc):
    rec_id, _tid = env.linked_ticket()
    data = request_xml("slow-1", "AddNote", TicketRecID=rec_id, Note="written slowly")
    env.requests_folder.mkdir(parents=True, exist_ok=True)
    target = env.requests_folder / "slow-1.xml"
    # The watcher only tells when a writer is done with a file; the test calls the processor itself.
    with FolderWatcher(env.requests_folder, lambda paths: None, debounce=0.05, scan_interval=60) as watcher:
        proc.writer_done = watcher.writer_done
        with open(target, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            age(target)  # a writer that stopped half-way longer ago than the grace, its file still open
            assert run(proc, target) == 0
            assert target.exists() and folder_names(env, "Failed") == []  # not judged while it is open
            fh.write(data[len(data) // 2:])
        wait_for(lambda: watcher.writer_done(target, target.stat().st_mtime_ns), 10, "the close event")
        assert run(proc, target) == 1
    assert result(env.requests_folder, "slow-1")["status"] == "Queued"
    assert folder_names(env, "Processed") == ["slow-1.xml"] and folder_names(env, "Failed") == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="close events come from inotify")
def test_a_malformed_drop_its_writer_closed_fails_at_once_not_after_the_grace(env):
    processor = RequestProcessor(env.app, grace_seconds=600.0)  # without the close event: ten minutes
    try:
        env.requests_folder.mkdir(parents=True, exist_ok=True)
        with FolderWatcher(env.requests_folder, processor.process, debounce=0.05, scan_interval=0.2) as watcher:
            processor.writer_done = watcher.writer_done
            # Wrong before its end: no more data can mend it.
            (env.requests_folder / "broken.xml").write_bytes(b"<ZenithRequest id='br-1' action='AddNote'></Wrong>")
            wait_for(lambda: result(env.requests_folder, "broken") is not None, 10, "the failed result")
        assert result(env.requests_folder, "broken")["error_code"] == "Malformed"
    finally:
        processor.close()


# A writer that opens the drop, appends one chunk and closes it, once per chunk (a batch file's
# ``echo … >> drop.xml``), driven chunk by chunk through its stdin.
CHUNK_WRITER = """
import sys
target, source, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(source, "rb").read()
for start in range(0, len(data), size):
    sys.stdin.readline()
    with open(target, "ab") as fh:
        fh.write(data[start:start + size])
    print("appended", flush=True)
"""


@ADD_NOTE  # a note is the drop these tests send
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="close events come from inotify")
def test_a_drop_appended_and_closed_chunk_by_chunk_is_taken_whole_once_complete(env, tmp_path):
    import subprocess

    rec_id, _tid = env.linked_ticket()
    note = "A long note written in pieces. " * 30_000  # 900 KB
    source = tmp_path / "whole.xml"
    source.write_bytes(request_xml("chunks-1", "AddNote", TicketRecID=rec_id, Note=note))
    size = 64 * 1024
    chunks = -(-source.stat().st_size // size)
    env.requests_folder.mkdir(parents=True, exist_ok=True)
    target = env.requests_folder / "chunks-1.xml"
    processor = RequestProcessor(env.app, grace_seconds=600.0)  # a closed, truncated drop waits this long
    writer = subprocess.Popen([sys.executable, "-c", CHUNK_WRITER, str(target), str(source), str(size)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with FolderWatcher(env.requests_folder, lambda paths: None, debounce=0.05, scan_interval=60) as watcher:
            processor.writer_done = watcher.writer_done
            for n in range(1, chunks + 1):
                writer.stdin.write("next\n")
                writer.stdin.flush()
                assert writer.stdout.readline() == "appended\n"
                wait_for(lambda: watcher.writer_done(target, target.stat().st_mtime_ns), 10, "the close event")
                if n < chunks:  # closed by its writer, yet it ends early: more may come
                    assert run(processor, target) == 0, n
                    assert target.exists() and folder_names(env, "Failed") == [], n
            run(processor, target)
            got = wait_for(lambda: result(env.requests_folder, "chunks-1"), 10, "the result")
    finally:
        writer.stdin.close()
        writer.wait(10)
        processor.close()
    assert got["status"] == "Queued"
    assert folder_names(env, "Processed") == ["chunks-1.xml"] and folder_names(env, "Failed") == []
    assert chunks > 10


def test_a_drop_that_ends_early_fails_once_the_grace_is_over_and_wrong_xml_at_once(env):
    processor = RequestProcessor(env.app, grace_seconds=600.0)
    try:
        cut = drop(env.requests_folder, "cut.xml", b"<ZenithRequest id='cut-1' action='AddNote'><Note>abc",
                   in_place=True)
        assert run(processor, cut) == 0 and cut.exists()  # premature end of data: it may still grow
        age(cut, 601)
        assert run(processor, cut) == 1
        assert "Premature end of data" in result(env.requests_folder, "cut")["error_message"]
        wrong = drop(env.requests_folder, "wrong.xml", b"<ZenithRequest id='w-1'><Note>abc</Nope>", in_place=True)
        assert run(processor, wrong) == 1  # wrong before its end: fresh, yet failed at once
        assert result(env.requests_folder, "wrong")["error_code"] == "Malformed"
        assert folder_names(env, "Failed") == ["cut.xml", "wrong.xml"]
    finally:
        processor.close()


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
@pytest.mark.parametrize("found_by", ["scan", "event"])
def test_a_symlinked_drop_is_refused_with_a_result_however_it_is_found(env, proc, tmp_path, found_by):
    rec_id, _tid = env.linked_ticket()
    elsewhere = tmp_path / "elsewhere.xml"
    elsewhere.write_bytes(request_xml("ln-1", "AddNote", TicketRecID=rec_id, Note="through a link"))
    env.requests_folder.mkdir(parents=True, exist_ok=True)
    link = env.requests_folder / "ln-1.xml"
    link.symlink_to(elsewhere)
    taken = proc.scan() if found_by == "scan" else run(proc, link)
    assert taken == 1
    got = result(env.requests_folder, "ln-1")
    assert got["status"] == "Failed" and got["error_code"] == "Refused" and "symbolic link" in got["error_message"]
    assert folder_names(env, "Failed") == ["ln-1.xml"] and env.state.outbox_depth() == 0
    assert elsewhere.exists()  # the file it pointed at is left alone
