"""The alert lifecycle: polled snapshots of an alert RMM turned into PSA tickets and notes.

A snapshot RMM (N-sight) tells what fails *now*; the agent remembers what it saw (the state
store's ``alert_tickets``) and turns the difference into events, as the vendor's GFI MAX link did:

- **raised**: a check fails that has no open ticket: one PSA ticket, under the account linked
  to the device's site and the asset linked to the device, put into the Inbox;
- **repeated**: a check with an open ticket failed again (a new ``failed_since``): one history
  note, the count goes up, the ticket goes back into the Inbox; never a second ticket;
- **recovered**: a check with an open ticket is no longer failing: a note, and the ticket back
  into the Inbox, or (``close_on_recovery``) Completed, but only when nobody touched it since
  the agent's own last write;
- **completed**: a person completed the PSA ticket while its check still fails: the clear of
  the check (with a note) is queued in the outbox, once (its idempotency key says which ticket);
  a ticket deleted in the PSA is not a completion: nothing is cleared, the next poll opens another.

Exactly once: the snapshot is read first; everything it causes (tickets, notes, rows, the
outbox row) is written in one unit of work with the state store. A crash before the commit
leaves nothing, and the next poll sees the same difference again; after the commit the rows say
it was done. A PSA that cannot join the transaction keys each ticket it creates (``psa.keyed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from agent.ports.psa import STATUS_COMPLETED, PsaNotFound, PsaStore, Ticket
from agent.ports.rmm import Alert, AlertRmm, AlertSnapshot
from agent.ports.state import AlertTicket
from agent.sync import records
from agent.sync.alerts.store import AlertStore

if TYPE_CHECKING:
    from agent.plugins import PluginManager
    from config.loader import Settings

from agent.sync.outbound.vocabulary import CLEAR  # payload: ``alert_id``, ``note``; sent by CLEAR_ALERT

AGENT = "zenithlink"


@dataclass
class PollOutcome:
    """What one poll did; ``unlinked``: failing checks of sites not linked to an account yet."""

    failing: int = 0
    raised: int = 0
    repeated: int = 0
    recovered: int = 0
    closed: int = 0
    clears_queued: int = 0
    skipped: int = 0
    unlinked: int = 0


@dataclass(frozen=True)
class AlertPolicy:
    """The INI's say over the lifecycle."""

    rmm: str = ""
    """The RMM instance the tickets belong to (several RMMs may run in one agent)."""
    close_on_recovery: bool = False


def policy_from(settings: Settings) -> AlertPolicy:
    """The INI's policy for the configured alert RMM (its own CloseTicketOnRecovery); the tickets of an
    extra RMM instance are kept under its InstanceID."""
    rmm = settings.rmm_namespace
    if str(settings.rmm_backend).lower() == "ninjaone":
        return AlertPolicy(rmm=rmm, close_on_recovery=bool(settings.ninjaone_close_on_recovery))
    return AlertPolicy(rmm=rmm, close_on_recovery=bool(settings.nsight_close_on_recovery))


def skip_rule(pm: PluginManager, settings: Settings) -> Callable[[Alert], bool]:
    """The plugins' ``zenith_skip_alert`` as the lifecycle's skip rule: alerts they keep out of the PSA."""
    skip_alert = pm.hook.zenith_skip_alert
    return lambda alert: skip_alert(alert=alert, settings=settings) is True


