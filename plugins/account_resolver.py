"""Built-in account resolver and manager rule (R2-R5).

Linked account → a new auto-created account linked to an unlinked site → the own-business
account for a ticket with no site. Everything here is ``trylast``: a plugin that returns an
account first wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.hookspecs import hookimpl

if TYPE_CHECKING:
    from agent.ports.psa import PsaView
    from agent.ports.rmm import Ticket
    from config.loader import Settings

DEFAULT_ENABLED = True


@hookimpl(trylast=True)
def zenith_resolve_account(ticket: Ticket, psa: PsaView, settings: Settings) -> str:
    if not ticket.site_code:
        return own_business_account(psa, settings)
    linked = psa.account_for_site(ticket.site_code)
    if linked:
        return linked
    return _auto_create(ticket, psa, settings)


def _auto_create(ticket: Ticket, psa: PsaView, settings: Settings) -> str:
    # R4: never matched by name; a new account every time a site has no link, then linked so
    # the site's later tickets land in it.
    site_name = _site_name(ticket.site_code, settings) or ticket.site_code
    name = f"{settings.auto_created_account_prefix} {site_name}".strip()
    rec_id = psa.add_account(name, auto_created=True)
    psa.link_site(ticket.site_code, rec_id, by="zenithlink")
    psa.audit("zenithlink", "auto_create_account", f"{rec_id} {name!r} for site {ticket.site_code}")
    from loguru import logger  # on use: a command that never logs here starts faster
    logger.info("site {} is not linked: created account {} ({}) and linked it", ticket.site_code, name, rec_id)
    return rec_id


def _site_name(site_code: str, settings: Settings) -> str | None:
    from dbsys.inventory import site_record

    record = site_record(settings, site_code)
    return record.get("Name") if record else None


def own_business_account(psa: PsaView, settings: Settings) -> str:
    """The account named by ``OwnBusinessAccount``, else the first account; created if none exists."""
    ref = settings.own_business_account
    if ref:
        account = psa.find_account(ref)
        if account:
            return account.rec_id
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.warning("OwnBusinessAccount {!r} matches no account; using the first account", ref)
    first = psa.first_account()
    if first:
        return first.rec_id
    rec_id = psa.add_account(ref or "Own business")
    from loguru import logger  # on use: a command that never logs here starts faster
    logger.warning("no account exists yet: created {!r} ({}) for tickets without a site", ref or "Own business", rec_id)
    return rec_id


@hookimpl(trylast=True)
def zenith_ticket_manager(ticket: Ticket, account: str, psa: PsaView, settings: Settings) -> str | None:
    return psa.account_manager(account) or settings.default_ticket_manager or None
