"""The bulk review of unlinked devices: each with the unlinked asset of the same serial number or
machine name, the sure matches linked in one transaction, and assets made for the devices of
linked sites that have none."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from agent.errors import UsageError
from agent.hookspecs import Suggestion
from agent.sync.links.core import LinksCore
from agent.sync.links.devices import DeviceLinks
from agent.sync.links.inventory import Inventory, fold
from agent.sync.links.listings import Listings
from agent.sync.links.plan import DevicePlanRow, PlanAction
from agent.sync.links.suggestions import asset_candidate
from dbsys import inventory as inventory_index

REVIEW_BY = ("auto", "serial", "name")


class DeviceReview:
    def __init__(self, core: LinksCore, inventory: Inventory, listings: Listings, devices: DeviceLinks) -> None:
        self.core = core
        self.inventory = inventory
        self.listings = listings
        self.devices = devices

    def plan(self, by: str = "serial", keyword: str = "", only: Collection[str] | None = None) -> list[DevicePlanRow]:
        """Unlinked devices that have an unlinked asset of the same serial number (``by="serial"``)
        or machine name (``by="name"``), each with its candidates ranked by the asset hook;
        ``by="auto"``: the serial number first, then, for the devices it leaves, the machine name
        among the assets of the account linked to the device's site.

        ``action`` is ``link`` only for a sure match: one asset and one device share the value and
        the hook ranks that asset 100 (serial) or at least 95 (name). Ties (several assets or
        several devices share it) and weaker matches read ``review``: a person decides.
        """
        if by not in REVIEW_BY:
            raise UsageError(f"devices are matched by {' or '.join(REVIEW_BY)}, not {by!r}")
        if by == "auto":
            return self._auto_plan(keyword, only)
        return self._plan(by, keyword, only, within_site_account=False)

    def _auto_plan(self, keyword: str, only: Collection[str] | None) -> list[DevicePlanRow]:
        # A serial number the asset hook does not vouch for (a placeholder) says nothing: the name may.
        by_serial = [row for row in self._plan("serial", keyword, only, within_site_account=False) if row.score > 0]
        done = {row.device_id for row in by_serial}
        by_name = [row for row in self._plan("name", keyword, only, within_site_account=True)
                   if row.device_id not in done]
        sure = {row.asset_rec_id for row in by_serial if row.action is PlanAction.LINK}
        # an asset a serial number claims is not also given away by a name
        by_name = [replace(row, action=PlanAction.REVIEW, tie=True) if row.asset_rec_id in sure else row
                   for row in by_name]
        return by_serial + by_name

    def _plan(self, by: str, keyword: str, only: Collection[str] | None, *,
              within_site_account: bool) -> list[DevicePlanRow]:
        core = self.core
        field = "SerialNumber" if by == "serial" else "Name"
        key_of = _serial_key if by == "serial" else _host_key
        links: dict[str, str] = core.state.device_links()
        taken = set(links.values())
        groups: dict[str, list[dict[str, Any]]] = {}
        for a in core.psa.list_assets():
            key = key_of(a.serial if by == "serial" else a.name)
            if key and a.rec_id not in taken:
                groups.setdefault(key, []).append(asset_candidate(a))
        if not groups:
            return []
        self.inventory.require("devices")
        lookup = inventory_index.record_lookup(core.settings, "devices")
        words = fold(keyword).split()
        wanted = set(only) if only is not None else None
        matched: list[tuple[str, dict[str, str], str]] = []
        for device_id, text in inventory_index.searchable(core.settings, "devices"):
            if device_id in links or (wanted is not None and device_id not in wanted):
                continue
            if words and not all(w in text for w in words):
                continue
            record = lookup(device_id) or {}
            key = key_of(record.get(field, ""))
            if key in groups:
                matched.append((device_id, record, key))
        devices_per_key: dict[str, int] = {}
        for _, _, key in matched:
            devices_per_key[key] = devices_per_key.get(key, 0) + 1
        sure = 100.0 if by == "serial" else 95.0
        plan = []
        site_links: dict[str, str] = core.state.site_links() if within_site_account else {}
        for device_id, record, key in matched:
            candidates = groups[key]
            if within_site_account:
                account = site_links.get(record.get("SiteCode", ""))
                candidates = [c for c in candidates if account and c["account_rec_id"] == account]
                if not candidates:
                    continue
            found = core.app.pm.hook.zenith_suggest_assets(device=record, assets=candidates,
                                                           limit=len(candidates), settings=core.settings)
            ranked = list(found or [])
            if ranked:
                top = ranked[0]
            else:  # the hook does not vouch for any of them (a placeholder serial, say)
                top = Suggestion(candidates[0]["rec_id"], candidates[0]["name"], 0.0,
                                 f"same {'serial number' if by == 'serial' else 'machine name'}, not trusted")
            tie = len(candidates) > 1 or devices_per_key[key] > 1
            weak = top.score < sure
            plan.append(DevicePlanRow(
                device_id=device_id, device_name=record.get("Name", ""), serial=record.get("SerialNumber", ""),
                site_code=record.get("SiteCode", ""), asset_rec_id=top.rec_id, asset_name=top.name,
                score=top.score, reason=top.reason, tie=tie, weak=weak,
                candidates=[(c["rec_id"], c["name"]) for c in candidates],
                action=PlanAction.REVIEW if tie or weak else PlanAction.LINK))
        return plan

    def apply(self, plan: list[DevicePlanRow], user: str | None) -> list[DevicePlanRow]:
        """Link every plan row whose action is ``link``, in one transaction; returns the plan with
        those rows ``linked``."""
        core = self.core
        core.privilege(user, "link devices to assets")
        chosen = [row for row in plan if row.action is PlanAction.LINK]
        if not chosen:
            return plan
        with core.app.unit_of_work():
            for row in chosen:
                asset = core.psa.get_asset(row.asset_rec_id)
                core.state.link_device(row.device_id, asset.rec_id, by=user or "")
                core.state.audit(user or "", "link_device", f"device {row.device_id} {row.device_name!r} → "
                                 f"asset {asset.rec_id} {asset.name!r} (review, {row.reason})")
        core.changed(f"{len(chosen)} device(s) linked by review by {user}", action="review_devices", user=user,
                     links={row.device_id: row.asset_rec_id for row in chosen})
        return [replace(row, action=PlanAction.LINKED) if row.action is PlanAction.LINK else row for row in plan]

    def devices_without_candidates(self, plan: list[DevicePlanRow]) -> list[dict[str, Any]]:
        """Unlinked devices of linked sites that the plan has no asset for: what ``--create-missing``
        makes assets of."""
        planned = {row.device_id for row in plan}
        site_links = self.core.state.site_links()
        return [row for row in self.listings.devices(linked=False)
                if row["device_id"] not in planned and row["in_inventory"]
                and site_links.get(row["record"].get("SiteCode", ""))]

    def create_missing_assets(self, devices: list[dict[str, Any]], user: str | None) -> list[str]:
        """An asset from each device (in its site's account), linked; the new REC IDs."""
        self.core.privilege(user, "create assets from devices")
        return [self.devices.create_asset_from_device(row["device_id"], None, user) for row in devices]


def _serial_key(serial: str) -> str:
    return "".join(c for c in (serial or "").upper() if c.isalnum())


def _host_key(name: str) -> str:
    text = fold(name).strip()
    if "." in text and " " not in text:  # a fully qualified name: the host part
        text = text.split(".", 1)[0]
    return " ".join(text.split())
