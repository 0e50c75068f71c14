"""Shared set-up for the outbound and request-drop tests (imported by them; holds no tests).

An ``Env`` is a real agent set-up: an INI in ``tmp_path``, an embedded store, a sandbox
Continuum over loopback HTTP, employees, an account linked to a sandbox site and an asset
linked to one of that site's devices.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

from agent.app import App
from agent.backends.continuum.circuit import CircuitBreaker
from agent.backends.continuum.client import ContinuumClient
from agent.backends.continuum.retry import RetryPolicy
from agent.hookspecs import hookimpl
from agent.sandbox import SandboxServer
from agent.sync.alerts.lifecycle import AlertLifecycle
from config.loader import parse_settings
from dbsys import results

from conftest import psa_backend, rmm_backend, wait_for  # noqa: F401 - re-exported to the test modules
from rmm_support import SnapshotRmm, capabilities, snapshot_rmm

PSG = "demo-psg-secret"


def ini_text(url: str, psg: str = PSG) -> str:
    return (f"[Continuum]\nPSG={psg}\nContinuumURL={url}\nRequestTimeoutSeconds=5\n"
            f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n")


def fast_client(url: str, psg: str = PSG) -> ContinuumClient:
    """A client that gives up quickly, so tests do not wait for production backoffs."""
    return ContinuumClient(url, psg, timeout=5.0, retry=RetryPolicy(max_attempts=2, base=0.02, cap=0.1),
                           circuit=CircuitBreaker(failure_threshold=50, reset_after=0.2))


class Capture:
    """A notifier plugin that keeps every event."""

    def __init__(self) -> None:
        self.events: list = []

    @hookimpl
    def zenith_notify(self, event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def make_app(tmp_path: Path, url: str, psg: str = PSG, capture: Capture | None = None) -> App:
    config = tmp_path / "CmtZenithLink.ini"
    config.write_text(ini_text(url, psg))
    settings = parse_settings(config.read_text(), base_dir=tmp_path, path=config)
    app = App(config, settings=settings, extra_plugins=[("capture", capture)] if capture else None)
    app.set_rmm(fast_client(url, psg))
    return app


def make_snapshot_app(tmp_path: Path, rmm: SnapshotRmm, capture: Capture | None = None) -> App:
    """An agent whose INI names the snapshot RMM ``rmm``, with a quick client of it."""
    config = tmp_path / "CmtZenithLink.ini"
    config.write_text(rmm.ini() + f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n")
    settings = parse_settings(config.read_text(), base_dir=tmp_path, path=config)
    app = App(config, settings=settings, extra_plugins=[("capture", capture)] if capture else None)
    app.set_rmm(rmm.client())
    return app


@pytest.fixture
def sandbox():
    """The configured RMM's sandbox (``ZENITHLINK_TEST_RMM``): Continuum's, or a :class:`SnapshotRmm`."""
    if rmm_backend() == "continuum":
        with SandboxServer(psg=PSG, seed=3, sites=6, devices=30) as server:
            yield server
    else:
        with snapshot_rmm() as rmm:
            yield rmm


@dataclass
class Env:
    app: App
    sandbox: object
    site: str
    device: str
    account: str
    asset: str
    unlinked_account: str
    extra: dict = field(default_factory=dict)

    @property
    def state(self):
        return self.app.state

    @property
    def psa(self):
        return self.app.psa

    @property
    def requests_folder(self) -> Path:
        return Path(self.app.settings.requests_folder)

    def ticket(self, description: str = "Backup job failed\nThe nightly backup did not run.",
               *, asset: bool = True, account: str | None = None) -> str:
        return self.psa.add_ticket(account or self.account, description,
                                     asset_rec_id=self.asset if asset and not account else None)

    @property
    def snapshot(self) -> bool:
        return isinstance(self.sandbox, SnapshotRmm)

    def linked_ticket(self) -> tuple[str, str]:
        """A PSA ticket linked to a Continuum ticket opened in the sandbox; with a snapshot RMM, the
        ticket a poll opened for a check that started failing (a new check each call), and its alert id."""
        if isinstance(self.sandbox, SnapshotRmm):
            number = self.extra["checks"] = self.extra.get("checks", 0) + 1
            alert_id = self.sandbox.fail(self.device, f"Disk low {number}")
            self.pickup()
            (row,) = [r for r in self.state.open_alert_tickets() if r.alert_id == alert_id]
            return row.ticket_rec_id, alert_id
        opened = self.sandbox.world.open_ticket(site_code=self.site, title="Disk low")
        rec_id = self.ticket()
        self.state.link_ticket(opened["ticket_id"], rec_id, acked=True)
        return rec_id, opened["ticket_id"]

    def pickup(self) -> None:
        """What the service does beside the sender to notice the RMM's side: a snapshot RMM's poll
        (a change-feed RMM's tickets come through the inbound engine, which these tests leave out)."""
        if self.snapshot:
            AlertLifecycle(state=self.state, psa=self.psa, rmm=self.app.alert_rmm).poll_once()

    def remote_notes(self, target: str) -> list[str]:
        """The notes the RMM holds on its ticket (Continuum) or check (a snapshot RMM), oldest first."""
        if isinstance(self.sandbox, SnapshotRmm):
            return self.sandbox.notes(target)
        return [n["text"] for n in self.sandbox.world.ticket(target)["notes"]]

    def remote_closed(self, target: str) -> bool:
        """Whether the RMM's ticket is closed, or its check cleared."""
        if isinstance(self.sandbox, SnapshotRmm):
            return self.sandbox.cleared(target) is not None
        return bool(self.sandbox.world.ticket(target)["status"] == "Closed")

    def outage(self, on: bool) -> None:
        """The RMM stops answering (503), or answers again."""
        if isinstance(self.sandbox, SnapshotRmm):
            self.sandbox.outage(on)
        elif on:
            self.sandbox.faults.set(error_rate=1.0, error_status=503)
        else:
            self.sandbox.faults.clear()

    def client(self, *, wrong_credentials: bool = False):
        """A quick client of the RMM (with credentials it refuses)."""
        if isinstance(self.sandbox, SnapshotRmm):
            return self.sandbox.client(wrong_credentials=wrong_credentials)
        return fast_client(self.sandbox.url, "wrong-code" if wrong_credentials else PSG)

    def sites(self) -> list[tuple[str, str]]:
        """``(site code, name)`` of each of the RMM's sites, in the sandbox's order."""
        if isinstance(self.sandbox, SnapshotRmm):
            return [(s.site_code, s.name) for s in self.sandbox.sites()]
        return [(s.site_code, s.name) for s in self.sandbox.world._site_list()]

    def device_of(self, site_code: str) -> str:
        """The first device of the site."""
        if isinstance(self.sandbox, SnapshotRmm):
            return next(d.device_id for d in self.sandbox.devices() if d.site_code == site_code)
        return str(self.sandbox.world._devices_of(site_code)[0].device_id)

    @property
    def rmm_name(self) -> str:
        return capabilities().rmm


def make_env(tmp_path: Path, sandbox, capture: Capture | None = None) -> Env:
    if isinstance(sandbox, SnapshotRmm):
        app = make_snapshot_app(tmp_path, sandbox, capture)
        site = sandbox.sites()[0].site_code
        device = next(d.device_id for d in sandbox.devices() if d.site_code == site)
    else:
        app = make_app(tmp_path, sandbox.url, capture=capture)
        world = sandbox.world
        site = world._site_list()[0].site_code
        device = world._devices_of(site)[0].device_id
    state, psa = app.state, app.psa
    state.add_employee("jsmith", "Jane Smith", "Full")
    state.add_employee("limited", "Lee Mited", "Limited")
    account = psa.add_account("ACME")
    state.link_site(site, account, by="jsmith")
    asset = psa.add_asset("ACME-DC01", account)
    state.link_device(device, asset, by="jsmith")
    unlinked = psa.add_account("Nobody Ltd")
    return Env(app, sandbox, site, device, account, asset, unlinked)


@pytest.fixture
def env(tmp_path, sandbox):
    """:func:`make_env` against the test module's ``sandbox`` fixture, closed afterwards."""
    made = make_env(tmp_path, sandbox)
    yield made
    made.app.close()


def request_xml(request_id: str | None, action: str, user: str = "jsmith", **children: str) -> bytes:
    attrs = (f" id={quoteattr(request_id)}" if request_id is not None else "") + f" action={quoteattr(action)}"
    attrs += f" user={quoteattr(user)}" if user else ""
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in children.items())
    return f'<?xml version="1.0" encoding="utf-8"?>\n<ZenithRequest{attrs}>{body}</ZenithRequest>\n'.encode()


def drop(folder: Path, name: str, data: bytes, *, in_place: bool = False) -> Path:
    """Drop a request the way the PSA side does: a .tmp then a rename (or in place)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    if in_place:
        final.write_bytes(data)
        return final
    tmp = folder / (name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, final)
    return final


def age(path: Path, seconds: float = 10.0) -> None:
    """Make a file look older than the processor's grace period."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def result(folder: Path, name: str) -> dict | None:
    path = folder / "Results" / f"{name}.xml"
    return results.read_result(path) if path.exists() else None




def ledger_by_key(sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in sandbox.world.ledger:
        counts[entry["idempotency_key"]] = counts.get(entry["idempotency_key"], 0) + 1
    return counts


def put_request(env: Env, request_id: str, action: str, user: str = "jsmith", **children: str) -> Path:
    return drop(env.requests_folder, f"{request_id}.xml", request_xml(request_id, action, user, **children))
