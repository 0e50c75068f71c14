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
from typing import TYPE_CHECKING, Any, TypeVar, cast

from loguru import logger

from agent import logs
from agent.backends.embedded import StateStore
from agent.backends.embedded.migrations import MIGRATIONS
from agent.errors import AlreadyRunning, ConfigError, StoreError
from agent.ports.psa import PsaStore, PsaView
from agent.ports.rmm import AlertRmm, RmmClient, RmmUnsupported, capabilities_of
from agent.sync import records
from config.loader import REQUIRED_FOR_CONTINUUM, InvalidConfig, Settings, default_config_path, load_settings
from config.schema import SCHEMA

if TYPE_CHECKING:
    from agent.events import Event
    from agent.plugins import PluginManager
    from agent.ports.rmm import RmmClient
    from agent.runtime.lock import FolderLock

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

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """A value the workers of this App share (a sender's pause, say), built once under the lock."""
        return self._member(f"shared:{name}", build)

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
        return self._member("psa_view", lambda: PsaView(self.psa, self.state))

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
        client = self.rmm
        capabilities = capabilities_of(client)
        if capabilities.delivery != "snapshot":
            raise RmmUnsupported(f"{capabilities.rmm} delivers a change feed of its tickets, not failing checks; "
                                 "the alert lifecycle needs a snapshot RMM such as Backend=nsight")
        return cast(AlertRmm, client)

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
        return records.unit_of_work(self.state, self.psa, durable=durable)

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit of both stores, undone alone when it raises."""
        return records.savepoint(self.state, self.psa)

    def _open_state(self) -> StateStore:
        if self.read_only and not Path(self.settings.database).exists():
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

    def notify(self, event) -> None:
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
    """Every secret of the INI (the PSG, an RMM's API key) is redacted from then on (D6)."""
    for key in SCHEMA:
        if key.secret:
            logs.add_secret(settings.values.get(key.attr))
