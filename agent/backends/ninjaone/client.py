"""The NinjaOne public API v2 client: the RMM port's snapshot backend for NinjaOne.

OAuth2 client credentials (``POST /ws/oauth/token``, scope ``monitoring management``); the
inventory as organizations → locations → devices (``pageSize``/``after`` paging); the open alerts
(``GET /v2/alerts``) as the snapshot; an alert reset with activity data (``POST
/v2/alert/{uid}/reset``) as the clear. NinjaOne keeps no notes on alerts, so ``add_alert_note`` is
not offered. A token that expires (401) is replaced once, and the request sent again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from agent import __version__
from agent.backends.continuum.retry import RetryPolicy
from agent.errors import UsageError
from agent.ports.rmm import (
    Alert,
    AlertSnapshot,
    Device,
    InventoryPage,
    InventoryRecord,
    Kind,
    Page,
    Pong,
    RmmBadAnswer,
    RmmCapabilities,
    RmmCredentialsRefused,
    RmmRateLimited,
    RmmRejected,
    RmmUnavailable,
    Site,
    WriteBack,
    inventory_pages_of,
    pages_of,
)
from agent.ports.times import now_iso

NINJAONE_CAPABILITIES = RmmCapabilities(rmm="NinjaOne", delivery="snapshot", write_backs=frozenset({WriteBack.CLOSE}))
PAGE = 1000
DEVICES_FOR_SECONDS = 600.0


class NinjaOneClient:
    """Talks to one NinjaOne instance; thread-safe, one per agent (and closed once)."""

    capabilities = NINJAONE_CAPABILITIES

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, timeout: float = 30.0,
                 verify: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        if not str(base_url).startswith(("http://", "https://")):
            raise UsageError(f"[NinjaOne] URL {str(base_url)[:200]!r} is not an http(s) URL; set it to your "
                             "instance, e.g. https://app.ninjarmm.com or https://eu.ninjarmm.com")
        if not client_id.strip() or not client_secret.strip():
            raise UsageError("[NinjaOne] ClientID and ClientSecret must be set: make an API client app "
                             "(client credentials) in NinjaOne under Administration > Apps > API")
        self._id, self._secret = client_id.strip(), client_secret.strip()
        self._token: str | None = None
        self._clock = clock
        self._devices: tuple[dict[Any, dict[str, Any]], float | None] = ({}, None)
        self._lock = threading.Lock()
        self._retry_after = RetryPolicy()
        self._http = httpx.Client(base_url=str(base_url).rstrip("/"), timeout=httpx.Timeout(float(timeout)),
                                  verify=verify, follow_redirects=False,
                                  headers={"User-Agent": f"zenithlink/{__version__}", "Accept": "application/json"})

    @classmethod
    def from_settings(cls, settings: Any) -> NinjaOneClient:
        return cls(settings.ninjaone_url, settings.ninjaone_client_id, settings.ninjaone_client_secret,
                   timeout=float(getattr(settings, "request_timeout_seconds", 30.0)),
                   verify=bool(getattr(settings, "verify_tls", True)))

    # -- the port ----------------------------------------------------------------------------
    def ping(self) -> Pong:
        self._request("GET", "/v2/organizations", params={"pageSize": 1})
        return Pong(partner=str(self._http.base_url.host), activated=True)

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]:
        yield from pages_of(self._sites(), page_size)

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]:
        devices = [_device(d) for d in self._all("/v2/devices")]
        yield from pages_of([d for d in devices if site_code in (None, d.site_code)], page_size)

    def inventory_pages(self, kind: Kind, page_size: int = 500) -> Iterator[InventoryPage[InventoryRecord]]:
        yield from inventory_pages_of(self, kind, page_size)

    def failing(self) -> AlertSnapshot:
        items = self._json(self._request("GET", "/v2/alerts"), list)
        devices = self._devices_for({item.get("deviceId") for item in items})
        alerts = []
        for item in items:
            device = devices.get(item.get("deviceId"))
            if device is None:
                continue  # an alert of no device (NinjaOne raises some for the organization itself)
            condition = str(item.get("sourceConfigUid") or item.get("sourceName") or item.get("message") or "")
            created = _time(item.get("createTime"))
            alerts.append(Alert(alert_id=str(item["uid"]), device_id=str(device["id"]),
                                site_code=str(device.get("locationId", "")), check=condition,
                                description=str(item.get("message") or ""),
                                check_type=str(item.get("sourceType") or ""), severity=str(item.get("severity") or ""),
                                failed_since=f"{created} ({item['uid']})",
                                device_name=str(device.get("displayName") or device.get("systemName") or "")))
        return AlertSnapshot(alerts=tuple(alerts), taken_at=now_iso())

    def add_alert_note(self, alert_id: str, text: str, *, idempotency_key: str) -> None:
        self.capabilities.require(WriteBack.ADD_NOTE)

    def clear_alert(self, alert_id: str, note: str, *, idempotency_key: str) -> None:
        self._request("POST", f"/v2/alert/{alert_id}/reset", json={"message": note})

    def close_connection(self) -> None:
        self._http.close()

    # -- inside ------------------------------------------------------------------------------
    def _devices_for(self, wanted: set[Any]) -> dict[Any, dict[str, Any]]:
        """Every device, read again only when an alert names one not seen yet or the copy is older
        than ``DEVICES_FOR_SECONDS`` (a device moved to another location): not ten pages a poll."""
        with self._lock:
            known, read_at = self._devices
        if read_at is None or not wanted <= set(known) or self._clock() - read_at > DEVICES_FOR_SECONDS:
            known = {d["id"]: d for d in self._all("/v2/devices")}
            with self._lock:
                self._devices = (known, self._clock())
        return known

    def _sites(self) -> list[Site]:
        organizations = {o["id"]: str(o.get("name", "")) for o in self._all("/v2/organizations")}
        found = []
        for loc in self._all("/v2/locations"):
            code, name, org = str(loc["id"]), str(loc.get("name", "")), loc.get("organizationId")
            client = organizations.get(org, "")
            fields = (("SiteCode", code), ("Name", name), ("ClientID", str(org)), ("ClientName", client))
            found.append(Site(site_code=code, name=name, site_id=code, client_id=str(org), client_name=client,
                              children=fields))
        return found

    def _all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self._json(self._request("GET", path, params={"pageSize": PAGE, "after": after}), list)
            items.extend(page)
            if len(page) < PAGE:
                return items
            after = int(page[-1]["id"])

    def _bearer(self, renew: bool) -> str:
        with self._lock:
            if self._token is None or renew:
                answer = self._send("POST", "/ws/oauth/token", data={
                    "grant_type": "client_credentials", "client_id": self._id, "client_secret": self._secret,
                    "scope": "monitoring management"})
                if answer.status_code in (400, 401):
                    raise RmmCredentialsRefused(
                        "NinjaOne refused the client credentials; set [NinjaOne] ClientID and ClientSecret to those "
                        "of an API client app with the client credentials grant", status=answer.status_code)
                self._check(answer, "the token request")
                self._token = str(self._json(answer, dict).get("access_token") or "")
                if not self._token:
                    raise RmmBadAnswer("NinjaOne's token answer holds no access_token")
            return self._token

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for renew in (False, True):
            token = self._bearer(renew)
            answer = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if answer.status_code != 401:
                self._check(answer, f"{method} {path}")
                return answer
        raise RmmCredentialsRefused("NinjaOne refused a new access token; check the API client app's scopes "
                                    "(monitoring, management)", status=401)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RmmUnavailable(f"NinjaOne did not answer {method} {path}: {type(exc).__name__}") from None

    def _check(self, answer: httpx.Response, what: str) -> None:
        status = answer.status_code
        if status == 429:
            raise RmmRateLimited(f"NinjaOne asks the agent to slow down ({what})", status=429,
                                 retry_after=self._retry_after.parse_retry_after(answer.headers.get("Retry-After")))
        if status >= 500:
            raise RmmUnavailable(f"NinjaOne failed on {what} (HTTP {status}); tried again later", status=status)
        if status in (403, 404, 400, 409):
            raise RmmRejected(f"NinjaOne refused {what} (HTTP {status})", status=status)
        if status not in (200, 201, 204):
            raise RmmUnavailable(f"NinjaOne answered {what} with HTTP {status}", status=status)

    @staticmethod
    def _json(answer: httpx.Response, kind: type) -> Any:
        try:
            document = answer.json()
        except ValueError:
            raise RmmBadAnswer("NinjaOne's answer is not JSON") from None
        if not isinstance(document, kind):
            raise RmmBadAnswer(f"NinjaOne's answer is not a JSON {kind.__name__}")
        return document


def _device(item: dict[str, Any]) -> Device:
    device_id, site = str(item["id"]), str(item.get("locationId", ""))
    name = str(item.get("displayName") or item.get("systemName") or device_id)
    kind = str(item.get("nodeClass") or "")
    fields = (("DeviceID", device_id), ("SiteCode", site), ("Name", name), ("DeviceType", kind))
    return Device(device_id=device_id, site_code=site, name=name, device_type=kind, children=fields)


def _time(value: Any) -> str:
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return ""