class AlertLifecycle:
    """Polls one alert RMM and keeps the PSA's tickets in step with its failing checks."""

    def __init__(self, *, state: AlertStore, psa: PsaStore, rmm: AlertRmm, policy: AlertPolicy | None = None,
                 skip: Callable[[Alert], bool] | None = None) -> None:
        self.state = state
        self.psa = psa
        self.rmm = rmm
        self.policy = policy or AlertPolicy()
        self.skip = skip or (lambda alert: False)

    def poll_once(self) -> PollOutcome:
        """One poll: one request for the snapshot, then one unit of work for all it causes."""
        snapshot = self.rmm.failing()
        with records.unit_of_work(self.state, self.psa):
            outcome = self.apply(snapshot)
        if outcome.raised or outcome.repeated or outcome.recovered or outcome.clears_queued:
            logger.info("alerts: {} failing; {} raised, {} repeated, {} recovered, {} clears queued",
                        outcome.failing, outcome.raised, outcome.repeated, outcome.recovered, outcome.clears_queued)
        return outcome

    def apply(self, snapshot: AlertSnapshot) -> PollOutcome:
        """The snapshot's difference to what the store remembers (inside the caller's unit of work)."""
        outcome = PollOutcome(failing=len(snapshot.alerts))
        open_rows = {row.key: row for row in self.state.open_alert_tickets(self.policy.rmm)}
        seen: set[tuple[str, str]] = set()
        for alert in snapshot.alerts:
            if alert.key in seen:
                continue
            seen.add(alert.key)
            if self.skip(alert):
                outcome.skipped += 1
                continue
            row = open_rows.get(alert.key)
            if row is None:
                self._raise(alert, outcome)
            else:
                self._still_failing(row, alert, outcome)
        for key, row in open_rows.items():
            if key in seen:
                continue
            if row.state == "failing":
                self._recover(row, outcome)
            else:
                self._close_if_completed(row, outcome)
        return outcome

    # -- the events --------------------------------------------------------------------------
    def _raise(self, alert: Alert, outcome: PollOutcome) -> None:
        account = self.state.account_for_site(alert.site_code)
        if not account:
            outcome.unlinked += 1
            return
        asset = self.state.asset_for_device(alert.device_id)
        with self.psa.keyed(f"alert:{self.policy.rmm}:{alert.device_id}:{alert.check}:{alert.failed_since}"):
            rec_id = self.psa.add_ticket(account, _description(alert), asset_rec_id=asset, in_inbox=True)
            self.psa.add_history(rec_id, f"Check failed: {_what(alert)}", author=AGENT)
        self.state.add_alert_ticket(rmm=self.policy.rmm, device_id=alert.device_id, check_name=alert.check,
                                    alert_id=alert.alert_id, site_code=alert.site_code, ticket_rec_id=rec_id,
                                    failed_since=alert.failed_since, agent_mark=self._mark(rec_id))
        outcome.raised += 1

    def _still_failing(self, row: AlertTicket, alert: Alert, outcome: PollOutcome) -> None:
        ticket = self._ticket(row)
        if ticket is None:  # deleted in the PSA: not a completion, nothing to clear; a new ticket next poll
            self.state.update_alert_ticket(row.id, state="closed")
            outcome.closed += 1
            return
        if ticket.status_code == STATUS_COMPLETED:
            self._completed(row, alert, ticket, outcome)
            return
        if alert.failed_since == row.failed_since and row.state == "failing":
            return
        repeats = row.repeats + 1
        with self.psa.keyed(f"alert:{self.policy.rmm}:{row.id}:again:{alert.failed_since}"):
            self.psa.add_history(row.ticket_rec_id, f"Check failed again ({repeats + 1} times in all): {_what(alert)}",
                                 author=AGENT)
            self.psa.set_inbox(row.ticket_rec_id, True)
        self.state.update_alert_ticket(row.id, failed_since=alert.failed_since, repeats=repeats, state="failing",
                                       alert_id=alert.alert_id, agent_mark=self._mark(row.ticket_rec_id))
        outcome.repeated += 1

    def _recover(self, row: AlertTicket, outcome: PollOutcome) -> None:
        ticket = self._ticket(row)
        if ticket is None or ticket.status_code == STATUS_COMPLETED:
            self.state.update_alert_ticket(row.id, state="closed")
            outcome.closed += 1
            return
        untouched = _fingerprint(ticket) == row.agent_mark
        keyed = self.psa.keyed(f"alert:{self.policy.rmm}:{row.id}:recovered:{row.failed_since}")
        if self.policy.close_on_recovery and untouched:
            with keyed:
                self.psa.add_history(row.ticket_rec_id, f"Check recovered: {row.check_name}. Closed by the agent.",
                                     author=AGENT)
                self.psa.set_ticket_status(row.ticket_rec_id, STATUS_COMPLETED)
            self.state.update_alert_ticket(row.id, state="closed")
            outcome.closed += 1
        else:
            why = "" if not self.policy.close_on_recovery else " Left open: it was changed since the agent opened it."
            with keyed:
                self.psa.add_history(row.ticket_rec_id, f"Check recovered: {row.check_name}.{why}", author=AGENT)
                self.psa.set_inbox(row.ticket_rec_id, True)
            self.state.update_alert_ticket(row.id, state="recovered", agent_mark=self._mark(row.ticket_rec_id))
        outcome.recovered += 1

    def _completed(self, row: AlertTicket, alert: Alert, ticket: Ticket, outcome: PollOutcome) -> None:
        """A person completed the ticket while the check still fails: clear it in the RMM, once."""
        key, payload = clear_request(row, alert.alert_id, ticket.ticket_no)
        if self.state.enqueue_outbox(key, row.ticket_rec_id, CLEAR, payload, requested_by=AGENT) is not None:
            outcome.clears_queued += 1
        self.state.update_alert_ticket(row.id, state="closed")
        outcome.closed += 1

    def _close_if_completed(self, row: AlertTicket, outcome: PollOutcome) -> None:
        """A recovered check's ticket that a person completed: nothing left to clear."""
        ticket = self._ticket(row)
        if ticket is None or ticket.status_code == STATUS_COMPLETED:
            self.state.update_alert_ticket(row.id, state="closed")
            outcome.closed += 1

    # -- inside ------------------------------------------------------------------------------
    def _ticket(self, row: AlertTicket) -> Ticket | None:
        try:
            return self.psa.get_ticket(row.ticket_rec_id, history=True)
        except PsaNotFound:
            return None

    def _mark(self, rec_id: str) -> str:
        return _fingerprint(self.psa.get_ticket(rec_id, history=True))


def clear_request(row: AlertTicket, alert_id: str, ticket_no: int | str,
                  note: str | None = None) -> tuple[str, dict[str, Any]]:
    """The outbox key and payload of the clear of ``row``'s check: one key per alert ticket, so that
    a completion seen by a poll and one made through the agent's own actions queue it once."""
    payload = {"alert_id": alert_id, "note": note or f"Completed in RangerMSP (ticket {ticket_no}).",
               "check": row.check_name, "device_id": row.device_id}
    return f"zl-clear-{row.rmm}-{row.id}", payload


def _fingerprint(ticket: Ticket) -> str:
    """What a person changes when they work a ticket: status, Inbox, manager, description, notes."""
    seen = f"{ticket.status_code}|{ticket.in_inbox}|{ticket.manager or ''}|{len(ticket.history)}|{ticket.description}"
    return hashlib.sha256(seen.encode("utf-8")).hexdigest()[:32]


def _what(alert: Alert) -> str:
    parts = [alert.check]
    if alert.description and alert.description not in alert.check:
        parts.append(alert.description)
    if alert.output:
        parts.append(alert.output)
    return " - ".join(parts)


def _description(alert: Alert) -> str:
    device = alert.device_name or alert.device_id
    body = [f"Failing check on {device}: {alert.check}"]
    if alert.description and alert.description not in alert.check:
        body.append(alert.description)
    if alert.output:
        body.append(alert.output)
    return "\n".join(body)
