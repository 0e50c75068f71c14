"""Why and until when the outbox senders of one agent hold back (the ``App``'s ``outbox_pause``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from config.loader import Settings


@dataclass
class SenderPause:
    """Shared by every sender of one ``App``, as the service makes a new ``OutboxSender`` for each round."""

    until: float = 0.0
    pauses: int = 0
    reported: str | None = None
    #: The settings whose Security Code was refused: the pause lasts until others are loaded.
    refused_settings: Settings | None = None
    #: Rows rescheduled because Continuum could not be reached: due at once when it answers again.
    unreachable: set[int] = field(default_factory=set)
    #: Sends in flight side by side may all meet the same refusal: it is said once.
    lock: threading.RLock = field(default_factory=threading.RLock)
