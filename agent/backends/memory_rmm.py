"""The ``memory`` RMM backend: a snapshot RMM held in dictionaries, for engine tests.

What httpx's ``MockTransport`` is to an HTTP client, this is to the engines: an RMM whose
sites, devices and failing checks a test sets directly (``add_site``, ``add_device``, ``fail``,
``recover``), whose notes and clears it reads back (``notes``, ``cleared``), and whose faults it
switches on (``outage``, ``rate_limit``, ``refuse_credentials``). It keeps the RMM contract
(``tests/contract/rmm`` runs on it) with the capabilities of an alert RMM (N-sight's): a snapshot
of failing checks, notes and clears, no tickets of its own. Nothing survives the process.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.ports.rmm import (
    Alert,
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
    RmmRejected,
    RmmUnavailable,
    Site,
    WriteBack,
    inventory_pages_of,
    pages_of,
)
from agent.ports.times import now_iso

MEMORY_CAPABILITIES = RmmCapabilities(rmm="the in-memory RMM", delivery="snapshot",
                                      write_backs=frozenset({WriteBack.ADD_NOTE, WriteBack.CLOSE}))


@dataclass
class _World:
    """What the RMM holds; shared by every client of one :class:`MemoryRmm`."""

    sites: dict[str, Site] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    failing: dict[str, Alert] = field(default_factory=dict)
    checks: set[str] = field(default_factory=set)
    notes: dict[str, list[str]] = field(default_factory=dict)
    cleared: dict[str, str] = field(default_factory=dict)
    done_keys: set[str] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    outage: bool = False
    rate_limited_for: float | None = None
    failures: int = 0


class MemoryRmm:
    """An alert RMM in memory; thread-safe. ``api_key`` is checked like a real RMM's credentials."""

    capabilities = MEMORY_CAPABILITIES

    def __init__(self, api_key: str = "memory", *, _world: _World | None = None,
                 _lock: threading.RLock | None = None, _expected_key: str | None = None) -> None:
        self._world = _world or _World()
        self._lock = _lock or threading.RLock()
        self._key = api_key
        self._expected = _expected_key or api_key

    def with_key(self, api_key: str) -> MemoryRmm:
        """Another client of the same RMM, presenting ``api_key`` (a wrong one is refused)."""
        return MemoryRmm(api_key, _world=self._world, _lock=self._lock, _expected_key=self._expected)

    # -- what a test (the RMM's own console) does --------------------------------------------
    def add_site(self, site_code: str, name: str, *, client_name: str = "", client_id: str = "") -> Site:
        fields = (("SiteCode", site_code), ("Name", name), ("ClientName", client_name))
        site = Site(site_code=site_code, name=name, site_id=site_code, client_id=client_id,
                    client_name=client_name, children=fields)
        with self._lock:
            self._world.sites[site_code] = site
        return site

    def add_device(self, device_id: str, site_code: str, name: str, *, device_type: str = "workstation") -> Device:
        fields = (("DeviceID", device_id), ("SiteCode", site_code), ("Name", name), ("DeviceType", device_type))
        device = Device(device_id=device_id, site_code=site_code, name=name, device_type=device_type,
                        children=fields)
        with self._lock:
            if site_code not in self._world.sites:
                raise ValueError(f"no site {site_code!r}: add_site it first")
            self._world.devices[device_id] = device
        return device

    def fail(self, device_id: str, check: str, *, description: str = "", severity: str = "",
             check_type: str = "", output: str = "", alert_id: str | None = None) -> Alert:
        """The check starts failing (again, with a new ``failed_since``, when it was failing)."""
        with self._lock:
            device = self._world.devices[device_id]
            existing = self._find(device_id, check)
            alert = Alert(alert_id=alert_id or (existing.alert_id if existing else str(next(self._world.ids))),
                          device_id=device_id, site_code=device.site_code, check=check,
                          description=description or check, check_type=check_type, severity=severity,
                          failed_since=f"{now_iso()}#{next(self._world.ids)}", output=output,
                          device_name=device.name)
            self._world.failing[alert.alert_id] = alert
            self._world.checks.add(alert.alert_id)
            self._world.cleared.pop(alert.alert_id, None)
            return alert

    def recover(self, alert_id: str) -> None:
        with self._lock:
            self._world.failing.pop(alert_id, None)

    def notes(self, alert_id: str) -> list[str]:
        with self._lock:
            return list(self._world.notes.get(alert_id, []))

    def cleared(self, alert_id: str) -> str | None:
        """The note the alert was cleared with, or ``None`` when it was not cleared."""
        with self._lock:
            return self._world.cleared.get(alert_id)

    def calls(self, name: str) -> int:
        with self._lock:
            return self._world.calls.get(name, 0)

    def outage(self, on: bool) -> None:
        with self._lock:
            self._world.outage = on

    def rate_limit(self, seconds: float) -> None:
        """The next call is refused as too frequent, naming ``seconds``."""
        with self._lock:
            self._world.rate_limited_for = seconds

    def fail_next(self, count: int = 1) -> None:
        """The next ``count`` calls fail as if the RMM did not answer."""
        with self._lock:
            self._world.failures = count

    # -- the port ----------------------------------------------------------------------------
    def ping(self) -> Pong:
        self._call("ping")
        return Pong(partner="memory", activated=True)

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]:
        self._call("sites")
        with self._lock:
            sites = sorted(self._world.sites.values(), key=lambda s: s.site_code)
        yield from pages_of(sites, page_size)

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]:
        self._call("devices")
        with self._lock:
            devices = sorted(self._world.devices.values(), key=lambda d: d.device_id)
        yield from pages_of([d for d in devices if site_code in (None, d.site_code)], page_size)

    def inventory_pages(self, kind: Kind, page_size: int = 500) -> Iterator[InventoryPage[InventoryRecord]]:
        yield from inventory_pages_of(self, kind, page_size)

    def failing(self) -> AlertSnapshot:
        self._call("failing")
        with self._lock:
            alerts = tuple(sorted(self._world.failing.values(), key=lambda a: int(a.alert_id)))
        return AlertSnapshot(alerts=alerts, taken_at=now_iso())

    def add_alert_note(self, alert_id: str, text: str, *, idempotency_key: str) -> None:
        self._call("add_alert_note")
        with self._lock:
            if idempotency_key in self._world.done_keys:
                return
            self._known(alert_id)
            self._world.notes.setdefault(alert_id, []).append(text)
            self._world.done_keys.add(idempotency_key)

    def clear_alert(self, alert_id: str, note: str, *, idempotency_key: str) -> None:
        self._call("clear_alert")
        with self._lock:
            if idempotency_key in self._world.done_keys:
                return
            self._known(alert_id)
            if alert_id in self._world.failing:
                self._world.failing.pop(alert_id)
                self._world.cleared[alert_id] = note
            self._world.done_keys.add(idempotency_key)

    def close_connection(self) -> None:
        """Nothing to release."""

    # -- inside ------------------------------------------------------------------------------
    def _call(self, name: str) -> None:
        with self._lock:
            world = self._world
            world.calls[name] = world.calls.get(name, 0) + 1
            if world.outage or world.failures:
                world.failures = max(0, world.failures - 1)
                raise RmmUnavailable("the in-memory RMM does not answer (outage switched on by the test)")
            if self._key != self._expected:
                raise RmmCredentialsRefused("the in-memory RMM refuses this API key; use the key it was made with")
            if world.rate_limited_for is not None:
                seconds, world.rate_limited_for = world.rate_limited_for, None
                raise RmmRateLimited(f"the in-memory RMM asks to wait {seconds:g} s", retry_after=seconds)

    def _known(self, alert_id: str) -> None:
        if alert_id not in self._world.checks:
            raise RmmRejected(f"the in-memory RMM has no check {alert_id!r}")

    def _find(self, device_id: str, check: str) -> Alert | None:
        return next((a for a in self._world.failing.values() if a.key == (device_id, check)), None)



def backend(settings: Any) -> MemoryRmm:
    """The RMM backend named ``memory``: an empty alert RMM (tests, plugin development)."""
    return MemoryRmm(str(getattr(settings, "psg", "") or "memory"))


__all__ = ["MEMORY_CAPABILITIES", "MemoryRmm", "backend"]
