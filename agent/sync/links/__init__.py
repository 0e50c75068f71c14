"""The links manager (R17-R22): Continuum sites and devices ↔ PSA accounts and assets.

One core shared by the command line, the web console and the request drops. Viewing needs no
privilege; every change checks the employee's privilege (R21), checks that the site or device
is in the downloaded inventory, commits its store writes and an audit row in one transaction,
and then tells the notifiers (``events.LINK_CHANGED``).

Its parts, one module each: ``inventory`` (the downloaded files, R22), ``listings`` (sites and
devices beside their links, pages of a search), ``sites`` and ``devices`` (linking),
``suggestions`` (R18), ``plan`` (review plans), ``review_sites`` and ``review_devices`` (bulk
review). What concerns an account beyond its links (rename, merge, unlink all, manager, delete)
is :mod:`agent.sync.accounts`'s.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from agent.hookspecs import APPLIED_VERDICTS, AccountPool, Suggestion
from agent.ports.psa import PsaStore
from agent.sync.links.core import LinksApp, LinksCore
from agent.sync.links.devices import DeviceLinks
from agent.sync.links.inventory import (
    Inventory,
    InventoryNotDownloaded,
    missing_inventory_message,
    missing_inventory_web,
)
from agent.sync.links.listings import Listing, Listings, Page
from agent.sync.links.plan import DevicePlanRow, PlanAction, SitePlanRow
from agent.sync.links.review_devices import REVIEW_BY, DeviceReview
from agent.sync.links.review_sites import CONTENDERS, SiteReview
from agent.sync.links.sites import SiteLinks, account_name_for_site
from agent.sync.links.suggestions import Suggestions
from config.loader import Settings

__all__ = ["CONTENDERS", "REVIEW_BY", "DevicePlanRow", "InventoryNotDownloaded", "LinksManager", "Listing", "Page",
           "PlanAction", "SitePlanRow", "account_name_for_site", "missing_inventory_message",
           "missing_inventory_web"]


class LinksManager:
    """Lists, suggests, links, unlinks and reviews: the parts above over one :class:`LinksCore`."""

    def __init__(self, app: LinksApp) -> None:
        self.core = LinksCore(app)
        self.inventory = Inventory(app.settings)
        self.listings = Listings(self.core, self.inventory)
        self.site_links = SiteLinks(self.core, self.inventory)
        self.device_links = DeviceLinks(self.core, self.inventory)
        self.suggestions = Suggestions(self.core, self.inventory)
        self.site_review = SiteReview(self.core, self.listings, self.suggestions)
        self.device_review = DeviceReview(self.core, self.inventory, self.listings, self.device_links)

    @property
    def app(self) -> LinksApp:
        return self.core.app

    @property
    def state(self) -> Any:
        return self.core.state

    @property
    def psa(self) -> PsaStore:
        return self.core.psa

    @property
    def settings(self) -> Settings:
        return self.core.settings

    def changed(self, summary: str, **data: Any) -> None:
        """A link change was written (an import of links, say): tell the notifiers once it commits."""
        self.core.changed(summary, **data)

    # -- the inventory and its listings --------------------------------------------------------
    def site(self, site_code: str) -> dict[str, str]:
        return self.inventory.site(site_code)

    def device(self, device_id: str) -> dict[str, str]:
        return self.inventory.device(device_id)

    def sites(self, linked: bool | None = None) -> list[dict[str, Any]]:
        return self.listings.sites(linked)

    def devices(self, linked: bool | None = None) -> list[dict[str, Any]]:
        return self.listings.devices(linked)

    def listing(self, kind: str, keyword: str = "") -> Listing:
        return self.listings.listing(kind, keyword)

    def page_of(self, listing: Listing, linked: bool | None, offset: int, limit: int) -> Page:
        return self.listings.page_of(listing, linked, offset, limit)

    def find_sites(self, linked: bool | None = None, keyword: str = "", offset: int = 0, limit: int = 50) -> Page:
        """A page of :meth:`sites` whose details hold every word of ``keyword`` (case and accents ignored)."""
        return self.page_of(self.listing("sites", keyword), linked, offset, limit)

    def find_devices(self, linked: bool | None = None, keyword: str = "", offset: int = 0,
                     limit: int = 50) -> Page:
        """A page of :meth:`devices`, filtered as :meth:`find_sites` does."""
        return self.page_of(self.listing("devices", keyword), linked, offset, limit)

    def devices_of_site(self, site_code: str) -> list[dict[str, Any]]:
        return self.listings.devices_of_site(site_code)

    # -- links ---------------------------------------------------------------------------------
    def link_site(self, site_code: str, account_ref: str, user: str | None) -> str | None:
        return self.site_links.link_site(site_code, account_ref, user)

    def unlink_site(self, site_code: str, user: str | None) -> str:
        return self.site_links.unlink_site(site_code, user)

    def create_account_from_site(self, site_code: str, user: str | None, name: str | None = None, *,
                                 after_client: bool = True) -> str:
        return self.site_links.create_account_from_site(site_code, user, name, after_client=after_client)

    def link_device(self, device_id: str, asset_ref: str, user: str | None) -> str | None:
        return self.device_links.link_device(device_id, asset_ref, user)

    def unlink_device(self, device_id: str, user: str | None) -> str:
        return self.device_links.unlink_device(device_id, user)

    def create_asset_from_device(self, device_id: str, account_rec_id: str | None, user: str | None) -> str:
        return self.device_links.create_asset_from_device(device_id, account_rec_id, user)

    # -- suggestions and search ----------------------------------------------------------------
    def suggestion_accounts(self) -> AccountPool:
        return self.suggestions.suggestion_accounts()

    def suggest_accounts(self, site_code: str, limit: int = 5,
                         accounts: Sequence[tuple[str, str]] | None = None) -> list[Suggestion]:
        return self.suggestions.suggest_accounts(site_code, limit, accounts)

    def suggest_assets(self, device_id: str, limit: int = 5) -> list[Suggestion]:
        return self.suggestions.suggest_assets(device_id, limit)

    def search_accounts(self, keyword: str, limit: int | None = None) -> list[dict[str, Any]]:
        return self.suggestions.search_accounts(keyword, limit)

    def search_assets(self, keyword: str) -> list[dict[str, Any]]:
        return self.suggestions.search_assets(keyword)

    # -- bulk review ---------------------------------------------------------------------------
    def review_plan(self, min_score: float | None = None, only: Collection[str] | None = None, *,
                    verdicts: Collection[str] = APPLIED_VERDICTS) -> list[SitePlanRow]:
        return self.site_review.plan(min_score, only, verdicts=verdicts)

    def apply(self, plan: list[SitePlanRow], user: str | None) -> list[SitePlanRow]:
        return self.site_review.apply(plan, user)

    def review(self, min_score: float | None = None, dry_run: bool = False, user: str | None = None, *,
               apply: bool = False, verdicts: Collection[str] = APPLIED_VERDICTS) -> list[SitePlanRow]:
        return self.site_review.review(min_score, dry_run, user, apply=apply, verdicts=verdicts)

    def device_review_plan(self, by: str = "serial", keyword: str = "",
                           only: Collection[str] | None = None) -> list[DevicePlanRow]:
        return self.device_review.plan(by, keyword, only)

    def apply_devices(self, plan: list[DevicePlanRow], user: str | None) -> list[DevicePlanRow]:
        return self.device_review.apply(plan, user)

    def devices_without_candidates(self, plan: list[DevicePlanRow]) -> list[dict[str, Any]]:
        return self.device_review.devices_without_candidates(plan)

    def create_missing_assets(self, devices: list[dict[str, Any]], user: str | None) -> list[str]:
        return self.device_review.create_missing_assets(devices, user)
