"""Built-in asset resolver (R6): the asset linked to the ticket's device, else none.

A RangerMSP ticket's asset belongs to the ticket's account, so an asset linked to the device
but owned by another account (the site and the device were linked to different customers) is
not used: the ticket gets the device details in its description instead, and a warning says
which links disagree.
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
def zenith_resolve_asset(ticket: Ticket, account: str, psa: PsaView, settings: Settings) -> str | None:
    if not ticket.device_id:
        return None
    asset = psa.asset_for_device(ticket.device_id)
    if asset is None:
        return None
    owner = psa.get_asset(asset).account_rec_id
    if owner != account:
        from loguru import logger  # on use: a command that never logs here starts faster
        logger.warning("device {} is linked to asset {} of account {}, but Continuum ticket {} goes to account {}; "
                       "the ticket is not linked to that asset. Check the links of site {} and of the device.",
                       ticket.device_id, asset, owner, ticket.ticket_id, account, ticket.site_code or "(none)")
        return None
    return asset
