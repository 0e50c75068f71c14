"""``InventoryJob.run_once`` for the service: store state, events, error reports, activation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from loguru import logger

from agent import events
from agent.app import App
from agent.backends.continuum import CircuitBreaker, ContinuumClient, RetryPolicy
from agent.sandbox import SandboxServer
from agent.sync.activation import PENDING_WARNING
from agent.sync.inventory.refresh import InventoryJob, inventory_paths
from agent.sync.outage import OutageTracker
from config.loader import parse_settings
from dbsys import reports

FAST = RetryPolicy(max_attempts=3, base=0.001, cap=0.01)
PSG = "demo-secret-code"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_app(tmp_path: Path, sb: SandboxServer, psg: str = PSG) -> tuple[App, list[events.Event]]:
    ini = (f"[Continuum]\nPSG={psg}\nContinuumURL={sb.url}\n"
           f"[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=state.db\n")
    app = App(tmp_path / "CmtZenithLink.ini", settings=parse_settings(ini, base_dir=tmp_path))
    app.set_rmm(ContinuumClient(sb.url, psg, retry=FAST, timeout=5.0))
    notified: list[events.Event] = []
    app.notify = notified.append  # the notifiers themselves are tested with the plugin manager
    return app, notified


@pytest.fixture
def sandbox():
    with SandboxServer(psg=PSG, seed=2, sites=15, devices=120) as sb:
        yield sb


@pytest.fixture
def warnings():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


def kinds(notified: list[events.Event]) -> list[str]:
    return [e.kind for e in notified]


def report_files(app: App) -> list[Path]:
    folder = reports.reports_folder(app.settings.dbsys_folder)
    return sorted(folder.glob("*.xml")) if folder.exists() else []


def test_success_records_state_and_notifies_the_changes(tmp_path, sandbox):
    app, notified = make_app(tmp_path, sandbox)
    clock = Clock()
    assert InventoryJob(app, now=clock).run_once().devices == 120
    sandbox.world.add_site("Another Customer", code="ANOTHER-HQ")
    result = InventoryJob(app, now=clock).run_once()

    state = app.state
    assert state.get_state("last_inventory_refresh") == "2026-11-27T10:00:00Z"
    assert (state.get_state("inventory_sites"), state.get_state("inventory_devices")) == ("16", "120")
    assert state.get_state("inventory_changes") == "sites +1 -0 ~0; devices +0 -0 ~0"
    assert state.get_state("activation") == "ok"
    assert kinds(notified) == [events.INVENTORY_REFRESHED] * 2
    assert notified[-1].data["changes"]["sites"]["added_ids"] == ["ANOTHER-HQ"]
    assert result.changes.sites.added_ids == ["ANOTHER-HQ"]
    assert report_files(app) == []
    app.close()


def test_a_devices_failure_keeps_both_files_and_writes_an_error_report(tmp_path, sandbox):
    app, notified = make_app(tmp_path, sandbox)
    InventoryJob(app).run_once()
    folder = app.settings.dbsys_folder
    before = {p: p.read_bytes() for p in inventory_paths(app.settings).values()}
    sandbox.world.add_site("Would change the sites file")
    sandbox.faults.set(outage=True, paths=["/psa/v1/devices"])

    assert InventoryJob(app).run_once() is None

    assert {p: p.read_bytes() for p in before} == before
    left = [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".zenithlink")]
    assert sorted(left) == sorted(p.name for p in before)  # and the agent's lock files
    (report,) = report_files(app)
    text = report.read_text()
    assert "inventory" in text and "previous inventory files were kept" in text
    assert kinds(notified) == [events.INVENTORY_REFRESHED, events.INVENTORY_FAILED]
    assert "unavailable" in app.state.get_state("last_error").lower()
    assert PSG not in text and PSG not in notified[-1].summary
    app.close()


def test_not_activated_is_pending_not_a_failure_and_is_not_repeated(tmp_path, sandbox, warnings):
    app, notified = make_app(tmp_path, sandbox)
    clock = Clock()
    sandbox.world.set_activated(False)

    for _ in range(3):
        assert InventoryJob(app, now=clock).run_once() is None
        clock.advance(minutes=20)
    assert app.state.get_state("activation") == "pending"
    assert kinds(notified) == [events.ACTIVATION_PENDING]
    assert notified[0].summary.startswith("Waiting for Continuum to apply the PSA activation")
    assert warnings.count(PENDING_WARNING) == 1
    assert len(report_files(app)) == 1
    assert app.state.get_state("last_error") is None
    assert not inventory_paths(app.settings)["sites"].exists()

    clock.advance(minutes=10)  # 70 minutes after the first warning
    InventoryJob(app, now=clock).run_once()
    assert warnings.count(PENDING_WARNING) == 2
    assert len(report_files(app)) == 1 and kinds(notified) == [events.ACTIVATION_PENDING]

    clock.advance(hours=24)
    InventoryJob(app, now=clock).run_once()
    assert len(report_files(app)) == 2

    sandbox.world.set_activated(True)
    assert InventoryJob(app, now=clock).run_once().sites == 15
    assert app.state.get_state("activation") == "ok"
    assert app.state.get_state("activation_pending_since") is None
    assert kinds(notified)[-1] == events.INVENTORY_REFRESHED

    sandbox.world.set_activated(False)  # a new pending episode is announced again
    InventoryJob(app, now=clock).run_once()
    assert kinds(notified).count(events.ACTIVATION_PENDING) == 2
    app.close()


def test_a_refused_security_code_names_the_ini_key_and_never_the_code(tmp_path, sandbox):
    wrong = "wrong-code-4711"
    app, notified = make_app(tmp_path, sandbox, psg=wrong)

    assert InventoryJob(app).run_once() is None

    assert app.state.get_state("activation") == "refused"
    (report,) = report_files(app)
    text = report.read_text()
    assert "PSG" in text and wrong not in text
    assert kinds(notified) == [events.SECURITY_CODE_REFUSED]
    assert wrong not in notified[0].summary
    app.close()


def test_during_an_outage_a_failed_refresh_leaves_the_telling_to_the_outage(tmp_path, sandbox):
    app, notified = make_app(tmp_path, sandbox)
    app.set_rmm(ContinuumClient(sandbox.url, PSG, retry=FAST, timeout=5.0,
                                   circuit=CircuitBreaker(failure_threshold=1000)))
    now = [1_795_000_000.0]
    job = InventoryJob(app, outage=OutageTracker(app, clock=lambda: now[0]))
    sandbox.faults.set(outage=True)

    assert job.run_once() is None  # a failure like any other: its own report
    now[0] += 3600  # the next refresh, an hour later, fails too: that is an outage
    assert job.run_once() is None
    now[0] += 3600
    assert job.run_once() is None  # within the outage: said by the outage's report alone

    assert kinds(notified) == [events.INVENTORY_FAILED, events.CONTINUUM_UNREACHABLE]
    assert sorted(p.name.split("-", 1)[1] for p in report_files(app)) == ["continuum-unreachable.xml", "inventory.xml"]
    assert app.state.get_state("last_error").startswith("Continuum has not answered for 1 h 0 min")

    sandbox.faults.clear()
    assert job.run_once().sites == 15
    assert kinds(notified)[-2:] == [events.CONTINUUM_RECOVERED, events.INVENTORY_REFRESHED]
    assert app.state.get_state("outage_since") is None
    app.close()
