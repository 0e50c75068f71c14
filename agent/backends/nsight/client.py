"""The N-able N-sight Data Extraction API client: the RMM port's snapshot backend.

``https://SERVER/api/?apikey=…&service=…`` answering XML (N-able, "Data Extraction API" and
"API Calls"). The inventory is read client by client (``list_clients`` → ``list_sites`` →
``list_servers`` / ``list_workstations``), the failing checks in one call
(``list_failing_checks``), notes and clears per check (``add_check_note``, ``clear_check``).

Polite by construction: N-able asks for automated calls no more often than every 90 seconds,
so :meth:`NsightClient.failing` answers from the last snapshot until ``min_poll_seconds`` have
passed; a 429 (or a ``Retry-After``) is handed back as :class:`RmmRateLimited`. The API key
travels in the URL, so no URL ever goes into a message or a log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from loguru import logger

from agent import __version__
from agent.backends.continuum.retry import RetryPolicy
from agent.errors import UsageError
from agent.ports.rmm import (
    AlertSnapshot,
    Device,
    InventoryPage,
    InventoryRecord,
    Kind,
    Page,
    Pong,
    RmmCapabilities,
    RmmCredentialsRefused,
    RmmRateLimited,
    RmmUnavailable,
    Site,
    WriteBack,
    inventory_pages_of,
    pages_of,
)
from agent.ports.times import now_iso

from . import answers

NSIGHT_CAPABILITIES = RmmCapabilities(rmm="N-able N-sight", delivery="snapshot",
                                      write_backs=frozenset({WriteBack.ADD_NOTE, WriteBack.CLOSE}))
MIN_POLL_SECONDS = 90.0
"""N-able: "do not send automated API calls using a frequency less than 90 seconds"."""
MiB = 1024 * 1024


class NsightClient:
    """Talks to one N-sight account; thread-safe, one per agent (and closed once)."""

    capabilities = NSIGHT_CAPABILITIES

    def __init__(self, server_url: str, api_key: str, *, timeout: float = 30.0, verify: bool = True,
                 min_poll_seconds: float = MIN_POLL_SECONDS, max_answer_bytes: int = 64 * MiB,
                 clock: Callable[[], float] = time.monotonic, transport: httpx.BaseTransport | None = None) -> None:
        if not str(server_url).startswith(("http://", "https://")):
            raise UsageError(f"[Nsight] ServerURL {str(server_url)[:200]!r} is not an http(s) URL; set it to your "
                             "N-sight server's address, e.g. https://www.system-monitor.com")
        if not api_key.strip():
            raise UsageError("[Nsight] APIKey is empty; make a key in N-sight (Settings > General Settings > API) "
                             "and put it in the INI")
        self._key = api_key.strip()
        self._min_poll = min_poll_seconds
        self._max_bytes = max_answer_bytes
        self._clock = clock
        self._retry_after = RetryPolicy()
        self._lock = threading.Lock()
        self._last: tuple[float, AlertSnapshot] | None = None
        self._http = httpx.Client(base_url=str(server_url).rstrip("/"), timeout=httpx.Timeout(float(timeout)),
                                  verify=verify, transport=transport, follow_redirects=False,
                                  headers={"User-Agent": f"zenithlink/{__version__}", "Accept": "text/xml"})

    @classmethod
    def from_settings(cls, settings: Any) -> NsightClient:
        return cls(settings.nsight_url, settings.nsight_api_key,
                   timeout=float(getattr(settings, "request_timeout_seconds", 30.0)),
                   verify=bool(getattr(settings, "verify_tls", True)),
                   min_poll_seconds=float(getattr(settings, "nsight_min_poll_seconds", MIN_POLL_SECONDS)))

    # -- the port ----------------------------------------------------------------------------
    def ping(self) -> Pong:
        root = self._call("list_clients")
        return Pong(partner=root.get("host") or "N-sight", activated=True)

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]:
        yield from pages_of(self._sites(), page_size)

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]:
        codes = [site_code] if site_code is not None else [s.site_code for s in self._sites()]
        yield from pages_of([d for code in codes for d in self._devices_of(code)], page_size)

    def inventory_pages(self, kind: Kind, page_size: int = 500) -> Iterator[InventoryPage[InventoryRecord]]:
        yield from inventory_pages_of(self, kind, page_size)

    def failing(self) -> AlertSnapshot:
        with self._lock:
            if self._last is not None and self._clock() - self._last[0] < self._min_poll:
                return self._last[1]
        root = self._call("list_failing_checks")
        snapshot = AlertSnapshot(alerts=tuple(answers.failing_checks(root)), taken_at=now_iso())
        with self._lock:
            self._last = (self._clock(), snapshot)
        return snapshot

    def add_alert_note(self, alert_id: str, text: str, *, idempotency_key: str) -> None:
        self._call("add_check_note", checkid=_check_id(alert_id), private_note=text)

    def clear_alert(self, alert_id: str, note: str, *, idempotency_key: str) -> None:
        # The account may require both notes when clearing (N-able, "Clear a Check"): send both.
        self._call("clear_check", checkid=_check_id(alert_id), private_note=note, public_note=note)
        with self._lock:
            if self._last is not None:
                # The snapshot kept for MinPollSeconds must not show the cleared check again: a poll
                # before the next read would take it for a new failure and open a second ticket.
                at, snapshot = self._last
                kept = tuple(alert for alert in snapshot.alerts if alert.alert_id != alert_id)
                self._last = (at, AlertSnapshot(alerts=kept, taken_at=snapshot.taken_at))

    def close_connection(self) -> None:
        self._http.close()

    # -- inside ------------------------------------------------------------------------------
    def _sites(self) -> list[Site]:
        found: list[Site] = []
        for client_id, client_name in answers.clients(self._call("list_clients")):
            found.extend(answers.sites(self._call("list_sites", clientid=client_id), client_id, client_name))
        return found

    def _devices_of(self, site_code: str) -> list[Device]:
        return [d for kind, service in (("server", "list_servers"), ("workstation", "list_workstations"))
                for d in answers.devices(self._call(service, siteid=site_code), kind, site_code)]

    def _call(self, service: str, **params: str) -> Any:
        query = {"apikey": self._key, "service": service, **params}
        try:
            answer = self._http.get("/api/", params=query)
        except httpx.HTTPError as exc:
            raise RmmUnavailable(f"N-sight did not answer {service}: {type(exc).__name__}") from None
        if answer.status_code == 429:
            retry_after = self._retry_after.parse_retry_after(answer.headers.get("Retry-After"))
            raise RmmRateLimited(f"N-sight asks the agent to call {service} less often", status=429,
                                 retry_after=retry_after)
        if answer.status_code in (401, 403):
            raise RmmCredentialsRefused(
                f"N-sight refused the API key (HTTP {answer.status_code}); set [Nsight] APIKey in the INI to a key "
                "made in N-sight under Settings > General Settings > API", status=answer.status_code)
        if answer.status_code >= 500:
            raise RmmUnavailable(f"N-sight failed on {service} (HTTP {answer.status_code}); tried again later",
                                 status=answer.status_code)
        if answer.status_code != 200:
            raise RmmUnavailable(f"N-sight answered {service} with HTTP {answer.status_code}",
                                 status=answer.status_code)
        logger.debug("N-sight answered {} ({} bytes)", service, len(answer.content))
        return answers.parse(answer.content, service, self._max_bytes)


def _check_id(alert_id: str) -> str:
    if not alert_id.isdigit():
        raise UsageError(f"{alert_id!r} is not an N-sight checkid (a number)")
    return alert_id

