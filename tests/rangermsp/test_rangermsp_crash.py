"""Exactly once on RangerMSP (D9) through kills: an agent process on the ``rangermsp-simulator``
backend, killed at random moments of a 2,000-ticket ingest and at each step of the write journal
(before the DLL call commits, after it and before the journal completes, after the journal and
before the feed cursor, after the cursor and before the ack), with the sandbox duplicating and
re-delivering changes and the DLLs now and then busy, or committing a write and then answering
1100 anyway (the clean run too). Afterwards the simulator's own records are counted: every
Continuum ticket is one RangerMSP ticket with one creation note (none doubled, none lost), and
every change is acknowledged."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from agent.backends.rangermsp.journal import SideStore
from agent.sandbox import SandboxServer
from agent.sandbox.rangermsp import SimulatorDatabase
from agent.sandbox.rangermsp.faults import DIED, FILE_NAME

from conftest import track, wait_for
from test_inbound_support import ini_text

pytestmark = pytest.mark.posix  # SIGKILL

TICKETS = 2_000
RUN_TICKETS = 45  # opened before each killed run; the rest before the clean run
RANDOM_KILLS = 20
COMMIT_THEN_BUSY = {"commit_then_busy_probability": 0.05}
# Each step of a keyed write, killed three times: the simulator's faults kill inside the DLL
# call, the agent script's wrappers kill after the journal completes and after the page commits.
STEP_KILLS = [step for step in ("before_write", "after_write", "after_journal", "before_ack") for _ in range(3)]

AGENT = textwrap.dedent('''
    import os, signal, sys, time
    from pathlib import Path
    from loguru import logger
    logger.remove()
    from agent.app import App
    from agent.sync.inbound.engine import InboundSync

    ini, step, nth, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    app = App(ini)

    def dying(real, what):
        calls = [0]
        def wrapper(*args, **kwargs):
            result = real(*args, **kwargs) if what == "journal" else None
            calls[0] += 1
            if calls[0] == nth:
                with marker.open("a") as fh:
                    fh.write(f"{step}\\n")
                os.kill(os.getpid(), signal.SIGKILL)
            return result if what == "journal" else real(*args, **kwargs)
        return wrapper

    if step == "after_journal":  # the REC ID is in the journal; the page is not committed yet
        app.psa.side.complete = dying(app.psa.side.complete, "journal")
    elif step == "before_ack":  # the page is committed; Continuum has not heard of it
        app.rmm.ack = dying(app.rmm.ack, "ack")
    Path(f"{marker}.ready-{os.getpid()}").touch()
    while True:
        sync = InboundSync(app, limit=50)
        sync.run_once()
        if step == "clean" and sync.last_round.fetched == 0 and not sync.last_round.stopped_by:
            break
        if sync.last_round.fetched == 0:
            time.sleep(0.05)  # idle: poll like the service does, not in a busy loop
    app.close()
''')


def _start(script: Path, ini: Path, step: str, nth: int, marker: Path) -> subprocess.Popen:
    with (script.parent / "agent.err").open("ab") as err:
        proc = subprocess.Popen([sys.executable, str(script), str(ini), step, str(nth), str(marker)],
                                cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=err)
    return track(proc)


def _errors(script: Path) -> str:
    return (script.parent / "agent.err").read_text(errors="replace")[-3000:]


def _inject(db_folder: Path, **faults: object) -> None:
    db_folder.mkdir(parents=True, exist_ok=True)
    (db_folder / FILE_NAME).write_text(json.dumps(faults), encoding="utf-8")


@pytest.mark.slow
def test_D9_exactly_once_on_rangermsp_through_kills_at_every_journal_step(tmp_path):
    rng = random.Random(11)
    script, marker = tmp_path / "agent_loop.py", tmp_path / "killed.txt"
    script.write_text(AGENT)
    dbsys = tmp_path / "Dbsys"
    dbsys.mkdir()
    db_folder = dbsys / "RangerMSP-simulator" / "Db"
    runs = STEP_KILLS + ["random"] * RANDOM_KILLS
    rng.shuffle(runs)
    with SandboxServer(psg="demo", seed=5, sites=20, devices=200) as sb:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(re.sub(r"^Backend=.*$", "Backend=rangermsp-simulator", ini_text(sb.url, dbsys), flags=re.M))
        sb.faults.set(duplicate_feed=True, redeliver=True)

        deaths: Counter[str] = Counter()
        for step in runs:
            sb.world.open_tickets(RUN_TICKETS)
            nth = rng.randint(1, 6)
            if step == "before_write":
                _inject(db_folder, die_before_write=nth, busy_probability=0.02, seed=nth, **COMMIT_THEN_BUSY)
            elif step == "after_write":
                _inject(db_folder, die_after_write=nth, busy_probability=0.02, seed=nth, **COMMIT_THEN_BUSY)
            else:
                _inject(db_folder, busy_probability=0.02, seed=nth, **COMMIT_THEN_BUSY)
            proc = _start(script, ini, step, nth, marker)
            if step == "random":
                wait_for(lambda proc=proc: Path(f"{marker}.ready-{proc.pid}").exists() or proc.poll() is not None,
                         60, "the agent to start")
                time.sleep(rng.uniform(0.05, 0.8))
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.returncode in (-signal.SIGKILL, DIED), f"{step}: {proc.returncode}\n{_errors(script)}"
            deaths[step] += 1

        _inject(db_folder, seed=99, **COMMIT_THEN_BUSY)  # the clean run: writes that commit, then fail
        sb.world.open_tickets(TICKETS - len(runs) * RUN_TICKETS)
        clean = _start(script, ini, "clean", 0, marker)
        clean.wait(timeout=180)
        assert clean.returncode == 0, _errors(script)

        links = {str(t): rec_id for t, rec_id in sb.world.links.items()}
        last_change = sb.world.changes[-1]["id"]
        acked = sb.world.acked_cursor

    assert deaths == Counter({"random": RANDOM_KILLS, "before_write": 3, "after_write": 3,
                              "after_journal": 3, "before_ack": 3})
    # The agent script's own kills left their mark: they happened where they were meant to.
    assert Counter(marker.read_text().split()) == Counter({"after_journal": 3, "before_ack": 3})
    assert len(links) == TICKETS
    sim = SimulatorDatabase(db_folder)
    try:
        tickets = sim.records("TICKET")
        notes = sim.records("HISTORY-NOTE")
    finally:
        sim.close()
    assert len(tickets) == TICKETS
    by_continuum = Counter(t["FLDTKTUSER1"] for t in tickets)
    assert set(by_continuum) == set(links) and max(by_continuum.values()) == 1  # none twice
    assert {t["FLDTKTUSER1"]: t["FLDTKTRECID"] for t in tickets} == links  # each linked back to its own
    notes_per_ticket = Counter(n["FLDHISLINKRECID"] for n in notes)
    assert set(notes_per_ticket) == {t["FLDTKTRECID"] for t in tickets}
    assert set(notes_per_ticket.values()) == {1}  # every creation note once
    side = SideStore(dbsys / "zenithlink-rangermsp.sqlite3")
    try:
        assert side.unfinished() == []
        assert sorted(side.known_tickets()) == sorted(t["FLDTKTRECID"] for t in tickets)
        assert all(side.ticket_facts(t["FLDTKTRECID"])[3] for t in tickets)  # every one in the Inbox
    finally:
        side.close()
    assert acked == last_change  # every change acknowledged
