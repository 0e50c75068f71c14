"""The Continuum client's exception tree.

Every error carries what the server said (``status``, ``code``, ``server_message``), whether
trying again later can help (``retryable``) and, when the server or the circuit breaker named
one, how long to wait first (``retry_after``, seconds). The message is one sentence that says
what to do; it never contains the Security Code (PSG).

::

    ContinuumError
    ├── ContinuumUnavailable      connection errors, timeouts, deadline, 5xx/408 after retries
    │   └── CircuitOpen           too many failures in a row: calls fail fast for a while
    ├── RateLimited               429 that outlasts the retries or asks for too long a wait
    ├── BadSecurityCode           401: fix [Continuum] PSG in the INI
    ├── NotActivated              403: activation not applied yet (up to 24 h); keep retrying
    ├── ContinuumRefused          any other definitive 4xx: never retried
    │   ├── ContinuumNotFound     404
    │   ├── ContinuumConflict     409
    │   └── ContinuumInvalid      422
    └── BadAnswer                 malformed, hostile, oversized or unexpected answer
"""

from __future__ import annotations

from agent.errors import ZenithError


class ContinuumError(ZenithError):
    """Base of every error of the Continuum client."""

    code = "ContinuumError"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        server_message: str = "",
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, code=code or None)
        self.status = status
        self.server_message = server_message
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class ContinuumUnavailable(ContinuumError):
    """Continuum could not be reached or answered with a transient failure."""

    code = "Unavailable"
    retryable = True


class CircuitOpen(ContinuumUnavailable):
    """Calls are paused after repeated failures; ``retry_after`` says when the next probe goes."""

    code = "CircuitOpen"


class RateLimited(ContinuumError):
    """Continuum asked the agent to slow down (429); ``retry_after`` says for how long."""

    code = "TooManyRequests"
    retryable = True


class BadSecurityCode(ContinuumError):
    """Continuum does not know the Security Code (401)."""

    code = "BadSecurityCode"


class NotActivated(ContinuumError):
    """The PSA activation has not reached Continuum's back end yet (403)."""

    code = "NotActivated"
    retryable = True


class ContinuumRefused(ContinuumError):
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


class BadAnswer(ContinuumError):
    """The answer was malformed, hostile (DOCTYPE, entities), too large or not the expected XML."""

    code = "BadAnswer"
    retryable = True
