"""What the e-mail and webhook notifiers share: event filters and a background worker.

A notifier must never slow the agent down: ``zenith_notify`` only puts the event on a bounded
queue, and one daemon thread per notifier does the slow part (SMTP, HTTP). Not a plugin itself
(no ``zenith_*`` functions); it is not in ``DEFAULT_PLUGINS``.
"""

from __future__ import annotations

import atexit
import queue
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError
from agent.events import (
    ACTIVATION_PENDING,
    ALL_KINDS,
    CONFIG_REJECTED,
    CONTINUUM_RECOVERED,
    CONTINUUM_UNREACHABLE,
    INVENTORY_FAILED,
    REQUEST_FAILED,
    SECURITY_CODE_REFUSED,
    TICKET_CLOSED_IN_CONTINUUM,
    TICKET_CREATED,
    TICKET_RETURNED,
)
from agent.hookspecs import hookimpl

if TYPE_CHECKING:
    from agent.events import Event
    from agent.hookspecs import Agent
    from config.loader import Settings

# "All ticket events and failures": what a person wants to hear about by default, and the end
# of an outage, since whoever was told it began wants to hear it is over. Routine events
# (inventory refreshed, link changed) are opt-in.
DEFAULT_EVENTS: frozenset[str] = frozenset({
    TICKET_CREATED, TICKET_RETURNED, TICKET_CLOSED_IN_CONTINUUM, REQUEST_FAILED, INVENTORY_FAILED,
    ACTIVATION_PENDING, SECURITY_CODE_REFUSED, CONFIG_REJECTED, CONTINUUM_UNREACHABLE, CONTINUUM_RECOVERED,
})
_STOP = object()


def parse_events(raw: str | None, section: str) -> tuple[frozenset[str], list[str]]:
    """The event kinds named in an ``Events`` value (``all`` or ``*`` = every kind), and problems."""
    if raw is None or not raw.strip():
        return DEFAULT_EVENTS, []
    words = [w.strip().lower() for w in raw.replace(";", ",").split(",") if w.strip()]
    if any(w in ("all", "*") for w in words):
        return frozenset(ALL_KINDS), []
    unknown = [w for w in words if w not in ALL_KINDS]
    if unknown:
        return DEFAULT_EVENTS, [f"[{section}] Events names unknown event kind(s) {', '.join(unknown)}: "
                                f"use 'all' or a comma-separated list of {', '.join(ALL_KINDS)}"]
    return frozenset(words), []


