"""What every part of the links manager shares: the App's stores, the privilege check (R21), the
PSA's account names read once, and telling the notifiers of a committed link change."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from loguru import logger

from agent import events
from agent.errors import ZenithError
from agent.ports.psa import PsaStore
from agent.sync.suggestion_memos import SuggestionMemos
from config.loader import Settings
from dbsys import inventory as inventory_index


class LinksApp(Protocol):
    """What the links manager and the account operations need of an :class:`agent.app.App`
    (declared here rather than imported: the App hands the hooks a view built by
    :mod:`agent.sync.accounts`, so naming it back would tie the two together)."""

    @property
    def state(self) -> Any: ...

    @property
    def psa(self) -> PsaStore: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def pm(self) -> Any: ...

    def unit_of_work(self, *, durable: bool = True) -> AbstractContextManager[None]: ...

    @property
    def suggestion_memos(self) -> SuggestionMemos: ...

    def notify(self, event: events.Event) -> None: ...


class LinksCore:
    """One links manager's view of the App; ``account_names`` is read once per core until it
    changes something (a page asks for them several times: suggestions, search, rows)."""

    def __init__(self, app: LinksApp) -> None:
        self.app = app
        self._names: list[tuple[str, str]] | None = None

    @property
    def state(self) -> Any:
        return self.app.state

    @property
    def psa(self) -> PsaStore:
        return self.app.psa

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def links(self, kind: str) -> dict[str, str]:
        """The site (``kind`` "sites") or device links of this manager's RMM: several RMMs may share
        the store, each one's codes namespaced by its InstanceID (docs/multiple-rmms.md)."""
        links: dict[str, str] = self.app.state.site_links() if kind == "sites" else self.app.state.device_links()
        if not self.settings.rmm_instances and not self.settings.rmm_namespace:
            return links
        return {key: value for key, value in links.items() if inventory_index.belongs(self.settings, key)}

    def account_names(self) -> list[tuple[str, str]]:
        """``psa.account_names()``, read once until a change."""
        if self._names is None:
            self._names = self.psa.account_names()
        return self._names

    def forget_names(self) -> None:
        self._names = None

    def privilege(self, user: str | None, action: str) -> dict[str, Any]:
        """The employee ``user`` if their group holds the Continuum Integration privilege (R21)."""
        employee: dict[str, Any] = self.state.require_privilege(user, action)
        return employee

    def changed(self, summary: str, **data: Any) -> None:
        """A link change was written: tell the notifiers once it commits."""
        self.forget_names()  # an account may be new, renamed or merged
        notify_on_commit(self.app, summary, **data)


def notify_on_commit(app: LinksApp, summary: str, **data: Any) -> None:
    """Tell the notifiers of a link change (``events.LINK_CHANGED``) once the current transaction
    commits: a request drop applies it inside its own claim transaction, which may still roll back."""
    event = events.Event(events.LINK_CHANGED, summary, data)

    def notify() -> None:
        try:
            app.notify(event)
        except ZenithError as exc:  # the change is committed; a broken plugin set must not undo that
            logger.warning("link change not notified: {}", exc.message)

    app.state.on_commit(notify)
