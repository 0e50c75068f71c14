"""Built-in asset resolver (R6): the asset linked to the ticket's device, else none."""

from __future__ import annotations

from agent.hookspecs import hookimpl

DEFAULT_ENABLED = True


@hookimpl(trylast=True)
def zenith_resolve_asset(ticket, account, store, settings):
    if not ticket.device_id:
        return None
    return store.asset_for_device(ticket.device_id)
