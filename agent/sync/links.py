"""The links manager (R17-R22): Continuum sites and devices ↔ PSA accounts and assets.

One core shared by the command line and the request drops. Viewing needs no privilege; every
change checks the employee's privilege (R21), checks that the site or device is in the
downloaded inventory, commits its store writes and an audit row in one transaction, and then
tells the notifiers (``events.LINK_CHANGED``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from loguru import logger

from agent import events
from agent.errors import AlreadyLinked, NotFoundError, NotLinked, PreconditionError, UsageError, ZenithError
from agent.hookspecs import APPLIED_VERDICTS, AccountPool, Suggestion
from agent.sync import lookup, records
from dbsys import inventory as inventory_index

# The device children copied into an asset's own fields; every other non-empty one goes to its notes.
_ASSET_FIELDS = ("Name", "SerialNumber", "Manufacturer")
_KIND_WORD = {"sites": "site", "devices": "device"}


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


REVIEW_BY = ("auto", "serial", "name")
CONTENDERS = 3


class InventoryNotDownloaded(PreconditionError):
    """R22: the .cmt files are not there yet."""

    code = "NoInventory"


def missing_inventory_message(path: Path) -> str:
    folder = path.parent
    return (f"The Continuum sites and devices have not been downloaded yet ({path.name} is not in {folder}). "
            "Check that the zenithlink service is running ('zenithlink status'), that the PSG in the INI is "
            "right, and that the agent is activated in Continuum (activation can take up to 24 hours); then "
            "run 'zenithlink inventory refresh'. Why a download failed is written to the error reports in "
            f"{folder / 'ZenithErrors'} ('zenithlink errors list').")


def missing_inventory_web(path: Path) -> str:
    return ("The Continuum sites and devices have not been downloaded yet. The agent downloads them when it "
            "runs and is activated in Continuum (activation can take up to 24 hours); the Status page says when "
            "the last inventory refresh ran, and its error reports say why a download failed.")


def _damaged_web(damage: str) -> str:
    return (f"The inventory file {damage}. The next inventory refresh downloads it again; the Status page says "
            "when the last one ran and what failed.")


class LinksManager:
    """Lists, suggests, links and unlinks; ``app`` is an :class:`agent.app.App`."""

    def __init__(self, app) -> None:
        self.app = app
        self._names: list[tuple[str, str]] | None = None

    def _account_names(self) -> list[tuple[str, str]]:
        """``psa.account_names()``, read once per :class:`LinksManager` until it changes something
        (a page asks for them several times: suggestions, search, rows)."""
        if self._names is None:
            self._names = self.psa.account_names()
        return self._names

    @property
    def state(self):
        return self.app.state

    @property
    def psa(self):
        return self.app.psa

    @property
    def settings(self):
        return self.app.settings

    def _links(self, kind: str) -> dict[str, str]:
        """The site (or device) links of this manager's RMM: several RMMs may share the store."""
        links: dict[str, str] = self.state.site_links() if kind == "sites" else self.state.device_links()
        if not getattr(self.settings, "rmm_instances", None) and not getattr(self.settings, "rmm_namespace", ""):
            return links
        return {key: value for key, value in links.items() if inventory_index.belongs(self.settings, key)}

    # -- the inventory files ---------------------------------------------------------------
    def _require(self, kind: str) -> Path:
        path = inventory_index.inventory_path(self.settings, kind)
        if not path.is_file():
            raise InventoryNotDownloaded(missing_inventory_message(path), web_message=missing_inventory_web(path))
        return path

    def _iter(self, kind: str) -> Iterator[dict[str, str]]:
        from dbsys import cmt

        path = self._require(kind)
        try:
            yield from cmt.read_inventory(path, kind)  # type: ignore[arg-type]
        except cmt.MissingInventory:
            raise InventoryNotDownloaded(missing_inventory_message(path),
                                         web_message=missing_inventory_web(path)) from None
        except (ValueError, OSError) as exc:
            raise PreconditionError(f"The inventory file {path.name} cannot be read ({exc}). Run "
                                    "'zenithlink inventory refresh' to download it again.",
                                    web_message=_damaged_web(f"{path.name} cannot be read ({exc})")) from None

    def site(self, site_code: str) -> dict[str, str]:
        """The site's record from the inventory; R22 when not downloaded, ``NotFoundError`` if unknown."""
        return self._record("sites", site_code)

    def device(self, device_id: str) -> dict[str, str]:
        """The device's record from the inventory; R22 when not downloaded, ``NotFoundError`` if unknown."""
        return self._record("devices", device_id)

    def _record(self, kind: str, key: str) -> dict[str, str]:
        self._require(kind)
        look_up = inventory_index.site_record if kind == "sites" else inventory_index.device_record
        record = look_up(self.settings, key)
        if record is None:
            damage = inventory_index.problem(self.settings, kind)
            if damage:
                raise PreconditionError(f"The inventory file {damage}. Run 'zenithlink inventory refresh' "
                                        "to download it again.", web_message=_damaged_web(damage))
            word = _KIND_WORD[kind]
            raise NotFoundError(
                f"there is no {word} {key!r} in the downloaded inventory; 'zenithlink links {kind}' lists "
                f"them. If the {word} is new in Continuum, run 'zenithlink inventory refresh' first.",
                web_message=f"there is no {word} {key!r} in the downloaded inventory: pick one from the "
                            f"{kind.capitalize()} page. A {word} new in Continuum appears after the next inventory "
                            "refresh (the Status page says when the last one ran).")
        return record

    # -- listings --------------------------------------------------------------------------
    def sites(self, linked: bool | None = None) -> list[dict[str, Any]]:
        """Sites of the inventory with their account; ``linked`` True/False filters, None lists all.

        Links whose site is no longer in the inventory are listed too (``in_inventory`` False),
        unless only unlinked sites are asked for, so that they can be found and removed.
        """
        links = self._links("sites")
        names = dict(self.psa.account_names())
        rows, seen = [], set()
        for record in self._iter("sites"):
            code = record.get("SiteCode", "")
            seen.add(code)
            rows.append(_site_row(code, record, links.get(code), names, True))
        rows += [_site_row(code, {}, account, names, False) for code, account in sorted(links.items())
                 if code not in seen]
        return [r for r in rows if linked is None or r["linked"] == linked]

    def devices(self, linked: bool | None = None) -> list[dict[str, Any]]:
        """Devices of the inventory with their asset; ``linked`` filters as for :meth:`sites`."""
        links = self._links("devices")
        names = {a.rec_id: a.name for a in self.psa.list_assets()}
        rows, seen = [], set()
        for record in self._iter("devices"):
            device_id = record.get("DeviceID", "")
            seen.add(device_id)
            rows.append(_device_row(device_id, record, links.get(device_id), names, True))
        rows += [_device_row(d, {}, asset, names, False) for d, asset in sorted(links.items()) if d not in seen]
        return [r for r in rows if linked is None or r["linked"] == linked]

    def find_sites(self, linked: bool | None = None, keyword: str = "", offset: int = 0,
                   limit: int = 50) -> Page:
        """A page of :meth:`sites` whose details hold every word of ``keyword`` (case and accents ignored).

        Meant for screens that show a page at a time of thousands: the file is searched through the
        inventory index (read once per version of the file) and only the page's rows are built.
        """
        return self._find("sites", linked, keyword, offset, limit)

    def find_devices(self, linked: bool | None = None, keyword: str = "", offset: int = 0,
                     limit: int = 50) -> Page:
        """A page of :meth:`devices`, filtered as :meth:`find_sites` does."""
        return self._find("devices", linked, keyword, offset, limit)

    def _find(self, kind: str, linked: bool | None, keyword: str, offset: int, limit: int) -> Page:
        return self.page_of(self.listing(kind, keyword), linked, offset, limit)

    def listing(self, kind: str, keyword: str = "") -> Listing:
        """The ``kind`` ("sites" or "devices") records holding every word of ``keyword`` (case and
        accents ignored), in the listing's order: one pass over the inventory index, from which a
        screen takes its counts, its page and the next unlinked record."""
        self._require(kind)
        damage = inventory_index.problem(self.settings, kind)
        if damage:
            raise PreconditionError(f"The inventory file {damage}. Run 'zenithlink inventory refresh' "
                                    "to download it again.", web_message=_damaged_web(damage))
        links = self._links(kind)
        words = _fold(keyword).split()
        entries = inventory_index.searchable(self.settings, kind)
        matched = entries
        for word in words:  # one word at a time: each pass looks only at what the last one kept
            matched = [(key, text) for key, text in matched if word in text]
        every = [key for key, _ in matched]
        if links:  # links to records Continuum no longer lists, so they can be found and removed
            present = {key for key, _ in entries}
            every += [key for key in sorted(links) if key not in present and all(w in _fold(key) for w in words)]
        return Listing(kind, every, links)

    def page_of(self, listing: Listing, linked: bool | None, offset: int, limit: int) -> Page:
        """One page of ``listing`` (of its tab ``linked``; None: both), its rows built."""
        kind, links = listing.kind, listing.links
        keys = listing.keys(linked)
        offset = max(0, offset)
        chosen = keys[offset:offset + max(1, limit)]
        lookup = inventory_index.record_lookup(self.settings, kind)
        records = {key: lookup(key) for key in chosen}
        if kind == "sites":
            names = dict(self._account_names()) if any(key in links for key in chosen) else {}
            rows = [_site_row(key, records[key] or {}, links.get(key), names, records[key] is not None)
                    for key in chosen]
        else:
            names = self._asset_names(links[key] for key in chosen if key in links)
            rows = [_device_row(key, records[key] or {}, links.get(key), names, records[key] is not None)
                    for key in chosen]
        return Page(rows, len(keys), offset, limit)

    def _asset_names(self, rec_ids) -> dict[str, str]:
        names = {}
        for rec_id in rec_ids:
            try:
                names[rec_id] = self.psa.get_asset(rec_id).name
            except NotFoundError:
                continue
        return names

    # -- sites ↔ accounts ------------------------------------------------------------------
    def link_site(self, site_code: str, account_ref: str, user: str | None) -> str | None:
        """Link a site to an account named by REC ID or exact name (several sites may share one);
        returns the previous account. Linked so already: nothing changes."""
        self._privilege(user, "link sites to accounts")
        site = self.site(site_code)
        account = lookup.account(self.psa, account_ref)
        if self.state.account_for_site(site_code) == account.rec_id:
            return account.rec_id
        with self.app.unit_of_work():
            previous = self.state.link_site(site_code, account.rec_id, by=user or "")
            self.state.audit(user or "", "link_site", f"site {site_code} {site.get('Name', '')!r} → account "
                             f"{account.rec_id} {account.name!r}" + (f" (was {previous})" if previous else ""))
        self._changed(f"site {site_code} linked to account {account.name!r} by {user}", action="link_site",
                      site_code=site_code, account_rec_id=account.rec_id, previous=previous, user=user)
        return previous

    def unlink_site(self, site_code: str, user: str | None) -> str:
        """Remove one site's link; returns the account it pointed to."""
        self._privilege(user, "unlink sites")
        account = self.state.account_for_site(site_code)
        if account is None:
            self.site(site_code)  # R22 / unknown site come first: they say more
            raise NotLinked(f"site {site_code!r}", "an account", "nothing to unlink")
        with self.app.unit_of_work():
            self.state.unlink_site(site_code)
            self.state.audit(user or "", "unlink_site", f"site {site_code} from account {account}")
        self._changed(f"site {site_code} unlinked from account {account} by {user}", action="unlink_site",
                      site_code=site_code, account_rec_id=account, user=user)
        return account

    def unlink_account(self, account_rec_id: str, user: str | None) -> dict[str, Any]:
        """R19: remove all site links of the account and the Continuum links of its tickets and assets."""
        self._privilege(user, "unlink accounts")
        account = self.psa.get_account(account_rec_id)
        with self.app.unit_of_work():
            removed = records.unlink_account(self.state, self.psa, account.rec_id)
            self.state.audit(user or "", "unlink_account", f"account {account.rec_id} {account.name!r}: "
                             f"{len(removed['sites'])} site link(s), {removed['ticket_links']} ticket link(s), "
                             f"{removed['device_links']} device link(s) removed")
        self._changed(f"every Continuum link of account {account.name!r} removed by {user}",
                      action="unlink_account", account_rec_id=account.rec_id, user=user, **removed)
        return removed

    def create_account_from_site(self, site_code: str, user: str | None, name: str | None = None, *,
                                 after_client: bool = True) -> str:
        """R17: a new account linked to the site, named ``name`` or else after the site's client
        (:func:`account_name_for_site`; with ``after_client`` False, after the site itself);
        returns its REC ID."""
        self._privilege(user, "create accounts from sites")
        site = self.site(site_code)
        current = self.state.account_for_site(site_code)
        if current:
            raise AlreadyLinked(f"site {site_code!r}", f"account {current}",
                                f"unlink it first ('zenithlink links unlink-site {site_code}')",
                                "remove its link first (Remove link, on the site)")
        name = " ".join((name or "").split()) or account_name_for_site(site_code, site if after_client else
                                                                       {"Name": site.get("Name", "")})
        with self.app.unit_of_work():
            rec_id = self.psa.add_account(name)
            self.state.link_site(site_code, rec_id, by=user or "")
            self.state.audit(user or "", "create_account_from_site", f"account {rec_id} {name!r} from site {site_code}")
        self._changed(f"account {name!r} created from site {site_code} by {user}", action="create_account_from_site",
                      site_code=site_code, account_rec_id=rec_id, user=user)
        return rec_id

    def rename_account(self, rec_id: str, name: str, user: str | None) -> str:
        """Rename an account (an auto-created one that turns out to be the site's real account);
        its site links stay. Returns the old name."""
        old = self.psa.get_account(rec_id).name
        self._names = None
        with self.app.unit_of_work():
            self.psa.rename_account(rec_id, name)
            self.state.audit(user or "", "rename_account", f"{rec_id} {old!r} -> {name!r}")
        return old

    def merge_accounts(self, source: str, into: str, user: str | None) -> dict[str, int]:
        """R20: move the site links, tickets and assets of ``source`` to ``into``; no relinking needed."""
        self._privilege(user, "merge accounts")
        src, dst = self.psa.get_account(source), self.psa.get_account(into)
        with self.app.unit_of_work():
            moved = records.merge_accounts(self.state, self.psa, src.rec_id, dst.rec_id)
            self.state.audit(user or "", "merge_accounts", f"{src.rec_id} {src.name!r} into {dst.rec_id} "
                             f"{dst.name!r}: {moved}")
        self._changed(f"account {src.name!r} merged into {dst.name!r} by {user}", action="merge_accounts",
                      source=src.rec_id, into=dst.rec_id, user=user, **moved)
        return moved

    # -- devices ↔ assets ------------------------------------------------------------------
    def link_device(self, device_id: str, asset_ref: str, user: str | None) -> str | None:
        """Link a device to an asset named by REC ID or exact name (one to one); returns the
        previous asset. Linked so already: nothing changes."""
        self._privilege(user, "link devices to assets")
        device = self.device(device_id)
        asset = lookup.asset(self.psa, asset_ref)
        if self.state.asset_for_device(device_id) == asset.rec_id:
            return asset.rec_id
        with self.app.unit_of_work():
            previous = self.state.link_device(device_id, asset.rec_id, by=user or "")
            self.state.audit(user or "", "link_device", f"device {device_id} {device.get('Name', '')!r} → asset "
                             f"{asset.rec_id} {asset.name!r}" + (f" (was {previous})" if previous else ""))
        self._changed(f"device {device_id} linked to asset {asset.name!r} by {user}", action="link_device",
                      device_id=device_id, asset_rec_id=asset.rec_id, previous=previous, user=user)
        return previous

    def unlink_device(self, device_id: str, user: str | None) -> str:
        """Remove one device's link; returns the asset it pointed to."""
        self._privilege(user, "unlink devices")
        asset = self.state.asset_for_device(device_id)
        if asset is None:
            self.device(device_id)
            raise NotLinked(f"device {device_id!r}", "an asset", "nothing to unlink")
        with self.app.unit_of_work():
            self.state.unlink_device(device_id)
            self.state.audit(user or "", "unlink_device", f"device {device_id} from asset {asset}")
        self._changed(f"device {device_id} unlinked from asset {asset} by {user}", action="unlink_device",
                      device_id=device_id, asset_rec_id=asset, user=user)
        return asset

    def create_asset_from_device(self, device_id: str, account_rec_id: str | None, user: str | None) -> str:
        """R17: a new asset (name, serial number, manufacturer; other details in its notes), linked."""
        self._privilege(user, "create assets from devices")
        device = self.device(device_id)
        current = self.state.asset_for_device(device_id)
        if current:
            raise AlreadyLinked(f"device {device_id!r}", f"asset {current}",
                                f"unlink it first ('zenithlink links unlink-device {device_id}')",
                                "remove its link first (Remove link, on the device)")
        account = self.psa.get_account(account_rec_id or self._device_account(device_id, device))
        name = (device.get("Name") or "").strip() or device_id
        notes = "\n".join(f"{tag}: {value}" for tag, value in device.items()
                          if tag not in _ASSET_FIELDS and (value or "").strip())
        with self.app.unit_of_work():
            rec_id = self.psa.add_asset(name, account.rec_id, serial=device.get("SerialNumber", "").strip(),
                                          manufacturer=device.get("Manufacturer", "").strip(), notes=notes)
            self.state.link_device(device_id, rec_id, by=user or "")
            self.state.audit(user or "", "create_asset_from_device",
                             f"asset {rec_id} {name!r} in account {account.rec_id} from device {device_id}")
        self._changed(f"asset {name!r} created from device {device_id} by {user}", action="create_asset_from_device",
                      device_id=device_id, asset_rec_id=rec_id, account_rec_id=account.rec_id, user=user)
        return rec_id

    def _device_account(self, device_id: str, device: dict[str, str]) -> str:
        site_code = device.get("SiteCode", "")
        account = self.state.account_for_site(site_code) if site_code else None
        if account is None:
            raise NotLinked(
                f"site {site_code!r} of device {device_id!r}", "an account",
                f"so the new asset has no account to go to. Link the site first ('zenithlink links link-site "
                f"{site_code} ACCOUNT') or name the account (--account REC_ID).",
                "so the new asset has no account to go to. Pick its account with the account search on the "
                "device, or link the site first on the Sites page")
        return account

    # -- suggestions and search (R18; no privilege needed) ---------------------------------
    def suggestion_accounts(self) -> AccountPool:
        """The accounts suggestions are drawn from: auto-created ones are left out (merge them instead).

        While the accounts do not change, the same pool is handed out again, so that a matcher
        that indexes the accounts (the built-in one does) keeps its index on the pool and builds it once.
        """
        # Only a new, renamed or merged account changes the pool, and each changes the names too:
        # the light list of names tells whether the pool made last time still holds.
        names = self._account_names()
        memo: dict[str, Any] = self.app.shared("suggestion_accounts", dict)
        last_names, last_pool = memo.get("last", (None, None))
        if last_names == names:
            return last_pool
        pool = AccountPool((a.rec_id, a.name) for a in self.psa.list_accounts() if not a.auto_created)
        memo["last"] = (names, pool)  # one assignment: a reader in another thread sees both or neither
        return pool

    def suggest_accounts(self, site_code: str, limit: int = 5,
                         accounts: list[tuple[str, str]] | None = None) -> list[Suggestion]:
        """The accounts whose names are most alike the site's, best first."""
        site = self.site(site_code)
        pool = self.suggestion_accounts() if accounts is None else accounts
        return self._suggest_accounts(site, pool, limit)

    def _suggest_accounts(self, site: dict, accounts: list[tuple[str, str]], limit: int) -> list[Suggestion]:
        # The matcher's answer depends on the site's details and the pool only: while the pool is
        # the same object (the accounts did not change) an answer is kept, so a review of 500 sites
        # or a screen worked through site by site asks the matcher once per site.
        memo: dict[str, Any] = self.app.shared("suggestions_of_sites", dict)
        kept = memo.get("pool")
        if kept is None or kept[0] is not accounts:
            kept = (accounts, {})
            memo["pool"] = kept  # one assignment: another thread sees the old memo or the new one
        answers: dict[tuple, list[Suggestion]] = kept[1]
        key = (tuple(site.items()), limit)
        found = answers.get(key)
        if found is None:
            found = list(self.app.pm.hook.zenith_suggest_accounts(site=site, accounts=accounts, limit=limit,
                                                                  settings=self.settings) or [])[:limit]
            answers[key] = found
        return list(found)

    def suggest_assets(self, device_id: str, limit: int = 5) -> list[Suggestion]:
        """The assets most likely to be the device's (same serial number first), best first."""
        device = self.device(device_id)
        taken = set(self.state.device_links().values())
        assets = [{"rec_id": a.rec_id, "name": a.name, "serial": a.serial, "account_rec_id": a.account_rec_id,
                   "manufacturer": a.manufacturer} for a in self.psa.list_assets() if a.rec_id not in taken]
        found = self.app.pm.hook.zenith_suggest_assets(device=device, assets=assets, limit=limit,
                                                       settings=self.settings)
        return list(found or [])[:limit]

    def search_accounts(self, keyword: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Accounts whose name contains every word of ``keyword`` (case and accents ignored), the
        first ``limit`` of them when given."""
        words = _words(keyword)
        found = [(rec_id, name) for rec_id, name, folded in self._folded_account_names()
                 if all(w in folded for w in words)]
        chosen = found if limit is None else found[:limit]
        real = {rec_id for rec_id, _ in self.suggestion_accounts()} if chosen else set()  # not auto-created
        return [{"rec_id": rec_id, "name": name, "auto_created": rec_id not in real,
                 "sites": self.state.sites_for_account(rec_id)} for rec_id, name in chosen]

    def _folded_account_names(self) -> list[tuple[str, str, str]]:
        """``(rec_id, name, name folded for search)`` of every account; folded again only when the
        names change, as :meth:`suggestion_accounts` does."""
        names = self._account_names()
        memo: dict[str, Any] = self.app.shared("folded_account_names", dict)
        last_names, last_folded = memo.get("last", (None, None))
        if last_names == names:
            return last_folded
        folded = [(rec_id, name, _fold(name)) for rec_id, name in names]
        memo["last"] = (names, folded)  # one assignment: a reader in another thread sees both or neither
        return folded

    def devices_of_site(self, site_code: str) -> list[dict[str, Any]]:
        """The inventory's devices at the site, with their asset when linked."""
        self._require("devices")
        links = self.state.device_links()
        lookup = inventory_index.record_lookup(self.settings, "devices")
        keys = inventory_index.keys_with(self.settings, "devices", "SiteCode", site_code)
        names = self._asset_names(links[key] for key in keys if key in links)
        return [_device_row(key, lookup(key) or {}, links.get(key), names, True) for key in keys]

    def search_assets(self, keyword: str) -> list[dict[str, Any]]:
        """Assets whose name, serial number or manufacturer contain every word of ``keyword``."""
        words = _words(keyword)
        links = {asset: device for device, asset in self.state.device_links().items()}
        return [{"rec_id": a.rec_id, "name": a.name, "serial": a.serial, "manufacturer": a.manufacturer,
                 "account_rec_id": a.account_rec_id, "device_id": links.get(a.rec_id)}
                for a in self.psa.list_assets()
                if _contains(" ".join((a.name, a.serial, a.manufacturer)), words)]

    # -- bulk review -----------------------------------------------------------------------
    def review_plan(self, min_score: float | None = None, only: Collection[str] | None = None, *,
                    verdicts: Collection[str] = APPLIED_VERDICTS) -> list[dict[str, Any]]:
        """Every unlinked site (of ``only``, when given) with its best suggestion and the matcher's
        verdict on it; ``action`` says what :meth:`apply` would do: ``link`` only for a verdict in
        ``verdicts`` (exact or strong; never ``ambiguous`` or ``weak``) scoring at least ``min_score``.
        Sites of different Continuum clients that would all go to one account are left for a
        person too: one of them at most is that account's."""
        accounts = self.suggestion_accounts()
        wanted = set(only) if only is not None else None
        lookup = inventory_index.record_lookup(self.settings, "sites")
        plan = []
        for code in self.listing("sites").keys(False):
            if wanted is not None and code not in wanted:
                continue
            record = lookup(code) or {}
            best = self._suggest_accounts(record, accounts, CONTENDERS)
            top = best[0] if best else None
            verdict = (top.verdict or _verdict_from_scores(best)) if top else "none"
            selected = (top is not None and verdict in verdicts
                        and (min_score is None or top.score >= min_score))
            plan.append({"site_code": code, "site_name": record.get("Name", ""),
                         "client_name": record.get("ClientName", ""),
                         "account_rec_id": top.rec_id if top else None, "account_name": top.name if top else None,
                         "score": top.score if top else None, "reason": top.reason if top else "",
                         "verdict": verdict, "tie": verdict == "ambiguous",
                         "contenders": [s.as_dict() for s in best[1:]] if verdict == "ambiguous" else [],
                         "action": "link" if selected else ("review" if top else "no suggestion")})
        _hold_shared_accounts(plan)
        return plan

    def apply(self, plan: list[dict[str, Any]], user: str | None) -> int:
        """Link every plan row whose action is ``link``, in one transaction; returns how many."""
        self._privilege(user, "link sites to accounts")
        chosen = [row for row in plan if row["action"] == "link"]
        if not chosen:
            return 0
        with self.app.unit_of_work():
            for row in chosen:
                self.state.link_site(row["site_code"], row["account_rec_id"], by=user or "")
                self.state.audit(user or "", "link_site", f"site {row['site_code']} {row['site_name']!r} → account "
                                 f"{row['account_rec_id']} {row['account_name']!r} (review, score {row['score']})")
        for row in chosen:
            row["action"] = "linked"
        self._changed(f"{len(chosen)} site(s) linked by review by {user}", action="review", user=user,
                      links={row["site_code"]: row["account_rec_id"] for row in chosen})
        return len(chosen)

    def review(self, min_score: float | None = None, dry_run: bool = False, user: str | None = None, *,
               apply: bool = False, verdicts: Collection[str] = APPLIED_VERDICTS) -> list[dict[str, Any]]:
        """The plan; with ``apply`` (or a ``min_score``, which implies it) and not ``dry_run``, also
        link its ``link`` rows: verdict exact or strong, and at least ``min_score`` when given."""
        applying = (apply or min_score is not None) and not dry_run
        if applying:
            self._privilege(user, "link sites to accounts")
        if min_score is not None and not 0 <= min_score <= 100:
            raise UsageError(f"the minimum score must be between 0 and 100, not {min_score}")
        unknown = set(verdicts) - set(APPLIED_VERDICTS)
        if unknown:
            raise UsageError(f"a review links only {' and '.join(APPLIED_VERDICTS)} matches, not "
                             f"{', '.join(sorted(unknown))}: those need a person's choice")
        plan = self.review_plan(min_score, verdicts=verdicts)
        if applying:
            self.apply(plan, user)
        return plan

    # -- bulk review of devices -----------------------------------------------------------
    def device_review_plan(self, by: str = "serial", keyword: str = "",
                           only: Collection[str] | None = None) -> list[dict[str, Any]]:
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
            return self._auto_device_plan(keyword, only)
        return self._device_plan(by, keyword, only, within_site_account=False)

    def _auto_device_plan(self, keyword: str, only: Collection[str] | None) -> list[dict[str, Any]]:
        # A serial number the asset hook does not vouch for (a placeholder) says nothing: the name may.
        by_serial = [row for row in self._device_plan("serial", keyword, only, within_site_account=False)
                     if row["score"] > 0]
        done = {row["device_id"] for row in by_serial}
        by_name = [row for row in self._device_plan("name", keyword, only, within_site_account=True)
                   if row["device_id"] not in done]
        sure = {row["asset_rec_id"] for row in by_serial if row["action"] == "link"}
        for row in by_name:  # an asset a serial number claims is not also given away by a name
            if row["asset_rec_id"] in sure:
                row.update(action="review", tie=True)
        return by_serial + by_name

    def _device_plan(self, by: str, keyword: str, only: Collection[str] | None, *,
                     within_site_account: bool) -> list[dict[str, Any]]:
        field = "SerialNumber" if by == "serial" else "Name"
        key_of = _serial_key if by == "serial" else _host_key
        links = self.state.device_links()
        taken = set(links.values())
        groups: dict[str, list[dict[str, Any]]] = {}
        for a in self.psa.list_assets():
            key = key_of(a.serial if by == "serial" else a.name)
            if key and a.rec_id not in taken:
                groups.setdefault(key, []).append({"rec_id": a.rec_id, "name": a.name, "serial": a.serial,
                                                   "account_rec_id": a.account_rec_id,
                                                   "manufacturer": a.manufacturer})
        if not groups:
            return []
        self._require("devices")
        lookup = inventory_index.record_lookup(self.settings, "devices")
        words = _fold(keyword).split()
        wanted = set(only) if only is not None else None
        matched: list[tuple[str, dict[str, str], str]] = []
        for device_id, text in inventory_index.searchable(self.settings, "devices"):
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
        site_links = self.state.site_links() if within_site_account else {}
        for device_id, record, key in matched:
            candidates = groups[key]
            if within_site_account:
                account = site_links.get(record.get("SiteCode", ""))
                candidates = [c for c in candidates if account and c["account_rec_id"] == account]
                if not candidates:
                    continue
            found = self.app.pm.hook.zenith_suggest_assets(device=record, assets=candidates,
                                                           limit=len(candidates), settings=self.settings)
            ranked = list(found or [])
            if ranked:
                top = ranked[0]
            else:  # the hook does not vouch for any of them (a placeholder serial, say)
                top = Suggestion(candidates[0]["rec_id"], candidates[0]["name"], 0.0,
                                 f"same {'serial number' if by == 'serial' else 'machine name'}, not trusted")
            tie = len(candidates) > 1 or devices_per_key[key] > 1
            weak = top.score < sure
            plan.append({"device_id": device_id, "device_name": record.get("Name", ""),
                         "serial": record.get("SerialNumber", ""), "site_code": record.get("SiteCode", ""),
                         "asset_rec_id": top.rec_id, "asset_name": top.name, "score": top.score,
                         "reason": top.reason, "tie": tie, "weak": weak,
                         "candidates": [(c["rec_id"], c["name"]) for c in candidates],
                         "action": "review" if tie or weak else "link"})
        return plan

    def devices_without_candidates(self, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Unlinked devices of linked sites that the plan has no asset for: what ``--create-missing``
        makes assets of."""
        planned = {row["device_id"] for row in plan}
        site_links = self.state.site_links()
        return [row for row in self.devices(linked=False)
                if row["device_id"] not in planned and row["in_inventory"]
                and site_links.get(row["record"].get("SiteCode", ""))]

    def create_missing_assets(self, devices: list[dict[str, Any]], user: str | None) -> list[str]:
        """An asset from each device (in its site's account), linked; the new REC IDs."""
        self._privilege(user, "create assets from devices")
        return [self.create_asset_from_device(row["device_id"], None, user) for row in devices]

    def apply_devices(self, plan: list[dict[str, Any]], user: str | None) -> int:
        """Link every device plan row whose action is ``link``, in one transaction; returns how many."""
        self._privilege(user, "link devices to assets")
        chosen = [row for row in plan if row["action"] == "link"]
        if not chosen:
            return 0
        with self.app.unit_of_work():
            for row in chosen:
                asset = self.psa.get_asset(row["asset_rec_id"])
                self.state.link_device(row["device_id"], asset.rec_id, by=user or "")
                self.state.audit(user or "", "link_device", f"device {row['device_id']} {row['device_name']!r} → "
                                 f"asset {asset.rec_id} {asset.name!r} (review, {row['reason']})")
        for row in chosen:
            row["action"] = "linked"
        self._changed(f"{len(chosen)} device(s) linked by review by {user}", action="review_devices", user=user,
                      links={row["device_id"]: row["asset_rec_id"] for row in chosen})
        return len(chosen)

    # -- helpers ---------------------------------------------------------------------------
    def _privilege(self, user: str | None, action: str) -> dict[str, Any]:
        return self.state.require_privilege(user, action)

    def _changed(self, summary: str, **data: Any) -> None:
        """Tell the notifiers once the change is committed: a request drop applies it inside its
        own claim transaction, which may still roll back."""
        self._names = None  # an account may be new, renamed or merged
        event = events.Event(events.LINK_CHANGED, summary, data)

        def notify() -> None:
            try:
                self.app.notify(event)
            except ZenithError as exc:  # the change is committed; a broken plugin set must not undo that
                logger.warning("link change not notified: {}", exc.message)

        self.state.on_commit(notify)


def account_name_for_site(site_code: str, site: dict[str, str]) -> str:
    """The name an account made from a site gets by default: its Continuum client's, so that the
    client's other sites find it as an exact match; the site's own name when it has no client."""
    for tag in ("ClientName", "Name"):
        name = " ".join((site.get(tag) or "").split())
        if name:
            return name
    return site_code


def _verdict_from_scores(best: list[Suggestion]) -> str:
    """For a matcher that gives no verdict: only a lone best score of 100 counts as exact."""
    if best and best[0].score >= 100:
        return "ambiguous" if len(best) > 1 and best[1].score >= 100 else "exact"
    return "weak"


def _hold_shared_accounts(plan: list[dict[str, Any]]) -> None:
    """Sites of several Continuum clients bound for one account: one client at most is that
    account's. The client whose name is the account's (a lone exact match) keeps its links; the
    others are left for a person."""
    clients: dict[str, set[str]] = {}
    exact: dict[str, set[str]] = {}
    for row in plan:
        if row["action"] == "link":
            clients.setdefault(row["account_rec_id"], set()).add(_client_of(row))
            if row["verdict"] == "exact":
                exact.setdefault(row["account_rec_id"], set()).add(_client_of(row))
    for row in plan:
        account = row["account_rec_id"]
        if row["action"] != "link" or len(clients.get(account, ())) < 2:
            continue
        if exact.get(account) == {_client_of(row)}:
            continue
        row.update(action="review", verdict="ambiguous", tie=True,
                   reason=f"{row['reason']}; sites of {len(clients[account])} Continuum clients would share "
                          "this account")


def _client_of(row: dict[str, Any]) -> str:
    """Which Continuum client a site is: its client name, else its name before a location."""
    name = row["client_name"] or re.split(r"\s+[-–—|]\s+|\s*\(", row["site_name"] or "", maxsplit=1)[0]
    return _fold(name)


def _site_row(code: str, record: dict, account: str | None, names: dict[str, str], present: bool) -> dict:
    return {"site_code": code, "name": record.get("Name", ""), "client_name": record.get("ClientName", ""),
            "linked": account is not None, "account_rec_id": account,
            "account_name": names.get(account) if account else None, "in_inventory": present, "record": record}


def _device_row(device_id: str, record: dict, asset: str | None, names: dict[str, str], present: bool) -> dict:
    return {"device_id": device_id, "name": record.get("Name", ""), "site_code": record.get("SiteCode", ""),
            "serial": record.get("SerialNumber", ""), "manufacturer": record.get("Manufacturer", ""),
            "linked": asset is not None, "asset_rec_id": asset, "asset_name": names.get(asset) if asset else None,
            "in_inventory": present, "record": record}


def _fold(text: str) -> str:
    return inventory_index.fold(text)


def _serial_key(serial: str) -> str:
    return "".join(c for c in (serial or "").upper() if c.isalnum())


def _host_key(name: str) -> str:
    text = _fold(name).strip()
    if "." in text and " " not in text:  # a fully qualified name: the host part
        text = text.split(".", 1)[0]
    return " ".join(text.split())


def _words(keyword: str) -> list[str]:
    words = _fold(keyword).split()
    if not words:
        raise UsageError("give a keyword to search for")
    return words


def _contains(text: str, words: list[str]) -> bool:
    folded = _fold(text)
    return all(w in folded for w in words)
