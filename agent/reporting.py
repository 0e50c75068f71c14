"""The one way a failure that an administrator must see is reported.

It goes to the log, to an error report in ``ZenithErrors/``, to the store (the status file's
"last error"), and to the notifiers — always as the same actionable sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from agent import events, logs
from agent.errors import describe, describe_once

if TYPE_CHECKING:
    from agent.ports.state import SyncValues
    from config.loader import Settings


class ReportingApp(Protocol):
    """What reporting a failure needs of the agent: its settings (the Dbsys folder), the store's
    named values (the last error) and its notifiers."""

    @property
    def settings(self) -> Settings: ...

    @property
    def state(self) -> SyncValues: ...

    def notify(self, event: events.Event) -> None: ...


def report_failure(app: ReportingApp, kind: str, what: str, exc: BaseException | None = None, *, todo: str = "",
                   event_kind: str | None = None, data: dict[str, Any] | None = None) -> str:
    """Log, write an error report, remember it as the last error, notify. Returns the sentence."""
    from loguru import logger  # imported on use: commands that never get here start faster

    from dbsys import reports

    told = describe_once if getattr(app, "tries_once", False) else describe
    rmm = getattr(app, "rmm_label", "")  # an extra RMM's engines say whose failure it is
    what = f"{rmm}: {what}" if rmm else what
    sentence = logs.redact(told(exc) if exc is not None else what)
    logger.error("{}: {}", what, sentence)
    try:
        reports.write_report(app.settings.dbsys_folder, kind, what, sentence, todo or _todo(exc), details=data)
    except OSError as err:
        logger.error("cannot write the error report for {}: {}", kind, err)
    try:
        app.state.set_state("last_error", f"{what}: {sentence}")
    except Exception as err:  # noqa: BLE001 - reporting must never raise
        logger.error("cannot record the last error in the store: {}", err)
    if event_kind:
        app.notify(events.Event(event_kind, f"{what}: {sentence}", data or {}, logged=True))
    return sentence


def _todo(exc: BaseException | None) -> str:
    if exc is None:
        return "See the log file for details."
    return "Follow the advice in the error text; the agent retries on its own where that can help."
