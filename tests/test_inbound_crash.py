"""Exactly once (R10, D1) through SIGKILLs: an agent process killed at many points of a
5,000-ticket ingest (some of them between the commit and the ack), with the sandbox duplicating
and re-delivering changes; after a clean run every Continuum ticket has exactly one PSA ticket."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from stores import embedded

from agent.sandbox import SandboxServer

from conftest import track, wait_for
from test_inbound_support import ini_text

pytestmark = pytest.mark.posix  # SIGKILL

TICKETS = 5_000
RUN_TICKETS = 300  # opened before each of the 14 killed runs; the rest before the clean run

AGENT = textwrap.dedent('''
    import os, signal, sys, time
    from pathlib import Path
    from loguru import logger
    logger.remove()
    from agent.app import App
    from agent.sync.inbound.engine import InboundSync

    ini, kill_at_ack, marker = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    app = App(ini)
    client = app.rmm
    real_ack = client.ack
    calls = [0]

    def ack(cursor, links=(), idempotency_key=None):
        calls[0] += 1
        if calls[0] == kill_at_ack:
            with marker.open("a") as fh:
                fh.write(f"{cursor}\\n")
            os.kill(os.getpid(), signal.SIGKILL)  # committed, not acknowledged
        return real_ack(cursor, links, idempotency_key)

    client.ack = ack
    Path(f"{marker}.ready-{os.getpid()}").touch()  # started: the parent's random kill lands in the work
    while True:
        sync = InboundSync(app, limit=100)
        sync.run_once()
        if kill_at_ack == 0 and sync.last_round.fetched == 0 and not sync.last_round.stopped_by:
            break
        if sync.last_round.fetched == 0:
            time.sleep(0.05)  # idle: poll like the service does, not in a busy loop
    app.close()
''')


def _start(script: Path, ini: Path, kill_at_ack: int, marker: Path) -> subprocess.Popen:
    # stderr to a file, not a pipe: nobody reads a pipe while the agent runs, and a full pipe would
    # stall it.
    with (script.parent / "agent.err").open("ab") as err:
        proc = subprocess.Popen([sys.executable, str(script), str(ini), str(kill_at_ack), str(marker)],
                                cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=err)
    return track(proc)


def _errors(script: Path) -> str:
    return (script.parent / "agent.err").read_text(errors="replace")[-2000:]


@pytest.mark.slow
def test_R10_exactly_once_through_sigkills_during_a_5000_ticket_ingest(tmp_path):
    rng = random.Random(7)
    script, marker = tmp_path / "agent_loop.py", tmp_path / "killed_before_ack.txt"
    script.write_text(AGENT)
    dbsys = tmp_path / "Dbsys"
    dbsys.mkdir()
    with SandboxServer(psg="demo", seed=5, sites=20, devices=200) as sb:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(ini_text(sb.url, dbsys))
        sb.faults.set(duplicate_feed=True, redeliver=True)

        kills = 0
        for run in range(14):
            # Tickets keep arriving, as they do in Continuum, so that every agent run has work to
            # be killed in the middle of, however fast the ingest is.
            sb.world.open_tickets(RUN_TICKETS)
            if run % 2 == 0:
                proc = _start(script, ini, rng.randint(1, 3), marker)  # dies right after a commit
                proc.wait(timeout=60)
            else:
                proc = _start(script, ini, -1, marker)
                # Not during interpreter start-up (slow on a loaded machine), but anywhere in the
                # work: fetching, applying, committing, acknowledging.
                wait_for(lambda proc=proc: Path(f"{marker}.ready-{proc.pid}").exists() or proc.poll() is not None,
                         60, "the agent to start")
                time.sleep(rng.uniform(0.1, 1.2))
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL, _errors(script)
            kills += 1

        sb.world.open_tickets(TICKETS - 14 * RUN_TICKETS)
        clean = _start(script, ini, 0, marker)
        clean.wait(timeout=120)
        assert clean.returncode == 0, _errors(script)

        links = sb.world.links
        last_change = sb.world.changes[-1]["id"]
        acked = sb.world.acked_cursor

    assert kills == 14
    assert len(marker.read_text().split()) == 7  # seven deaths between a commit and its ack
    with embedded(dbsys / "zenithlink.sqlite3") as (state, psa):
        assert state.db.integrity_check() == "ok"
        assert psa.count_tickets() == TICKETS
        pairs = state.db.query("SELECT continuum_ticket_id, ticket_rec_id FROM ticket_links")
        assert len(pairs) == TICKETS
        assert len({p[0] for p in pairs}) == TICKETS and len({p[1] for p in pairs}) == TICKETS
        assert state.db.scalar("SELECT COUNT(*) FROM history") == TICKETS  # one creation note each
        assert state.db.scalar("SELECT COUNT(*) FROM tickets WHERE rec_id NOT IN"
                               " (SELECT ticket_rec_id FROM ticket_links)") == 0
        assert state.unacked_ticket_links() == []
        assert {p[0]: p[1] for p in pairs} == links  # every Continuum ticket linked once, the same way
        assert state.feed_cursor == acked == last_change
