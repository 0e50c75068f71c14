"""What the sandbox N-sight holds: clients → sites → servers and workstations → checks.

Identifiers are integers as N-sight's are (clientid, siteid, device id, checkid). A failing
check carries the date and time of its failure; one that recovers and fails again gets a new one.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class Client:
    clientid: int
    name: str


@dataclass
class Site:
    siteid: int
    clientid: int
    name: str


@dataclass
class DeviceRecord:
    id: int
    siteid: int
    name: str
    kind: str  # "server" or "workstation"


@dataclass
class Check:
    checkid: int
    deviceid: int
    description: str
    check_type: int
    failing_since: datetime | None = None
    output: str = ""
    notes: list[tuple[str, str]] = field(default_factory=list)  # (private, public)
    cleared: tuple[str, str] | None = None

    @property
    def failing(self) -> bool:
        return self.failing_since is not None and self.cleared is None


CHECK_KINDS = (("Disk Space Check - C:", 2001), ("Backup Check", 1014), ("Antivirus Update Check", 1026),
               ("Event Log Check", 2009), ("Windows Service Check - Spooler", 2005), ("Ping Check", 2004))


class NsightWorld:
    """The sandbox's account; every method is thread-safe."""

    def __init__(self, *, seed: int = 1, clients: int = 2, sites: int = 4, devices: int = 12,
                 checks_per_device: int = 3, api_key: str = "nsight-demo-key") -> None:
        self.api_key = api_key
        self.lock = threading.RLock()
        self.clients: dict[int, Client] = {}
        self.sites: dict[int, Site] = {}
        self.devices: dict[int, DeviceRecord] = {}
        self.checks: dict[int, Check] = {}
        self.calls: dict[str, int] = {}
        self._ids = itertools.count(10_000)
        self._clock = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        rng = random.Random(seed)
        for n in range(clients):
            client = Client(next(self._ids), f"Client {n + 1}")
            self.clients[client.clientid] = client
        client_ids = list(self.clients)
        for n in range(sites):
            site = Site(next(self._ids), client_ids[n % len(client_ids)], f"Site {n + 1}")
            self.sites[site.siteid] = site
        site_ids = list(self.sites)
        for n in range(devices):
            kind = "server" if n % 4 == 0 else "workstation"
            prefix = "SRV" if kind == "server" else "PC"
            device = DeviceRecord(next(self._ids), site_ids[n % len(site_ids)], f"{prefix}-{n + 1:04}", kind)
            self.devices[device.id] = device
            for description, check_type in rng.sample(CHECK_KINDS, min(checks_per_device, len(CHECK_KINDS))):
                check = Check(next(self._ids), device.id, description, check_type)
                self.checks[check.checkid] = check

    # -- what the devices (and the NOC) do ------------------------------------------------------
    def fail(self, checkid: int, output: str = "") -> None:
        with self.lock:
            check = self.checks[checkid]
            check.failing_since = self._tick()
            check.output = output or f"{check.description}: failed"
            check.cleared = None

    def recover(self, checkid: int) -> None:
        with self.lock:
            self.checks[checkid].failing_since = None
            self.checks[checkid].cleared = None

    def add_check(self, deviceid: int, description: str, check_type: int = 2000) -> Check:
        """A check of the device, not failing yet."""
        with self.lock:
            check = Check(next(self._ids), deviceid, description, check_type)
            self.checks[check.checkid] = check
            return check

    def check_of(self, deviceid: int, description: str) -> Check:
        with self.lock:
            return next(c for c in self.checks.values() if c.deviceid == deviceid and c.description == description)

    def failing(self) -> list[Check]:
        with self.lock:
            return [c for c in self.checks.values() if c.failing]

    def _tick(self) -> datetime:
        self._clock += timedelta(minutes=1)
        return self._clock
