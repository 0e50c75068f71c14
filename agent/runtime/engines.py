"""The engines of one RMM in the service: its inventory, its tickets (the change feed of a feed
RMM, the alert lifecycle of a snapshot RMM), its reconciliation pass, its outage tracker.

The service has one :class:`RmmEngines` for the primary RMM (the ``App``) and one for each extra
RMM (an :class:`agent.instances.InstanceApp`); the outbox sender and the request drops are the
agent's, shared by every RMM.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from agent.errors import describe
from agent.ports.rmm import RmmError, capabilities_of
from agent.sync.alerts.lifecycle import AlertLifecycle, policy_from, skip_rule
from agent.sync.alerts.periodic import reconcile_pass
from agent.sync.inbound.engine import InboundSync
from agent.sync.inventory.refresh import InventoryJob
from agent.sync.outage import OutageTracker


class RmmEngines:
    """One RMM's engines, each run by a worker of the service (or once by ``run --once``)."""

    def __init__(self, app: Any, *, name: str = "", outage_clock: Callable[[], float] = time.time,
                 on_change: Callable[[], None] | None = None) -> None:
        """``name``: how messages name an extra RMM (``""``: the primary, named as it always was)."""
        self.app = app
        self.name = name
        if name:
            self.outage = OutageTracker(app, clock=outage_clock, on_change=on_change, rmm=name)
        else:
            self.outage = OutageTracker(app, clock=outage_clock, on_change=on_change)
        self.inventory_job = InventoryJob(app, outage=self.outage)
        self.inbound = InboundSync(app, outage=self.outage)
        #: What the last poll of an alert RMM's failing checks failed with, or ``None``.
        self.alerts_failure: str | None = None
        self._alerts_failed_with: type[BaseException] | None = None

    def inventory(self) -> None:
        self.inventory_job.run_once()

    def tickets(self) -> bool:
        """One round; ``True`` when it stopped at its page budget with more changes waiting."""
        if self.snapshot_rmm():
            self.alerts()
            return False
        self.inbound.run_once()
        return self.inbound.last_round.stopped_by == "page budget"

    def tickets_failure(self) -> str | None:
        return self.inbound.last_round.failure or self.alerts_failure or None

    def snapshot_rmm(self) -> bool:
        try:
            return capabilities_of(self.app.rmm).delivery == "snapshot"
        except Exception:  # noqa: BLE001 - the inbound engine reports a client that cannot be built, as before
            return False

    def alerts(self) -> None:
        """One poll of an alert RMM (N-sight): failing checks to tickets and notes."""
        settings = self.app.settings
        if not settings.process_queue:
            return
        lifecycle = AlertLifecycle(state=self.app.state, psa=self.app.psa, rmm=self.app.alert_rmm,
                                   policy=policy_from(settings), skip=skip_rule(self.app.pm, settings))
        try:
            with self._alerts_lock():
                lifecycle.poll_once()
        except RmmError as exc:
            # Said once per kind of failure, not every poll of an RMM that stays down.
            repeated = self.alerts_failure is not None and self._alerts_failed_with is type(exc)
            self.alerts_failure, self._alerts_failed_with = describe(exc), type(exc)
            logger.log("DEBUG" if repeated else "WARNING", "polling the failing checks of {} failed: {}",
                       self.name or "the RMM", self.alerts_failure)
            return
        if self.alerts_failure is not None:
            logger.info("{} answers again: failing checks polled", self.name or "the RMM")
        self.alerts_failure = None

    def reconcile(self) -> None:
        """The reconciliation pass of a snapshot RMM (``reconcile --fix``), with the ticket queue on; an RMM
        that does not answer is the poll's to report: the pass waits for its next turn."""
        if not self.app.settings.process_queue or not self.snapshot_rmm():
            return
        try:
            with self._alerts_lock():
                reconcile_pass(self.app)
        except RmmError as exc:
            logger.debug("the reconciliation pass of {} waits for the RMM: {}", self.name or "the RMM", describe(exc))

    def _alerts_lock(self) -> threading.Lock:
        """A poll and a reconciliation pass each apply a snapshot: one at a time, never an older one over a newer."""
        lock: threading.Lock = self.app.alert_snapshots_lock
        return lock
