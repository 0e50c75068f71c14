"""Outbound delivery: a backlog of queued notes drained into the sandbox Continuum.

``N`` AddNote requests over 20 linked tickets are queued as the request watcher queues them (a
request record and an outbox row each, result files written on delivery), then the real
``OutboxSender`` drains them, looping as the service does, into a sandbox Continuum in a process
of its own on loopback. Timed from the first round to the last row finished.

Three senders, each on a store of its own and a sandbox of its own:

- the agent: a pool of ``SEND_WORKERS`` tickets in flight, each ticket's head through the
  pending-only index;
- one at a time: the same query, a pool of one;
- the baseline, the release before: one at a time, and the pick-next query it had (a correlated
  subquery over ``outbox_ticket``), on a store without the pending-only index.

At the large backlog the two slower senders are stopped after ``BASELINE_SECONDS`` (the
baseline's full drain would take many minutes); their rate is over what they delivered until
then, early in the drain, where the baseline's query is still at its cheapest. The cost of one pick-next
call is measured too, on a store half-drained (half the rows finished, half pending), and
the pool against one at a time with the sandbox answering every request 20 ms late, as a
Continuum across the internet would.
Target: ≥ 200 effects/s at 20,000, and about the same cost per delivery at 2,000 and 20,000.

The burst mode (``BURST`` drops) runs the agent as it runs in production: ``zenithlink run`` in a
process of its own, the sandbox in another, and this process dropping ``BURST`` AddNote request
files over the same 20 linked tickets into its requests folder as fast as it can (write, then
rename). Intake and sending then share the agent's process, its store's writer and its
interpreter lock. The figure is the time from the last drop until every note is in Continuum,
each exactly once (counted in the sandbox's ledger by idempotency key), beside the rate at
which the same sandbox takes the same notes from four client threads of this process.
Target: every note in Continuum within 120 s of the last drop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import RemoteSandbox, Table, stopwatch

TICKETS = 20
BASELINE_SECONDS = 30.0
LATENCY_MS = 20
BURST = 20_000
BURST_TARGET_SECONDS = 120.0
#: How long the burst waits for its last note before it gives up and reports what arrived.
BURST_PATIENCE_SECONDS = 300.0
DIRECT_THREADS = 4

# The pick-next query of schema 7 and before, kept here only to measure against.
OLD_DUE_OUTBOX = (
    "SELECT * FROM outbox o WHERE state = 'pending' AND next_attempt_at <= ? AND id = ("
    " SELECT MIN(id) FROM outbox p WHERE p.ticket_rec_id = o.ticket_rec_id AND p.state = 'pending')"
    " ORDER BY id LIMIT ?")


def _app(folder: Path, url: str):
    from agent.app import App
    from config.loader import parse_settings

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "CmtZenithLink.ini"
    config.write_text(f"[Continuum]\nPSG=bench\nContinuumURL={url}\n[RangerMSP]\nDbsysFolder=Dbsys\n")
    return App(config, settings=parse_settings(config.read_text(), base_dir=folder, path=config))


def _queue(app, sandbox: RemoteSandbox, total: int) -> None:
    """``total`` AddNote requests over ``TICKETS`` linked tickets, queued in one transaction."""
    from agent.sync.outbound.actions import idempotency_key
    from agent.sync.outbound.vocabulary import NOTE

    state, psa = app.state, app.psa
    state.add_employee("jsmith", "Jane Smith", "Full")
    tickets = []
    for n in range(TICKETS):
        opened = sandbox.admin("POST", "/tickets", {"title": f"ticket {n}"})
        rec_id = psa.add_ticket(psa.add_account(f"Client {n}"), f"ticket {n}")
        state.link_ticket(opened["ticket_id"], rec_id, acked=True)
        tickets.append(rec_id)
    with app.unit_of_work():
        for n in range(total):
            request_id = f"note-{n}"
            state.record_request(request_id, f"h{n}", f"{request_id}.xml", "AddNote", "jsmith", "Queued")
            state.enqueue_outbox(idempotency_key(request_id), tickets[n % TICKETS], NOTE,
                                 {"text": f"bench note {n}", "author": "jsmith"}, request_id=request_id,
                                 requested_by="jsmith")


def _as_before(app) -> None:
    """The release before: no pending-only index, and its pick-next query."""
    from agent.backends.embedded.sync import _outbox

    state = app.state
    state.db.execute("DROP INDEX outbox_queue")

    def due_outbox(now: str, limit: int = 100, *, skip=()):
        return [_outbox(r) for r in state.db.query(OLD_DUE_OUTBOX, (now, limit))]

    state.due_outbox = due_outbox


def _drain(app, workers: int, budget: float | None) -> tuple[int, float]:
    """Rows finished and seconds, looping as the service does, until the outbox is empty or
    ``budget`` seconds have passed."""
    from agent.sync.outbound.sender import OutboxSender, wait_for_work

    sender = OutboxSender(app, workers=workers)
    finished = 0
    with stopwatch() as took:
        deadline = time.perf_counter() + budget if budget else None
        while deadline is None or time.perf_counter() < deadline:
            done = sender.run_once()
            finished += done
            if not done:
                if app.state.outbox_depth() == 0:
                    break
                wait_for_work(app, min(0.5, sender.next_due_seconds()))
    return finished, took[0]


def _run(total: int, workers: int, *, before: bool = False, budget: float | None = None,
         latency_ms: int = 0) -> float:
    """Effects per second applied in Continuum (counted in its ledger)."""
    with tempfile.TemporaryDirectory() as tmp, RemoteSandbox(psg="bench", seed=1, sites=5, devices=20) as sb:
        app = _app(Path(tmp), sb.url)
        try:
            _queue(app, sb, total)
            if latency_ms:
                sb.admin("POST", "/faults", {"latency_ms": latency_ms})
            if before:
                _as_before(app)
            finished, seconds = _drain(app, workers, budget)
            applied = len(sb.admin("GET", "/ledger"))
            if applied != finished or (budget is None and applied != total):
                raise RuntimeError(f"{applied} effects in Continuum for {finished} rows finished of {total}")
            return applied / seconds
        finally:
            app.close()


def _burst_env(folder: Path, sandbox: RemoteSandbox) -> tuple[Path, list[str], list[str]]:
    """A folder the agent runs on: its INI, 20 linked tickets; (INI, PSA tickets, Continuum tickets)."""
    app = _app(folder, sandbox.url)
    try:
        app.state.add_employee("jsmith", "Jane Smith", "Full")
        tickets, continuum = [], []
        for n in range(TICKETS):
            opened = sandbox.admin("POST", "/tickets", {"title": f"ticket {n}"})
            rec_id = app.psa.add_ticket(app.psa.add_account(f"Client {n}"), f"ticket {n}")
            app.state.link_ticket(opened["ticket_id"], rec_id, acked=True)
            tickets.append(rec_id)
            continuum.append(opened["ticket_id"])
        return app.config_path, tickets, continuum
    finally:
        app.close()


def _drop_burst(requests: Path, tickets: list[str], total: int) -> None:
    """``total`` AddNote drops, as another program drops them: each written, then renamed into place."""
    for n in range(total):
        name = f"burst-{n}"
        body = (f'<ZenithRequest id="{name}" action="AddNote" user="jsmith"><TicketRecID>{tickets[n % TICKETS]}'
                f"</TicketRecID><Note>burst note {n}</Note></ZenithRequest>")
        tmp = requests / f".{name}.tmp"
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, requests / f"{name}.xml")


def _notes_in_continuum(sandbox: RemoteSandbox) -> Counter[str]:
    """How many times each idempotency key was applied as a note."""
    return Counter(e["idempotency_key"] for e in sandbox.admin("GET", "/ledger") if e["action"] == "note")


def _burst(total: int) -> tuple[float, int, float]:
    """(seconds from the last drop until every note is in Continuum, or ``inf``; notes there
    ``BURST_TARGET_SECONDS`` after the last drop; notes per second from the first drop to the last note)."""
    with tempfile.TemporaryDirectory() as tmp, RemoteSandbox(psg="bench", seed=1, sites=5, devices=20) as sb:
        folder = Path(tmp)
        config, tickets, _ = _burst_env(folder, sb)
        requests = folder / "Dbsys" / "ZenithRequests"
        requests.mkdir(parents=True, exist_ok=True)
        code = "import sys; from agent.cli import main; main(sys.argv[1:])"
        agent = subprocess.Popen([sys.executable, "-c", code, "--config", str(config), "run"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: any(folder.glob("Dbsys/ZenithStatus_*.xml")), 60, "the agent to start")
            started = time.perf_counter()
            _drop_burst(requests, tickets, total)
            last_drop = time.perf_counter()
            at_target: int | None = None
            while True:
                notes = _notes_in_continuum(sb)
                waited = time.perf_counter() - last_drop
                if at_target is None and waited >= BURST_TARGET_SECONDS:
                    at_target = len(notes)
                if len(notes) >= total or waited > BURST_PATIENCE_SECONDS or agent.poll() is not None:
                    break
                time.sleep(1.0)
            done = time.perf_counter()
            twice = [key for key, times in notes.items() if times > 1]
            if twice:
                raise RuntimeError(f"{len(twice)} note(s) applied more than once in Continuum, e.g. {twice[0]}")
            if len(notes) < total:
                return float("inf"), at_target if at_target is not None else len(notes), len(notes) / (done - started)
            return done - last_drop, at_target if at_target is not None else total, total / (done - started)
        finally:
            agent.terminate()
            agent.wait(timeout=30)


def _direct(total: int) -> float:
    """Notes per second the sandbox takes from ``DIRECT_THREADS`` client threads, no agent."""
    from agent.backends.continuum.client import ContinuumClient

    with RemoteSandbox(psg="bench", seed=1, sites=5, devices=20) as sb:
        targets = [sb.admin("POST", "/tickets", {"title": f"ticket {n}"})["ticket_id"] for n in range(TICKETS)]
        counter = iter(range(total))
        lock = threading.Lock()

        def send(client: ContinuumClient) -> None:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                client.add_note(targets[n % TICKETS], f"direct note {n}", "jsmith", idempotency_key=f"direct-{n}")

        clients = [ContinuumClient(sb.url, "bench") for _ in range(DIRECT_THREADS)]
        try:
            with stopwatch() as took, ThreadPoolExecutor(DIRECT_THREADS) as pool:
                list(pool.map(send, clients))
        finally:
            for client in clients:
                client.close_connection()
        assert len(_notes_in_continuum(sb)) == total
        return total / took[0]


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(0.05)


def burst_table(quick: bool = False) -> Table:
    """The burst mode alone: ``python -m bench outbox_burst``."""
    total = 2_000 if quick else BURST
    table = Table(f"outbox during intake: {total:,} AddNote drops over {TICKETS} tickets into a running agent")
    seconds, at_target, rate = _burst(total)
    direct = _direct(total)
    table.add("s from last drop to every note in Continuum", seconds, "s", higher_is_better=False,
              target=f"<= {BURST_TARGET_SECONDS:.0f} s, each note once")
    table.add(f"notes in Continuum {BURST_TARGET_SECONDS:.0f} s after the last drop", at_target, "notes",
              target=f"{total:,}")
    table.add(f"notes/s, first drop to last note, vs {DIRECT_THREADS} client threads", rate, "1/s", baseline=direct)
    return table


def _pick_ms(total: int, *, before: bool) -> float:
    """Milliseconds of one pick-next call with half of ``total`` rows finished."""
    from agent.backends.embedded import StateStore

    with tempfile.TemporaryDirectory() as tmp:
        state = StateStore(Path(tmp) / "z.sqlite3")
        try:
            with state.db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO outbox(idem_key, ticket_rec_id, action, payload, state, next_attempt_at,"
                    " created_at) VALUES (?, ?, 'note', '{}', ?, '2000-01-01', '2000-01-01')",
                    [(f"k{n}", f"TKT{n % TICKETS:04d}", "done" if n < total // 2 else "pending")
                     for n in range(total)])
            if before:
                state.db.execute("DROP INDEX outbox_queue")
                call = lambda: state.db.query(OLD_DUE_OUTBOX, ("9999", 100))  # noqa: E731
            else:
                call = lambda: state.due_outbox("9999")  # noqa: E731
            calls = 1 if before else 200
            with stopwatch() as took:
                for _ in range(calls):
                    assert len(call()) == TICKETS
            return took[0] * 1000 / calls
        finally:
            state.close()


def main(quick: bool = False) -> Table:
    from agent.sync.outbound.sender import SEND_WORKERS

    small, large = (500, 5_000) if quick else (2_000, 20_000)
    budget = 5.0 if quick else BASELINE_SECONDS
    table = Table(f"outbox: {small:,} and {large:,} queued notes over {TICKETS} tickets, sandbox on loopback "
                  f"(at {large:,}, one at a time and the baseline stop after {budget:.0f} s)")
    for total in (small, large):
        box = budget if total == large else None
        agent = _run(total, SEND_WORKERS)
        single = _run(total, 1, budget=box)
        old = _run(total, 1, before=True, budget=box)
        table.add(f"{total:,}: effects/s, pool of {SEND_WORKERS}", agent, "1/s", baseline=old,
                  target="≥ 200" if total == large else "")
        table.add(f"{total:,}: effects/s, one at a time", single, "1/s", baseline=old)
        table.add(f"{total:,}: ms per delivery, pool of {SEND_WORKERS}", 1000 / agent, "ms",
                  baseline=1000 / old, higher_is_better=False, target="same at both sizes")
    far = small // 2
    pooled = _run(far, SEND_WORKERS, latency_ms=LATENCY_MS)
    table.add(f"{far:,}, {LATENCY_MS} ms away: effects/s, pool vs one", pooled, "1/s",
              baseline=_run(far, 1, latency_ms=LATENCY_MS))
    for total in (small, large):
        table.add(f"{total:,} half drained: ms per pick-next call", _pick_ms(total, before=False), "ms",
                  baseline=_pick_ms(total, before=True), higher_is_better=False)
    return table
