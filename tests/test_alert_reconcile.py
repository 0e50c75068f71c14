"""Reconciliation of an alert RMM (on the in-memory RMM): what a missed poll, a lost ticket or a
changed link left behind is found, and what is safe to fix is fixed."""

from __future__ import annotations

from agent.sync.alerts.lifecycle import AlertPolicy
from agent.sync.alerts.reconcile import reconcile
from agent.sync.outbound.vocabulary import CLEAR

from test_alert_lifecycle import world  # noqa: F401 - the fixture


def kinds(findings) -> list[tuple[str, str]]:
    return sorted((f.kind, f.check) for f in findings)


def test_a_failing_check_of_an_unlinked_site_is_found_and_says_what_to_do(world):  # noqa: F811
    world.rmm.fail("D9", "Ping Check")
    (finding,) = reconcile(state=world.state, psa=world.psa, rmm=world.rmm, fix=True)
    assert finding.kind == "unticketed" and finding.site_code == "S2" and not finding.fixed
    assert "link it" in finding.detail
    assert world.tickets() == []


def test_a_recovery_the_agent_did_not_see_is_found_and_fixed_by_a_note(world):  # noqa: F811
    alert = world.rmm.fail("D1", "Backup Check")
    world.lifecycle().poll_once()
    world.rmm.recover(alert.alert_id)
    assert kinds(reconcile(state=world.state, psa=world.psa, rmm=world.rmm)) == [("recovery-not-seen", "Backup Check")]
    (finding,) = reconcile(state=world.state, psa=world.psa, rmm=world.rmm, fix=True)
    assert finding.fixed
    (ticket,) = world.tickets()
    assert world.notes(ticket.rec_id)[-1] == "Check recovered: Backup Check."
    assert reconcile(state=world.state, psa=world.psa, rmm=world.rmm) == []


def test_an_alert_ticket_whose_psa_ticket_is_gone_is_closed_and_the_failing_check_gets_a_new_ticket(world):  # noqa: F811
    alert = world.rmm.fail("D1", "Disk")
    world.state.add_alert_ticket(rmm="", device_id="D1", check_name="Disk", alert_id=alert.alert_id, site_code="S1",
                                 ticket_rec_id="TKT0000000000000GONE", failed_since=alert.failed_since, agent_mark="")
    (finding,) = reconcile(state=world.state, psa=world.psa, rmm=world.rmm, fix=True)
    assert finding.kind == "ticket-gone" and finding.fixed
    (ticket,) = world.tickets()
    (row,) = world.state.open_alert_tickets()
    assert row.ticket_rec_id == ticket.rec_id
    assert world.state.count_outbox("TKT0000000000000GONE", [CLEAR]) == 0  # a lost ticket is not a completion


def test_a_poll_does_not_clear_the_check_of_a_deleted_ticket(world):  # noqa: F811
    alert = world.rmm.fail("D2", "CPU")
    world.state.add_alert_ticket(rmm="", device_id="D2", check_name="CPU", alert_id=alert.alert_id, site_code="S1",
                                 ticket_rec_id="TKT0000000000000GONE", failed_since=alert.failed_since, agent_mark="")
    outcome = world.lifecycle().poll_once()
    assert outcome.clears_queued == 0 and outcome.closed == 1
    assert world.lifecycle().poll_once().raised == 1


def test_tickets_of_sites_unlinked_or_linked_elsewhere_are_reported_not_moved(world):  # noqa: F811
    world.rmm.fail("D1", "Disk")
    world.rmm.fail("D9", "Ping")
    world.state.link_site("S2", world.account, by="jsmith")
    world.lifecycle(rmm="").poll_once()
    other = world.psa.add_account("Other Ltd")
    world.state.unlink_site("S1")
    world.state.link_site("S2", other, by="jsmith")
    findings = reconcile(state=world.state, psa=world.psa, rmm=world.rmm, policy=AlertPolicy(), fix=True)
    assert kinds(findings) == [("account-changed", "Ping"), ("site-unlinked", "Disk")]
    assert not any(f.fixed for f in findings)
    assert {t.account_rec_id for t in world.tickets()} == {world.account}
