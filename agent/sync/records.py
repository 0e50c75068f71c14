"""Operations that span the PSA port and the state store: links checked against the PSA's
records, cascades over both (R19, R20), tickets with their Continuum links, and the unit of
work that groups writes to both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from agent.ports.psa import PsaStore, Ticket
from agent.ports.state import Outbox, SiteLinks, TicketLinks, Transactions


class LinkWrites(Transactions, SiteLinks, Protocol):
    """The state store as the cascades over both stores use it: site links, in one unit of work."""


@contextmanager
def unit_of_work(state: Transactions, psa: PsaStore, *, durable: bool = True) -> Iterator[None]:
    """Group writes to the state store and the PSA into one commit.

    The PSA's unit is the outer one, so that a state commit that fails still undoes the PSA's
    writes when its backend joins the state store's transaction (for the embedded backend both
    are the same SQLite transaction).
    """
    with psa.transaction(), state.transaction(durable=durable):
        yield


@contextmanager
def savepoint(state: Transactions, psa: PsaStore) -> Iterator[None]:
    """A nested unit of both stores, undone alone when it raises (one request drop's writes)."""
    with psa.savepoint(), state.savepoint():
        yield


def with_link(state: TicketLinks, ticket: Ticket) -> Ticket:
    """The ticket with the Continuum ticket it is linked to (the link is the state store's)."""
    return ticket.linked_to(state.continuum_for_ticket(ticket.rec_id))


def with_links(state: TicketLinks, tickets: list[Ticket]) -> list[Ticket]:
    """The tickets with their Continuum links, read in one query (a listing may hold thousands)."""
    links = state.continuum_for_tickets(t.rec_id for t in tickets)
    return [t.linked_to(links.get(t.rec_id)) for t in tickets]


def get_ticket(state: TicketLinks, psa: PsaStore, rec_id: str, *, history: bool = True) -> Ticket:
    return with_link(state, psa.get_ticket(rec_id, history=history))


def link_site(state: SiteLinks, psa: PsaStore, site_code: str, account_rec_id: str, *, by: str = "") -> str | None:
    """Link a site to an existing account; returns the account it was linked to before."""
    psa.get_account(account_rec_id)
    previous: str | None = state.link_site(site_code, account_rec_id, by=by)
    return previous


def link_device(state: SiteLinks, psa: PsaStore, device_id: str, asset_rec_id: str, *, by: str = "") -> str | None:
    """Link a device to an existing asset; returns the asset it was linked to before."""
    psa.get_asset(asset_rec_id)
    previous: str | None = state.link_device(device_id, asset_rec_id, by=by)
    return previous


def unlink_account(state: LinkWrites, psa: PsaStore, account_rec_id: str) -> dict[str, Any]:
    """Remove every Continuum link of an account: its sites', its tickets' and its assets' (R19)."""
    psa.get_account(account_rec_id)
    with unit_of_work(state, psa):
        tickets = [t.rec_id for t in psa.list_tickets(account_rec_id=account_rec_id)]
        assets = [a.rec_id for a in psa.list_assets(account_rec_id)]
        removed: dict[str, Any] = state.unlink_account(account_rec_id, tickets=tickets, assets=assets)
    return removed


def merge_accounts(state: LinkWrites, psa: PsaStore, source: str, into: str) -> dict[str, int]:
    """Move the site links, tickets and assets of ``source`` into ``into``; retire ``source`` (R20)."""
    with unit_of_work(state, psa):
        moved = psa.merge_account(source, into)
        return {"sites": state.move_site_links(source, into), **moved}


def completed_without_close(state: Outbox, psa: PsaStore, since: str | None = None, limit: int = 500) -> list[str]:
    """Completed tickets linked to Continuum with no close ever queued (R15), of those updated at
    or after ``since``."""
    result: list[str] = state.completed_without_close(psa.completed_since(since), limit)
    return result


def list_tickets(state: TicketLinks, psa: PsaStore, *, inbox: bool | None = None,
                 account_rec_id: str | None = None) -> list[Ticket]:
    return with_links(state, psa.list_tickets(inbox=inbox, account_rec_id=account_rec_id))
