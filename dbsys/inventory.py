"""Look-ups of single sites and devices in the downloaded inventory files.

The index is built lazily from the ``.cmt`` file and rebuilt when the file changes (its
``mtime_ns`` and size). A record is kept as one string, its values joined by U+001F, with the
file's column names kept once (U+001E marks a child the record does not have): 100,000 devices
stay within a few tens of MB, and decoding a record (done for every new ticket of a device)
costs a split, not a JSON parse. Neither character can occur in a value: XML 1.0, which the
``.cmt`` files are, does not allow them.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path

_lock = threading.Lock()
KEYS = {"sites": "SiteCode", "devices": "DeviceID"}
_SEP, _ABSENT = "\x1f", "\x1e"


class _Index:
    """One inventory file's records by key, each packed as described above."""

    __slots__ = ("columns", "_known", "packed", "problem", "_folded", "_groups")

    def __init__(self, problem: str | None = None) -> None:
        self.columns: list[str] = []
        self._known: set[str] = set()
        self.packed: dict[str, str] = {}
        self.problem = problem  # why the file could not be read; it then holds no record
        self._folded: list[tuple[str, str]] | None = None
        self._groups: dict[str, dict[str, list[str]]] = {}

    def add(self, key: str, record: dict[str, str]) -> None:
        if not self._known.issuperset(record):
            self.columns += [name for name in record if name not in self._known]
            self._known.update(record)
        self.packed[key] = _SEP.join([record.get(name, _ABSENT) for name in self.columns])

    def get(self, key: str) -> dict[str, str] | None:
        packed = self.packed.get(key)
        if packed is None:
            return None
        return {name: value for name, value in zip(self.columns, packed.split(_SEP)) if value != _ABSENT}

    def folded(self) -> list[tuple[str, str]]:
        """``(key, every value of the record folded for search)`` in file order, worked out once."""
        if self._folded is None:
            self._folded = [(key, fold(packed)) for key, packed in self.packed.items()]
        return self._folded

    def grouped(self, column: str) -> dict[str, list[str]]:
        """The keys by their value of ``column`` (devices by ``SiteCode``), in file order, worked out once."""
        groups = self._groups.get(column)
        if groups is None:
            groups = {}
            where = self.columns.index(column) if column in self.columns else None
            for key, packed in self.packed.items():
                value = packed.split(_SEP)[where] if where is not None else _ABSENT
                groups.setdefault(value, []).append(key)
            self._groups[column] = groups
        return groups


def fold(text: str) -> str:
    """``text`` with accents off and case folded, as keyword search compares it."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    if decomposed.isascii():
        return decomposed.casefold()
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_EMPTY = _Index()
_cache: dict[Path, tuple[tuple[int, int], _Index]] = {}


def inventory_path(settings, kind: str) -> Path:
    """The ``.cmt`` file of ``kind`` (``sites`` or ``devices``) for ``settings``."""
    from dbsys import cmt

    maker = cmt.sites_path if kind == "sites" else cmt.devices_path
    return maker(settings.dbsys_folder, settings.instance_id)


def _index(path: Path, kind: str) -> _Index:
    from dbsys import cmt

    try:
        stat = path.stat()
    except FileNotFoundError:
        return _EMPTY
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        index, key = _Index(), KEYS[kind]
        try:
            for record in cmt.read_inventory(path, "sites" if kind == "sites" else "devices"):
                index.add(record.get(key, ""), record)
        except Exception as exc:  # noqa: BLE001 - a damaged file must not stop ticket creation
            # Remembered like a good file: read again only once the file changes.
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("cannot read {}: {}", path, exc)
            index = _Index(f"{path.name} cannot be read ({exc})")
        _cache[path] = (stamp, index)
        return index


def _owner(settings, key: str) -> str:
    """The InstanceID of the extra RMM (``[RMM:<name>]``) whose identifiers ``key`` is one of, else ``""``.

    An extra RMM's site codes and device ids read ``<InstanceID>:<id>`` (agent.ports.namespaced)."""
    head, sep, _ = key.partition(":")
    if sep and any(i.instance_id == head for i in getattr(settings, "rmm_instances", ())):
        return head
    return ""


def path_of(settings, kind: str, key: str) -> Path:
    """The ``.cmt`` file of ``kind`` that holds ``key``: an extra RMM's key is in that RMM's file."""
    from dbsys import cmt

    owner = _owner(settings, key)
    if not owner:
        return inventory_path(settings, kind)
    maker = cmt.sites_path if kind == "sites" else cmt.devices_path
    return maker(settings.dbsys_folder, owner)


def belongs(settings, key: str) -> bool:
    """Whether ``key`` (a site code or device id the store links) is an identifier of the RMM of
    ``settings``: the primary's when it has no extra RMM's prefix; an extra RMM's when it has its own."""
    namespace = getattr(settings, "rmm_namespace", "")
    if namespace:
        return key.startswith(namespace + ":")
    return not _owner(settings, key)


def problem(settings, kind: str) -> str | None:
    """Why the ``kind`` inventory file cannot be read (``None``: it can, or it is not there)."""
    return _index(inventory_path(settings, kind), kind).problem


def site_record(settings, site_code: str) -> dict[str, str] | None:
    """The site's children from ``ZenithSites_*.cmt`` (of the RMM it belongs to), or ``None``."""
    return _index(path_of(settings, "sites", site_code), "sites").get(site_code)


def device_record(settings, device_id: str) -> dict[str, str] | None:
    """The device's children from ``ZenithDevices_*.cmt`` (of the RMM it belongs to), or ``None``."""
    return _index(path_of(settings, "devices", device_id), "devices").get(device_id)


def searchable(settings, kind: str) -> list[tuple[str, str]]:
    """Every record of the ``kind`` file as ``(key, folded text of all its values)``, in file order."""
    index = _index(inventory_path(settings, kind), kind)
    with _lock:
        return index.folded()


def keys_with(settings, kind: str, column: str, value: str) -> list[str]:
    """The keys of the ``kind`` records whose ``column`` is ``value`` (the devices of a site), in file order."""
    index = _index(inventory_path(settings, kind), kind)
    with _lock:
        return list(index.grouped(column).get(value, []))


def record_lookup(settings, kind: str) -> Callable[[str], dict[str, str] | None]:
    """Records of the ``kind`` file by key, bound to the file as it is now."""
    return _index(inventory_path(settings, kind), kind).get


def device_lookup(settings) -> Callable[[str], dict[str, str] | None]:
    """:func:`device_record` bound to the devices file as it is now: one ``stat`` for many look-ups."""
    return _index(inventory_path(settings, "devices"), "devices").get
