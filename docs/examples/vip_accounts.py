"""Example plugin: tickets from VIP sites go to one VIP account.

Copy this file into a folder named in ``[Plugins] PluginFolders`` and configure it:

    [plugin:vip_accounts]
    Sites=ACME-HQ, ACME-LAB
    Account=VIP customers

Every Continuum ticket whose site is listed in ``Sites`` is filed under the account named
``Account`` (its REC ID or exact name; created when it does not exist yet). Tickets of other
sites are left to the built-in account resolver, because this plugin returns ``None`` for
them. Switch the plugin off with ``vip_accounts=N`` in ``[Plugins]``.
"""

from __future__ import annotations

from loguru import logger

from agent.hookspecs import hookimpl

NAME = "vip_accounts"
DEFAULT_ENABLED = True


def _vip_sites(settings) -> set[str]:
    raw = settings.plugin_settings(NAME).get("sites", "")
    return {code.strip().lower() for code in raw.replace(";", ",").split(",") if code.strip()}


@hookimpl
def zenith_resolve_account(ticket, psa, settings):
    if not ticket.site_code or ticket.site_code.lower() not in _vip_sites(settings):
        return None  # not ours: the next resolver (the built-in chain) decides
    name = settings.plugin_settings(NAME).get("account", "").strip() or "VIP customers"
    account = psa.find_account(name)
    if account is not None:
        return account.rec_id
    rec_id = psa.add_account(name)
    logger.info("vip_accounts: created the account {} ({}) for VIP tickets", name, rec_id)
    return rec_id
