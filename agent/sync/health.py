"""The RMM's health as the store keeps it, and as ``status``, the status file and the web console
show it: when the current run of failures began, whether it is an outage episode, and a
``last_error`` that says what is happening while it lasts.

The :class:`agent.sync.outage.OutageTracker` writes these values as the engines tell it how the
RMM answers; this module only names them and reads them, so the status fields load no engine.
"""

from __future__ import annotations

from datetime import datetime, timezone

from agent.ports.times import parse_stored_time, stored_time

#: How the outage's ``last_error`` begins: recovery replaces only that one, never a later failure.
WHAT_PREFIX = "Continuum has not answered"
RECOVERED_PREFIX = "Recovered at"
SINCE_STATE = "outage_since"
#: When the current run of failures began and what failed first (recorded by the agent that
#: holds the folder; cleared when Continuum answers again).
FAILING_SINCE_STATE = "continuum_failing_since"
FAILURE_STATE = "continuum_failure"
#: ``last_error`` when the run began: a failure reported since then is newer than the outage's view.
BEFORE_STATE = "continuum_error_before_failing"
RUN_STATES = (FAILING_SINCE_STATE, FAILURE_STATE, BEFORE_STATE, SINCE_STATE)

def duration(seconds: float) -> str:
    """``45 s``, ``3 min 12 s``, ``2 h 5 min``, ``1 d 3 h``: how long, for a person."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def health_fields(stored: dict[str, str | None], now: float) -> dict[str, str | None]:
    """The status's view of Continuum from the store's values (``stored`` holds ``last_error``
    and the keys this tracker records): ``failing_since`` (when the current run of failures
    began, ``None`` while Continuum answers), ``outage_since`` (once the run is an episode) and
    ``last_error``, which during a run says for how long Continuum has not answered and why,
    unless another failure was reported since the run began."""
    failing = stored.get(FAILING_SINCE_STATE)
    last_error = stored.get("last_error")
    fields: dict[str, str | None] = {"failing_since": failing, "outage_since": stored.get(SINCE_STATE),
                                     "last_error": last_error}
    began = failing or stored.get(SINCE_STATE)
    if not began or not (last_error is None or last_error.startswith((WHAT_PREFIX, RECOVERED_PREFIX))
                         or failing and last_error == stored.get(BEFORE_STATE)):
        return fields
    try:
        since = parse_stored_time(began).timestamp()
    except ValueError:
        return fields
    cause = stored.get(FAILURE_STATE)
    fields["last_error"] = (f"{WHAT_PREFIX} for {duration(now - since)} (since {moment_text(since)})"
                            + (f": {cause}" if cause else ""))
    return fields


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def stored_moment(seconds: float) -> str:
    return stored_time(moment(seconds))


def moment_text(seconds: float) -> str:
    return moment(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")
