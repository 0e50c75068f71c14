"""Shared set-up of the inbound tests: a sandbox over HTTP, an INI, a real store in tmp_path.

Imported by the ``test_inbound_*`` modules (it holds no tests of its own beyond a smoke check).
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agent.app import App
from agent.backends.continuum.circuit import CircuitBreaker
from agent.backends.continuum.client import ContinuumClient
from agent.backends.continuum.retry import RetryPolicy
from agent.hookspecs import hookimpl
from agent.sandbox import SandboxServer
from agent.sync import records
from agent.sync.inbound.engine import InboundSync
from dbsys import cmt

from conftest import psa_backend


class Recorder:
    """An inline notifier plugin that keeps every event."""

    def __init__(self) -> None:
        self.events = []

    @hookimpl
    def zenith_notify(self, event):
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def ini_text(url: str, dbsys: Path, *, queue: bool = True, psg: str = "demo", extra: str = "") -> str:
    return (f"[Continuum]\nPSG={psg}\nContinuumURL={url}\nProcessContinuumUpdatesQueue={'Y' if queue else 'N'}\n"
            f"RequestTimeoutSeconds=5\n[RangerMSP]\nDbsysFolder={dbsys}\nBackend={psa_backend()}\n{extra}")


def fast_client(url: str, psg: str = "demo") -> ContinuumClient:
    return ContinuumClient(url, psg, timeout=5, retry=RetryPolicy(max_attempts=2, base=0.01, cap=0.02),
                           circuit=CircuitBreaker(failure_threshold=1000))


class Env:
    """One agent (App + store) against one sandbox."""

    def __init__(self, tmp_path: Path, sandbox: SandboxServer, *, queue: bool = True, psg: str = "demo",
                 extra: str = "", plugins: list | None = None, inventory: bool = True) -> None:
        self.tmp_path = tmp_path
        self.sandbox = sandbox
        self.world = sandbox.world
        self.dbsys = tmp_path / "Dbsys"
        self.dbsys.mkdir(exist_ok=True)
        self.ini = tmp_path / "CmtZenithLink.ini"
        self.ini.write_text(ini_text(sandbox.url, self.dbsys, queue=queue, psg=psg, extra=extra))
        self.recorder = Recorder()
        self.app = App(self.ini, extra_plugins=[("recorder", self.recorder), *(plugins or [])])
        # Fast retries: the tests inject failures and must not wait for production back-off.
        self.app.set_rmm(fast_client(sandbox.url, psg))
        if inventory:
            self.write_inventory()

    @property
    def state(self):
        return self.app.state

    @property
    def psa(self):
        return self.app.psa

    def write_inventory(self) -> None:
        now = datetime.now(timezone.utc)
        sites = [s.children for s in self.sites]
        devices = [d.children for d in self.devices]
        settings = self.app.settings
        cmt.write_inventory(cmt.sites_path(settings.dbsys_folder, settings.instance_id), "sites", sites, now)
        cmt.write_inventory(cmt.devices_path(settings.dbsys_folder, settings.instance_id), "devices", devices, now)

    @functools.cached_property
    def sites(self) -> list:
        with fast_client(self.sandbox.url) as client:
            return sorted(client.iter_sites(), key=lambda s: s.site_code)

    @functools.cached_property
    def devices(self) -> list:
        with fast_client(self.sandbox.url) as client:
            return list(client.iter_devices())

    def sync(self, **kwargs) -> int:
        return InboundSync(self.app, **kwargs).run_once()

    def drain(self, rounds: int = 50, **kwargs) -> int:
        """Rounds until the feed is empty; the total applied."""
        total = 0
        for _ in range(rounds):
            sync = InboundSync(self.app, **kwargs)
            total += sync.run_once()
            if sync.last_round.stopped_by == "" and sync.last_round.fetched == 0:
                return total
        return total

    def ticket_of(self, continuum_id: str):
        rec_id = self.state.ticket_for_continuum(continuum_id)
        assert rec_id, f"Continuum ticket {continuum_id} has no PSA ticket"
        return records.get_ticket(self.state, self.psa, rec_id)

    def site_codes(self) -> list[str]:
        return [s.site_code for s in self.sites]

    def devices_of(self, site_code: str) -> list:
        return [d for d in self.devices if d.site_code == site_code]

    def open(self, site_code: str | None = None, device_id: str | None = None, **kwargs) -> str:
        """Open a ticket in Continuum; its id."""
        return self.world.open_ticket(site_code=site_code, device_id=device_id, **kwargs)["ticket_id"]

    def all_processed(self) -> bool:
        """Every change the sandbox holds is recorded as processed."""
        return all(self.state.is_processed(c["id"]) for c in self.world.changes)

    def close(self) -> None:
        self.app.close()


@pytest.fixture
def sandbox():
    with SandboxServer(psg="demo", seed=3, sites=6, devices=30) as sb:
        yield sb


@pytest.fixture
def env(tmp_path, sandbox):
    e = Env(tmp_path, sandbox)
    yield e
    e.close()


def test_support_env_reads_the_sandbox(env):
    assert len(env.site_codes()) == 6
    assert env.sync() == 0
    assert env.state.get_state("last_queue_poll")
