"""Extra RMM instances (``[RMM:<name>]``): each one an ``App`` as its engines see it.

The engines (inventory, the alert lifecycle, the change feed, reconcile, the links manager)
work on an ``App``. An :class:`InstanceApp` is the primary ``App`` seen through one extra RMM:
the same PSA, plugins, store and outbox, but that RMM's settings (its InstanceID names its
inventory and status files), its client behind :class:`~agent.ports.namespaced.NamespacedRmm`
(so its identifiers never meet the primary's in the shared store) and its own sync-state keys
(:class:`KeyedState`: cursor, inventory figures, outage run, last error). So every engine runs
unchanged for every RMM, and the primary's path is the one it always was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from agent.ports.namespaced import NamespacedRmm
from agent.ports.psa import PsaStore, PsaView
from agent.ports.rmm import AlertRmm, RmmClient, as_alert_rmm
from agent.sync import records

if TYPE_CHECKING:
    from agent.backends.embedded import StateStore
    from agent.plugins import PluginManager
    from agent.sync.outage import OutageTracker
    from config.instances import RmmInstance
    from config.loader import Settings

STATE_PREFIX = "rmm:"


class KeyedState:
    """The shared state store with one extra RMM's own sync-state keys (``rmm:<InstanceID>:<key>``);
    everything else (links, outbox, alert tickets, processed changes) is the store's own."""

    def __init__(self, store: StateStore, namespace: str) -> None:
        self._store = store
        self._prefix = f"{STATE_PREFIX}{namespace}:"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _key(self, key: str) -> str:
        return self._prefix + key

    def get_state(self, key: str, default: str | None = None) -> str | None:
        return self._store.get_state(self._key(key), default)

    def set_state(self, key: str, value: str | None) -> None:
        self._store.set_state(self._key(key), value)

    def get_states(self, keys: Iterable[str]) -> dict[str, str]:
        wanted = {self._key(k): k for k in keys}
        return {wanted[k]: v for k, v in self._store.get_states(wanted).items()}

    def get_states_with_prefix(self, prefix: str) -> dict[str, str]:
        found = self._store.get_states_with_prefix(self._key(prefix))
        return {key[len(self._prefix):]: value for key, value in found.items()}

    def set_states(self, values: Mapping[str, str | None]) -> None:
        self._store.set_states({self._key(k): v for k, v in values.items()})

    @property
    def feed_cursor(self) -> str | None:
        return self.get_state("feed_cursor")


class InstanceApp:
    """The primary ``App`` as the engines of one extra RMM see it (duck-typed like an ``App``)."""

    def __init__(self, primary: Any, instance_id: str) -> None:
        """``primary``: the ``App`` (not imported here: the ``App`` makes these)."""
        self.primary = primary
        self.instance_id = instance_id
        self._lock = threading.RLock()
        self._settings: tuple[Settings, Settings] | None = None  # (primary's, derived)
        self._rmm: NamespacedRmm | None = None
        self._retired: list[NamespacedRmm] = []
        self._state: KeyedState | None = None
        self._outage: OutageTracker | None = None
        #: This RMM's own: a poll and a reconciliation pass apply its snapshots one at a time; one
        #: refresh of its inventory at a time.
        self.alert_snapshots_lock = threading.Lock()
        self.inventory_refresh_lock = threading.Lock()

    # -- what is the instance's own -----------------------------------------------------------
    @property
    def instance(self) -> RmmInstance:
        """The ``[RMM:<name>]`` section, as the settings in force hold it (the one read at start-up when
        a reload removed it: instances are read at start-up)."""
        try:
            found: RmmInstance = self.primary.settings.instance(self.instance_id)
        except KeyError:
            if self._settings is None:
                raise
            found = self._settings[0].instance(self.instance_id)
        return found

    @property
    def label(self) -> str:
        """How messages name this RMM: ``[RMM:nsight] (InstanceID NSIGHT1)``."""
        return f"[{self.instance.section}] (InstanceID {self.instance_id})"

    @property
    def rmm_label(self) -> str:
        """What :func:`agent.reporting.report_failure` puts before the failures of this RMM's engines."""
        return self.label

    @property
    def settings(self) -> Settings:
        primary = self.primary.settings
        with self._lock:
            if self._settings is None or self._settings[0] is not primary:
                if self._settings is not None and not any(i.instance_id == self.instance_id
                                                          for i in primary.rmm_instances):
                    return self._settings[1]  # removed by a reload: runs as it was until the restart
                derived = primary.for_instance(primary.instance(self.instance_id))
                if self._settings is not None and self._rmm is not None and \
                        self._settings[0].instance(self.instance_id) != primary.instance(self.instance_id):
                    self._retired.append(self._rmm)  # a thread may be in a request: closed at exit
                    self._rmm = None
                self._settings = (primary, derived)
            return self._settings[1]

    @property
    def state(self) -> StateStore:
        with self._lock:
            if self._state is None:
                self._state = KeyedState(self.primary.state, self.instance_id)
            return cast("StateStore", self._state)

    @property
    def rmm(self) -> RmmClient:
        settings = self.settings
        with self._lock:
            if self._rmm is None:
                factory = self.primary.rmm_factory(settings.rmm_backend, self.instance.section)
                self._rmm = NamespacedRmm(factory(settings), self.instance_id)
            return cast(RmmClient, self._rmm)

    @property
    def alert_rmm(self) -> AlertRmm:
        return as_alert_rmm(self.rmm)

    def set_rmm(self, client: Any) -> None:
        """Use this client (un-namespaced, as a backend builds it) for the instance (tests)."""
        with self._lock:
            if self._rmm is not None:
                self._retired.append(self._rmm)
            self._rmm = NamespacedRmm(client, self.instance_id)

    @property
    def outage(self) -> OutageTracker:
        """This RMM's outage tracker: the one its engines tell (the service hands it theirs), else
        one built on first use that names this RMM."""
        with self._lock:
            if self._outage is None:
                from agent.sync.outage import OutageTracker

                self._outage = OutageTracker(self, rmm=self.label)
            return self._outage

    @outage.setter
    def outage(self, tracker: OutageTracker) -> None:
        with self._lock:
            self._outage = tracker

    def unit_of_work(self, *, durable: bool = True) -> Any:
        return records.unit_of_work(self.state, self.psa, durable=durable)

    def savepoint(self) -> Any:
        return records.savepoint(self.state, self.psa)

    def close(self) -> None:
        with self._lock:
            clients = [*self._retired, *([self._rmm] if self._rmm is not None else [])]
            self._retired, self._rmm = [], None
        for client in clients:
            client.close_connection()

    # -- what is the primary's ----------------------------------------------------------------
    @property
    def pm(self) -> PluginManager:
        return self.primary.pm

    @property
    def psa(self) -> PsaStore:
        return self.primary.psa

    @property
    def psa_view(self) -> PsaView:
        return PsaView(self.psa, self.state)

    def __getattr__(self, name: str) -> Any:
        # config_path, user, owns_folder, read_only, tries_once, outbox_wake, notify, keep_open_for,
        # psa_paused_by, rmm_owning, instances: the primary's
        return getattr(self.primary, name)

