"""The sandbox N-sight Data Extraction API: ``GET /api/?apikey=…&service=…`` answering XML.

Answers follow N-able's pages (cited in ``docs/nsight.md``): ``<result created=… host=…
status="OK">`` with ``<items>``; a failure is ``status="FAIL"`` with ``<error><errorcode>``
(4: invalid parameter, 5: missing parameter) and ``<message>``. Where the pages are silent (a
wrong API key, a clear of a check that does not fail, what too frequent calls get), the sandbox
answers as ``docs/nsight.md`` says, and its fault modes make each case happen on demand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from agent.sandbox.loopback import LoopbackSandbox, SandboxHttpServer
from agent.sandbox.nsight.world import Check, DeviceRecord, NsightWorld

HOST = "sandbox.nsight.local"


@dataclass
class NsightFaults:
    """Fault modes, switched by tests and the demo."""

    outage: bool = False
    rate_limit_count: int = 0
    retry_after: int = 60
    min_interval: float = 0.0
    """Refuse a service called again sooner than this (seconds): N-able asks for >= 90 s."""


class NsightSandbox(LoopbackSandbox):
    """The sandbox on loopback; a context manager (``with NsightSandbox() as nsight: nsight.url``)."""

    def __init__(self, world: NsightWorld | None = None, *, port: int = 0) -> None:
        self.world = world or NsightWorld()
        self.faults = NsightFaults()
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()
        super().__init__(_Handler, port=port, name="nsight-sandbox")

    # -- what a test or the demo makes happen (the RMM contract's harness speaks this) ---------
    def fail(self, device_id: str, check: str) -> str:
        """The device's check described ``check`` fails (again); its checkid. A device without such a
        check is given one first; ``""`` names the device's first check."""
        with self.world.lock:
            own = [c for c in self.world.checks.values() if c.deviceid == int(device_id)]
            chosen = next((c for c in own if c.description == check), None if check else own[0])
            if chosen is None:
                chosen = self.world.add_check(int(device_id), check)
            self.world.fail(chosen.checkid)
            return str(chosen.checkid)

    def recover(self, alert_id: str) -> None:
        self.world.recover(int(alert_id))

    def notes(self, alert_id: str) -> list[str]:
        """The private notes of the check, oldest first."""
        with self.world.lock:
            return [private for private, _public in self.world.checks[int(alert_id)].notes]

    def cleared(self, alert_id: str) -> str | None:
        with self.world.lock:
            cleared = self.world.checks[int(alert_id)].cleared
            return cleared[0] if cleared else None

    def rate_limit(self, seconds: int) -> None:
        """The next request gets a 429 with ``Retry-After: seconds``."""
        self.faults.rate_limit_count, self.faults.retry_after = 1, seconds

    def outage(self, on: bool) -> None:
        self.faults.outage = on

    # -- one request -------------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """``(status, headers, body)`` for one request."""
        faults = self.faults
        if faults.outage:
            return 503, {}, "<html><body>Service Unavailable</body></html>"
        if path.rstrip("/") != "/api":
            return 404, {}, "<html><body>Not Found</body></html>"
        service = params.get("service", "")
        with self._lock:
            self.world.calls[service] = self.world.calls.get(service, 0) + 1
            if faults.rate_limit_count > 0:
                faults.rate_limit_count -= 1
                return 429, {"Retry-After": str(faults.retry_after)}, _fail(None, "Too many requests")
            now = time.monotonic()
            last = self._last_call.get(service)
            if faults.min_interval and last is not None and now - last < faults.min_interval:
                wait = int(faults.min_interval - (now - last)) + 1
                return 429, {"Retry-After": str(wait)}, _fail(None, f"Too many requests for {service}")
            self._last_call[service] = now
        if params.get("apikey") != self.world.api_key:
            return 403, {}, _fail(None, "Invalid API key")
        handler = _SERVICES.get(service)
        if handler is None:
            unknown = f"Invalid parameter: service {service!r}" if service else "Missing parameter: service"
            return 200, {}, _fail(4 if service else 5, unknown)
        with self.world.lock:
            return 200, {}, handler(self.world, params)


# -- services ---------------------------------------------------------------------------------
def _ok(items: str) -> str:
    return (f'<?xml version="1.0" ?>\n<result created="{_created()}" host="{HOST}" status="OK">'
            f"<items>{items}</items></result>")


def _message(text: str) -> str:
    return (f'<?xml version="1.0" ?>\n<result created="{_created()}" host="{HOST}" status="OK">'
            f"<message><![CDATA[{text}]]></message></result>")


def _fail(code: int | None, message: str) -> str:
    errorcode = f"<errorcode>{code}</errorcode>" if code is not None else ""
    return (f'<?xml version="1.0" ?>\n<result created="{_created()}" host="{HOST}" status="FAIL">'
            f"<error>{errorcode}<message>{escape(message)}</message></error></result>")


def _created() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _int_param(params: dict[str, str], name: str) -> int | str:
    """The integer parameter, or the FAIL answer to give."""
    if name not in params:
        return _fail(5, f"Missing parameter: {name}")
    value = params[name]
    if not value.isdigit():
        return _fail(4, f"Invalid parameter: {name}")
    return int(value)


def _list_clients(world: NsightWorld, params: dict[str, str]) -> str:
    rows = "".join(f"<client><name><![CDATA[{c.name}]]></name><clientid>{c.clientid}</clientid>"
                   f"<view_dashboard>0</view_dashboard><view_wkstsn_assets>0</view_wkstsn_assets>"
                   f"<timezone>Europe/London</timezone></client>" for c in world.clients.values())
    return _ok(rows)


