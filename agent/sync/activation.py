"""Whether the RMM has applied the agent's activation, as every engine that hears it records it.

Continuum applies a new PSA activation within 24 hours; until then it answers every call "not
activated". That is not a failure of the agent: the feed and the inventory refresh both hear it,
and both record it here, in one set of the store's values (``activation``: ``pending``,
``refused`` or ``ok``; ``activation_pending_since``; when it was last warned of and reported),
all in the stored time format. What the administrator hears, whichever engine heard it first:
a warning once an hour, the ``activation_pending`` event once per pending episode, an error
report once a day; and one line when the RMM accepts the agent again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

from loguru import logger

from agent import events
from agent.ports.rmm import RmmError
from agent.ports.times import parse_stored_time, stored_time
from agent.sync.bookkeeping import ValueStore, notify_quietly, read_value, record_values
from config.loader import Settings

PENDING_WARNING = "waiting for Continuum to apply the PSA activation (this can take up to 24 hours)"
WARN_EVERY = timedelta(hours=1)
REPORT_EVERY = timedelta(days=1)
#: The store's values of the activation; the status shows the first two.
STATE = "activation"
PENDING_SINCE = "activation_pending_since"
WARNED_AT = "activation_warned_at"
REPORTED_AT = "activation_reported_at"


class ActivationApp(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def state(self) -> ValueStore: ...

    def notify(self, event: events.Event) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Activation:
    """The activation as one engine records it; cheap to make (one per engine, or per call)."""

    def __init__(self, app: ActivationApp, *, now: Callable[[], datetime] = _utcnow) -> None:
        self.app = app
        self._now = now

    def confirmed(self, *, what: str) -> bool:
        """The RMM answered with data: the activation is applied. Says so once, naming ``what``
        the engine does now, when it was pending or refused; whether it was."""
        was = read_value(self.app.state, STATE)
        if was not in ("pending", "refused"):
            if was != "ok":
                record_values(self.app.state, {STATE: "ok"})
            return False
        record_values(self.app.state, {STATE: "ok", PENDING_SINCE: None, WARNED_AT: None, REPORTED_AT: None})
        logger.info("Continuum accepts the Security Code now; {}", what)
        return True

    def refused(self) -> None:
        """The RMM refused the agent's credentials (the engine reports that as the failure it is)."""
        record_values(self.app.state, {STATE: "refused"})

    def pending(self, exc: RmmError) -> None:
        """Not a failure of the agent: recorded quietly; a warning once an hour, the event once,
        a report once a day."""
        now = self._now()
        since = read_value(self.app.state, PENDING_SINCE)
        values: dict[str, str | None] = {STATE: "pending"}
        if not since:
            values[PENDING_SINCE] = stored_time(now)
        warned = _due(read_value(self.app.state, WARNED_AT), now, WARN_EVERY)
        if warned:
            logger.warning(PENDING_WARNING)
            values[WARNED_AT] = stored_time(now)
        reported = _due(read_value(self.app.state, REPORTED_AT), now, REPORT_EVERY)
        if reported:
            values[REPORTED_AT] = stored_time(now)
        record_values(self.app.state, values)
        if not since:
            event = events.Event(events.ACTIVATION_PENDING, PENDING_WARNING[0].upper() + PENDING_WARNING[1:],
                                 {"since": stored_time(now)}, logged=warned)
            notify_quietly(self.app, event)
        if reported:
            self._report(exc, since or stored_time(now))

    def _report(self, exc: RmmError, since: str) -> None:
        from dbsys import reports

        try:
            reports.write_report(self.app.settings.dbsys_folder, "activation-pending",
                                 "Continuum has not applied the PSA activation yet", exc.message,
                                 "Nothing needs fixing: the agent keeps trying at every poll and inventory refresh. "
                                 "If this lasts more than 24 hours, check the activation with Continuum.",
                                 details={"pending_since": since})
        except OSError as err:
            logger.error("cannot write the activation-pending report: {}", err)


def _due(last: str | None, now: datetime, every: timedelta) -> bool:
    if not last:
        return True
    try:
        then = parse_stored_time(last)
    except ValueError:
        return True
    return now - then >= every
