"""Every hook of zenithlink, in one module.

A plugin is any module or object with functions marked ``@hookimpl`` whose names and arguments
match the specifications below (a plugin may take fewer arguments than specified). Built-in
behaviour is made of ordinary plugins (``agent.plugins.DEFAULT_PLUGINS``); the built-in
fallbacks are ``trylast``, so a third-party implementation runs first and, for a
``firstresult`` hook, wins by returning something other than ``None``.

``firstresult`` means: implementations are called newest-registered first (``tryfirst`` before,
``trylast`` after) until one returns a value that is not ``None``; that value is the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:  # for the annotations only: the hooks' arguments come from all over the agent
    import click

    from agent.events import Event
    from agent.ports.psa import PsaFactory, PsaStore, PsaView
    from agent.ports.rmm import Alert, Change, RmmFactory, Ticket
    from config.loader import Settings

PROJECT = "zenithlink"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# -- the values hooks exchange ----------------------------------------------------------------
class Agent(Protocol):
    """What ``zenith_configure`` hands a plugin as ``app`` (an ``agent.app.App``): declared here, so
    the hooks do not depend on the App that depends on the plugins."""

    user: str | None

    @property
    def settings(self) -> Settings: ...

    @property
    def psa(self) -> PsaStore: ...

    def unit_of_work(self, *, durable: bool = True) -> AbstractContextManager[None]: ...


#: A matcher's verdicts on a suggestion, best first; a bulk review links the first two
#: (``APPLIED_VERDICTS``) without a person's choice.
VERDICTS = ("exact", "strong", "ambiguous", "weak", "none")
APPLIED_VERDICTS = VERDICTS[:2]


class AccountPool(list[tuple[str, str]]):
    """The ``accounts`` handed to ``zenith_suggest_accounts``: ``(rec_id, name)`` pairs.

    While the PSA's accounts do not change, the agent hands the same pool again, so a matcher may
    keep what it derives from the accounts (an index of their names) on the pool, in
    ``derived[<the matcher's name>]``: it then lives as long as the pool, and no longer.
    """

    def __init__(self, accounts: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(accounts)
        self.derived: dict[str, Any] = {}


@dataclass(frozen=True)
class Suggestion:
    """A PSA record that may be the one to link: ``score`` 0..100 (100 = the same name), ``reason``
    why, and the matcher's ``verdict`` on it: ``exact``, ``strong`` (a bulk review links these two),
    ``ambiguous`` (another candidate is as good), ``weak``, or ``""`` from a matcher that gives none."""

    rec_id: str
    name: str
    score: float
    reason: str
    verdict: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@hookspec
def zenith_check_config(settings: Settings) -> None:
    """Check a plugin's configuration without acting on it (the first of two phases).

    Called for every enabled plugin before ``zenith_configure``, at start-up and for every
    changed INI, which is refused when any plugin raises here. Must have no side effects: a
    refused reload keeps every plugin as it was. Raise ``agent.errors.ConfigError`` for settings
    that cannot work; return values are ignored.
    """


@hookspec
def zenith_configure(settings: Settings, app: Agent | None) -> None:
    """Hand a plugin its configuration.

    Called once right after the plugin manager is built and registered every enabled plugin,
    and again after every accepted INI reload (a reload builds a new plugin manager), always
    after ``zenith_check_config`` accepted the same settings: it applies them.
    ``settings`` is the ``config.loader.Settings``; read a plugin's own section with
    ``settings.plugin_settings("<name>")`` (keys lower-cased). ``app`` is the ``agent.app.App``
    when one is known, else ``None``. Return values are ignored. Raise
    ``agent.errors.ConfigError`` for settings that cannot work (a missing required value): the
    plugin manager is then not built, and the message reaches the administrator.
    """


@hookspec(firstresult=True)
def zenith_resolve_account(ticket: Ticket, psa: PsaView, settings: Settings) -> str | None:
    """Choose the PSA account for an incoming Continuum ticket (R3-R5).

    Called once per ``TicketCreated`` change that has no PSA ticket yet, inside the inbound
    transaction. ``ticket`` is an ``agent.ports.rmm.Ticket``; ``psa`` an ``agent.ports.psa.PsaView``
    (the reads a policy needs, and the writes a resolver makes, which join the current unit of
    work); ``settings`` the ``config.loader.Settings``.
    Return the account's REC ID (``str``), or ``None`` to let the next implementation decide.
    firstresult: the first REC ID returned is used. Built-in chain (plugin
    ``account_resolver``): linked account, then a new auto-created account linked to the site,
    then the own-business account for a ticket with no site.
    """


@hookspec(firstresult=True)
def zenith_resolve_asset(ticket: Ticket, account: str, psa: PsaView, settings: Settings) -> str | None:
    """Choose the PSA asset for an incoming Continuum ticket (R6).

    Called after the account is known (``account`` is its REC ID). Return the asset's REC ID,
    or ``None`` to let the next implementation decide. firstresult: the first REC ID returned is
    used; when every implementation returns ``None`` the ticket is linked to the account only
    and the device details go into its description. Built-in (plugin ``asset_resolver``): the
    asset linked to the ticket's device.
    """


@hookspec(firstresult=True)
def zenith_ticket_manager(ticket: Ticket, account: str, psa: PsaView, settings: Settings) -> str | None:
    """Choose the manager (employee login) of a new PSA ticket (R2).

    Return a login, or ``None`` to let the next implementation decide. firstresult: the first
    login returned is used; if none, the ticket has no manager. Built-in (plugin
    ``account_resolver``): the account's manager, else ``[RangerMSP] DefaultTicketManager``.
    """


@hookspec(firstresult=True)
def zenith_ticket_description(ticket: Ticket, device: dict[str, str] | None, asset: str | None,
                              settings: Settings) -> str | None:
    """Write the description of a new PSA ticket from a Continuum ticket (R1, R6).

    ``device`` is the inventory record of the ticket's device (a ``dict`` of its children), or
    ``None``; ``asset`` the linked asset's REC ID or ``None``. Return the description text.
    firstresult: the first text returned is used. Built-in (plugin ``ticket_format``): the
    Continuum title and description, plus the device details when no asset is linked.
    """


@hookspec(firstresult=True)
def zenith_skip_change(change: Change, settings: Settings) -> bool | None:
    """Decide whether to ignore one change of the Continuum feed.

    Called for every change before it is applied. Return ``True`` to skip it (it is still
    acknowledged and recorded as processed), or ``None`` to continue. firstresult: the first
    ``True`` wins. Built-in (plugin ``echo_filter``): changes whose ``Origin`` is ``PSA`` (R11).
    """


@hookspec(firstresult=True)
def zenith_skip_alert(alert: Alert, settings: Settings) -> bool | None:
    """Decide whether to keep one failing check of an alert RMM (N-sight) out of the PSA.

    Called for every alert of every poll before it is applied, with its ``check``,
    ``check_type``, ``severity``, ``device_id``, ``device_name`` and ``site_code``. Return ``True``
    to skip it (no ticket, no note: as if it were not failing), or ``None`` to continue.
    firstresult: the first ``True`` wins. Example, a maintenance window for one site::

        @hookimpl
        def zenith_skip_alert(alert, settings):
            if alert.site_code == "21251" and 1 <= datetime.now().hour < 5:
                return True
            return None
    """


@hookspec
def zenith_notify(event: Event) -> None:
    """Tell someone that something happened.

    ``event`` is an ``agent.events.Event`` (ticket created, ticket returned, ticket closed in
    Continuum, request failed, inventory refreshed or failed, activation pending, …). Every
    enabled notifier is called; return values are ignored. Called after the change is
    committed; an exception is logged and does not stop the agent or the other notifiers.
    """


@hookspec(firstresult=True)
def zenith_suggest_accounts(site: dict[str, str], accounts: AccountPool, limit: int,
                            settings: Settings) -> list[Suggestion] | None:
    """Rank the PSA accounts most likely to be a Continuum site's account (R18).

    ``site`` is the site's inventory record (``dict`` with ``SiteCode``, ``Name``,
    ``ClientName`` …); ``accounts`` an ``agent.hookspecs.AccountPool``, a list of ``(rec_id, name)``
    handed out again while the accounts do not change (a matcher may keep its index on it). Return a list of at most
    ``limit`` ``agent.hookspecs.Suggestion`` objects, best first. firstresult: the first list
    returned is used. A suggestion's ``verdict`` (``exact``, ``strong``, ``ambiguous``, ``weak``)
    decides what a bulk review links: only exact and strong ones; a matcher that sets none is
    trusted only for a lone score of 100. Built-in (plugin ``matcher``): evidence from the names
    (plugins/_name_evidence.py).
    """


@hookspec(firstresult=True)
def zenith_suggest_assets(device: dict[str, str], assets: list[dict[str, Any]], limit: int,
                          settings: Settings) -> list[Suggestion] | None:
    """Rank the PSA assets most likely to be a Continuum device's asset (R18).

    ``device`` is the device's inventory record; ``assets`` a list of ``dict`` with
    ``rec_id``, ``name``, ``serial``, ``account_rec_id``. Return at most ``limit``
    ``agent.hookspecs.Suggestion`` objects, best first. firstresult: the first list returned is used.
    Built-in (plugin ``matcher``): same serial number first (never on junk serials), then names.
    """


@hookspec
def zenith_register_commands(cli: click.Group) -> None:
    """Add commands to the ``zenithlink`` command line.

    Called once at start-up with the root ``click.Group``; call ``cli.add_command(...)``.
    """


@hookspec
def zenith_psa_backends() -> dict[str, PsaFactory] | None:
    """Offer PSA backends by name, for ``[RangerMSP] Backend=``.

    Called once when the agent opens the PSA. Return a ``dict`` of ``{name: factory}``, where
    ``factory(settings, state)`` returns an ``agent.ports.psa.PsaStore`` (``state`` is the
    agent's state store). Every implementation is called and the dicts are merged; a name
    offered twice is an error. Built-in (plugin ``backends``): ``embedded`` and ``memory``.
    """


@hookspec
def zenith_rmm_backends() -> dict[str, RmmFactory] | None:
    """Offer RMM backends by name, for ``[Continuum] Backend=``.

    Called once when the agent first talks to the RMM. Return a ``dict`` of ``{name: factory}``,
    where ``factory(settings)`` returns an ``agent.ports.rmm.RmmClient``. Every implementation is
    called and the dicts are merged; a name offered twice is an error. Built-in (plugin
    ``backends``): ``continuum``.
    """