def _list_sites(world: NsightWorld, params: dict[str, str]) -> str:
    clientid = _int_param(params, "clientid")
    if isinstance(clientid, str):
        return clientid
    if clientid not in world.clients:
        return _fail(4, "Invalid parameter: clientid")
    rows = "".join(f"<site><siteid>{s.siteid}</siteid><name><![CDATA[{s.name}]]></name>"
                   f"<connection_ok>1</connection_ok><creation_date>2024-01-01</creation_date></site>"
                   for s in world.sites.values() if s.clientid == clientid)
    return _ok(rows)


def _devices(kind: str) -> Callable[[NsightWorld, dict[str, str]], str]:
    def answer(world: NsightWorld, params: dict[str, str]) -> str:
        siteid = _int_param(params, "siteid")
        if isinstance(siteid, str):
            return siteid
        if siteid not in world.sites:
            return _fail(4, "Invalid parameter: siteid")
        rows = "".join(_device(d) for d in world.devices.values() if d.siteid == siteid and d.kind == kind)
        return _ok(rows)
    return answer


def _device(device: DeviceRecord) -> str:
    return (f"<{device.kind}><id>{device.id}</id><name><![CDATA[{device.name}]]></name>"
            f"<description><![CDATA[{device.name}]]></description><online>1</online></{device.kind}>")


def _check(check: Check, *, with_output: bool = False) -> str:
    since = check.failing_since
    date, clock = (since.strftime("%Y-%m-%d"), since.strftime("%H:%M:%S")) if since else ("", "")
    output = f"<formatted_output><![CDATA[{check.output}]]></formatted_output>" if with_output else ""
    return (f"<check><checkid>{check.checkid}</checkid><check_type>{check.check_type}</check_type>"
            f"<description><![CDATA[{check.description}]]></description><date>{date}</date><time>{clock}</time>"
            f"<dsc247>2</dsc247><deviceid>{check.deviceid}</deviceid>{output}</check>")


def _list_failing_checks(world: NsightWorld, params: dict[str, str]) -> str:
    wanted = params.get("clientid")
    out: list[str] = []
    failing: dict[int, list[Check]] = {}
    for check in world.failing():
        failing.setdefault(check.deviceid, []).append(check)
    for client in world.clients.values():
        if wanted and wanted != str(client.clientid):
            continue
        sites: list[str] = []
        for site in (s for s in world.sites.values() if s.clientid == client.clientid):
            groups: list[str] = []
            for kind in ("server", "workstation"):
                devices = []
                for device in (d for d in world.devices.values() if d.siteid == site.siteid and d.kind == kind):
                    checks = "".join(_check(c, with_output=True) for c in failing.get(device.id, ()))
                    if checks:
                        devices.append(f"<{kind}><id>{device.id}</id><name><![CDATA[{device.name}]]></name>"
                                       f"<failed_checks>{checks}</failed_checks></{kind}>")
                if devices:
                    groups.append(f"<{kind}s>{''.join(devices)}</{kind}s>")
            if groups:
                sites.append(f"<site><siteid>{site.siteid}</siteid><name><![CDATA[{site.name}]]></name>"
                             f"{''.join(groups)}</site>")
        if sites:
            out.append(f"<client><clientid>{client.clientid}</clientid><name><![CDATA[{client.name}]]></name>"
                       f"{''.join(sites)}</client>")
    return _ok("".join(out))


def _list_checks(world: NsightWorld, params: dict[str, str]) -> str:
    deviceid = _int_param(params, "deviceid")
    if isinstance(deviceid, str):
        return deviceid
    return _ok("".join(_check(c) for c in world.checks.values() if c.deviceid == deviceid))


def _known_check(world: NsightWorld, params: dict[str, str]) -> Check | str:
    checkid = _int_param(params, "checkid")
    if isinstance(checkid, str):
        return checkid
    check = world.checks.get(checkid)
    return check if check is not None else _fail(4, "Invalid parameter: checkid")


def _get_formatted_check_output(world: NsightWorld, params: dict[str, str]) -> str:
    check = _known_check(world, params)
    if isinstance(check, str):
        return check
    return _ok(f"<formatted_output><![CDATA[{check.output}]]></formatted_output>")


def _add_check_note(world: NsightWorld, params: dict[str, str]) -> str:
    check = _known_check(world, params)
    if isinstance(check, str):
        return check
    check.notes.append((params.get("private_note", ""), params.get("public_note", "")))
    return _message("Note Added")


def _clear_check(world: NsightWorld, params: dict[str, str]) -> str:
    check = _known_check(world, params)
    if isinstance(check, str):
        return check
    if not check.failing:
        return _fail(None, "Only checks that are currently failing can be cleared")
    check.cleared = (params.get("private_note", ""), params.get("public_note", ""))
    return _message("Check Cleared")


_SERVICES: dict[str, Callable[[NsightWorld, dict[str, str]], str]] = {
    "list_clients": _list_clients,
    "list_sites": _list_sites,
    "list_servers": _devices("server"),
    "list_workstations": _devices("workstation"),
    "list_failing_checks": _list_failing_checks,
    "list_checks": _list_checks,
    "get_formatted_check_output": _get_formatted_check_output,
    "add_check_note": _add_check_note,
    "clear_check": _clear_check,
}



class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NsightSandbox/1.0"
    server: SandboxHttpServer
    # Headers and body in one write: written apart, the client's delayed ACK costs 40 ms a call.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        self._reply(*self.server.sandbox.answer(parts.path, dict(parse_qsl(parts.query))))

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        form = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query)) | dict(parse_qsl(form))
        self._reply(*self.server.sandbox.answer(parts.path, params))

    def _reply(self, status: int, headers: dict[str, str], body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8" if body.startswith("<?xml") else "text/html")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        """Quiet: the tests and the demo say what matters."""
