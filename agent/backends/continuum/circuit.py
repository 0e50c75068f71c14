"""A circuit breaker that stops the agent hammering a Continuum that is down.

Closed: calls go through; each transient failure (no answer, timeout, 5xx) counts, any other
HTTP answer resets the count. After ``failure_threshold`` failures in a row the circuit opens:
calls fail at once with :class:`CircuitOpen` and send nothing. Once ``reset_after`` seconds have
passed, one call is let through as a probe (half-open); its success closes the circuit, its
failure opens it again for another ``reset_after``. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loguru import logger

from .errors import CircuitOpen

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 5, reset_after: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def before_call(self) -> None:
        """Let the call through, or raise :class:`CircuitOpen` without any traffic."""
        with self._lock:
            if self._state == CLOSED:
                return
            remaining = self._opened_at + self.reset_after - self._clock()
            if self._state == OPEN and remaining <= 0:
                self._state = HALF_OPEN
                self._probing = False
            if self._state == HALF_OPEN and not self._probing:
                self._probing = True
                logger.debug("Continuum circuit half-open: sending one probe request")
                return
            wait = max(remaining, 0.0) if self._state == OPEN else min(1.0, self.reset_after)
        raise CircuitOpen(
            f"Continuum failed {self.failure_threshold} times in a row, so calls are paused for "
            f"{wait:.0f} s; the agent tries again by itself, check the network and ContinuumURL if this lasts.",
            retry_after=wait,
        )

    def record_success(self) -> None:
        with self._lock:
            if self._state != CLOSED:
                logger.info("Continuum circuit closed: the server answers again")
            self._state, self._failures, self._probing = CLOSED, 0, False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
                # Said once when it opens; a failed probe of a server that is still down is not news.
                if self._state == CLOSED:
                    logger.warning("Continuum circuit open after {} failure(s): pausing calls for {:.0f} s",
                                   self._failures, self.reset_after)
                elif self._state == HALF_OPEN:
                    logger.debug("Continuum circuit probe failed: pausing calls for another {:.0f} s",
                                 self.reset_after)
                self._state, self._opened_at, self._probing = OPEN, self._clock(), False
