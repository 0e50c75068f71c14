"""One agent, two RMMs: the primary Continuum of [Continuum] and an N-sight of [RMM:nsight], side by
side, against their sandboxes on loopback, with real files and a real store: each RMM's inventory
files, links, tickets and write-backs stay its own, and the Continuum path is the one it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import logs
from agent.app import App
from agent.backends.nsight import NsightClient
from agent.ports.psa import STATUS_COMPLETED
from agent.runtime.service import Service
from agent.sandbox import SandboxServer
from agent.sandbox.nsight import NsightSandbox
from agent.sandbox.nsight.world import NsightWorld
from agent.sync.links import LinksManager
from agent.sync.outbound.actions import complete_ticket
from dbsys import cmt
from dbsys.status import read_status, status_path

from conftest import TEST_PSG, psa_backend, run_cli

NSIGHT_KEY = "second-rmm-api-key-7f3a9c"
PRIMARY_ID = "RMAZenithINFOTECHID1"


@pytest.fixture
def continuum():
    with SandboxServer(psg=TEST_PSG, seed=3, sites=5, devices=20, tickets=0) as sandbox:
        yield sandbox


@pytest.fixture
def nsight():
    with NsightSandbox(NsightWorld(api_key=NSIGHT_KEY)) as sandbox:
        yield sandbox


def write_ini(folder: Path, continuum_url: str, nsight_url: str, extra: str = "") -> Path:
    path = folder / "CmtZenithLink.ini"
    path.write_text(f"[Continuum]\nPSG={TEST_PSG}\nContinuumURL={continuum_url}\nProcessContinuumUpdatesQueue=Y\n"
                    f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n"
                    f"[RMM:nsight]\nBackend=nsight\nInstanceID=NSIGHT1\nServerURL={nsight_url}\nAPIKey={NSIGHT_KEY}\n"
                    + extra)
    return path


def cycle(app: App) -> None:
    assert Service(app, once=True).run() == 0


def test_two_rmms_run_side_by_side_each_with_its_files_links_tickets_and_write_backs(tmp_path, continuum, nsight):
    app = App(write_ini(tmp_path, continuum.url, nsight.url))
    try:
        app.state.add_employee("jsmith", "Jane Smith", "Full")
        psa_customer = app.psa.add_account("Continuum Customer")
        nsight_customer = app.psa.add_account("N-sight Customer")

        cycle(app)  # the inventories: each RMM's own pair of files, built from the INI
        dbsys = Path(app.settings.dbsys_folder)
        continuum_sites = [r["SiteCode"] for r in cmt.read_inventory(dbsys / f"ZenithSites_{PRIMARY_ID}.cmt", "sites")]
        nsight_sites = [r["SiteCode"] for r in cmt.read_inventory(dbsys / "ZenithSites_NSIGHT1.cmt", "sites")]
        assert (dbsys / "ZenithDevices_NSIGHT1.cmt").is_file() and (dbsys / f"ZenithDevices_{PRIMARY_ID}.cmt").is_file()
        assert len(continuum_sites) == 5 and not any(":" in code for code in continuum_sites)  # unchanged
        assert sorted(nsight_sites) == sorted(f"NSIGHT1:{site}" for site in nsight.world.sites)

        # A site of each RMM linked to its account, by the one links manager (the site's file is found by its id).
        continuum_site = continuum_sites[0]
        nsight_site = next(iter(nsight.world.sites.values()))
        links = LinksManager(app)
        links.link_site(continuum_site, psa_customer, "jsmith")
        links.link_site(f"NSIGHT1:{nsight_site.siteid}", nsight_customer, "jsmith")
        assert {row["site_code"] for row in links.sites(linked=True)} == {continuum_site}  # the primary's only
        (nsight_links,) = app.instances
        assert [row["site_code"] for row in LinksManager(nsight_links).sites(linked=True)] == \
            [f"NSIGHT1:{nsight_site.siteid}"]

        # A Continuum ticket and a failing N-sight check become PSA tickets in their accounts.
        continuum_ticket = continuum.world.open_ticket(site_code=continuum_site, title="Disk full")["ticket_id"]
        device = next(d for d in nsight.world.devices.values() if d.siteid == nsight_site.siteid)
        checkid = nsight.fail(str(device.id), "")
        nsight_links.set_rmm(NsightClient(nsight.url, NSIGHT_KEY, timeout=5.0, min_poll_seconds=0))
        cycle(app)
        tickets = {t.account_rec_id: t for t in app.psa.list_tickets()}
        assert sorted(tickets) == sorted([psa_customer, nsight_customer]) and len(app.psa.list_tickets()) == 2
        assert app.state.continuum_for_ticket(tickets[psa_customer].rec_id) == continuum_ticket
        assert device.name in tickets[nsight_customer].description

        # Completed in the PSA: each closed or cleared in the RMM that owns it, once.
        complete_ticket(app, tickets[psa_customer].rec_id, "Fixed", "jsmith")
        app.psa.set_ticket_status(tickets[nsight_customer].rec_id, STATUS_COMPLETED)
        cycle(app)
        cycle(app)
        assert continuum.world.ticket(continuum_ticket)["status"] == "Closed"
        assert [e for e in continuum.world.ledger if e["action"] == "close"].__len__() == 1
        assert nsight.cleared(checkid) == f"Completed in RangerMSP (ticket {tickets[nsight_customer].ticket_no})."
        assert nsight.world.calls.get("clear_check") == 1
        assert len(app.psa.list_tickets()) == 2
        histories = {a: [h.text for h in app.psa.get_ticket(t.rec_id).history] for a, t in tickets.items()}
        assert any(text.startswith("Sent to Continuum: closed") for text in histories[psa_customer])
        assert any(text.startswith("Sent to N-able N-sight (NSIGHT1): check") for text in histories[nsight_customer])

        # Each RMM has its own status file; the primary's is where it always was.
        assert read_status(status_path(dbsys, PRIMARY_ID))["queue_cursor"]
        nsight_status = read_status(status_path(dbsys, "NSIGHT1"))
        assert nsight_status["inventory_sites"] == len(nsight.world.sites) and not nsight_status["queue_cursor"]
    finally:
        app.close()


def test_status_lists_every_rmm_and_no_file_holds_the_second_rmms_key(tmp_path, continuum, nsight):
    ini = write_ini(tmp_path, continuum.url, nsight.url)
    app = App(ini)
    try:
        cycle(app)
    finally:
        app.close()
    result = run_cli(["status", "--json"], config=ini)
    assert result.code == 0, result.err
    rmms = {r["instance_id"]: r for r in json.loads(result.out)["rmms"]}
    assert set(rmms) == {PRIMARY_ID, "NSIGHT1"}
    assert rmms["NSIGHT1"]["backend"] == "nsight" and rmms["NSIGHT1"]["inventory_sites"] == len(nsight.world.sites)
    assert rmms[PRIMARY_ID]["backend"] == "continuum"
    text = run_cli(["status"], config=ini)
    assert "NSIGHT1" in text.out and "[RMM:nsight]" in text.out
    shown = run_cli(["check-config"], config=ini)
    assert shown.code == 0 and "RMM:nsight" in shown.out and NSIGHT_KEY not in shown.out
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.name.endswith((".sqlite3", ".sqlite3-wal", ".ini")):
            assert NSIGHT_KEY not in path.read_text(encoding="utf-8", errors="replace"), path


def test_the_second_rmms_key_is_redacted_like_the_psg(tmp_path, continuum, nsight):
    app = App(write_ini(tmp_path, continuum.url, nsight.url))
    try:
        app.settings  # noqa: B018 - loading the INI registers its secrets
        assert logs.redact(f"GET /api/?apikey={NSIGHT_KEY}&service=list_clients") == \
            f"GET /api/?apikey={logs.REDACTED}&service=list_clients"
        assert ("RMM:nsight", "APIKey", "(set)") in app.settings.summary()
    finally:
        app.close()


@pytest.mark.parametrize(("section", "said"), [
    ("[RMM:second]\nBackend=nsight\nInstanceID=NSIGHT1\nServerURL=http://127.0.0.1:9\nAPIKey=k\n",
     "[RMM:second] InstanceID = 'NSIGHT1' is the InstanceID of [RMM:nsight] too"),
    ("[RMM:second]\nBackend=nsight\nInstanceID=rmazenithinfotechid1\nServerURL=http://127.0.0.1:9\nAPIKey=k\n",
     "is the InstanceID of [Continuum] too"),
    ("[RMM:second]\nBackend=kaseya\nInstanceID=K1\n", "[RMM:second] Backend='kaseya' is not a known backend"),
    ("[RMM:second]\nBackend=ninjaone\nInstanceID=N1\nURL=https://eu.ninjarmm.com\nClientID=abc\n",
     "[RMM:second] ClientSecret is missing, and is required with Backend=ninjaone"),
    ("[RMM:second]\nBackend=nsight\nServerURL=http://127.0.0.1:9\nAPIKey=k\n", "[RMM:second] InstanceID is missing"),
    ("[RMM:second]\nBackend=nsight\nInstanceID=a/b\nServerURL=http://127.0.0.1:9\nAPIKey=k\n",
     "[RMM:second] InstanceID = 'a/b': use 1 to 64 letters"),
])
def test_ini_errors_of_an_rmm_instance_are_named_and_exit_2(tmp_path, section, said):
    ini = write_ini(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", section)
    result = run_cli(["check-config"], config=ini)
    assert result.code == 2, result.out + result.err
    assert said in result.out + result.err


def test_a_misspelt_key_of_an_instance_is_a_warning_naming_the_key_meant(tmp_path):
    from config.loader import load_settings

    ini = write_ini(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", "")
    ini.write_text(ini.read_text().replace("APIKey=", "APIKee="))
    settings = load_settings(ini)
    assert any("[RMM:nsight] APIKee is ignored (did you mean APIKey?)" in w for w in settings.warnings)


def test_the_links_manager_screens_show_each_rmms_sites_apart(tmp_path):
    from test_web_manager import part
    from test_web_support import GENERATED, make_console

    made = make_console(tmp_path, ini_extra="[RMM:nsight]\nBackend=nsight\nInstanceID=NS1\n"
                                            "ServerURL=http://127.0.0.1:9\nAPIKey=web-test-key\n")
    dbsys = tmp_path / "Dbsys"
    cmt.write_inventory(cmt.sites_path(dbsys, "NS1"), "sites",
                        [[("SiteCode", "NS1:7"), ("Name", "Harbour Office"), ("ClientName", "Harbour Ltd")]], GENERATED)
    cmt.write_inventory(cmt.devices_path(dbsys, "NS1"), "devices",
                        [[("DeviceID", "NS1:70"), ("SiteCode", "NS1:7"), ("Name", "HARBOUR-PC1")]], GENERATED)
    try:
        assert made.signin().status_code == 303
        primary = made.client.get("/sites").text
        assert "continuum (T1)" in part(primary, "rmms") and "nsight (NS1)" in part(primary, "rmms")
        assert "ACME Inc." in part(primary, "list") and "Harbour" not in part(primary, "list")
        second = made.client.get("/sites?rmm=NS1").text
        assert "Harbour Office" in part(second, "list") and "ACME" not in part(second, "list")
        assert "Links Manager: nsight (NS1) sites" in " ".join(second.split())
        assert "Links Manager: Continuum sites" in " ".join(primary.split())
        answer = made.post("/site/link", {"code": "NS1:7", "account": made.ids["smith"], "rmm": "NS1"},
                           page="/sites?rmm=NS1")
        assert answer.status_code == 303 and query_of(answer.headers["location"])["rmm"] == "NS1"
        assert made.app.state.account_for_site("NS1:7") == made.ids["smith"]
        linked = made.client.get("/sites?tab=linked").text
        assert "NS1:7" not in part(linked, "list")  # the primary's linked tab: its own sites only
        assert "Linked 1" in part(made.client.get("/sites?rmm=NS1&tab=linked").text, "tab-linked")
        devices = made.client.get("/devices?rmm=NS1").text
        assert "HARBOUR-PC1" in part(devices, "list") and "ACME-DC01" not in part(devices, "list")
    finally:
        made.client.close()
        made.app.close()


def query_of(location: str) -> dict[str, str]:
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_a_second_continuum_has_its_own_feed_cursor_and_its_tickets_close_in_it(tmp_path, continuum):
    with SandboxServer(psg="second-psg-0042", seed=5, sites=3, devices=6, tickets=0) as second:
        ini = write_ini(tmp_path, continuum.url, "http://127.0.0.1:9", "")
        ini.write_text(ini.read_text().split("[RMM:nsight]")[0] +
                       f"[RMM:second]\nBackend=continuum\nInstanceID=C2\nPSG=second-psg-0042\nContinuumURL={second.url}\n")
        app = App(ini)
        try:
            app.state.add_employee("jsmith", "Jane Smith", "Full")
            first_account, second_account = app.psa.add_account("First"), app.psa.add_account("Second")
            cycle(app)
            dbsys = Path(app.settings.dbsys_folder)
            first_site = next(cmt.read_inventory(dbsys / f"ZenithSites_{PRIMARY_ID}.cmt", "sites"))["SiteCode"]
            second_site = next(cmt.read_inventory(dbsys / "ZenithSites_C2.cmt", "sites"))["SiteCode"]
            assert second_site.startswith("C2:")
            LinksManager(app).link_site(first_site, first_account, "jsmith")
            LinksManager(app).link_site(second_site, second_account, "jsmith")
            one = continuum.world.open_ticket(site_code=first_site, title="Printer jam")["ticket_id"]
            two = second.world.open_ticket(site_code=second_site.removeprefix("C2:"), title="Printer jam")["ticket_id"]
            cycle(app)
            cycle(app)  # nothing twice: each feed's cursor is its own
            tickets = {t.account_rec_id: t for t in app.psa.list_tickets()}
            assert len(app.psa.list_tickets()) == 2 and set(tickets) == {first_account, second_account}
            assert app.state.continuum_for_ticket(tickets[second_account].rec_id) == f"C2:{two}"
            assert app.state.feed_cursor and app.instances[0].state.feed_cursor
            assert second.world.links.get(two) == tickets[second_account].rec_id  # acked without the prefix
            complete_ticket(app, tickets[second_account].rec_id, "Done", "jsmith")
            cycle(app)
            assert second.world.ticket(two)["status"] == "Closed" and continuum.world.ticket(one)["status"] != "Closed"
        finally:
            app.close()


def test_an_extra_rmm_that_does_not_answer_is_named_and_the_primary_goes_on(tmp_path, continuum, nsight):
    from agent.errors import CheckFailed
    from dbsys import reports

    nsight.outage(True)
    app = App(write_ini(tmp_path, continuum.url, nsight.url))
    try:
        with pytest.raises(CheckFailed) as info:
            Service(app, once=True).run()
        assert "inventory:NSIGHT1" in str(info.value) and "(inventory," not in str(info.value)
        dbsys = Path(app.settings.dbsys_folder)
        assert (dbsys / f"ZenithSites_{PRIMARY_ID}.cmt").is_file() and not (dbsys / "ZenithSites_NSIGHT1.cmt").exists()
        (report,) = reports.list_reports(dbsys)
        text = (reports.reports_folder(dbsys) / report.name).read_text(encoding="utf-8")
        assert report.what.startswith("[RMM:nsight] (InstanceID NSIGHT1): The inventory refresh failed")
        assert not read_status(status_path(dbsys, PRIMARY_ID))["last_error"]
        assert "The inventory refresh failed" in read_status(status_path(dbsys, "NSIGHT1"))["last_error"]
        assert "HTTP 503" in text and NSIGHT_KEY not in text
    finally:
        app.close()


def test_a_send_to_an_extra_rmm_that_does_not_answer_is_that_rmms_outage_not_continuums(tmp_path):
    from agent.backends.memory_rmm import MemoryRmm
    from agent.sync.outbound.sender import OutboxSender

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text(f"[Continuum]\nPSG={TEST_PSG}\nContinuumURL=http://127.0.0.1:9\n"
                   f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n"
                   "[RMM:lab]\nBackend=memory\nInstanceID=LAB\n")
    app = App(ini)
    try:
        (lab,) = app.instances
        memory = MemoryRmm()
        memory.add_site("S1", "Lab site")
        memory.add_device("D1", "S1", "LAB-PC")
        alert_id = memory.fail("D1", "Disk")
        lab.set_rmm(memory)
        ticket = app.psa.add_ticket(app.psa.add_account("Lab"), "Disk", in_inbox=True)
        app.state.enqueue_outbox("k-clear", ticket, "clear", {"alert_id": f"LAB:{alert_id}", "note": "done"})
        memory.outage(True)
        OutboxSender(app, base_delay=0.01).run_once()
        assert lab.outage.failing and not app.outage.failing
        assert lab.outage.rmm == "[RMM:lab] (InstanceID LAB)"
        assert memory.cleared(alert_id) is None
    finally:
        app.close()


def test_the_inventory_and_links_commands_take_the_rmm_by_its_instance_id(tmp_path, continuum, nsight):
    ini = write_ini(tmp_path, continuum.url, nsight.url)
    refreshed = run_cli(["inventory", "refresh", "--rmm", "nsight1"], config=ini)
    assert refreshed.code == 0, refreshed.err
    dbsys = tmp_path / "Dbsys"
    assert (dbsys / "ZenithSites_NSIGHT1.cmt").is_file() and not (dbsys / f"ZenithSites_{PRIMARY_ID}.cmt").exists()
    sites = json.loads(run_cli(["inventory", "sites", "--rmm", "NSIGHT1", "--json"], config=ini).out)
    assert sorted(s["SiteCode"] for s in sites) == sorted(f"NSIGHT1:{site}" for site in nsight.world.sites)
    unlinked = json.loads(run_cli(["links", "sites", "--rmm", "NSIGHT1", "--unlinked", "--json"], config=ini).out)
    assert len(unlinked) == len(nsight.world.sites)
    unknown = run_cli(["inventory", "sites", "--rmm", "KASEYA"], config=ini)
    assert unknown.code == 2 and "no RMM with InstanceID 'KASEYA'" in unknown.err and "NSIGHT1" in unknown.err


def test_check_config_tries_every_rmm_once(tmp_path, continuum, nsight):
    ini = write_ini(tmp_path, continuum.url, nsight.url)
    fine = run_cli(["check-config"], config=ini)
    assert fine.code == 0, fine.err
    assert "N-able N-sight (NSIGHT1): reached" in " ".join(fine.out.split())
    nsight.outage(True)
    down = run_cli(["check-config", "--json"], config=ini)
    assert down.code == 1 and "NSIGHT1" in down.err and "HTTP 503" in down.err
    (tried,) = json.loads(down.out)["rmm_connections"]
    assert tried["instance_id"] == "NSIGHT1" and not tried["ok"]
    assert run_cli(["check-config", "--offline"], config=ini).code == 0


def test_a_reload_that_removes_an_rmm_leaves_it_running_as_it_was_until_the_restart(tmp_path):
    from agent.app import load_for_service

    ini = tmp_path / "CmtZenithLink.ini"
    base = f"[Continuum]\nPSG={TEST_PSG}\nContinuumURL=http://127.0.0.1:9\n[RangerMSP]\nDbsysFolder=Dbsys\n"
    ini.write_text(base + "[RMM:lab]\nBackend=memory\nInstanceID=LAB\nInventoryRefreshMinutes=5\n")
    app = App(ini)
    try:
        (lab,) = app.instances
        assert lab.settings.instance_id == "LAB" and lab.settings.inventory_refresh_minutes == 5
        assert app.settings.inventory_refresh_minutes == 60  # the primary's own
        ini.write_text(base + "[RMM:lab]\nBackend=memory\nInstanceID=LAB\nInventoryRefreshMinutes=7\n")
        app.replace_settings(load_for_service(ini))
        assert lab.settings.inventory_refresh_minutes == 7
        ini.write_text(base)
        app.replace_settings(load_for_service(ini))
        assert lab.settings.instance_id == "LAB" and lab.settings.inventory_refresh_minutes == 7
        assert [i.instance_id for i in app.instances] == ["LAB"]
    finally:
        app.close()
