"""Exactly-once under lost answers and killed senders, a long outage, and a burst of drops."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from agent.sandbox import SandboxServer
from agent.sync.outbound import actions
from agent.sync.outbound.sender import OutboxSender, wait_for_work
from agent.sync.requests import RequestProcessor
from dbsys.watcher import FolderWatcher

from conftest import track
from test_outbound_support import PSG, env, ledger_by_key, put_request, result, wait_for  # noqa: F401 - env is a fixture

pytestmark = pytest.mark.posix  # SIGKILL

SENDER = """
import sys, time
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from agent.app import App
from agent.sync.outbound.sender import OutboxSender
from config.loader import parse_settings
from test_outbound_support import fast_client

config = Path(sys.argv[1])
app = App(config, settings=parse_settings(config.read_text(), base_dir=config.parent, path=config))
app.set_rmm(fast_client(sys.argv[2]))
sender = OutboxSender(app, base_delay=0.01, max_delay=0.05, pause_max=0.05)
while True:
    sender.run_once()
    if app.state.outbox_depth() == 0:
        break
    time.sleep(min(0.02, sender.next_due_seconds()))
"""


@pytest.fixture
def sandbox():
    with SandboxServer(psg=PSG, seed=11, sites=5, devices=20) as server:
        yield server


def linked_tickets(env, count):
    return [env.linked_ticket()[0] for _ in range(count)]


@pytest.mark.slow
def test_exactly_once_with_lost_answers_and_killed_senders(env, sandbox):
    tickets = linked_tickets(env, 50)
    keys = []
    with env.state.transaction():
        for n in range(1000):
            keys.append(actions.add_note(env.app, tickets[n % 50], f"note {n}", "jsmith").idem_key)
    sandbox.faults.set(drop_after_apply_rate=0.1, paths=["/psa/v1/tickets"])
    tests_dir = os.path.dirname(__file__)
    rng = random.Random(4)
    kills = 0
    for _ in range(6):  # kill senders mid-way, each only after it has delivered something
        depth = env.state.outbox_depth()
        proc = spawn_sender(env, sandbox, tests_dir)
        wait_for(lambda proc=proc, depth=depth: proc.poll() is not None or env.state.outbox_depth() < depth,
                 timeout=60)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    last = spawn_sender(env, sandbox, tests_dir)
    last.wait(timeout=180)
    assert kills >= 3, "the sender was not killed mid-way often enough to mean anything"
    assert env.state.outbox_depth() == 0
    counts = ledger_by_key(sandbox)
    assert sorted(counts) == sorted(keys) and set(counts.values()) == {1}
    states = env.state.db.query("SELECT state, COUNT(*) FROM outbox GROUP BY state")
    assert {r[0]: r[1] for r in states} == {"done": 1000}
    sent_notes = env.state.db.scalar("SELECT COUNT(*) FROM history WHERE text LIKE 'Sent to Continuum: note%'")
    assert sent_notes == 1000
    per_ticket = {}
    for entry in sandbox.world.ledger:
        per_ticket.setdefault(entry["ticket_id"], []).append(entry["idempotency_key"])
    # order per ticket kept: each ticket's notes arrived in the order they were queued
    for rec_id in tickets:
        tid = env.state.continuum_for_ticket(rec_id)
        assert per_ticket[tid] == [k for n, k in enumerate(keys) if tickets[n % 50] == rec_id]


def spawn_sender(env, sandbox, tests_dir) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SENDER, str(env.app.config_path), sandbox.url, tests_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return track(proc)


def _sender_thread(env, stop):
    sender = OutboxSender(env.app, base_delay=0.05, max_delay=0.3, pause_max=0.2)
    while not stop.is_set():
        sender.run_once()
        wait_for_work(env.app, min(0.1, sender.next_due_seconds()))


@pytest.mark.slow
def test_outage_delivers_everything_once_when_continuum_returns(env, sandbox):
    tickets = linked_tickets(env, 30)
    sandbox.faults.set(outage=True)
    stop = threading.Event()
    sender = threading.Thread(target=_sender_thread, args=(env, stop), daemon=True)
    processor = RequestProcessor(env.app)
    watcher = FolderWatcher(env.requests_folder, processor.process, debounce=0.05, scan_interval=1.0)
    sender.start()
    watcher.start()
    try:
        for n in range(300):
            put_request(env, f"out-{n}", "AddNote", TicketRecID=tickets[n % 30], Note=f"during outage {n}")
        wait_for(lambda: len(env.state.list_requests()) == 300, timeout=60)
        time.sleep(1.0)  # the sender keeps failing meanwhile
        assert sandbox.world.ledger == []
        assert env.state.outbox_depth() == 300
        sandbox.faults.clear()
        wait_for(lambda: env.state.outbox_depth() == 0, timeout=90)
    finally:
        stop.set()
        watcher.stop()
        sender.join(5)
        processor.close()
    counts = ledger_by_key(sandbox)
    assert len(counts) == 300 and set(counts.values()) == {1}
    assert all(result(env.requests_folder, f"out-{n}")["status"] == "Done" for n in range(300))


@pytest.mark.slow
def test_burst_of_2000_drops_each_taken_once(env):
    rec_ids = linked_tickets(env, 20)
    processor = RequestProcessor(env.app)
    env.requests_folder.mkdir(parents=True, exist_ok=True)
    with FolderWatcher(env.requests_folder, processor.process, debounce=0.05, scan_interval=2.0):
        for n in range(2000):
            put_request(env, f"burst-{n}", "AddNote", TicketRecID=rec_ids[n % 20], Note=f"burst {n}")
        wait_for(lambda: len(list((env.requests_folder / "Processed").glob("*.xml"))) >= 2000, timeout=120)
        time.sleep(0.5)
    processor.close()
    processed = sorted(p.name for p in (env.requests_folder / "Processed").glob("*.xml"))
    assert processed == sorted(f"burst-{n}.xml" for n in range(2000))  # no "-1" copies: none taken twice
    assert env.state.outbox_depth() == 2000
    assert len(env.state.list_requests(limit=5000)) == 2000
    assert not list(env.requests_folder.glob("*.xml"))
