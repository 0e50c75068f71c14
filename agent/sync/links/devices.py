"""Continuum devices ↔ PSA assets (R17-R22): link, unlink, and a new asset made from a device.

As for sites: the privilege (R21) and the inventory are checked first, the link and its audit
row commit together, and the notifiers hear of it after the commit.
"""

from __future__ import annotations

from agent.errors import AlreadyLinked, NotLinked
from agent.sync import lookup
from agent.sync.links.core import LinksCore
from agent.sync.links.inventory import Inventory

# The device children copied into an asset's own fields; every other non-empty one goes to its notes.
ASSET_FIELDS = ("Name", "SerialNumber", "Manufacturer")


class DeviceLinks:
    def __init__(self, core: LinksCore, inventory: Inventory) -> None:
        self.core = core
        self.inventory = inventory

    def link_device(self, device_id: str, asset_ref: str, user: str | None) -> str | None:
        """Link a device to an asset named by REC ID or exact name (one to one); returns the
        previous asset. Linked so already: nothing changes."""
        core = self.core
        core.privilege(user, "link devices to assets")
        device = self.inventory.device(device_id)
        asset = lookup.asset(core.psa, asset_ref)
        if core.state.asset_for_device(device_id) == asset.rec_id:
            return asset.rec_id
        with core.app.unit_of_work():
            previous: str | None = core.state.link_device(device_id, asset.rec_id, by=user or "")
            core.state.audit(user or "", "link_device", f"device {device_id} {device.get('Name', '')!r} → asset "
                             f"{asset.rec_id} {asset.name!r}" + (f" (was {previous})" if previous else ""))
        core.changed(f"device {device_id} linked to asset {asset.name!r} by {user}", action="link_device",
                     device_id=device_id, asset_rec_id=asset.rec_id, previous=previous, user=user)
        return previous

    def unlink_device(self, device_id: str, user: str | None) -> str:
        """Remove one device's link; returns the asset it pointed to."""
        core = self.core
        core.privilege(user, "unlink devices")
        asset: str | None = core.state.asset_for_device(device_id)
        if asset is None:
            self.inventory.device(device_id)
            raise NotLinked(f"device {device_id!r}", "an asset", "nothing to unlink")
        with core.app.unit_of_work():
            core.state.unlink_device(device_id)
            core.state.audit(user or "", "unlink_device", f"device {device_id} from asset {asset}")
        core.changed(f"device {device_id} unlinked from asset {asset} by {user}", action="unlink_device",
                     device_id=device_id, asset_rec_id=asset, user=user)
        return asset

    def create_asset_from_device(self, device_id: str, account_rec_id: str | None, user: str | None) -> str:
        """R17: a new asset (name, serial number, manufacturer; other details in its notes), linked."""
        core = self.core
        core.privilege(user, "create assets from devices")
        device = self.inventory.device(device_id)
        current = core.state.asset_for_device(device_id)
        if current:
            raise AlreadyLinked(f"device {device_id!r}", f"asset {current}",
                                f"unlink it first ('zenithlink links unlink-device {device_id}')",
                                "remove its link first (Remove link, on the device)")
        account = core.psa.get_account(account_rec_id or self._site_account(device_id, device))
        name = (device.get("Name") or "").strip() or device_id
        notes = "\n".join(f"{tag}: {value}" for tag, value in device.items()
                          if tag not in ASSET_FIELDS and (value or "").strip())
        with core.app.unit_of_work():
            rec_id = core.psa.add_asset(name, account.rec_id, serial=device.get("SerialNumber", "").strip(),
                                        manufacturer=device.get("Manufacturer", "").strip(), notes=notes)
            core.state.link_device(device_id, rec_id, by=user or "")
            core.state.audit(user or "", "create_asset_from_device",
                             f"asset {rec_id} {name!r} in account {account.rec_id} from device {device_id}")
        core.changed(f"asset {name!r} created from device {device_id} by {user}", action="create_asset_from_device",
                     device_id=device_id, asset_rec_id=rec_id, account_rec_id=account.rec_id, user=user)
        return rec_id

    def _site_account(self, device_id: str, device: dict[str, str]) -> str:
        site_code = device.get("SiteCode", "")
        account: str | None = self.core.state.account_for_site(site_code) if site_code else None
        if account is None:
            raise NotLinked(
                f"site {site_code!r} of device {device_id!r}", "an account",
                f"so the new asset has no account to go to. Link the site first ('zenithlink links link-site "
                f"{site_code} ACCOUNT') or name the account (--account REC_ID).",
                "so the new asset has no account to go to. Pick its account with the account search on the "
                "device, or link the site first on the Sites page")
        return account
