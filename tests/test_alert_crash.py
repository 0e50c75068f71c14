"""Exactly once through SIGKILLs: an agent process polling the sandbox N-sight is killed in the
middle of applying a poll (between the poll and its commit), again and again; after a clean poll
every failing check has exactly one PSA ticket, and every repeat and recovery exactly one note."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from stores import embedded

from agent.sandbox.nsight import NsightSandbox

from conftest import track

pytestmark = pytest.mark.posix  # SIGKILL

AGENT = textwrap.dedent('''
    import os, signal, sys
    from loguru import logger
    logger.remove()
    from agent.app import App
    from agent.sync.alerts.lifecycle import AlertLifecycle

    ini, kill_at_note = sys.argv[1], int(sys.argv[2])
    app = App(ini)
    real_add_history = app.psa.add_history
    calls = [0]

    def add_history(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at_note:
            os.kill(os.getpid(), signal.SIGKILL)  # some tickets and notes written, nothing committed
        return real_add_history(*args, **kwargs)

    app.psa.add_history = add_history
    AlertLifecycle(state=app.state, psa=app.psa, rmm=app.rmm).poll_once()
    app.close()
''')


def _poll(script: Path, ini: Path, kill_at_note: int) -> int:
    with (script.parent / "agent.err").open("ab") as err:
        proc = track(subprocess.Popen([sys.executable, str(script), str(ini), str(kill_at_note)],
                                      cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=err))
    return proc.wait(timeout=60)


def _notes(db_path: Path) -> dict[str, list[str]]:
    with embedded(db_path) as (state, psa):
        assert state.db.integrity_check() == "ok"
        rows = state.open_alert_tickets()
        assert len({r.ticket_rec_id for r in rows}) == len(rows) == psa.count_tickets()
        return {r.alert_id: [h.text.split(":")[0] for h in psa.get_ticket(r.ticket_rec_id).history] for r in rows}


def test_a_poll_killed_before_its_commit_neither_loses_nor_doubles_a_ticket_or_a_note(tmp_path):
    script = tmp_path / "agent_poll.py"
    script.write_text(AGENT)
    db_path = tmp_path / "Dbsys" / "zenithlink.sqlite3"
    with NsightSandbox() as nsight:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(f"[Continuum]\nBackend=nsight\n[Nsight]\nServerURL={nsight.url}\nAPIKey={nsight.world.api_key}\n"
                       "[RangerMSP]\nDbsysFolder=Dbsys\nBackend=embedded\n")
        db_path.parent.mkdir()
        with embedded(db_path) as (state, psa):
            account = psa.add_account("ACME")
            for siteid in nsight.world.sites:
                state.link_site(str(siteid), account)
        checks = list(nsight.world.checks)
        for checkid in checks[:20]:
            nsight.world.fail(checkid)

        for kill_at in (1, 7, 20):  # the first note, one in the middle, the last one
            assert _poll(script, ini, kill_at) == -signal.SIGKILL, (tmp_path / "agent.err").read_text()
            with embedded(db_path) as (state, psa):
                assert psa.count_tickets() == 0 and state.open_alert_tickets() == []
        assert _poll(script, ini, 0) == 0, (tmp_path / "agent.err").read_text()
        raised = _notes(db_path)
        assert sorted(raised) == sorted(str(c) for c in checks[:20])
        assert all(notes == ["Check failed"] for notes in raised.values())

        for checkid in checks[:5]:  # recover
            nsight.world.recover(checkid)
        for checkid in checks[5:10]:  # recover and fail again between two polls
            nsight.world.recover(checkid)
            nsight.world.fail(checkid)
        for kill_at in (1, 6, 10):
            assert _poll(script, ini, kill_at) == -signal.SIGKILL, (tmp_path / "agent.err").read_text()
        assert _poll(script, ini, 0) == 0, (tmp_path / "agent.err").read_text()
        assert _poll(script, ini, 0) == 0  # and a poll that finds nothing new writes nothing
        after = _notes(db_path)
    assert all(after[str(c)] == ["Check failed", "Check recovered"] for c in checks[:5])
    assert all(after[str(c)] == ["Check failed", "Check failed again (2 times in all)"] for c in checks[5:10])
    assert all(after[str(c)] == ["Check failed"] for c in checks[10:20])
