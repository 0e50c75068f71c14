"""When and how long to wait before sending a request again.

Exponential backoff with full jitter: the n-th retry waits a random time in
``[0, min(cap, base * 2**(n-1))]``. A ``Retry-After`` answer header (seconds or an HTTP date)
is a floor: the wait is at least that long. A ``Retry-After`` longer than ``max_retry_after``
is not waited for at all: the caller gets the error with ``retry_after`` set and reschedules,
so no thread blocks for minutes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @staticmethod
    def retries_status(status: int) -> bool:
        """408, 429 and 5xx are transient; every other answer is final."""
        return status in (408, 429) or 500 <= status <= 599

    def backoff(self, retry: int) -> float:
        """Jittered wait before the ``retry``-th retry (1 = first retry)."""
        ceiling: float = min(self.cap, self.base * (2 ** max(0, retry - 1)))
        return self.random() * ceiling

    def delay(self, retry: int, retry_after: float | None) -> float:
        """The wait before the ``retry``-th retry, honouring ``Retry-After`` as a floor."""
        jittered = self.backoff(retry)
        return jittered if retry_after is None else max(retry_after, jittered)

    def too_long(self, retry_after: float | None) -> bool:
        return retry_after is not None and retry_after > self.max_retry_after

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds to wait from a ``Retry-After`` header value; ``None`` when absent or unreadable."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, when.timestamp() - self.wall_clock())
