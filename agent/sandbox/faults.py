"""Fault injection for the ``/psa/v1`` endpoints: errors, latency, rate limits, outages,
slow or missing answers, dropped connections, feed re-delivery and hostile XML.

Settings merge on :meth:`Faults.set` and vanish on :meth:`Faults.clear`. Random decisions
come from a seeded ``random.Random`` so a failing test replays the same way.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from email.utils import formatdate
from typing import Any

from agent.sandbox.errors import invalid
from agent.sandbox.hostile import HUGE_BYTES, KINDS

ERROR_CODES = {429: "TooManyRequests", 404: "NotFound", 409: "Conflict", 422: "Invalid",
               401: "BadSecurityCode", 403: "NotActivated"}


@dataclass
class Settings:
    error_rate: float = 0.0
    error_status: int = 503
    error_retry_after: int | None = None
    latency_ms: int = 0
    rate_limit_count: int = 0
    retry_after: int = 1
    retry_after_http_date: bool = False
    outage: bool = False
    outage_seconds: float | None = None
    trickle_bytes_per_second: int = 0
    hang: bool = False
    drop_after_apply_rate: float = 0.0
    duplicate_feed: bool = False
    redeliver: bool = False
    hostile: str | None = None
    hostile_count: int = 1
    hostile_huge_bytes: int = HUGE_BYTES
    paths: list[str] | None = None
    seed: int | None = None


@dataclass
class Injected:
    """What to do with one request before it reaches the API."""

    hang: bool = False
    delay: float = 0.0
    status: int = 0
    code: str = ""
    message: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _check(name: str, value: object) -> None:
    if name in ("error_rate", "drop_after_apply_rate") and not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise invalid(f"{name} must be a number from 0 to 1.")
    if name == "error_status" and not (isinstance(value, int) and 400 <= value <= 599):
        raise invalid("error_status must be an HTTP error status (400-599).")
    if name == "hostile" and value is not None and value not in KINDS:
        raise invalid(f"hostile must be one of {', '.join(KINDS)}.")
    if name == "paths" and value is not None and not (isinstance(value, list)
                                                      and all(isinstance(p, str) for p in value)):
        raise invalid("paths must be a list of path prefixes such as \"/psa/v1/queue\".")


class Faults:
    """The fault settings of one sandbox server (thread-safe)."""

    def __init__(self, seed: int = 1) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._settings = Settings()
        self._rng = random.Random(seed)
        self._outage_until = 0.0
        #: Requests held so far by a hang or a latency (tests wait for one to be in flight).
        self.held = 0

    def set(self, **settings: Any) -> dict:
        """Merge ``settings`` into the current ones; unknown names or bad values are refused."""
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise invalid(f"Unknown fault setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        for name, value in settings.items():
            _check(name, value)
        with self._lock:
            for name, value in settings.items():
                setattr(self._settings, name, value)
            if "hostile" in settings and "hostile_count" not in settings:
                self._settings.hostile_count = 1
            if "seed" in settings:
                self._rng = random.Random(settings["seed"])
            if settings.get("outage_seconds"):
                self._outage_until = time.monotonic() + float(settings["outage_seconds"])
            return asdict(self._settings)

    def clear(self) -> None:
        with self._lock:
            self._settings = Settings()
            self._rng = random.Random(self._seed)
            self._outage_until = 0.0

    def snapshot(self) -> dict:
        with self._lock:
            return asdict(self._settings)

    def _applies(self, path: str) -> bool:
        paths = self._settings.paths
        return not paths or any(path.startswith(p) for p in paths)

    def _retry_after(self, seconds: int) -> list[tuple[str, str]]:
        if self._settings.retry_after_http_date:
            return [("Retry-After", formatdate(time.time() + seconds, usegmt=True))]
        return [("Retry-After", str(seconds))]

    def before(self, path: str) -> Injected:
        """Decide, for one request, to hang, to delay, or to answer with an error at once."""
        with self._lock:
            s = self._settings
            if not self._applies(path):
                return Injected()
            if s.hang:
                self.held += 1
                return Injected(hang=True)
            delay = s.latency_ms / 1000.0
            self.held += delay > 0
            if s.outage or time.monotonic() < self._outage_until:
                return Injected(delay=delay, status=503, code="Unavailable",
                                message="The service is down for maintenance; retry later.")
            if s.rate_limit_count > 0:
                s.rate_limit_count -= 1
                return Injected(delay=delay, status=429, code="TooManyRequests",
                                message="Too many requests; wait for Retry-After.",
                                headers=self._retry_after(s.retry_after))
            if s.error_rate and self._rng.random() < s.error_rate:
                headers = [("Retry-After", str(s.error_retry_after))] if s.error_retry_after is not None else []
                return Injected(delay=delay, status=s.error_status,
                                code=ERROR_CODES.get(s.error_status, "Unavailable"),
                                message="Injected failure; retry with backoff.", headers=headers)
            return Injected(delay=delay)

    def hanging(self, path: str) -> bool:
        with self._lock:
            return self._settings.hang and self._applies(path)

    def drop_after_apply(self, path: str) -> bool:
        with self._lock:
            rate = self._settings.drop_after_apply_rate
            return bool(rate) and self._applies(path) and self._rng.random() < rate

    def take_hostile(self, path: str) -> tuple[str, int] | None:
        """The hostile kind for this answer (and the huge size), counting it down."""
        with self._lock:
            s = self._settings
            if s.hostile is None or s.hostile_count <= 0 or not self._applies(path):
                return None
            s.hostile_count -= 1
            kind = s.hostile
            if s.hostile_count == 0:
                s.hostile = None
            return kind, s.hostile_huge_bytes

    def trickle(self, path: str) -> int:
        with self._lock:
            return self._settings.trickle_bytes_per_second if self._applies(path) else 0

    def feed_flags(self, path: str) -> tuple[bool, bool]:
        """(duplicate every change in a page, serve from the acked cursor whatever ``after`` says)."""
        with self._lock:
            s = self._settings
            applies = self._applies(path)
            return s.duplicate_feed and applies, s.redeliver and applies
