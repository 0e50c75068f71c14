"""Sites and devices of the sandbox world, with paging and the admin edits.

Ordered lists are cached for paging and rebuilt only after an edit, so paging 100,000
devices costs a slice per page.
"""

from __future__ import annotations

import random
import threading

from agent.sandbox import names, worldgen
from agent.sandbox.errors import conflict, invalid, not_found
from agent.sandbox.model import DEVICE_TYPES, Device, Site


class Inventory:
    """Base of :class:`World`: owns the lock and the inventory."""

    def __init__(self, sites: list[Site], devices: list[Device]) -> None:
        self.lock = threading.RLock()
        self._sites: dict[str, Site] = {s.site_code: s for s in sites}
        self._devices: dict[str, Device] = {d.device_id: d for d in devices}
        self._next_site_id = max((s.site_id for s in sites), default=100) + 1
        self._next_device = len(devices) + 1
        self._inv_rng = random.Random(f"inventory-{len(sites)}-{len(devices)}")
        self._invalidate()

    def _invalidate(self) -> None:
        self._site_cache: list[Site] | None = None
        self._device_cache: list[Device] | None = None
        self._by_site: dict[str, list[Device]] | None = None

    def _site_list(self) -> list[Site]:
        if self._site_cache is None:
            self._site_cache = list(self._sites.values())
        return self._site_cache

    def _device_list(self) -> list[Device]:
        if self._device_cache is None:
            self._device_cache = list(self._devices.values())
        return self._device_cache

    def _devices_of(self, site_code: str) -> list[Device]:
        if self._by_site is None:
            index: dict[str, list[Device]] = {}
            for device in self._device_list():
                index.setdefault(device.site_code, []).append(device)
            self._by_site = index
        return self._by_site.get(site_code, [])

    # ---- reads -------------------------------------------------------------------------
    def site_count(self) -> int:
        return len(self._sites)

    def device_count(self) -> int:
        return len(self._devices)

    def find_site(self, code: str) -> Site | None:
        return self._sites.get(code)

    def find_device(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def sites_page(self, page: int, size: int) -> tuple[int, list[Site]]:
        with self.lock:
            items = self._site_list()
            return len(items), items[(page - 1) * size: page * size]

    def devices_page(self, page: int, size: int, site_code: str | None = None) -> tuple[int, list[Device]]:
        with self.lock:
            items = self._devices_of(site_code) if site_code else self._device_list()
            return len(items), items[(page - 1) * size: page * size]

    # ---- admin edits ---------------------------------------------------------------------
    def add_site(self, name: str, client_name: str | None = None, code: str | None = None,
                 address: str | None = None, client_id: int | None = None) -> dict:
        """A new site (and client, unless ``client_name`` matches an existing one)."""
        with self.lock:
            if not str(name).strip():
                raise invalid("A site needs a name.")
            client_name = client_name or str(name)
            if code is None:
                taken = {c.split("-")[0] for c in self._sites}
                code = f"{worldgen.code_prefix(client_name, taken)}-HQ"
            if code in self._sites:
                raise conflict(f"Site code {code!r} exists already; choose another code.")
            if client_id is None:
                known = {s.client_name: s.client_id for s in self._sites.values()}
                client_id = known.get(client_name, max(known.values(), default=0) + 1)
            site = Site(self._next_site_id, code, str(name), int(client_id), client_name, address)
            self._next_site_id += 1
            self._sites[code] = site
            self._invalidate()
            return site.to_dict()

    def remove_site(self, code: str) -> None:
        """Remove a site and its devices (Continuum drops both together)."""
        with self.lock:
            if self._sites.pop(code, None) is None:
                raise not_found(f"No site {code!r}.")
            for device in [d for d in self._devices.values() if d.site_code == code]:
                del self._devices[device.device_id]
            self._invalidate()

    def rename_site(self, code: str, name: str) -> dict:
        with self.lock:
            site = self._sites.get(code)
            if site is None:
                raise not_found(f"No site {code!r}.")
            if not str(name).strip():
                raise invalid("A site needs a non-empty name.")
            site.name = str(name)
            return site.to_dict()

    def add_device(self, site_code: str, name: str | None = None, device_type: str = "Desktop",
                   **fields: str | None) -> dict:
        """A new device on ``site_code``; unspecified details are generated."""
        with self.lock:
            site = self._sites.get(site_code)
            if site is None:
                raise not_found(f"No site {site_code!r}.")
            if device_type not in DEVICE_TYPES:
                raise invalid(f"device_type must be one of {', '.join(DEVICE_TYPES)}.")
            kind = (next(k for k in names.HARDWARE if k[0] == device_type) if device_type != "Other"
                    else names.HARDWARE[-1])
            number = self._next_device
            self._next_device += 1
            device = worldgen.make_device(self._inv_rng, number, site, 0,
                                          name or f"{site_code.split('-')[0]}-NEW{number}", kind)
            for key, value in fields.items():
                if key not in Device.__slots__ or key in ("device_id", "site_code", "name"):
                    raise invalid(f"Unknown device field {key!r}.")
                setattr(device, key, value)
            self._devices[device.device_id] = device
            self._invalidate()
            return device.to_dict()

    def remove_device(self, device_id: str) -> None:
        with self.lock:
            if self._devices.pop(device_id, None) is None:
                raise not_found(f"No device {device_id!r}.")
            self._invalidate()

    def rename_device(self, device_id: str, name: str) -> dict:
        with self.lock:
            device = self._devices.get(device_id)
            if device is None:
                raise not_found(f"No device {device_id!r}.")
            if not str(name).strip():
                raise invalid("A device needs a non-empty name.")
            device.name = str(name)
            return device.to_dict()
