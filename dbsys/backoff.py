"""How long to wait before trying again: exponential backoff, and a server's ``Retry-After``.

Every retry of the agent waits through :class:`Backoff` (the Continuum client, the outbound
sender, the webhook notifier, the RangerMSP database-busy retries, the file operations of
:mod:`dbsys.fsops`) and reads ``Retry-After`` through :func:`parse_retry_after`. It lives in
``dbsys`` because that is the lowest layer: ``dbsys`` imports nothing from ``agent``, and every
other package may import ``dbsys``.

The n-th retry (n = 1 for the first) waits ``min(cap, base * 2**(n-1))``, spread by the jitter:

- ``"full"``: a random time in ``[0, ceiling]`` (many clients of one server spread out best);
- ``"equal"``: a random time in ``[ceiling / 2, ceiling]`` (never much shorter than asked);
- ``"none"``: exactly the ceiling (a fixed ladder, for waits on a local resource).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from typing import Literal

Jitter = Literal["full", "equal", "none"]

# 2**60 times any sensible base is far above any cap; a larger power only risks an OverflowError.
_MAX_DOUBLINGS = 60
_SECONDS = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float
    jitter: Jitter = "full"
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("a backoff's base and cap must not be negative")

    def ceiling(self, retry: int) -> float:
        """The longest wait before the ``retry``-th retry (1 = first retry)."""
        return float(min(self.cap, self.base * 2 ** min(max(0, retry - 1), _MAX_DOUBLINGS)))

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """The wait before the ``retry``-th retry; a server's ``retry_after`` is a floor."""
        ceiling = self.ceiling(retry)
        if self.jitter == "full":
            wait = ceiling * self.random()
        elif self.jitter == "equal":
            wait = ceiling * (0.5 + 0.5 * self.random())
        else:
            wait = ceiling
        return wait if retry_after is None else max(wait, float(retry_after))

    def delays(self, retries: int) -> Iterator[float]:
        """The waits before each of ``retries`` retries, in order."""
        return (self.delay(n) for n in range(1, retries + 1))


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value (seconds or an HTTP date, RFC 9110).

    ``None`` when absent or unreadable (the caller then backs off as usual); a date in the past
    is ``0.0``. ``now`` is the wall clock the date is measured against.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    from email.utils import parsedate_to_datetime  # only an HTTP date needs the e-mail package

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


__all__ = ["Backoff", "Jitter", "parse_retry_after"]
