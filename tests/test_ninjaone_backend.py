"""The NinjaOne backend against its sandbox over loopback: the INI, OAuth2 tokens that expire, the
inventory (organization → location → device), and an alert from trigger to reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import logs
from agent.app import App, load_for_service
from agent.backends.ninjaone import NinjaOneClient
from agent.errors import ConfigError
from agent.ports.psa import STATUS_COMPLETED
from agent.ports.rmm import RmmRateLimited, RmmUnsupported, capabilities_of
from agent.runtime.service import Service
from agent.sandbox.ninjaone import NinjaSandbox
from agent.sandbox.ninjaone.server import CLIENT_ID, CLIENT_SECRET
from agent.sync.alerts.lifecycle import AlertLifecycle
from agent.sync.inventory.refresh import refresh
from agent.sync.outbound.registry import CREATE_TICKET
from agent.sync.outbound.sender import OutboxSender

from conftest import psa_backend


@pytest.fixture
def ninja():
    with NinjaSandbox() as sandbox:
        yield sandbox


def write_ini(tmp_path: Path, url: str, secret: str | None = CLIENT_SECRET, queue: bool = False) -> Path:
    line = f"ClientSecret={secret}\n" if secret is not None else ""
    path = tmp_path / "CmtZenithLink.ini"
    path.write_text(f"[Continuum]\nBackend=ninjaone\nProcessContinuumUpdatesQueue={'Y' if queue else 'N'}\n"
                    f"[NinjaOne]\nURL={url}\nClientID={CLIENT_ID}\n{line}"
                    f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n")
    return path


def client(ninja: NinjaSandbox) -> NinjaOneClient:
    return NinjaOneClient(ninja.url, CLIENT_ID, CLIENT_SECRET, timeout=5.0)


def test_backend_ninjaone_needs_its_client_credentials_and_redacts_the_secret(tmp_path, ninja):
    settings = load_for_service(write_ini(tmp_path, ninja.url))
    assert settings.rmm_backend == "ninjaone"
    assert ("NinjaOne", "ClientSecret", "(set)") in settings.summary()
    assert CLIENT_SECRET not in logs.redact(f"client_secret={CLIENT_SECRET}")
    with pytest.raises(ConfigError) as info:
        load_for_service(write_ini(tmp_path, ninja.url, secret=None))
    assert "[NinjaOne] ClientSecret is missing" in str(info.value)


def test_an_expired_token_is_replaced_once_and_the_request_sent_again(ninja):
    rmm = client(ninja)
    rmm.ping()
    assert ninja.token_requests == 1
    ninja.expire_tokens()
    assert rmm.failing().alerts == ()
    assert ninja.token_requests == 2
    rmm.close_connection()


def test_a_rate_limit_comes_back_with_its_retry_after(ninja):
    rmm = client(ninja)
    ninja.rate_limit(30)
    with pytest.raises(RmmRateLimited) as info:
        rmm.ping()
    assert info.value.retry_after == 30
    rmm.close_connection()


def test_ninjaone_offers_no_notes_and_no_noc(tmp_path, ninja):
    app = App(write_ini(tmp_path, ninja.url))
    capabilities = capabilities_of(app.rmm)
    assert capabilities.rmm == "NinjaOne" and capabilities.delivery == "snapshot"
    rec_id = app.psa.add_ticket(app.psa.add_account("ACME"), "Printer")
    with pytest.raises(RmmUnsupported, match="NinjaOne cannot send a ticket to the RMM's NOC"):
        CREATE_TICKET.run(app, {"TicketRecID": rec_id, "AssignTo": "NOC"}, "jsmith")
    app.close()


def test_locations_are_the_sites_with_their_organization_as_client(tmp_path, ninja):
    app = App(write_ini(tmp_path, ninja.url))
    result = refresh(app)
    assert result.sites == len(ninja.world.locations) and result.devices == len(ninja.world.devices)
    text = next(Path(app.settings.dbsys_folder).glob("ZenithSites*.cmt")).read_text(encoding="utf-8")
    assert "Organization 1" in text and "Location 1" in text
    app.close()


def test_an_alert_becomes_a_ticket_and_completing_it_resets_the_alert_with_the_note(tmp_path, ninja):
    app = App(write_ini(tmp_path, ninja.url, queue=True))
    location = next(iter(ninja.world.locations.values()))
    device = next(d for d in ninja.world.devices.values() if d["locationId"] == location["id"])
    account = app.psa.add_account("ACME")
    app.state.link_site(str(location["id"]), account, by="jsmith")
    uid = ninja.world.trigger(device["id"], "Disk space below 10%")
    assert Service(app, once=True).run() == 0
    (ticket,) = app.psa.list_tickets()
    assert device["displayName"] in ticket.description and ticket.account_rec_id == account
    again = ninja.world.trigger(device["id"], "Disk space below 10%")  # fired again: a new uid
    lifecycle = AlertLifecycle(state=app.state, psa=app.psa, rmm=app.alert_rmm)
    assert lifecycle.poll_once().repeated == 1 and len(app.psa.list_tickets()) == 1
    app.psa.set_ticket_status(ticket.rec_id, STATUS_COMPLETED)
    assert lifecycle.poll_once().clears_queued == 1
    assert OutboxSender(app, base_delay=0.05).run_once() == 1
    assert ninja.cleared(again) == f"Completed in RangerMSP (ticket {ticket.ticket_no})."
    assert uid not in ninja.world.alerts and again not in ninja.world.alerts
    app.close()


def test_a_poll_reads_the_devices_again_only_for_a_device_it_has_not_seen_or_after_ten_minutes(ninja):
    now = [0.0]
    rmm = NinjaOneClient(ninja.url, CLIENT_ID, CLIENT_SECRET, timeout=5.0, clock=lambda: now[0])
    first, second = list(ninja.world.devices)[:2]
    ninja.world.trigger(first, "CPU")
    reads = ninja.requests_to("/v2/devices")
    assert len(rmm.failing().alerts) == 1 and ninja.requests_to("/v2/devices") == reads + 1
    assert len(rmm.failing().alerts) == 1 and ninja.requests_to("/v2/devices") == reads + 1
    ninja.world.trigger(second, "CPU")
    assert len(rmm.failing().alerts) == 2 and ninja.requests_to("/v2/devices") == reads + 1  # known already
    ninja.world.devices[99_999] = dict(ninja.world.devices[first], id=99_999)
    ninja.world.trigger(99_999, "CPU")
    assert len(rmm.failing().alerts) == 3 and ninja.requests_to("/v2/devices") == reads + 2
    now[0] += 601
    rmm.failing()
    assert ninja.requests_to("/v2/devices") == reads + 3
    rmm.close_connection()
