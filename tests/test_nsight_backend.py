"""The N-able N-sight backend against its sandbox over loopback: the INI, the client's answers to
N-sight's errors and limits, the inventory files, and the alert lifecycle from a failing check to
its clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import logs
from agent.app import App, load_for_service
from agent.backends.nsight import NsightClient
from agent.errors import ConfigError
from agent.ports.psa import STATUS_COMPLETED
from agent.ports.rmm import RmmCredentialsRefused, RmmRateLimited, RmmRejected, RmmUnavailable, capabilities_of
from agent.sandbox.nsight import NsightSandbox
from agent.sync.alerts.lifecycle import AlertLifecycle, AlertPolicy
from agent.sync.inventory.refresh import refresh
from agent.sync.outbound.sender import OutboxSender

from conftest import psa_backend

KEY = "nsight-demo-key"


@pytest.fixture
def nsight():
    with NsightSandbox() as sandbox:
        yield sandbox


def write_ini(tmp_path: Path, url: str, key: str | None = KEY) -> Path:
    api_key = f"APIKey={key}\n" if key is not None else ""
    path = tmp_path / "CmtZenithLink.ini"
    path.write_text(f"[Continuum]\nBackend=nsight\n[Nsight]\nServerURL={url}\n{api_key}"
                    f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n")
    return path


@pytest.fixture
def app(tmp_path, nsight):
    made = App(write_ini(tmp_path, nsight.url))
    yield made
    made.close()


def fast(nsight: NsightSandbox, key: str = KEY, **options) -> NsightClient:
    return NsightClient(nsight.url, key, timeout=5.0, **{"min_poll_seconds": 0, **options})


# -- the INI ---------------------------------------------------------------------------------

def test_backend_nsight_needs_server_url_and_api_key_instead_of_psg_and_continuum_url(tmp_path, nsight):
    settings = load_for_service(write_ini(tmp_path, nsight.url))
    assert settings.rmm_backend == "nsight" and settings.nsight_min_poll_seconds == 90
    with pytest.raises(ConfigError) as info:
        load_for_service(write_ini(tmp_path, nsight.url, key=None))
    assert "[Nsight] APIKey is missing" in str(info.value) and "PSG" not in str(info.value)


def test_the_api_key_is_redacted_like_the_psg(app):
    assert ("Nsight", "APIKey", "(set)") in app.settings.summary()
    assert logs.redact(f"GET https://server/api/?apikey={KEY}&service=list_clients") == \
        f"GET https://server/api/?apikey={logs.REDACTED}&service=list_clients"


def test_the_app_builds_the_nsight_client_with_its_capabilities(app):
    capabilities = capabilities_of(app.rmm)
    assert capabilities.rmm == "N-able N-sight" and capabilities.delivery == "snapshot"
    assert app.rmm.ping().partner


# -- the client ------------------------------------------------------------------------------

def test_a_wrong_key_is_refused_without_the_key_in_the_message(nsight):
    client = fast(nsight, "wrong-key-12345")
    with pytest.raises(RmmCredentialsRefused) as info:
        client.ping()
    assert "wrong-key-12345" not in str(info.value) and "[Nsight] APIKey" in str(info.value)
    client.close_connection()


def test_a_missing_parameter_is_n_sights_error_5_and_rejected_for_good(nsight):
    client = fast(nsight)
    with pytest.raises(RmmRejected) as info:
        client._call("list_sites")
    assert info.value.code == "Nsight5" and "Missing parameter: clientid" in str(info.value)
    client.close_connection()


def test_calls_too_frequent_for_the_sandbox_are_rate_limited_with_retry_after(nsight):
    nsight.faults.min_interval = 90
    client = fast(nsight)
    client.ping()
    with pytest.raises(RmmRateLimited) as info:
        client.ping()
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 91
    client.close_connection()


def test_failing_checks_are_read_at_most_once_per_minimum_interval(nsight):
    now = [1000.0]
    client = fast(nsight, min_poll_seconds=90, clock=lambda: now[0])
    device = next(iter(nsight.world.devices))
    first = client.failing()
    nsight.fail(str(device), "")
    assert client.failing() == first and nsight.world.calls["list_failing_checks"] == 1
    now[0] += 90
    assert len(client.failing().alerts) == 1 and nsight.world.calls["list_failing_checks"] == 2
    client.close_connection()


def test_an_outage_is_unavailable(nsight):
    nsight.outage(True)
    client = fast(nsight)
    with pytest.raises(RmmUnavailable):
        client.failing()
    client.close_connection()


# -- inventory and the alert lifecycle ------------------------------------------------------

def test_the_inventory_files_hold_n_sights_sites_and_devices(app, nsight):
    result = refresh(app)
    assert result.sites == len(nsight.world.sites) and result.devices == len(nsight.world.devices)
    dbsys = Path(app.settings.dbsys_folder)
    sites_text = next(dbsys.glob("ZenithSites*.cmt")).read_text(encoding="utf-8", errors="replace")
    assert all(site.name in sites_text for site in nsight.world.sites.values())
    assert "Client 1" in sites_text  # the client of each site, for linking client → site → device


def test_a_failing_check_becomes_a_ticket_and_completing_it_clears_the_check_in_n_sight(app, nsight):
    site = next(iter(nsight.world.sites.values()))
    device = next(d for d in nsight.world.devices.values() if d.siteid == site.siteid)
    account = app.psa.add_account("ACME")
    app.state.link_site(str(site.siteid), account, by="jsmith")
    app.state.add_employee("jsmith", "Jane Smith", "Full")
    app.set_rmm(fast(nsight))
    checkid = nsight.fail(str(device.id), "")
    lifecycle = AlertLifecycle(state=app.state, psa=app.psa, rmm=app.rmm, policy=AlertPolicy(rmm="nsight"))
    assert lifecycle.poll_once().raised == 1
    (ticket,) = app.psa.list_tickets()
    assert device.name in ticket.description and ticket.in_inbox
    app.psa.set_ticket_status(ticket.rec_id, STATUS_COMPLETED)
    assert lifecycle.poll_once().clears_queued == 1
    assert OutboxSender(app, base_delay=0.05).run_once() == 1
    assert nsight.cleared(checkid) == f"Completed in RangerMSP (ticket {ticket.ticket_no})."
    assert [h.text for h in app.psa.get_ticket(ticket.rec_id).history][-1].startswith("Sent to N-able N-sight: check")


def test_one_service_cycle_with_backend_nsight_refreshes_the_inventory_and_opens_tickets(tmp_path, nsight):
    from agent.hookspecs import hookimpl
    from agent.runtime.service import Service

    class NoBackups:
        @hookimpl
        def zenith_skip_alert(self, alert, settings):
            return True if "Backup" in alert.check else None

    ini = write_ini(tmp_path, nsight.url)
    ini.write_text(ini.read_text().replace("[Continuum]\n", "[Continuum]\nProcessContinuumUpdatesQueue=Y\n"))
    site = next(iter(nsight.world.sites.values()))
    devices = [d for d in nsight.world.devices.values() if d.siteid == site.siteid]
    checks = [c for c in nsight.world.checks.values() if c.deviceid in {d.id for d in devices}]
    for check in checks:
        nsight.world.fail(check.checkid)
    app = App(ini, extra_plugins=[("no-backups", NoBackups())])
    account = app.psa.add_account("ACME")
    app.state.link_site(str(site.siteid), account, by="jsmith")
    assert Service(app, once=True).run() == 0
    tickets = app.psa.list_tickets()
    wanted = [c for c in checks if "Backup" not in c.description]
    assert 0 < len(wanted) < len(checks)  # some checks are Backup Checks: the plugin keeps them out
    assert len(tickets) == len(wanted) and all(t.account_rec_id == account for t in tickets)
    assert any(Path(app.settings.dbsys_folder).glob("ZenithSites*.cmt"))
    app.close()


def test_a_service_cycle_while_n_sight_is_down_names_the_failure_once_and_the_next_one_recovers(tmp_path, nsight):
    from agent.errors import CheckFailed
    from agent.runtime.service import Service

    ini = write_ini(tmp_path, nsight.url)
    ini.write_text(ini.read_text().replace("[Continuum]\n", "[Continuum]\nProcessContinuumUpdatesQueue=Y\n"))
    nsight.outage(True)
    app = App(ini)
    with pytest.raises(CheckFailed) as info:
        Service(app, once=True).run()
    assert "inbound" in str(info.value) and "N-sight failed on list_failing_checks (HTTP 503)" in str(info.value)
    nsight.outage(False)
    app.close()
    app = App(ini)
    assert Service(app, once=True).run() == 0
    app.close()


def test_reconcile_lists_a_failing_check_that_waits_for_its_site_and_refuses_a_change_feed_rmm(tmp_path, nsight):
    import json

    from conftest import run_cli

    ini = write_ini(tmp_path, nsight.url)
    device = next(iter(nsight.world.devices.values()))
    nsight.fail(str(device.id), "")
    res = run_cli(["reconcile", "--json"], config=ini)
    assert res.code == 0, res.err
    (finding,) = json.loads(res.out)["findings"]
    assert finding["kind"] == "unticketed" and finding["site_code"] == str(device.siteid)
    continuum = tmp_path / "continuum.ini"
    continuum.write_text(f"[Continuum]\nPSG=abcdef\nContinuumURL={nsight.url}\n[RangerMSP]\nDbsysFolder=Dbsys\n")
    res = run_cli(["reconcile"], config=continuum)
    assert res.code != 0 and "delivers a change feed of its tickets, not failing checks" in res.err


def test_check_config_tries_the_configured_rmm_not_continuum(tmp_path, nsight):
    from conftest import run_cli

    ini = write_ini(tmp_path, nsight.url)
    ini.chmod(0o600)
    res = run_cli(["check-config"], config=ini)
    assert res.code == 0, res.err
    assert "N-able N-sight: reached" in res.out
    ini.write_text(ini.read_text().replace(f"APIKey={KEY}", "APIKey=wrong-key-12345"))
    res = run_cli(["check-config"], config=ini)
    assert res.code == 1 and "N-sight refused the API key" in res.err and "wrong-key-12345" not in res.err


def test_a_check_cleared_between_two_reads_opens_no_second_ticket_from_the_snapshot_kept(app, nsight):
    now = [1000.0]
    site = next(iter(nsight.world.sites.values()))
    device = next(d for d in nsight.world.devices.values() if d.siteid == site.siteid)
    app.state.link_site(str(site.siteid), app.psa.add_account("ACME"), by="jsmith")
    app.set_rmm(fast(nsight, min_poll_seconds=90, clock=lambda: now[0]))
    nsight.fail(str(device.id), "")
    lifecycle = AlertLifecycle(state=app.state, psa=app.psa, rmm=app.rmm, policy=AlertPolicy())
    assert lifecycle.poll_once().raised == 1
    (ticket,) = app.psa.list_tickets()
    app.psa.set_ticket_status(ticket.rec_id, STATUS_COMPLETED)
    now[0] += 30
    assert lifecycle.poll_once().clears_queued == 1
    assert OutboxSender(app, base_delay=0.05).run_once() == 1
    now[0] += 30  # still within MinPollSeconds of the last read: the kept snapshot answers
    assert lifecycle.poll_once().raised == 0 and len(app.psa.list_tickets()) == 1
    assert nsight.world.calls["list_failing_checks"] == 1
