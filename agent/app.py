"""``App``: what one invocation of the agent works with, built once and closed once.

Its members (plugin manager, state store, PSA backend, RMM client) are built on first use under
one lock, so the service's worker threads never build two of anything; the backends are chosen
by name through the ``zenith_psa_backends`` / ``zenith_rmm_backends`` hooks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent import logs
from agent.errors import AlreadyRunning, ConfigError, StoreError
from config.loader import REQUIRED_FOR_CONTINUUM, InvalidConfig, Settings, default_config_path, load_settings
from config.schema import SCHEMA

# The store, the ports and the unit of work are imported where they are first used: a command
# that reads only the settings and a file (``inventory sites``) then starts without them.
if TYPE_CHECKING:
    from agent.backends.embedded import StateStore
    from agent.events import Event
    from agent.instances import InstanceApp
    from agent.plugins import PluginManager
    from agent.ports.psa import PsaStore, PsaView
    from agent.ports.rmm import AlertRmm, RmmClient
    from agent.runtime.lock import FolderLock
    from agent.sync.engine_app import EngineApp
    from agent.sync.outage import OutageTracker
    from agent.sync.outbound.pause import SenderPause
    from agent.sync.request_locks import FileLocks
    from agent.sync.suggestion_memos import SuggestionMemos

#: The PSA backends that keep RangerMSP's maintenance flag (agent.backends.rangermsp.installation_folder).
RANGERMSP_BACKENDS = ("rangermsp", "rangermsp-simulator", "rangermsp-simulator-dlls")

T = TypeVar("T")


def load(path: Path, require: Iterable[str] = ()) -> Settings:
    """Load the INI, turning validation problems into :class:`ConfigError` (exit code 2)."""
    try:
        settings = load_settings(path, require=require)
    except InvalidConfig as exc:
        raise ConfigError(exc.problems, str(path)) from None
    _add_secrets(settings)
    return settings


def load_for_service(path: Path) -> Settings:
    """The INI judged as the service judges it, at start-up and at every reload alike.

    ``run`` refuses a file that this refuses, so ``check-config`` asks this too: the file is valid,
    PSG and ContinuumURL are set, every enabled plugin accepts its settings (checked, not
    configured: nothing running changes) and both ``Backend=`` names are offered by a plugin.
    """
    from agent.plugins import get_plugin_manager

    settings = load(path, require=REQUIRED_FOR_CONTINUUM)
    pm = get_plugin_manager(settings, configure=False)
    _backend(pm.hook.zenith_psa_backends(), settings.psa_backend, "RangerMSP")
    _backend(pm.hook.zenith_rmm_backends(), settings.rmm_backend, "Continuum")
    for instance in settings.rmm_instances:
        _backend(pm.hook.zenith_rmm_backends(), instance.backend, instance.section)
    return settings


class App:
    """Settings, plugin manager, state store, PSA backend and RMM client of one command or service."""

    def __init__(self, config_path: Path | None = None, *, user: str | None = None,
                 settings: Settings | None = None, extra_plugins: list | None = None) -> None:
        self.config_path = Path(config_path) if config_path else default_config_path()
        self.user = user or os.environ.get("ZENITHLINK_USER") or None
        self._settings = settings
        self._extra_plugins = extra_plugins or []
        self._retired: list[RmmClient] = []
        self._members: dict[str, Any] = {}
        self._users: list[threading.Thread] = []
        #: True in the service, which holds this Dbsys folder's lock (and so may migrate the store).
        self.owns_folder = False
        #: True for a command that only looks: a store that does not exist yet is not created.
        self.read_only = False
        #: True for a command that tries once and exits (``run --once``): what it reports does not
        #: promise that the agent tries again.
        self.tries_once = False
        self._lock = threading.RLock()
        #: Set when outbox rows are queued, so that a sender of this App waiting for work wakes.
        self.outbox_wake = threading.Event()
        #: A poll and a reconciliation pass of a snapshot RMM each apply a snapshot: one at a time,
        #: never an older one over a newer.
        self.alert_snapshots_lock = threading.Lock()
        #: One inventory refresh at a time per agent (the worker, a reload, a command in the
        #: service's process); other processes are kept apart by the publish's lock file.
        self.inventory_refresh_lock = threading.Lock()
        if settings is not None:
            _add_secrets(settings)

    def _member(self, name: str, build: Callable[[], T]) -> T:
        member = self._members.get(name)
        if member is None:
            with self._lock:
                member = self._members.get(name)
                if member is None:
                    member = self._members[name] = build()
        return member

    # What the workers of this App share, built on first use (their modules are imported then:
    # a command that never sends nor links does not import the engines).
    @property
    def outage(self) -> OutageTracker:
        """Whether Continuum answers: the one tracker every engine of this App tells (unless handed another)."""
        from agent.sync.outage import OutageTracker

        return self._member("outage", lambda: OutageTracker(self))

    @property
    def outbox_pause(self) -> SenderPause:
        """Why and until when the outbox senders of this App hold back."""
        from agent.sync.outbound.pause import SenderPause

        return self._member("outbox_pause", SenderPause)

    @property
    def request_file_locks(self) -> FileLocks:
        """The locks the writers of request files share (results by request, moves by file name)."""
        from agent.sync.request_locks import FileLocks

        return self._member("request_file_locks", FileLocks)

    @property
    def suggestion_memos(self) -> SuggestionMemos:
        """The links manager's memos, kept while the PSA's accounts do not change."""
        from agent.sync.suggestion_memos import SuggestionMemos

        return self._member("suggestion_memos", SuggestionMemos)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = load(self.config_path)
        return self._settings

    def require_continuum(self) -> Settings:
        """The settings, with PSG and ContinuumURL required."""
        if not self.settings.has_continuum:
            with self._lock:
                self._settings = load(self.config_path, require=REQUIRED_FOR_CONTINUUM)
        return self.settings

    def require_service(self) -> Settings:
        """The settings judged as the service judges them (:func:`load_for_service`); ``run`` starts on these."""
        settings = load_for_service(self.config_path)
        self.replace_settings(settings)
        return settings

    def replace_settings(self, settings: Settings) -> None:
        """Take a reloaded configuration; plugins are rebuilt for it on next use.

        The backends stay: ``Backend=`` and ``Database=`` are read at start-up only.
        """
        _add_secrets(settings)
        with self._lock:
            previous, self._settings = self._settings, settings
            self._members.pop("pm", None)
            if previous is not None and _connection(previous) != _connection(settings) and "rmm" in self._members:
                # Another thread may be in the middle of a request: retire the client, close it at exit.
                self._retired.append(self._members.pop("rmm"))

    @property
    def pm(self) -> PluginManager:
        built: PluginManager | None = self._members.get("pm")
        if built is not None:  # asked for every event the inbound sync raises: no import statement then
            return built
        # Imported on first use: finding the installed plugins (entry points) is the dearest part
        # of a command's start, and status or a listing never calls a hook.
        from agent.plugins import get_plugin_manager

        return self._member("pm", lambda: get_plugin_manager(self.settings, extra=self._extra_plugins, app=self))

    @property
    def state(self) -> StateStore:
        """The agent's own state store (always the local SQLite file)."""
        return self._member("state", self._open_state)

    @property
    def psa(self) -> PsaStore:
        """The PSA backend named by ``[RangerMSP] Backend=``."""
        return self._member("psa", self._open_psa)

    @property
    def psa_view(self) -> PsaView:
        """The narrow view of the PSA that policy hooks are handed."""
        from agent.sync import accounts

        return self._member("psa_view", lambda: accounts.psa_view(self.psa, self.state))

    def psa_paused_by(self) -> Path | None:
        """RangerMSP's maintenance flag (``CRMStop.ini``) that pauses every PSA write now, or ``None``;
        read from the files alone, without opening the backend (``status`` must not load DLLs)."""
        if self.settings.psa_backend not in RANGERMSP_BACKENDS:
            return None  # only RangerMSP has the flag: the binding is not imported for the others
        from agent.backends.rangermsp import paused_by

        return paused_by(self.settings)

    @property
    def rmm(self) -> RmmClient:
        """The RMM backend named by ``[Continuum] Backend=``."""
        return self._member("rmm", self._open_rmm)

    @property
    def alert_rmm(self) -> AlertRmm:
        """The RMM as a snapshot RMM (N-sight); :class:`RmmUnsupported` for a change-feed RMM."""
        from agent.ports.rmm import as_alert_rmm

        return as_alert_rmm(self.rmm)

    def rmm_factory(self, backend: str, section: str) -> Callable[..., Any]:
        """The factory of the RMM backend of that name (``section``: where the INI names it, for the error)."""
        return _backend(self.pm.hook.zenith_rmm_backends(), backend, section)

    @property
    def instances(self) -> list[InstanceApp]:
        """The extra RMMs of the INI's ``[RMM:<name>]`` sections, each as its engines see the app
        (read at start-up, like ``Backend=``: a reload does not add or remove one)."""
        built: list[InstanceApp] | None = self._members.get("instances")
        if built is not None:
            return built
        if not self.settings.rmm_instances:  # the usual agent, one RMM: the instances' machinery stays unloaded
            return self._member("instances", list)
        from agent.instances import InstanceApp

        return self._member("instances", lambda: [InstanceApp(self, i.instance_id)
                                                  for i in self.settings.rmm_instances])

    def instance_owning(self, identifier: str) -> InstanceApp | None:
        """The extra RMM that ``identifier`` (a ticket, alert or site id the agent keeps) belongs to, or
        ``None`` for the primary's: an extra RMM's are prefixed with its InstanceID, the primary's never are."""
        from agent.ports.namespaced import namespace_of

        owner = namespace_of(identifier or "")
        if owner and self.settings.rmm_instances:
            return next((instance for instance in self.instances if instance.instance_id == owner), None)
        return None

    def rmm_owning(self, identifier: str) -> RmmClient:
        """The client of the RMM that ``identifier`` belongs to (:meth:`instance_owning`)."""
        owner = self.instance_owning(identifier)
        return self.rmm if owner is None else owner.rmm

    def set_rmm(self, client: RmmClient | AlertRmm) -> None:
        """Use this RMM client instead of building one from the settings (tests, the demo). The one
        it replaces is closed with the app, as a client retired by a reload is."""
        with self._lock:
            replaced = self._members.get("rmm")
            if replaced is not None and replaced is not client:
                self._retired.append(replaced)
            self._members["rmm"] = client

    def unit_of_work(self, *, durable: bool = True) -> AbstractContextManager[None]:
        """Group writes to the state store and the PSA into one commit (see :func:`agent.sync.records.unit_of_work`)."""
        from agent.sync import records

        return records.unit_of_work(self.state, self.psa, durable=durable)

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit of both stores, undone alone when it raises."""
        from agent.sync import records

        return records.savepoint(self.state, self.psa)

    def _open_state(self) -> StateStore:
        from agent.backends.embedded import StateStore
        from agent.backends.embedded.migrations import MIGRATIONS

        if self.read_only and not Path(self.settings.database).exists():
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("There is nothing yet: the store {} does not exist. The agent creates it when it first "
                           "runs ('zenithlink run'); this command looks only, and created nothing.",
                           self.settings.database)
            return StateStore(":memory:")
        held: list[FolderLock] = []

        def before_upgrade(version: int) -> None:
            # Only one process may move the schema on: the service of this folder, or a command
            # while no service runs (an older service would go on writing the old schema).
            if self.owns_folder:
                return
            from agent.runtime.lock import FolderLock

            lock = FolderLock(self.settings.dbsys_folder)
            try:
                lock.acquire()
            except AlreadyRunning:
                raise StoreError(f"the store {self.settings.database} has schema {version}, older than this "
                                 f"zenithlink's {len(MIGRATIONS)}, and the agent running on this folder still uses "
                                 "it. Upgrade and restart that service first (it migrates the store as it starts), "
                                 "then run this command again.") from None
            held.append(lock)

        try:
            return StateStore(self.settings.database, before_upgrade=before_upgrade)
        finally:
            for lock in held:
                lock.release()

    def _open_psa(self) -> PsaStore:
        factory = _backend(self.pm.hook.zenith_psa_backends(), self.settings.psa_backend, "RangerMSP")
        psa: PsaStore = factory(self.settings, self.state)
        return psa

    def _open_rmm(self) -> RmmClient:
        settings = self.require_continuum()
        factory = _backend(self.pm.hook.zenith_rmm_backends(), settings.rmm_backend, "Continuum")
        return factory(settings)

    def notify(self, event: Event) -> None:
        """Hand ``event`` to every notifier, with any secret blanked out of its text (D6)."""
        self.notify_all([event])

    def notify_all(self, events: Sequence[Event]) -> None:
        """:meth:`notify` for each of ``events`` in turn (a feed page's: one for every ticket made)."""
        from dataclasses import replace

        from dbsys.redact import redact

        # The texts of all the events are looked at together (a secret in any of them is in the
        # whole), and only an event that holds one is copied.
        whole = "\x00".join([text for event in events for text in (
            event.summary, *(v for v in event.data.values() if isinstance(v, str)))])
        if redact(whole) != whole:
            events = [replace(event, summary=redact(event.summary),
                              data={k: redact(v) if isinstance(v, str) else v for k, v in event.data.items()})
                      for event in events]
        self.pm.notify_all(events)

    def keep_open_for(self, threads: list[threading.Thread]) -> None:
        """Leave the store, PSA and client open at :meth:`close` while any of ``threads`` runs (a
        worker that outlived the stop grace): closing them under it could leave a half-done write."""
        with self._lock:
            self._users.extend(threads)

    def close(self) -> None:
        with self._lock:
            self._users = [t for t in self._users if t.is_alive()]
            if self._users:
                return  # the process exits with them open; SQLite rolls back what did not commit
            clients = self._retired + [self._members.pop("rmm", None)]
            self._retired = []
            psa = self._members.pop("psa", None)
            self._members.pop("psa_view", None)
            state = self._members.pop("state", None)
            instances = self._members.pop("instances", [])
        for instance in instances:
            instance.close()
        for client in clients:
            if client is not None:
                client.close_connection()
        if psa is not None:
            psa.close()
        if state is not None:
            state.close()


def _backend(offers: list[dict[str, Any]], name: str, section: str) -> Callable[..., Any]:
    found: dict[str, Any] = {}
    for offer in offers:
        for key, factory in (offer or {}).items():
            if key.lower() in found:
                raise ConfigError([f"[{section}] Backend: two plugins offer a backend named {key!r}; "
                                   "switch one of them off in [Plugins]"])
            found[key.lower()] = factory
    factory = found.get((name or "").strip().lower())
    if factory is None:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError([f"[{section}] Backend={name!r} is not a known backend; choose one of: {known} "
                           "(a plugin that offers another must be installed and enabled)"])
    return factory


def _connection(settings: Settings) -> tuple:
    return (settings.continuum_url, settings.psg, settings.request_timeout_seconds, settings.verify_tls,
            settings.rmm_backend)


def _add_secrets(settings: Settings) -> None:
    """Every secret of the INI (the PSG, an RMM's API key, those of every ``[RMM:<name>]``) is
    redacted from then on (D6)."""
    for key in SCHEMA:
        if key.secret:
            logs.add_secret(settings.values.get(key.attr))
    for instance in settings.rmm_instances:
        for secret in instance.secrets():
            logs.add_secret(secret)


if TYPE_CHECKING:
    def _serves_the_engines(app: App) -> EngineApp:
        """Type checking fails here when the App stops giving the engines what they are typed with."""
        return app
