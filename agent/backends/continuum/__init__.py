"""The Continuum RMM backend: a client of Continuum's PSA API (its partner API) with safe XML
answers, retries, circuit breaker, and an error tree derived from the port's.

Nothing outside this package touches its XML; the rest of the agent gets a client through
:func:`backend` and works with it as an :class:`agent.ports.rmm.RmmClient`.
"""

from typing import Any

from agent.ports.rmm import RmmClient

from .circuit import CircuitBreaker
from .client import ContinuumClient
from .errors import (
    BadAnswer,
    BadSecurityCode,
    CircuitOpen,
    ContinuumConflict,
    ContinuumError,
    ContinuumInvalid,
    ContinuumNotFound,
    ContinuumRefused,
    ContinuumUnavailable,
    NotActivated,
    RateLimited,
)
from .models import Change, ChangePage, Device, NewTicket, Note, Page, Pong, Site, Ticket
from .retry import RetryPolicy


def backend(settings: Any) -> RmmClient:
    """The RMM backend named ``continuum``: a client for ``settings.continuum_url`` / ``.psg`` /
    ``.request_timeout_seconds`` / ``.verify_tls``."""
    return ContinuumClient.from_settings(settings)


__all__ = [
    "BadAnswer", "BadSecurityCode", "Change", "ChangePage", "CircuitBreaker", "CircuitOpen",
    "ContinuumClient", "ContinuumConflict", "ContinuumError", "ContinuumInvalid", "ContinuumNotFound",
    "ContinuumRefused", "ContinuumUnavailable", "Device", "NewTicket", "Note", "NotActivated", "Page",
    "Pong", "RateLimited", "RetryPolicy", "Site", "Ticket", "backend",
]
