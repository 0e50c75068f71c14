"""Look-ups of single sites and devices in the downloaded inventory files.

The index is built lazily from the ``.cmt`` file and rebuilt when the file changes (its
``mtime_ns`` and size). Records are kept as compact JSON strings so that 100,000 devices stay
within a few tens of MB.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

from loguru import logger

_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], dict[str, str]]] = {}
KEYS = {"sites": "SiteCode", "devices": "DeviceID"}


def inventory_path(settings, kind: str) -> Path:
    """The ``.cmt`` file of ``kind`` (``sites`` or ``devices``) for ``settings``."""
    from dbsys import cmt

    maker = cmt.sites_path if kind == "sites" else cmt.devices_path
    return maker(settings.dbsys_folder, settings.instance_id)


def _index(path: Path, kind: str) -> dict[str, str]:
    from dbsys import cmt

    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        index: dict[str, str] = {}
        try:
            for record in cmt.read_inventory(path, kind):
                index[record.get(KEYS[kind], "")] = json.dumps(record, separators=(",", ":"))
        except Exception as exc:  # noqa: BLE001 - a damaged file must not stop ticket creation
            logger.warning("cannot read {}: {}", path, exc)
            return {}
        _cache[path] = (stamp, index)
        return index


def site_record(settings, site_code: str) -> dict[str, str] | None:
    """The site's children from ``ZenithSites_*.cmt``, or ``None``."""
    raw = _index(inventory_path(settings, "sites"), "sites").get(site_code)
    return json.loads(raw) if raw else None


def device_record(settings, device_id: str) -> dict[str, str] | None:
    """The device's children from ``ZenithDevices_*.cmt``, or ``None``."""
    raw = _index(inventory_path(settings, "devices"), "devices").get(device_id)
    return json.loads(raw) if raw else None


def device_lookup(settings) -> Callable[[str], dict[str, str] | None]:
    """:func:`device_record` bound to the devices file as it is now: one ``stat`` for many look-ups."""
    index = _index(inventory_path(settings, "devices"), "devices")

    def lookup(device_id: str) -> dict[str, str] | None:
        raw = index.get(device_id)
        return json.loads(raw) if raw else None

    return lookup
