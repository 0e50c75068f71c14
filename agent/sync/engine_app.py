"""The ``App`` as the engines see it: the typed collaborators they are handed.

The engines never import :mod:`agent.app` (it builds the backends and imports the engines), so
they are typed by this protocol instead; ``agent/app.py`` checks that the ``App`` fits it. A
function that needs only some of these (the state store and the PSA, say) takes those instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from agent.ports.psa import PsaStore, PsaView
from agent.ports.rmm import AlertRmm, RmmClient
from agent.ports.state import AgentState
from config.loader import Settings

if TYPE_CHECKING:
    from agent.events import Event
    from agent.plugins import PluginManager
    from agent.sync.outage import OutageTracker
    from agent.sync.outbound.pause import SenderPause
    from agent.sync.request_locks import FileLocks
    from agent.sync.suggestion_memos import SuggestionMemos


class EngineApp(Protocol):
    """Settings, plugin manager, state store, PSA and RMM of one agent, and what its workers share."""

    @property
    def settings(self) -> Settings: ...

    @property
    def pm(self) -> PluginManager: ...

    @property
    def state(self) -> AgentState: ...

    @property
    def psa(self) -> PsaStore: ...

    @property
    def psa_view(self) -> PsaView: ...

    @property
    def rmm(self) -> RmmClient: ...

    @property
    def alert_rmm(self) -> AlertRmm: ...

    def rmm_owning(self, identifier: str) -> RmmClient:
        """The client of the RMM that ``identifier`` (a ticket, check or site id kept) belongs to."""
        ...

    def instance_owning(self, identifier: str) -> EngineApp | None:
        """The extra RMM (``[RMM:<name>]``) that ``identifier`` belongs to; ``None``: the primary's."""
        ...

    @property
    def user(self) -> str | None: ...

    def notify(self, event: Event) -> None: ...

    def notify_all(self, events: Sequence[Event]) -> None: ...

    def unit_of_work(self, *, durable: bool = True) -> AbstractContextManager[None]: ...

    def savepoint(self) -> AbstractContextManager[None]: ...

    def keep_open_for(self, threads: list[threading.Thread]) -> None: ...

    # What the workers of one agent share.
    @property
    def outbox_wake(self) -> threading.Event: ...

    @property
    def alert_snapshots_lock(self) -> threading.Lock: ...

    @property
    def inventory_refresh_lock(self) -> threading.Lock: ...

    @property
    def outage(self) -> OutageTracker: ...

    @property
    def outbox_pause(self) -> SenderPause: ...

    @property
    def request_file_locks(self) -> FileLocks: ...

    @property
    def suggestion_memos(self) -> SuggestionMemos: ...
