"""The outbox after an outage of Continuum: how soon what waited is in Continuum once it answers.

The agent runs as the service runs it (``Service`` with its workers, the production client with
its retries and circuit breaker, ``PollIntervalSeconds`` 30), in a thread of this process, against
the sandbox Continuum in a process of its own. ``ROWS`` AddNote rows over 20 linked tickets are
queued while the sandbox answers every call 503 (its ``outage`` fault) for ``OUTAGE_SECONDS``;
then the fault is cleared. Figures, medians of ``RUNS`` runs:

- seconds from the sandbox answering again to the outbox empty (every row in Continuum);
- of which, after the agent first hears an answer (the outage tracker's "answers again"): the
  circuit breaker lets its next probe through at most 30 s after the last one, so this is the
  part the agent itself decides;
- the same after the same outage with the wake-up on recovery switched off (the build before:
  rows sit out their backoff and the sender its pause);
- the baseline: the same rows drained with no outage, in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_outbox import _queue
from bench.common import RemoteSandbox, Table

ROWS = 200
OUTAGE_SECONDS = 60.0
RUNS = 3
#: How long a run waits for the outbox to drain before it reports what it waited.
PATIENCE_SECONDS = 400.0


def _app(folder: Path, url: str):
    from agent.app import App
    from config.loader import parse_settings

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "CmtZenithLink.ini"
    config.write_text(f"[Continuum]\nPSG=bench\nContinuumURL={url}\nProcessContinuumUpdatesQueue=Y\n"
                      "[RangerMSP]\nDbsysFolder=Dbsys\n[Logging]\nLevel=WARNING\n")
    return App(config, settings=parse_settings(config.read_text(), base_dir=folder, path=config))


def _until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _run(outage: float, *, wake: bool = True) -> tuple[float, float]:
    """(seconds from the sandbox answering again to the outbox empty, seconds from the agent's
    first answer to the outbox empty); with no outage, both are the drain's seconds."""
    from agent.runtime.service import Service

    with tempfile.TemporaryDirectory() as tmp, RemoteSandbox(psg="bench", seed=1, sites=5, devices=20) as sb:
        app = _app(Path(tmp), sb.url)
        service = Service(app)
        answered: list[float] = []
        service.outage.when_answering_again("bench", lambda: answered.append(time.monotonic()))
        if not wake:  # the build before: nothing is told when Continuum answers again
            service.outage.when_answering_again("outbox", lambda: None)
            service.outage.when_answering_again("service", lambda: None)
        thread = threading.Thread(target=service.run, name="bench-service")
        try:
            thread.start()
            if not _until(lambda: app.state.get_state("last_queue_poll"), 60):
                raise RuntimeError("the service did not poll the feed within 60 s")
            if outage:
                sb.admin("POST", "/faults", {"outage": True})
            _queue(app, sb, ROWS)
            service.workers["outbox"].wake.set()  # as the request watcher does once it has queued
            started = time.monotonic()
            if outage:
                time.sleep(outage)
                sb.admin("DELETE", "/faults")
                started = time.monotonic()
            if not _until(lambda: app.state.outbox_depth() == 0, PATIENCE_SECONDS):
                raise RuntimeError(f"{app.state.outbox_depth()} rows still queued {PATIENCE_SECONDS:.0f} s after")
            drained = time.monotonic()
            applied = len(sb.admin("GET", "/ledger"))
            if applied < ROWS:
                raise RuntimeError(f"{applied} notes in Continuum for {ROWS} rows")
            heard = min((t for t in answered if t >= started), default=started)
            return drained - started, drained - heard
        finally:
            service.request_stop()
            thread.join(30)
            app.close()


def main(quick: bool = False) -> Table:
    from agent import logs

    outage = 10.0 if quick else OUTAGE_SECONDS
    baseline = statistics.median(_run(0.0)[0] for _ in range(RUNS))
    after = [_run(outage) for _ in range(RUNS)]
    before = [_run(outage, wake=False) for _ in range(RUNS)]
    logs.configure("WARNING")
    table = Table(f"outbox drain after a {outage:.0f} s outage of Continuum, {ROWS} rows (medians of {RUNS})")
    table.add("s, no outage: queue to empty (baseline)", baseline, "s", higher_is_better=False)
    table.add("s, Continuum back to outbox empty", statistics.median(a for a, _ in after), "s",
              baseline=statistics.median(b for b, _ in before), higher_is_better=False,
              target="baseline: without the wake")
    table.add("s, first answer heard to outbox empty", statistics.median(h for _, h in after), "s",
              baseline=statistics.median(h for _, h in before), higher_is_better=False,
              target="baseline: without the wake")
    for name, runs in (("with the wake", after), ("without the wake", before)):
        print(f"{name}: " + ", ".join(f"{a:.1f} s ({h:.1f} s after the first answer)" for a, h in runs))
    return table
