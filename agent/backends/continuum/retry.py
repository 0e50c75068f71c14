"""When and how long to wait before sending a request again.

Exponential backoff with full jitter: the n-th retry waits a random time in
``[0, min(cap, base * 2**(n-1))]``. A ``Retry-After`` answer header (seconds or an HTTP date)
is a floor: the wait is at least that long. A ``Retry-After`` longer than ``max_retry_after``
is not waited for at all: the caller gets the error with ``retry_after`` set and reschedules,
so no thread blocks for minutes. The arithmetic and the header's parsing are the agent's one
:mod:`dbsys.backoff`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dbsys.backoff import Backoff, parse_retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    _backoff: Backoff = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        object.__setattr__(self, "_backoff", Backoff(self.base, self.cap, "full", random=self.random))

    @staticmethod
    def retries_status(status: int) -> bool:
        """408, 429 and 5xx are transient; every other answer is final."""
        return status in (408, 429) or 500 <= status <= 599

    def backoff(self, retry: int) -> float:
        """Jittered wait before the ``retry``-th retry (1 = first retry)."""
        return self._backoff.delay(retry)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """The wait before the ``retry``-th retry, honouring ``Retry-After`` as a floor."""
        return self._backoff.delay(retry, retry_after)

    def too_long(self, retry_after: float | None) -> bool:
        return retry_after is not None and retry_after > self.max_retry_after

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds to wait from a ``Retry-After`` header value; ``None`` when absent or unreadable."""
        return parse_retry_after(value, now=self.wall_clock)
