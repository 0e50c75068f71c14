"""The reconciliation pass the service runs: ``reconcile --fix`` now and then, its counts kept in the
store for ``zenithlink status`` and the web console, and one error report per new set of findings a
person must look at."""

from __future__ import annotations

import json

import lxml.html
from stores import embedded

from agent.sandbox.nsight import NsightSandbox
from agent.sync.alerts.periodic import REPORT_KIND, reconcile_pass
from dbsys import reports

from conftest import run_cli, wait_for
from test_alert_lifecycle import world  # noqa: F401 - the fixture
from test_service import start_agent, stop
from test_web_support import admin, console  # noqa: F401 - fixtures


def reconcile_reports(folder) -> list[dict]:
    return [reports.read_report(folder, r.name) for r in reports.list_reports(folder) if r.kind == REPORT_KIND]


def test_a_pass_fixes_what_is_safe_keeps_its_counts_and_reports_each_new_set_once(world):  # noqa: F811
    folder = world.app.settings.dbsys_folder
    backup = world.rmm.fail("D1", "Backup Check")
    world.rmm.fail("D2", "Disk")
    world.lifecycle().poll_once()
    world.rmm.recover(backup.alert_id)  # a recovery the agent did not see
    world.state.unlink_site("S1")  # both tickets' site: a person's decision

    findings = reconcile_pass(world.app)
    assert sorted((f.kind, f.fixed) for f in findings) == [("recovery-not-seen", True), ("site-unlinked", False),
                                                           ("site-unlinked", False)]
    backup_ticket = next(t for t in world.tickets() if "Backup Check" in t.description)
    assert world.notes(backup_ticket.rec_id)[-1] == "Check recovered: Backup Check."
    kept = world.state.get_states(["reconcile_site_unlinked", "reconcile_recovery_not_seen", "reconcile_fixed",
                                   "reconcile_unticketed", "reconcile_last_run"])
    assert kept["reconcile_site_unlinked"] == "2" and kept["reconcile_recovery_not_seen"] == "1"
    assert kept["reconcile_fixed"] == "1" and kept["reconcile_unticketed"] == "0" and kept["reconcile_last_run"]
    (report,) = reconcile_reports(folder)
    assert "2 finding(s): 2 site-unlinked" in report["error"] and "link the sites" in report["todo"].lower()
    assert any("S1 is no longer linked" in detail for detail in report["details"].values())

    reconcile_pass(world.app)  # the same set again: nothing more to read
    assert len(reconcile_reports(folder)) == 1

    world.rmm.fail("D9", "Ping")  # S2 is not linked: a new set
    reconcile_pass(world.app)
    reported = reconcile_reports(folder)
    assert len(reported) == 2 and "1 unticketed" in reported[0]["error"]

    world.state.link_site("S1", world.account, by="jsmith")
    world.state.link_site("S2", world.account, by="jsmith")
    assert [f.kind for f in reconcile_pass(world.app)] == []  # all settled: no report
    world.state.unlink_site("S1")
    reconcile_pass(world.app)  # the first set once more after it was settled: told again
    assert len(reconcile_reports(folder)) == 3


def test_the_running_agent_reconciles_and_status_shows_the_findings_counts(tmp_path):
    with NsightSandbox() as nsight:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(f"[Continuum]\nBackend=nsight\nProcessContinuumUpdatesQueue=Y\n[Nsight]\nServerURL={nsight.url}\n"
                       f"APIKey={nsight.world.api_key}\n[RangerMSP]\nDbsysFolder=Dbsys\nBackend=embedded\n")
        db_path = tmp_path / "Dbsys" / "zenithlink.sqlite3"
        db_path.parent.mkdir()
        site = next(iter(nsight.world.sites.values()))
        device = next(d for d in nsight.world.devices.values() if d.siteid == site.siteid)
        check = next(c for c in nsight.world.checks.values() if c.deviceid == device.id)
        nsight.world.fail(check.checkid)
        with embedded(db_path) as (state, psa):
            account = psa.add_account("ACME")
            state.link_site(str(site.siteid), account)
        assert run_cli(["run", "--once"], config=ini).code == 0  # the check's ticket
        with embedded(db_path) as (state, psa):
            assert psa.count_tickets() == 1
            state.unlink_site(str(site.siteid))  # while the agent is stopped
        before = run_cli(["status", "--json"], config=ini)
        assert json.loads(before.out)["reconcile_site_unlinked"] == 0  # the --once cycle found nothing then

        proc = start_agent(ini)
        try:
            (report,) = wait_for(lambda: reconcile_reports(tmp_path / "Dbsys"), 60, "the reconciliation's report")
            assert "1 site-unlinked" in report["error"]
            doc = json.loads(run_cli(["status", "--json"], config=ini).out)
            assert doc["reconcile_site_unlinked"] == 1 and doc["reconcile_last_run"] > json.loads(before.out)[
                "reconcile_last_run"]
            shown = run_cli(["status"], config=ini).out
            assert "1 site-unlinked" in shown
        finally:
            code, err = stop(proc)
        assert code == 0, err
        with embedded(db_path) as (state, _psa):
            state.link_site(str(site.siteid), account)
        assert run_cli(["reconcile"], config=ini).code == 0  # by hand: the last pass status shows
        doc = json.loads(run_cli(["status", "--json"], config=ini).out)
        assert doc["reconcile_site_unlinked"] == 0 and doc["reconcile_summary"] == "nothing found"


def test_the_console_status_panel_shows_the_last_pass(admin):  # noqa: F811
    from agent.sync.alerts.kept import keep
    from agent.sync.alerts.reconcile import Finding

    def shown() -> str:
        panel = lxml.html.fromstring(admin.client.get("/status/panel").text)
        return " ".join(panel.get_element_by_id("reconciliation").text_content().split())

    assert shown().startswith("never")
    keep(admin.state, [Finding("account-changed", "D1", "Disk", "S1", "moved"),
                       Finding("ticket-gone", "D2", "CPU", "S1", "gone", fixed=True)])
    assert shown().startswith("1 ticket-gone, 1 account-changed (1 fixed), last 20") and shown().endswith(" UTC")


def test_reconcile_minutes_is_bounded_and_the_pass_waits_for_the_ticket_queue(tmp_path):
    with NsightSandbox() as nsight:
        base = (f"[Continuum]\nBackend=nsight\n{{extra}}[Nsight]\nServerURL={nsight.url}\n"
                f"APIKey={nsight.world.api_key}\n[RangerMSP]\nDbsysFolder=Dbsys\nBackend=embedded\n")
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(base.format(extra="ReconcileMinutes=1\n"))
        refused = run_cli(["check-config"], config=ini)
        assert refused.code == 2 and "[Continuum] ReconcileMinutes = '1': must be a whole number from 5" in refused.err
        nsight.world.fail(next(iter(nsight.world.checks)))
        ini.write_text(base.format(extra="ReconcileMinutes=5\n"))  # the queue is off: inventory and links only
        assert run_cli(["run", "--once"], config=ini).code == 0
        doc = json.loads(run_cli(["status", "--json"], config=ini).out)
        assert doc["reconcile_last_run"] is None and doc["reconcile_summary"] is None
        (row,) = [line for line in run_cli(["status"], config=ini).out.splitlines() if "reconciliation" in line]
        assert "never" in row