def parse_number(values: dict[str, str], key: str, default: float, section: str, problems: list[str], *,
                 minimum: float, maximum: float, whole: bool = True) -> Any:
    """``values[key]`` as a number within bounds; a problem (and the default) otherwise."""
    raw = (values.get(key.lower()) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        kind = "a whole number" if whole else "a number"
        problems.append(f"[{section}] {key} = {raw!r}: must be {kind} from {minimum:g} to {maximum:g}")
        return default
    return value


def split_list(raw: str | None) -> list[str]:
    return [w.strip() for w in (raw or "").replace(";", ",").split(",") if w.strip()]


def unknown_keys(values: dict[str, str], known: Iterable[str], section: str) -> list[str]:
    """A warning for each key of a plugin's section (lower-cased) that the plugin does not read,
    naming the nearest key it does read, or all of them."""
    import difflib

    names = {k.lower(): k for k in known}
    if not names:
        return []
    warnings = []
    for key in sorted(set(values) - set(names)):
        near = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
        hint = f" (did you mean {names[near[0]]}?)" if near else f"; its keys are {', '.join(names.values())}"
        warnings.append(f"unknown key [{section}] {key} is ignored{hint}")
    return warnings


class Worker:
    """One daemon thread draining a bounded queue; started at the first item.

    ``handle(item)`` does the slow work; ``wait()`` says how long the thread may sleep before
    ``tick()`` must run (``None``: until the next item); ``finish()`` runs once when the worker
    is closed, after the queue is drained. Exceptions are logged, never raised.
    """

    def __init__(self, name: str, handle: Callable[[Any], None], *, maxsize: int = 1000,
                 wait: Callable[[], float | None] = lambda: None, tick: Callable[[], None] = lambda: None,
                 finish: Callable[[], None] = lambda: None) -> None:
        self.name = name
        self._handle, self._wait, self._tick, self._finish = handle, wait, tick, finish
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.dropped = 0

    def submit(self, item: Any) -> bool:
        """Queue ``item``; ``False`` (and a warning) when the queue is full or the worker closed."""
        if self._closed:
            return False
        self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("{}: {} events waiting already; dropped one", self.name, self._queue.maxsize)
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Drain the queue, run ``finish``, and stop; waits at most ``timeout`` seconds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            self._safely(self._finish)
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("{}: still busy at shutdown; {} events are not sent", self.name, self._queue.qsize())
            return
        thread.join(timeout)
        if thread.is_alive():
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("{}: did not finish within {:g} s at shutdown", self.name, timeout)

    def pending(self) -> int:
        return self._queue.qsize()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._safely(self._wait))
            except queue.Empty:
                self._safely(self._tick)
                continue
            if item is _STOP:
                self._safely(self._finish)
                return
            self._safely(self._tick)
            self._safely(self._handle, item)

    def _safely(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - a notifier never stops the agent
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("{}: {}: {}", self.name, type(exc).__name__, exc)
            return None


def events_text(events: Iterable[Any]) -> str:
    """Events as readable lines, for mail bodies."""
    lines = []
    for event in events:
        d = event.as_dict()
        lines.append(f"{d['at']}  [{d['kind']}]  {d['summary']}")
    return "\n".join(lines)


class NotifierSlot:
    """The one running notifier of a plugin, replaced when its configuration changes.

    ``config_from(values)`` validates a ``[plugin:<name>]`` section (raising on bad settings);
    ``factory(config)`` starts a notifier with ``.config``, ``.notify(event)`` and
    ``.close(timeout)``.
    """

    def __init__(self, name: str, config_from: Callable[[dict[str, str]], Any], factory: Callable[[Any], Any],
                 verb: str, keys: Iterable[str] = ()) -> None:
        self.name = name
        self.keys = tuple(keys)  # the keys of its [plugin:<name>] section, as the docs spell them
        self._config_from = config_from
        self._factory = factory
        self._verb = verb
        self._current: Any = None
        self._lock = threading.Lock()
        atexit.register(self.shutdown)

    def hookimpls(self) -> tuple[Callable[..., None], Callable[..., None], Callable[..., None]]:
        """The plugin's ``zenith_check_config``, ``zenith_configure`` and ``zenith_notify``, bound to
        this slot; a notifier module assigns them to those names."""

        @hookimpl
        def zenith_check_config(settings: Settings) -> None:
            values = settings.plugin_settings(self.name)
            unknown = unknown_keys(values, self.keys, f"plugin:{self.name}")
            settings.warnings.extend(w for w in unknown if w not in settings.warnings)
            try:
                self._config_from(values)
            except ConfigError as exc:
                # A misspelt key is often why a setting is missing: say so beside the problem.
                raise ConfigError(exc.problems + [f"also: {w}" for w in unknown]) from None

        @hookimpl
        def zenith_configure(settings: Settings, app: Agent | None) -> None:
            self.configure(settings.plugin_settings(self.name))

        @hookimpl
        def zenith_notify(event: Event) -> None:
            self.notify(event)

        return zenith_check_config, zenith_configure, zenith_notify

    def configure(self, values: dict[str, str]) -> Any:
        """Install the notifier for ``values``; an unchanged configuration keeps the running one."""
        config = self._config_from(values)
        with self._lock:
            old = self._current
            if old is not None and old.config == config:
                return old
            self._current = self._factory(config)
            current = self._current
        if old is not None:
            old.close(timeout=0.5)
        return current

    def shutdown(self, timeout: float = 10.0) -> None:
        """Finish what is held or queued (within ``timeout``) and stop the worker."""
        with self._lock:
            old, self._current = self._current, None
        if old is not None:
            old.close(timeout)

    def notify(self, event: Event) -> None:
        notifier = self._current
        if notifier is None:
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("{} is enabled but was given no settings; the event {} is not {}",
                           self.name, event.kind, self._verb)
            return
        notifier.notify(event)
