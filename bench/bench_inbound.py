"""Inbound throughput: queued Continuum tickets to PSA tickets end to end (feed pages over HTTP,
hooks, one transaction per page, ack) beside a baseline that fetches the same pages with the
same client and inserts one bare row per change with sqlite3. Also the latency of one ticket
opened in the sandbox to its PSA ticket, through a poll loop.

The sandbox runs in a process of its own (:class:`bench.common.RemoteSandbox`), as Continuum
runs on another machine: the server's work is then not counted as the agent's, for either side.
The same pair is measured again with the sandbox answering every request 20 ms late, as a
Continuum across the internet would: the figure the agent's read-ahead and acks sent behind
(agent.sync.inbound.feed) are for.

Both sides are timed from "ready" to "done": the baseline's client and database, and the agent's
store, plugins and client, are opened before the clock starts (start-up is paid once per
process, not per ticket). Everything else the agent does for the tickets is timed: reading the
inventory file on first use, hooks, writes, the durable commit of each page, and the ack with
its links (which the baseline, having nothing to link, does not send)."""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from loguru import logger

from agent.app import App
from agent.backends.continuum.client import ContinuumClient
from agent.sync.inbound.engine import PAGE_LIMIT, InboundSync
from bench.common import RemoteSandbox, Table, peak_rss_mb, stopwatch
from dbsys import cmt

POLL_INTERVAL = 0.5
NETWORK_LATENCY_MS = 20
RUNS = 3


def _ini(folder: Path, url: str) -> Path:
    (folder / "Dbsys").mkdir(exist_ok=True)
    ini = folder / "CmtZenithLink.ini"
    ini.write_text(f"[Continuum]\nPSG=demo\nContinuumURL={url}\nProcessContinuumUpdatesQueue=Y\n"
                   f"[RangerMSP]\nDbsysFolder={folder / 'Dbsys'}\n")
    return ini


def _inventory(app: App, url: str) -> None:
    """The .cmt files, so account names and device details come from a real inventory."""
    settings, now = app.settings, datetime.now(timezone.utc)
    with ContinuumClient(url, "demo") as client:
        cmt.write_inventory(cmt.sites_path(settings.dbsys_folder, settings.instance_id), "sites",
                            (s.children for s in client.iter_sites()), now)
        cmt.write_inventory(cmt.devices_path(settings.dbsys_folder, settings.instance_id), "devices",
                            (d.children for d in client.iter_devices()), now)


def _baseline(client: ContinuumClient, conn: sqlite3.Connection, total: int) -> int:
    """The same pages, one bare row per change, one transaction per page, no ack."""
    count, cursor = 0, None
    while count < total:
        page = client.changes(after=cursor, limit=PAGE_LIMIT)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t VALUES (?,?,?,?)", [(c.id, c.ticket.ticket_id, c.ticket.title,
                                                             c.ticket.description) for c in page.changes])
        conn.execute("COMMIT")
        count += len(page.changes)
        cursor = page.next
        if not page.more:
            break
    return count


def _baseline_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, ticket_id TEXT, title TEXT, description TEXT)")
    return conn


def _ready(app: App) -> None:
    """Open what a running agent has open already: the store, the plugins, the client."""
    app.state, app.psa, app.pm, app.client  # noqa: B018 - opened lazily on first use


def _ingest(app: App) -> int:
    total = 0
    while True:
        sync = InboundSync(app)
        total += sync.run_once()
        if sync.last_round.stopped_by != "page budget":
            return total


def _latency(app: App, sandbox: RemoteSandbox, samples: int) -> list[float]:
    """Seconds from opening a ticket in Continuum to its PSA ticket, with a poll loop running."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            InboundSync(app).run_once()
            stop.wait(POLL_INTERVAL)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    found: list[float] = []
    try:
        for _ in range(samples):
            time.sleep(POLL_INTERVAL * 0.37)  # not in step with the poll
            start = time.perf_counter()
            tid = sandbox.admin("POST", "/tickets", {"title": "Latency probe"})["ticket_id"]
            while app.state.ticket_for_continuum(tid) is None:
                time.sleep(0.005)
            found.append(time.perf_counter() - start)
    finally:
        stop.set()
        poller.join()
    return found


def _both(sb: RemoteSandbox, folder: Path, total: int) -> tuple[float, float, App]:
    """Seconds of the baseline and of the agent for ``total`` queued tickets; the agent's App, open."""
    folder.mkdir(exist_ok=True)
    sb.admin("POST", "/tickets/bulk", {"count": total})
    conn = _baseline_db(folder / "baseline.sqlite3")
    with ContinuumClient(sb.url, "demo") as client, stopwatch() as bare:
        assert _baseline(client, conn, total) == total
    conn.close()
    app = App(_ini(folder, sb.url))
    _inventory(app, sb.url)
    _ready(app)
    with stopwatch() as full:
        applied = _ingest(app)
    assert applied == total and app.psa.count_tickets() == total, (applied, app.psa.count_tickets())
    assert sb.admin("GET", "/state")["acked_cursor"] == app.state.feed_cursor
    return bare[0], full[0], app


def main(quick: bool) -> Table:
    total = 2_000 if quick else 10_000
    logger.remove()  # the figures, not 10,000 log lines; production logs go to a file
    table = Table(f"Inbound: {total} queued Continuum tickets to PSA tickets, pages of {PAGE_LIMIT}")
    with tempfile.TemporaryDirectory() as tmp, RemoteSandbox(psg="demo", seed=1, sites=50, devices=2000) as sb:
        # The pair three times over (each agent with a store of its own); the medians are shown,
        # as a shared machine's speed drifts from one second to the next.
        bares, fulls = [], []
        for run in range(RUNS):
            bare, full, app = _both(sb, Path(tmp) / f"run{run}", total)
            bares.append(bare)
            fulls.append(full)
            if run == 0:
                rss = peak_rss_mb()  # of the process after one run: the later runs add stores of their own
            if run < RUNS - 1:
                app.close()
        try:
            waits = sorted(_latency(app, sb, 5 if quick else 10))
        finally:
            app.close()
    table.add(f"tickets per second (inbound sync), median of {RUNS}", total / statistics.median(fulls), "tkt/s",
              baseline=total / statistics.median(bares),
              target=">= 1000 tkt/s and >= 0.5x baseline (bare sqlite3 rows)")
    # The same against a Continuum NETWORK_LATENCY_MS away (both sides): what the read-ahead and
    # the ack sent behind are for.
    with tempfile.TemporaryDirectory() as tmp, RemoteSandbox(psg="demo", seed=1, sites=50, devices=2000) as sb:
        sb.admin("POST", "/faults", {"latency_ms": NETWORK_LATENCY_MS})
        far_bare, far_full, far_app = _both(sb, Path(tmp), total)
        far_app.close()
    table.add(f"tickets per second, Continuum {NETWORK_LATENCY_MS} ms away", total / far_full, "tkt/s",
              baseline=total / far_bare)
    table.add(f"open-to-PSA latency, median (poll {POLL_INTERVAL}s)", waits[len(waits) // 2], "s",
              higher_is_better=False, target=f"<= poll interval + 1 s ({POLL_INTERVAL + 1:.1f} s)")
    table.add("open-to-PSA latency, worst", waits[-1], "s", higher_is_better=False,
              target=f"<= {POLL_INTERVAL + 1:.1f} s")
    table.add("peak RSS, baseline and agent, one run", rss, "MB", higher_is_better=False)
    return table
