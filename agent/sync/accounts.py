"""The one home of account operations: what spans a PSA account and the agent's links to it.

Renaming, merging (R20), unlinking every Continuum link of an account (R19), its manager and
deleting one that holds nothing; and the policy for a linked account that is gone from the PSA
(R4), which the :class:`PsaView` handed to the hooks applies through :func:`psa_view`.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from agent.errors import PreconditionError
from agent.ports.psa import Account, PsaNotFound, PsaStore, PsaView
from agent.sync import records
from agent.sync.links.core import LinksApp, notify_on_commit


# -- a linked account gone from the PSA ---------------------------------------------------------
def account_for_site(psa: PsaStore, state: Any, site_code: str) -> str | None:
    """The REC ID of the account linked to a Continuum site, or ``None``.

    A linked account that is gone from the PSA (merged there, so RangerMSP answers 150003) is
    never written to: the site's links follow it to the account that took it over, or, if
    nothing tells which, are removed so the site counts as unlinked (R4). Both are audited."""
    rec_id: str | None = state.account_for_site(site_code)
    if rec_id is None:
        return None
    try:
        psa.get_account(rec_id)
        return rec_id
    except PsaNotFound:
        pass
    successor = psa.successor_account(rec_id)
    if successor:
        moved = state.move_site_links(rec_id, successor)
        state.audit("zenithlink", "follow_merged_account",
                    f"account {rec_id} was merged into {successor}: {moved} site link(s) moved")
        logger.warning("account {} linked to site {} is gone from the PSA; it was merged into {}, so the site "
                       "links now point there", rec_id, site_code, successor)
        return successor
    sites: list[str] = state.sites_for_account(rec_id)
    for site in sites:
        state.unlink_site(site)
    state.audit("zenithlink", "unlink_missing_account",
                f"account {rec_id} is gone from the PSA: site(s) {', '.join(sites)} unlinked")
    logger.warning("account {} linked to site {} is gone from the PSA and nothing tells where it went: the "
                   "site is unlinked and its tickets go where an unlinked site's go; link it again with "
                   "'zenithlink links link-site' or the web console", rec_id, site_code)
    return None


def psa_view(psa: PsaStore, state: Any) -> PsaView:
    """The view of the PSA policy hooks are handed, whose site links follow a merged account."""
    return PsaView(psa, state, site_account=lambda site_code: account_for_site(psa, state, site_code))


# -- operations of a person ---------------------------------------------------------------------
def rename_account(app: LinksApp, rec_id: str, name: str, user: str | None) -> str:
    """Rename an account (an auto-created one that turns out to be the site's real account);
    its site links stay. Returns the old name."""
    old = app.psa.get_account(rec_id).name
    with app.unit_of_work():
        app.psa.rename_account(rec_id, name)
        app.state.audit(user or "", "rename_account", f"{rec_id} {old!r} -> {name!r}")
    return old


def merge_accounts(app: LinksApp, source: str, into: str, user: str | None) -> dict[str, int]:
    """R20: move the site links, tickets and assets of ``source`` to ``into``; no relinking needed."""
    app.state.require_privilege(user, "merge accounts")
    src, dst = app.psa.get_account(source), app.psa.get_account(into)
    with app.unit_of_work():
        moved = records.merge_accounts(app.state, app.psa, src.rec_id, dst.rec_id)
        app.state.audit(user or "", "merge_accounts", f"{src.rec_id} {src.name!r} into {dst.rec_id} "
                        f"{dst.name!r}: {moved}")
    notify_on_commit(app, f"account {src.name!r} merged into {dst.name!r} by {user}", action="merge_accounts",
                     source=src.rec_id, into=dst.rec_id, user=user, **moved)
    return moved


def unlink_account(app: LinksApp, account_rec_id: str, user: str | None) -> dict[str, Any]:
    """R19: remove all site links of the account and the Continuum links of its tickets and assets."""
    app.state.require_privilege(user, "unlink accounts")
    account = app.psa.get_account(account_rec_id)
    with app.unit_of_work():
        removed = records.unlink_account(app.state, app.psa, account.rec_id)
        app.state.audit(user or "", "unlink_account", f"account {account.rec_id} {account.name!r}: "
                        f"{len(removed['sites'])} site link(s), {removed['ticket_links']} ticket link(s), "
                        f"{removed['device_links']} device link(s) removed")
    notify_on_commit(app, f"every Continuum link of account {account.name!r} removed by {user}",
                     action="unlink_account", account_rec_id=account.rec_id, user=user, **removed)
    return removed


def set_manager(app: LinksApp, rec_id: str, login: str | None, user: str | None) -> Account:
    """Make employee ``login`` the manager of account ``rec_id`` (``None`` clears it); returns the
    account as it was. Like ``accounts add --manager``, it needs no privilege; it is audited."""
    account = app.psa.get_account(rec_id)
    employee = app.state.get_employee(login)["login"] if login else None
    with app.unit_of_work():
        app.psa.set_account_manager(account.rec_id, employee)
        app.state.audit(user or "", "set_manager", f"account {account.rec_id} {account.name!r}: manager "
                        f"{account.manager or '(none)'} -> {employee or '(none)'}")
    return account


def delete_account(app: LinksApp, rec_id: str, user: str | None) -> Account:
    """Delete an account that has no tickets, no assets and no site links (a mistaken import, a
    duplicate); it needs the Continuum Integration privilege, as merging does."""
    app.state.require_privilege(user, "delete accounts")
    account = app.psa.get_account(rec_id)
    holds = _holdings(app, account.rec_id)
    if holds:
        raise PreconditionError(
            f"account {account.rec_id} {account.name!r} still has {', '.join(holds)}, so it is not deleted. Move "
            f"them to the right account with 'zenithlink accounts merge {account.rec_id} INTO', or remove its "
            f"site links with 'zenithlink links unlink-account {account.rec_id}'.")
    with app.unit_of_work():
        app.psa.delete_account(account.rec_id)
        app.state.audit(user or "", "delete_account", f"account {account.rec_id} {account.name!r}")
    return account


def _holdings(app: LinksApp, rec_id: str) -> list[str]:
    tickets = len(app.psa.list_tickets(account_rec_id=rec_id))
    assets = len(app.psa.list_assets(rec_id))
    sites = app.state.sites_for_account(rec_id)
    found = []
    if tickets:
        found.append(f"{tickets} ticket(s)")
    if assets:
        found.append(f"{assets} asset(s)")
    if sites:
        found.append(f"{len(sites)} site link(s) ({', '.join(sites)})")
    return found
