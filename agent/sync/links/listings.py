"""Listings of the inventory's sites and devices with their links: whole (the command line, an
export) or a page at a time of a search (the web console's screens of thousands)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from agent.errors import NotFoundError
from agent.sync.links.core import LinksCore
from agent.sync.links.inventory import Inventory, fold
from dbsys import inventory as inventory_index


@dataclass(frozen=True)
class Page:
    """One page of a listing: ``rows`` from ``offset``, of ``total`` matching rows."""

    rows: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class Listing:
    """The keys (site codes, device ids) of one kind that a search found, in the listing's order,
    with the links of that kind: what a screen's tabs, counts, page and "next" are drawn from."""

    kind: str
    every: list[str]
    links: dict[str, str]

    def keys(self, linked: bool | None) -> list[str]:
        if linked is None:
            return self.every
        return self._linked if linked else self._unlinked

    @cached_property
    def _linked(self) -> list[str]:
        return [key for key in self.every if key in self.links] if self.links else []

    @cached_property
    def _unlinked(self) -> list[str]:
        return [key for key in self.every if key not in self.links] if self.links else self.every

    def counts(self) -> dict[str, int]:
        linked = len(self._linked)
        return {"unlinked": len(self.every) - linked, "linked": linked}

    def position(self, key: str, linked: bool | None) -> int | None:
        """Where ``key`` stands in the tab ``linked``; None when it is not there."""
        if key not in self.every or (linked is not None and (key in self.links) != linked):
            return None
        return self.keys(linked).index(key)

    def next_unlinked(self, after: str) -> str | None:
        """The unlinked key that follows ``after`` (wrapping round to the first), not ``after``
        itself: what to work on once ``after`` is linked."""
        keys = self.keys(False)
        start = keys.index(after) + 1 if after in keys else 0
        return next((key for key in keys[start:] + keys[:start] if key != after), None)


class Listings:
    """The sites and devices of the inventory beside their links."""

    def __init__(self, core: LinksCore, inventory: Inventory) -> None:
        self.core = core
        self.inventory = inventory

    def sites(self, linked: bool | None = None) -> list[dict[str, Any]]:
        """Sites of the inventory with their account; ``linked`` True/False filters, None lists all.

        Links whose site is no longer in the inventory are listed too (``in_inventory`` False),
        unless only unlinked sites are asked for, so that they can be found and removed.
        """
        links = self.core.links("sites")
        names = dict(self.core.psa.account_names())
        rows, seen = [], set()
        for record in self.inventory.records("sites"):
            code = record.get("SiteCode", "")
            seen.add(code)
            rows.append(site_row(code, record, links.get(code), names, True))
        rows += [site_row(code, {}, account, names, False) for code, account in sorted(links.items())
                 if code not in seen]
        return [r for r in rows if linked is None or r["linked"] == linked]

    def devices(self, linked: bool | None = None) -> list[dict[str, Any]]:
        """Devices of the inventory with their asset; ``linked`` filters as for :meth:`sites`."""
        links = self.core.links("devices")
        names = {a.rec_id: a.name for a in self.core.psa.list_assets()}
        rows, seen = [], set()
        for record in self.inventory.records("devices"):
            device_id = record.get("DeviceID", "")
            seen.add(device_id)
            rows.append(device_row(device_id, record, links.get(device_id), names, True))
        rows += [device_row(d, {}, asset, names, False) for d, asset in sorted(links.items()) if d not in seen]
        return [r for r in rows if linked is None or r["linked"] == linked]

    def listing(self, kind: str, keyword: str = "") -> Listing:
        """The ``kind`` ("sites" or "devices") records holding every word of ``keyword`` (case and
        accents ignored), in the listing's order: one pass over the inventory index, from which a
        screen takes its counts, its page and the next unlinked record."""
        self.inventory.require_sound(kind)
        links = self.core.links(kind)
        words = fold(keyword).split()
        entries = inventory_index.searchable(self.core.settings, kind)
        matched = entries
        for word in words:  # one word at a time: each pass looks only at what the last one kept
            matched = [(key, text) for key, text in matched if word in text]
        every = [key for key, _ in matched]
        if links:  # links to records Continuum no longer lists, so they can be found and removed
            present = {key for key, _ in entries}
            every += [key for key in sorted(links) if key not in present and all(w in fold(key) for w in words)]
        return Listing(kind, every, links)

    def page_of(self, listing: Listing, linked: bool | None, offset: int, limit: int) -> Page:
        """One page of ``listing`` (of its tab ``linked``; None: both), its rows built."""
        kind, links = listing.kind, listing.links
        keys = listing.keys(linked)
        offset = max(0, offset)
        chosen = keys[offset:offset + max(1, limit)]
        lookup = inventory_index.record_lookup(self.core.settings, kind)
        records = {key: lookup(key) for key in chosen}
        if kind == "sites":
            names = dict(self.core.account_names()) if any(key in links for key in chosen) else {}
            rows = [site_row(key, records[key] or {}, links.get(key), names, records[key] is not None)
                    for key in chosen]
        else:
            names = self.asset_names(links[key] for key in chosen if key in links)
            rows = [device_row(key, records[key] or {}, links.get(key), names, records[key] is not None)
                    for key in chosen]
        return Page(rows, len(keys), offset, limit)

    def devices_of_site(self, site_code: str) -> list[dict[str, Any]]:
        """The inventory's devices at the site, with their asset when linked."""
        self.inventory.require("devices")
        settings = self.core.settings
        links = self.core.state.device_links()
        lookup = inventory_index.record_lookup(settings, "devices")
        keys = inventory_index.keys_with(settings, "devices", "SiteCode", site_code)
        names = self.asset_names(links[key] for key in keys if key in links)
        return [device_row(key, lookup(key) or {}, links.get(key), names, True) for key in keys]

    def asset_names(self, rec_ids: Iterable[str]) -> dict[str, str]:
        names = {}
        for rec_id in rec_ids:
            try:
                names[rec_id] = self.core.psa.get_asset(rec_id).name
            except NotFoundError:
                continue
        return names


def site_row(code: str, record: dict[str, str], account: str | None, names: dict[str, str],
             present: bool) -> dict[str, Any]:
    return {"site_code": code, "name": record.get("Name", ""), "client_name": record.get("ClientName", ""),
            "linked": account is not None, "account_rec_id": account,
            "account_name": names.get(account) if account else None, "in_inventory": present, "record": record}


def device_row(device_id: str, record: dict[str, str], asset: str | None, names: dict[str, str],
               present: bool) -> dict[str, Any]:
    return {"device_id": device_id, "name": record.get("Name", ""), "site_code": record.get("SiteCode", ""),
            "serial": record.get("SerialNumber", ""), "manufacturer": record.get("Manufacturer", ""),
            "linked": asset is not None, "asset_rec_id": asset, "asset_name": names.get(asset) if asset else None,
            "in_inventory": present, "record": record}
