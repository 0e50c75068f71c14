"""Events handed to every notifier through ``zenith_notify``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

TICKET_CREATED = "ticket_created"
TICKET_RETURNED = "ticket_returned"
TICKET_CLOSED_IN_CONTINUUM = "ticket_closed_in_continuum"
REQUEST_FAILED = "request_failed"
INVENTORY_REFRESHED = "inventory_refreshed"
INVENTORY_FAILED = "inventory_failed"
ACTIVATION_PENDING = "activation_pending"
SECURITY_CODE_REFUSED = "security_code_refused"
LINK_CHANGED = "link_changed"
CONFIG_REJECTED = "config_rejected"
CONTINUUM_UNREACHABLE = "continuum_unreachable"
CONTINUUM_RECOVERED = "continuum_recovered"

ALL_KINDS = (TICKET_CREATED, TICKET_RETURNED, TICKET_CLOSED_IN_CONTINUUM, REQUEST_FAILED,
             INVENTORY_REFRESHED, INVENTORY_FAILED, ACTIVATION_PENDING, SECURITY_CODE_REFUSED,
             LINK_CHANGED, CONFIG_REJECTED, CONTINUUM_UNREACHABLE, CONTINUUM_RECOVERED)


def utcnow() -> datetime:
    """Now, to the second."""
    return datetime.fromtimestamp(int(time.time()), timezone.utc)


@dataclass(frozen=True)
class Event:
    """Something an administrator may want to hear about.

    ``kind`` is one of the constants of this module; ``summary`` is one line for a person;
    ``data`` holds the details (REC IDs, Continuum ids, counts), JSON-serialisable; ``logged``
    says its source wrote its own log line for it.
    """

    kind: str
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=utcnow)
    #: The engine that raised it has logged it already (the log notifier then adds no second line).
    logged: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, "at": self.at.isoformat().replace("+00:00", "Z"),
                "data": self.data}
