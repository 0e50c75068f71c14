"""Request drops end to end: drop-to-result latency at a steady rate, and burst throughput.

The real ``FolderWatcher`` + ``RequestProcessor`` + ``OutboxSender`` run against the sandbox
Continuum on loopback. Latency is measured from the rename that makes a drop visible to the
first result file (``Queued``) and to the final one (``Done``). The baseline is a bare loop
that only parses and moves the same files (no store, no results, no Continuum).
Targets: p50 ≤ 200 ms, p95 ≤ 1 s, burst ≥ 200 files/s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from loguru import logger

from bench.common import Table

RATE = 20  # files per second
BURST = 2000


def _env(folder: Path, sandbox):
    from agent.app import App
    from config.loader import parse_settings

    config = folder / "CmtZenithLink.ini"
    config.write_text(f"[Continuum]\nPSG=bench\nContinuumURL={sandbox.url}\n[RangerMSP]\nDbsysFolder=Dbsys\n")
    app = App(config, settings=parse_settings(config.read_text(), base_dir=folder, path=config))
    state, psa = app.state, app.psa
    state.add_employee("jsmith", "Jane Smith", "Full")
    site = sandbox.world._site_list()[0].site_code
    account = psa.add_account("ACME")
    state.link_site(site, account)
    tickets = []
    for n in range(20):
        opened = sandbox.world.open_ticket(site_code=site, title=f"t{n}")
        rec_id = psa.add_ticket(account, f"ticket {n}")
        state.link_ticket(opened["ticket_id"], rec_id, acked=True)
        tickets.append(rec_id)
    return app, tickets


def _xml(request_id: str, rec_id: str) -> bytes:
    return (f'<ZenithRequest id="{request_id}" action="AddNote" user="jsmith"><TicketRecID>{rec_id}</TicketRecID>'
            f"<Note>bench note {request_id}</Note></ZenithRequest>").encode()


def _drop(folder: Path, name: str, data: bytes) -> None:
    tmp = folder / f"{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)


def _watch_results(results: Path, seen: dict[str, tuple[float | None, float | None]], stop: threading.Event) -> None:
    from dbsys.results import read_result

    while not stop.is_set():
        try:
            entries = list(os.scandir(results))
        except FileNotFoundError:
            entries = []
        now = time.perf_counter()
        for entry in entries:
            rid = entry.name[:-4]
            first, final = seen.get(rid, (None, None))
            if final is not None or not entry.name.endswith(".xml"):
                continue
            try:
                status = read_result(entry.path)["status"]
            except (OSError, ValueError):
                continue
            seen[rid] = (first or now, now if status != "Queued" else None)
        time.sleep(0.005)


def _sender_loop(app, stop: threading.Event) -> None:
    from agent.sync.outbound.sender import OutboxSender, wait_for_work

    sender = OutboxSender(app)
    while not stop.is_set():
        sender.run_once()
        wait_for_work(app, min(0.5, sender.next_due_seconds()))


class _Agent:
    """Watcher, processor and sender of one bench run."""

    def __init__(self, app, *, send: bool = True) -> None:
        from agent.sync.requests import RequestProcessor
        from dbsys.watcher import FolderWatcher

        self.app = app
        self.folder = Path(app.settings.requests_folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stop = threading.Event()
        self.seen: dict[str, tuple[float | None, float | None]] = {}
        self.processor = RequestProcessor(app)
        self.watcher = FolderWatcher(self.folder, self.processor.process, debounce=0.02, scan_interval=5.0)
        self.threads = [threading.Thread(target=_watch_results, args=(self.folder / "Results", self.seen, self.stop),
                                         daemon=True)]
        if send:
            self.threads.append(threading.Thread(target=_sender_loop, args=(app, self.stop), daemon=True))

    def __enter__(self) -> _Agent:
        self.watcher.start()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.watcher.stop()
        for t in self.threads:
            t.join(5)
        self.processor.close()


def _steady(sandbox, seconds: float) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        app, tickets = _env(Path(tmp), sandbox)
        with _Agent(app) as agent:
            dropped: dict[str, float] = {}
            count = int(seconds * RATE)
            start = time.perf_counter()
            for n in range(count):
                target = start + n / RATE
                time.sleep(max(0.0, target - time.perf_counter()))
                rid = f"steady-{n}"
                _drop(agent.folder, f"{rid}.xml", _xml(rid, tickets[n % len(tickets)]))
                dropped[rid] = time.perf_counter()
            deadline = time.perf_counter() + 30
            while time.perf_counter() < deadline and sum(1 for v in agent.seen.values() if v[1]) < count:
                time.sleep(0.02)
        app.close()
    first = [agent.seen[r][0] - t for r, t in dropped.items() if agent.seen.get(r, (None,))[0]]
    final = [agent.seen[r][1] - t for r, t in dropped.items() if agent.seen.get(r, (None, None))[1]]
    return first, final


def _burst(sandbox, count: int) -> float:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        app, tickets = _env(Path(tmp), sandbox)
        folder = Path(app.settings.requests_folder)
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(count):
            rid = f"burst-{n}"
            _drop(folder, f"{rid}.xml", _xml(rid, tickets[n % len(tickets)]))
        start = time.perf_counter()
        with _Agent(app, send=False):  # the burst measures taking the drops; sending is the steady part's
            processed = folder / "Processed"
            while len(os.listdir(processed) if processed.exists() else ()) < count:
                time.sleep(0.01)
            elapsed = time.perf_counter() - start
        app.close()
    return count / elapsed


def _bare_loop(count: int) -> float:
    """The baseline: parse and move the same files, nothing else."""
    from agent.sync.requests import drop_table
    from dbsys import drops

    table = drop_table()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        folder = Path(tmp)
        for n in range(count):
            _drop(folder, f"bare-{n}.xml", _xml(f"bare-{n}", "TKT0000000000000000A"))
        start = time.perf_counter()
        for path in drops.request_files(folder):
            drops.load_request(path, table)
            drops.move_to(path, folder / "Processed")
        return count / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main(quick: bool) -> Table:
    from agent.sandbox import SandboxServer

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    seconds = 5 if quick else 30
    burst = 500 if quick else BURST
    table = Table(f"request drops: {RATE} files/s for {seconds} s, burst of {burst}")
    with SandboxServer(psg="bench", seed=1, sites=5, devices=20) as sandbox:
        first, final = _steady(sandbox, seconds)
        rate = _burst(sandbox, burst)
    bare = _bare_loop(burst)
    bare_ms = 1000 / bare
    table.add("drop → first result p50", _pct(first, 0.5), "ms", baseline=bare_ms, target="≤ 200 ms",
              higher_is_better=False)
    table.add("drop → first result p95", _pct(first, 0.95), "ms", baseline=bare_ms, target="≤ 1000 ms",
              higher_is_better=False)
    table.add("drop → Done (sent to Continuum) p50", _pct(final, 0.5), "ms", higher_is_better=False)
    table.add("drop → Done (sent to Continuum) p95", _pct(final, 0.95), "ms", higher_is_better=False)
    table.add("results seen", len(final), "files", target=f"{int(seconds * RATE)}")
    table.add("burst throughput (claim, result, move)", rate, "files/s", baseline=bare, target="≥ 200 files/s")
    return table


if __name__ == "__main__":
    main(quick="--quick" in sys.argv).print()
