"""Continuum sites ↔ PSA accounts (R17-R22): link, unlink, and a new account made from a site.

Every change checks the employee's privilege (R21) and that the site is in the downloaded
inventory, commits its link and an audit row in one transaction, and then tells the notifiers.
"""

from __future__ import annotations

from agent.errors import AlreadyLinked, NotLinked
from agent.sync import lookup
from agent.sync.links.core import LinksCore
from agent.sync.links.inventory import Inventory


class SiteLinks:
    def __init__(self, core: LinksCore, inventory: Inventory) -> None:
        self.core = core
        self.inventory = inventory

    def link_site(self, site_code: str, account_ref: str, user: str | None) -> str | None:
        """Link a site to an account named by REC ID or exact name (several sites may share one);
        returns the previous account. Linked so already: nothing changes."""
        core = self.core
        core.privilege(user, "link sites to accounts")
        site = self.inventory.site(site_code)
        account = lookup.account(core.psa, account_ref)
        if core.state.account_for_site(site_code) == account.rec_id:
            return account.rec_id
        with core.app.unit_of_work():
            previous: str | None = core.state.link_site(site_code, account.rec_id, by=user or "")
            core.state.audit(user or "", "link_site", f"site {site_code} {site.get('Name', '')!r} → account "
                             f"{account.rec_id} {account.name!r}" + (f" (was {previous})" if previous else ""))
        core.changed(f"site {site_code} linked to account {account.name!r} by {user}", action="link_site",
                     site_code=site_code, account_rec_id=account.rec_id, previous=previous, user=user)
        return previous

    def unlink_site(self, site_code: str, user: str | None) -> str:
        """Remove one site's link; returns the account it pointed to."""
        core = self.core
        core.privilege(user, "unlink sites")
        account: str | None = core.state.account_for_site(site_code)
        if account is None:
            self.inventory.site(site_code)  # R22 / unknown site come first: they say more
            raise NotLinked(f"site {site_code!r}", "an account", "nothing to unlink")
        with core.app.unit_of_work():
            core.state.unlink_site(site_code)
            core.state.audit(user or "", "unlink_site", f"site {site_code} from account {account}")
        core.changed(f"site {site_code} unlinked from account {account} by {user}", action="unlink_site",
                     site_code=site_code, account_rec_id=account, user=user)
        return account

    def create_account_from_site(self, site_code: str, user: str | None, name: str | None = None, *,
                                 after_client: bool = True) -> str:
        """R17: a new account linked to the site, named ``name`` or else after the site's client
        (:func:`account_name_for_site`; with ``after_client`` False, after the site itself);
        returns its REC ID."""
        core = self.core
        core.privilege(user, "create accounts from sites")
        site = self.inventory.site(site_code)
        current = core.state.account_for_site(site_code)
        if current:
            raise AlreadyLinked(f"site {site_code!r}", f"account {current}",
                                f"unlink it first ('zenithlink links unlink-site {site_code}')",
                                "remove its link first (Remove link, on the site)")
        name = " ".join((name or "").split()) or account_name_for_site(site_code, site if after_client else
                                                                       {"Name": site.get("Name", "")})
        with core.app.unit_of_work():
            rec_id = core.psa.add_account(name)
            core.state.link_site(site_code, rec_id, by=user or "")
            core.state.audit(user or "", "create_account_from_site", f"account {rec_id} {name!r} from site {site_code}")
        core.changed(f"account {name!r} created from site {site_code} by {user}", action="create_account_from_site",
                     site_code=site_code, account_rec_id=rec_id, user=user)
        return rec_id


def account_name_for_site(site_code: str, site: dict[str, str]) -> str:
    """The name an account made from a site gets by default: its Continuum client's, so that the
    client's other sites find it as an exact match; the site's own name when it has no client."""
    for tag in ("ClientName", "Name"):
        name = " ".join((site.get(tag) or "").split())
        if name:
            return name
    return site_code
