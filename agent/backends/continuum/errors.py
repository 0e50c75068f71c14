"""The Continuum client's exception tree.

Each class derives from its neutral counterpart in :mod:`agent.ports.rmm` (shown on the
right), which is what the engines catch; the names here say what Continuum answered.
Every error carries what the server said (``status``, ``code``, ``server_message``), whether
trying again later can help (``retryable``) and, when the server or the circuit breaker named
one, how long to wait first (``retry_after``, seconds). The message is one sentence that says
what to do; it never contains the Security Code (PSG).

::

    ContinuumError                RmmError
    ├── ContinuumUnavailable      RmmUnavailable: connection errors, timeouts, deadline, 5xx/408 after retries
    │   └── CircuitOpen           too many failures in a row: calls fail fast for a while
    ├── RateLimited               RmmRateLimited: 429 that outlasts the retries or asks for too long a wait
    ├── BadSecurityCode           RmmCredentialsRefused: 401, fix [Continuum] PSG in the INI
    ├── NotActivated              RmmNotActivated: 403, activation not applied yet (up to 24 h); keep retrying
    ├── ContinuumRefused          RmmRejected: any other definitive 4xx, never retried
    │   ├── ContinuumNotFound     404
    │   ├── ContinuumConflict     409
    │   └── ContinuumInvalid      422
    └── BadAnswer                 RmmBadAnswer: malformed, hostile, oversized or unexpected answer
"""

from __future__ import annotations

from agent.ports.rmm import (
    RmmBadAnswer,
    RmmCredentialsRefused,
    RmmError,
    RmmNotActivated,
    RmmRateLimited,
    RmmRejected,
    RmmUnavailable,
)


class ContinuumError(RmmError):
    """Base of every error of the Continuum client."""

    code = "ContinuumError"
    retryable = False


class ContinuumUnavailable(ContinuumError, RmmUnavailable):
    """Continuum could not be reached or answered with a transient failure."""

    code = "Unavailable"
    retryable = True


class CircuitOpen(ContinuumUnavailable):
    """Calls are paused after repeated failures; ``retry_after`` says when the next probe goes."""

    code = "CircuitOpen"


class RateLimited(ContinuumError, RmmRateLimited):
    """Continuum asked the agent to slow down (429); ``retry_after`` says for how long."""

    code = "TooManyRequests"
    retryable = True


class BadSecurityCode(ContinuumError, RmmCredentialsRefused):
    """Continuum does not know the Security Code (401)."""

    code = "BadSecurityCode"


class NotActivated(ContinuumError, RmmNotActivated):
    """The PSA activation has not reached Continuum's back end yet (403)."""

    code = "NotActivated"
    retryable = True


class ContinuumRefused(ContinuumError, RmmRejected):
    """A definitive refusal (4xx): sending the same request again cannot help."""

    code = "Refused"


class ContinuumNotFound(ContinuumRefused):
    """The ticket, site or device does not exist in Continuum (404)."""

    code = "NotFound"


class ContinuumConflict(ContinuumRefused):
    """The request contradicts an earlier one (409)."""

    code = "Conflict"


class ContinuumInvalid(ContinuumRefused):
    """Continuum found the request malformed or a field out of range (422)."""

    code = "Invalid"


class BadAnswer(ContinuumError, RmmBadAnswer):
    """The answer was malformed, hostile (DOCTYPE, entities), too large or not the expected XML."""

    code = "BadAnswer"
    retryable = True
