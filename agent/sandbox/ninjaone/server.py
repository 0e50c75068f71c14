"""The sandbox NinjaOne API v2: ``POST /ws/oauth/token`` (client credentials), ``GET
/v2/organizations``, ``/v2/locations``, ``/v2/devices`` (``pageSize`` and ``after`` paging),
``/v2/alerts``, ``POST /v2/alert/{uid}/reset`` (activity data) and ``DELETE /v2/alert/{uid}``.

Fault modes: ``outage``, ``rate_limit`` (429 with ``Retry-After``) and ``expire_tokens`` (every
token issued so far answers 401, as an expired one does).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agent.sandbox.loopback import LoopbackSandbox, SandboxHttpServer

CLIENT_ID, CLIENT_SECRET = "ninja-demo-client", "ninja-demo-secret"


@dataclass
class NinjaWorld:
    """Organizations → locations → devices, and the open alerts (conditions) of the devices."""

    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    locations: dict[int, dict[str, Any]] = field(default_factory=dict)
    devices: dict[int, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    resets: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def seeded(cls, organizations: int = 2, locations: int = 4, devices: int = 12) -> NinjaWorld:
        world, ids = cls(), itertools.count(1)
        for n in range(organizations):
            org = next(ids)
            world.organizations[org] = {"id": org, "name": f"Organization {n + 1}", "description": ""}
        orgs = list(world.organizations)
        for n in range(locations):
            loc = next(ids)
            world.locations[loc] = {"id": loc, "name": f"Location {n + 1}", "organizationId": orgs[n % len(orgs)]}
        locs = list(world.locations)
        for n in range(devices):
            dev, location = next(ids), world.locations[locs[n % len(locs)]]
            world.devices[dev] = {"id": dev, "organizationId": location["organizationId"],
                                  "locationId": location["id"],
                                  "nodeClass": "WINDOWS_SERVER" if n % 4 == 0 else "WINDOWS_WORKSTATION",
                                  "systemName": f"NINJA-{n + 1:04}", "displayName": f"NINJA-{n + 1:04}"}
        return world

    def trigger(self, device_id: int, condition: str, severity: str = "MAJOR") -> str:
        """The device's condition triggers (again): a new alert uid, as NinjaOne raises one per firing."""
        with self.lock:
            for uid, alert in list(self.alerts.items()):
                if alert["deviceId"] == device_id and alert["sourceConfigUid"] == condition:
                    del self.alerts[uid]
            uid = secrets.token_hex(8)
            now = time.time()
            self.alerts[uid] = {"uid": uid, "deviceId": device_id, "sourceConfigUid": condition,
                                "sourceName": condition, "sourceType": "CONDITION", "message": f"{condition} triggered",
                                "severity": severity, "priority": "HIGH", "statusCode": "TRIGGERED",
                                "createTime": now, "updateTime": now}
            return uid

    def clear(self, uid: str) -> None:
        with self.lock:
            self.alerts.pop(uid, None)


class NinjaSandbox(LoopbackSandbox):
    """The sandbox on loopback; ``with NinjaSandbox() as ninja: ninja.url``."""

    def __init__(self, world: NinjaWorld | None = None, *, port: int = 0) -> None:
        self.world = world or NinjaWorld.seeded()
        self.outage_on = False
        self.rate_limit_count, self.retry_after = 0, 60
        self._tokens: set[str] = set()
        self.token_requests = 0
        self._requests: dict[str, int] = {}
        super().__init__(_Handler, port=port, name="ninjaone-sandbox")

    # -- the RMM contract's harness ------------------------------------------------------------
    def fail(self, device_id: str, check: str) -> str:
        return self.world.trigger(int(device_id), check or "Disk space")

    def recover(self, alert_id: str) -> None:
        self.world.clear(alert_id)

    def notes(self, alert_id: str) -> list[str]:
        return []  # NinjaOne has no notes on alerts

    def cleared(self, alert_id: str) -> str | None:
        with self.world.lock:
            reset = self.world.resets.get(alert_id)
            return None if reset is None else str(reset.get("message", ""))

    def rate_limit(self, seconds: int) -> None:
        self.rate_limit_count, self.retry_after = 1, seconds

    def outage(self, on: bool) -> None:
        self.outage_on = on

    def expire_tokens(self) -> None:
        self._tokens.clear()

    def requests_to(self, path: str) -> int:
        """How many requests reached ``path``."""
        return self._requests.get(path, 0)

    # -- one request ---------------------------------------------------------------------------
    def answer(self, method: str, path: str, query: dict[str, str], body: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self._requests[path] = self._requests.get(path, 0) + 1
        if self.outage_on:
            return 503, {}, {"error": "Service Unavailable"}
        if self.rate_limit_count > 0:
            self.rate_limit_count -= 1
            return 429, {"Retry-After": str(self.retry_after)}, {"error": "Too Many Requests"}
        if method == "POST" and path == "/ws/oauth/token":
            return self._token(dict(parse_qsl(body.decode("utf-8", "replace"))))
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in self._tokens:
            return 401, {}, {"error": "invalid_token", "error_description": "Access token expired or invalid"}
        with self.world.lock:
            return self._route(method, path, query, body)

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type"}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {}, {"error": "invalid_client"}
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": 3600,
                         "scope": form.get("scope", "monitoring management")}

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        world = self.world
        listings = {"/v2/organizations": world.organizations, "/v2/locations": world.locations,
                    "/v2/devices": world.devices}
        if method == "GET" and path in listings:
            return 200, {}, _page(list(listings[path].values()), query)
        if method == "GET" and path == "/v2/alerts":
            return 200, {}, list(world.alerts.values())
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v2", "alert"]:
            uid = parts[2]
            if uid not in world.alerts:
                return 404, {}, {"error": "Alert not found"}
            if method == "POST" and parts[3:] == ["reset"]:
                world.resets[uid] = json.loads(body or b"{}")
                del world.alerts[uid]
                return 204, {}, None
            if method == "DELETE" and not parts[3:]:
                world.resets[uid] = {}
                del world.alerts[uid]
                return 204, {}, None
        return 404, {}, {"error": f"no route {method} {path}"}


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """``pageSize`` items with an ``id`` above ``after`` (NinjaOne's cursor for these lists)."""
    after = int(query.get("after") or 0)
    size = int(query.get("pageSize") or 1000)
    return sorted((i for i in items if i["id"] > after), key=lambda i: i["id"])[:size]



class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NinjaSandbox/1.0"
    server: SandboxHttpServer
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, document = self.server.sandbox.answer(method, parts.path, dict(parse_qsl(parts.query)),
                                                             body, headers)
        data = b"" if document is None else json.dumps(document).encode("utf-8")
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server's name
        self._handle("DELETE")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        """Quiet."""
