"""Suggestions and searches (R18; no privilege needed): the accounts most alike a site, the assets
most likely a device's, and the accounts and assets holding a keyword."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.errors import UsageError
from agent.hookspecs import AccountPool, Suggestion
from agent.ports.psa import Asset
from agent.sync.links.core import LinksCore
from agent.sync.links.inventory import Inventory, fold


class Suggestions:
    def __init__(self, core: LinksCore, inventory: Inventory) -> None:
        self.core = core
        self.inventory = inventory

    def suggestion_accounts(self) -> AccountPool:
        """The accounts suggestions are drawn from: auto-created ones are left out (merge them instead).

        While the accounts do not change, the same pool is handed out again, so that a matcher
        that indexes the accounts (the built-in one does) keeps its index on the pool and builds it once.
        """
        # Only a new, renamed or merged account changes the pool, and each changes the names too:
        # the light list of names tells whether the pool made last time still holds.
        names = self.core.account_names()
        memos = self.core.app.suggestion_memos
        kept = memos.accounts
        if kept is not None and kept[0] == names:
            return kept[1]
        pool = AccountPool((a.rec_id, a.name) for a in self.core.psa.list_accounts() if not a.auto_created)
        memos.accounts = (names, pool)
        return pool

    def suggest_accounts(self, site_code: str, limit: int = 5,
                         accounts: Sequence[tuple[str, str]] | None = None) -> list[Suggestion]:
        """The accounts whose names are most alike the site's, best first."""
        site = self.inventory.site(site_code)
        pool = self.suggestion_accounts() if accounts is None else accounts
        return self.for_site(site, pool, limit)

    def for_site(self, site: dict[str, str], accounts: Sequence[tuple[str, str]], limit: int) -> list[Suggestion]:
        """The matcher's best ``limit`` accounts of ``accounts`` for the site record ``site``."""
        # The matcher's answer depends on the site's details and the pool only: while the pool is
        # the same object (the accounts did not change) an answer is kept, so a review of 500 sites
        # or a screen worked through site by site asks the matcher once per site.
        memos = self.core.app.suggestion_memos
        kept = memos.answers
        if kept is None or kept[0] is not accounts:
            kept = (accounts, {})
            memos.answers = kept
        answers = kept[1]
        key = (tuple(site.items()), limit)
        found = answers.get(key)
        if found is None:
            found = list(self.core.app.pm.hook.zenith_suggest_accounts(
                site=site, accounts=accounts, limit=limit, settings=self.core.settings) or [])[:limit]
            answers[key] = found
        return list(found)

    def suggest_assets(self, device_id: str, limit: int = 5) -> list[Suggestion]:
        """The assets most likely to be the device's (same serial number first), best first."""
        device = self.inventory.device(device_id)
        taken = set(self.core.state.device_links().values())
        assets = [asset_candidate(a) for a in self.core.psa.list_assets() if a.rec_id not in taken]
        found = self.core.app.pm.hook.zenith_suggest_assets(device=device, assets=assets, limit=limit,
                                                            settings=self.core.settings)
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
                 "sites": self.core.state.sites_for_account(rec_id)} for rec_id, name in chosen]

    def _folded_account_names(self) -> list[tuple[str, str, str]]:
        """``(rec_id, name, name folded for search)`` of every account; folded again only when the
        names change, as :meth:`suggestion_accounts` does."""
        names = self.core.account_names()
        memos = self.core.app.suggestion_memos
        kept = memos.folded_names
        if kept is not None and kept[0] == names:
            return kept[1]
        folded = [(rec_id, name, fold(name)) for rec_id, name in names]
        memos.folded_names = (names, folded)
        return folded

    def search_assets(self, keyword: str) -> list[dict[str, Any]]:
        """Assets whose name, serial number or manufacturer contain every word of ``keyword``."""
        words = _words(keyword)
        links = {asset: device for device, asset in self.core.state.device_links().items()}
        return [{"rec_id": a.rec_id, "name": a.name, "serial": a.serial, "manufacturer": a.manufacturer,
                 "account_rec_id": a.account_rec_id, "device_id": links.get(a.rec_id)}
                for a in self.core.psa.list_assets()
                if _contains(" ".join((a.name, a.serial, a.manufacturer)), words)]


def asset_candidate(asset: Asset) -> dict[str, Any]:
    """An asset as the ``zenith_suggest_assets`` hook is handed it."""
    return {"rec_id": asset.rec_id, "name": asset.name, "serial": asset.serial,
            "account_rec_id": asset.account_rec_id, "manufacturer": asset.manufacturer}


def _words(keyword: str) -> list[str]:
    words = fold(keyword).split()
    if not words:
        raise UsageError("give a keyword to search for")
    return words


def _contains(text: str, words: list[str]) -> bool:
    folded = fold(text)
    return all(w in folded for w in words)
