"""Built-in notifier (off by default): each event as a JSON POST to a URL.

``[plugin:notify_webhook]``: ``URL`` (required), ``Secret`` (optional: each request then carries
``X-Zenithlink-Signature: sha256=<hex HMAC-SHA256 of the body>``), ``Events`` (comma-separated
event kinds or ``all``; default every ticket event and every failure), ``TimeoutSeconds`` (10),
``MaxAttempts`` (6). The body is ``event.as_dict()``. A background thread posts the events in
order; connection errors, 408, 429 and 5xx answers are retried with exponential backoff and
jitter (a ``Retry-After``, seconds or an HTTP date, is the least wait, up to 5 minutes); other
4xx answers are not. The queue is bounded (1000 events): when the receiver is down for long, the
newest events are dropped and logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from agent import logs
from agent.errors import ConfigError
from dbsys.backoff import Backoff, parse_retry_after
from plugins._notify_common import NotifierSlot, Worker, parse_events, parse_number

if TYPE_CHECKING:
    import httpx

    from agent.events import Event

DEFAULT_ENABLED = False
NAME = "notify_webhook"
SECTION = f"plugin:{NAME}"
SIGNATURE_HEADER = "X-Zenithlink-Signature"
EVENT_HEADER = "X-Zenithlink-Event"
DELIVERY_HEADER = "X-Zenithlink-Delivery"
MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str = field(default="", repr=False)
    events: frozenset[str] = frozenset()
    timeout: float = 10.0
    max_attempts: int = 6
    queue_size: int = 1000


def config_from(values: dict[str, str]) -> WebhookConfig:
    """Validate a ``[plugin:notify_webhook]`` section (keys lower-cased); raise :class:`ConfigError`."""
    problems: list[str] = []
    url = (values.get("url") or "").strip()
    parts = urlsplit(url)
    if not url:
        problems.append(f"[{SECTION}] URL is missing: give the http(s) address that receives the events "
                        f"(or set notify_webhook=N in [Plugins])")
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"[{SECTION}] URL = {url!r}: must be an http:// or https:// URL with a host name")
    timeout = parse_number(values, "TimeoutSeconds", 10.0, SECTION, problems, minimum=1, maximum=300, whole=False)
    attempts = parse_number(values, "MaxAttempts", 6, SECTION, problems, minimum=1, maximum=20)
    events, event_problems = parse_events(values.get("events"), SECTION)
    problems += event_problems
    if problems:
        raise ConfigError(problems)
    secret = values.get("secret") or ""
    logs.add_secret(secret)
    return WebhookConfig(url=url, secret=secret, events=events, timeout=timeout, max_attempts=attempts)


def signature(secret: str, body: bytes) -> str:
    """The value of ``X-Zenithlink-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Posts each chosen event, in order, retrying what a later attempt can fix."""

    def __init__(self, config: WebhookConfig, *, backoff_base: float = 1.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.config = config
        self._backoff = Backoff(backoff_base, MAX_BACKOFF, "equal")
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._client: httpx.Client | None = None
        self.delivered = 0
        self.failed = 0
        self.worker = Worker(f"{NAME} worker", self._deliver, maxsize=config.queue_size, finish=self._close_client)

    def notify(self, event: Event) -> None:
        if event.kind in self.config.events:
            self.worker.submit(event)

    def close(self, timeout: float = 10.0) -> None:
        # Backoff waits end at once; the current attempt may still take up to TimeoutSeconds.
        self._stopping.set()
        self.worker.close(timeout)

    def _deliver(self, event: Event) -> None:
        body = json.dumps(event.as_dict(), ensure_ascii=False, default=str).encode("utf-8")
        headers = {"Content-Type": "application/json", EVENT_HEADER: event.kind, DELIVERY_HEADER: uuid.uuid4().hex,
                   "User-Agent": "zenithlink"}
        if self.config.secret:
            headers[SIGNATURE_HEADER] = signature(self.config.secret, body)
        for attempt in range(1, self.config.max_attempts + 1):
            retry_after, why = self._attempt(body, headers)
            if why is None:
                self.delivered += 1
                return
            if retry_after is None or attempt == self.config.max_attempts or self._stopping.is_set():
                break
            self._sleep(self._backoff.delay(attempt, retry_after))
        self.failed += 1
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.warning("notify_webhook: the {} event was not delivered to {}: {}. Check [{}] URL and the "
                       "receiver.", event.kind, _safe_url(self.config.url), why, SECTION)

    def _attempt(self, body: bytes, headers: dict[str, str]) -> tuple[float | None, str | None]:
        """``(None, None)`` when delivered; else ``(least wait to retry | None to give up, why)``."""
        import httpx  # imported on first use: every command that loads the plugins would pay for it

        try:
            response = self._http().post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return 0.0, f"{type(exc).__name__}: {exc}"
        if response.status_code < 300:
            return None, None
        why = f"HTTP {response.status_code}"
        if response.status_code in (408, 429) or response.status_code >= 500:
            return _retry_after(response), why
        return None, why

    def _http(self) -> httpx.Client:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.config.timeout, follow_redirects=False)
        return self._client

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _retry_after(response: httpx.Response) -> float:
    return min(MAX_BACKOFF, parse_retry_after(response.headers.get("Retry-After")) or 0.0)


def _safe_url(url: str) -> str:
    # A URL may carry a token in its query; the log only needs where it points.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


# -- the plugin: one notifier per configuration, replaced on reload -------------------------
_slot = NotifierSlot(NAME, config_from, WebhookNotifier, "sent",
                     keys=("URL", "Secret", "Events", "TimeoutSeconds", "MaxAttempts"))
configure = _slot.configure
shutdown = _slot.shutdown
zenith_check_config, zenith_configure, zenith_notify = _slot.hookimpls()
