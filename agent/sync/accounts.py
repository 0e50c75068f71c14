"""Changing PSA accounts beyond their links: their manager, and deleting one that holds nothing."""

from __future__ import annotations

from agent.errors import PreconditionError
from agent.ports.psa import Account


def set_manager(app, rec_id: str, login: str | None, user: str | None) -> Account:
    """Make employee ``login`` the manager of account ``rec_id`` (``None`` clears it); returns the
    account as it was. Like ``accounts add --manager``, it needs no privilege; it is audited."""
    account = app.psa.get_account(rec_id)
    employee = app.state.get_employee(login)["login"] if login else None
    with app.unit_of_work():
        app.psa.set_account_manager(account.rec_id, employee)
        app.state.audit(user or "", "set_manager", f"account {account.rec_id} {account.name!r}: manager "
                        f"{account.manager or '(none)'} -> {employee or '(none)'}")
    return account


def delete_account(app, rec_id: str, user: str | None) -> Account:
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


def _holdings(app, rec_id: str) -> list[str]:
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
