"""Reconciliation of an alert RMM with the PSA: what a missed poll, a deleted ticket or a changed
link left behind, found by comparing the RMM's failing checks, the store's alert tickets, the
PSA's tickets and the site links.

Findings (``kind``):

- ``unticketed``: a check fails on a site not linked to an account: no ticket can be opened
  (not fixable here: link the site; the next poll opens its ticket);
- ``recovery-not-seen``: an alert ticket says failing, the RMM no longer lists the check (the agent
  was stopped when it recovered): *fixed* by applying the snapshot (a note, back to the Inbox);
- ``ticket-gone``: the PSA ticket of an open alert ticket no longer exists: *fixed* by closing the
  alert ticket (a check still failing gets a new ticket at once);
- ``site-unlinked``: an open alert ticket's site is no longer linked to any account (reported);
- ``account-changed``: its site is linked to another account than the ticket's (reported: moving a
  ticket between accounts is a person's decision).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from agent.ports.psa import PsaNotFound, PsaStore
from agent.ports.rmm import Alert, AlertRmm
from agent.sync import records
from agent.sync.alerts.lifecycle import AlertLifecycle, AlertPolicy
from agent.sync.alerts.store import AlertStore

FIXABLE = ("recovery-not-seen", "ticket-gone")


@dataclass
class Finding:
    kind: str
    device_id: str
    check: str
    site_code: str
    detail: str
    ticket_rec_id: str = ""
    fixed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(*, state: AlertStore, psa: PsaStore, rmm: AlertRmm, policy: AlertPolicy | None = None,
              skip: Callable[[Alert], bool] | None = None, fix: bool = False) -> list[Finding]:
    """Every finding; with ``fix``, the fixable ones fixed in one unit of work (``fixed`` set)."""
    policy = policy or AlertPolicy()
    snapshot = rmm.failing()
    with records.unit_of_work(state, psa):
        findings = _findings(state, psa, snapshot.alerts, policy, skip or (lambda alert: False))
        if fix and any(f.kind in FIXABLE for f in findings):
            for finding in findings:
                if finding.kind == "ticket-gone":
                    row = next(r for r in state.open_alert_tickets(policy.rmm)
                               if r.key == (finding.device_id, finding.check))
                    state.update_alert_ticket(row.id, state="closed")
            AlertLifecycle(state=state, psa=psa, rmm=rmm, policy=policy, skip=skip).apply(snapshot)
            for finding in findings:
                finding.fixed = finding.kind in FIXABLE
    return findings


def _findings(state: AlertStore, psa: PsaStore, alerts: tuple[Alert, ...], policy: AlertPolicy,
              skip: Callable[[Alert], bool]) -> list[Finding]:
    found: list[Finding] = []
    rows = {row.key: row for row in state.open_alert_tickets(policy.rmm)}
    failing = {alert.key for alert in alerts}
    for alert in alerts:
        if alert.key in rows or skip(alert) or state.account_for_site(alert.site_code):
            continue
        found.append(Finding("unticketed", alert.device_id, alert.check, alert.site_code,
                             f"site {alert.site_code} is not linked to an account: link it, and the next poll "
                             "opens the check's ticket"))
    for key, row in rows.items():
        try:
            ticket = psa.get_ticket(row.ticket_rec_id, history=False)
        except PsaNotFound:
            found.append(Finding("ticket-gone", row.device_id, row.check_name, row.site_code,
                                 f"PSA ticket {row.ticket_rec_id} no longer exists", row.ticket_rec_id))
            continue
        if row.state == "failing" and key not in failing:
            found.append(Finding("recovery-not-seen", row.device_id, row.check_name, row.site_code,
                                 f"the check no longer fails, ticket {ticket.ticket_no} was not told",
                                 row.ticket_rec_id))
        account = state.account_for_site(row.site_code)
        if not account:
            found.append(Finding("site-unlinked", row.device_id, row.check_name, row.site_code,
                                 f"site {row.site_code} is no longer linked; ticket {ticket.ticket_no} stays under its "
                                 "account", row.ticket_rec_id))
        elif account != ticket.account_rec_id:
            found.append(Finding("account-changed", row.device_id, row.check_name, row.site_code,
                                 f"site {row.site_code} is now linked to account {account}, ticket {ticket.ticket_no} "
                                 f"is under {ticket.account_rec_id}: move it if it belongs there", row.ticket_rec_id))
    return found
