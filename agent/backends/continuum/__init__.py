"""The Continuum PSA API client: models, safe XML answers, retries, circuit breaker, error tree."""

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

__all__ = [
    "BadAnswer", "BadSecurityCode", "Change", "ChangePage", "CircuitBreaker", "CircuitOpen",
    "ContinuumClient", "ContinuumConflict", "ContinuumError", "ContinuumInvalid", "ContinuumNotFound",
    "ContinuumRefused", "ContinuumUnavailable", "Device", "NewTicket", "Note", "NotActivated", "Page",
    "Pong", "RateLimited", "RetryPolicy", "Site", "Ticket",
]
