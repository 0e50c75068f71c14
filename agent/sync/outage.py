"""Whether Continuum answers, as the engines see it, and telling the administrator when it has
not for a while (an outage episode) and when it is back.

Every engine that talks to Continuum (the feed poller, the outbox sender, the inventory
refresh) tells one :class:`OutageTracker` per ``App`` how each call went: :meth:`~OutageTracker.answered`
when Continuum gave any answer (a refusal too: it is reachable), :meth:`~OutageTracker.failed`
when it could not be reached (connection refused, timeout, 5xx after the retries, the circuit
open) or its answer was truncated or garbled. Failures with no answer in between for longer
than :func:`threshold_seconds` (``max(2 × PollIntervalSeconds, 60 s)``) are an outage episode:

- when it starts, through :func:`agent.reporting.report_failure`: one ERROR line, one error
  report (kind ``continuum-unreachable``), ``last_error``, and the event
  ``continuum_unreachable``; the store's ``outage_since`` holds when the failures began;
- at the first answer after it: one INFO line saying how long it lasted, the event
  ``continuum_recovered``, ``outage_since`` cleared, and ``last_error``, when it is still the
  outage's, replaced by a "Recovered at … after …" note.

The log says each change of state once: :meth:`~OutageTracker.failed` tells the caller to log
the first failure of a run as a WARNING and the repeats at DEBUG until Continuum answers again.

Whenever Continuum answers again after a run of failures (an episode or a shorter run), the
listeners given to :meth:`~OutageTracker.when_answering_again` are called: the outbox sender
makes the rows that waited because Continuum did not answer due at once, and the service wakes
its waiting workers, so that nothing sits out a backoff that the outage alone made long.

The agent that holds the Dbsys folder also records the run of failures in the store from its
first failure (``failing_since``, and what failed): :func:`health_fields` makes of them, for
the status file, ``zenithlink status`` and the web console, a ``last_error`` that says what is
happening while it lasts, even before the threshold makes it an episode.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from agent import events
from agent.errors import describe
from agent.ports.rmm import (
    RmmBadAnswer,
    RmmCredentialsRefused,
    RmmNotActivated,
    RmmRateLimited,
    RmmRejected,
    RmmUnavailable,
)
from agent.ports.times import parse_stored_time
from agent.reporting import ReportingApp, report_failure
from agent.sync.health import (
    BEFORE_STATE,
    FAILING_SINCE_STATE,
    FAILURE_STATE,
    RECOVERED_PREFIX,
    SINCE_STATE,
    WHAT_PREFIX,
    duration,
    moment_text,
    stored_moment,
)

MIN_THRESHOLD_SECONDS = 60.0
REPORT_KIND = "continuum-unreachable"
TODO = ("Check the network between this server and Continuum, and [Continuum] ContinuumURL in the INI; if "
        "both are fine, Continuum itself is down. Nothing is lost meanwhile: the agent keeps trying, actions "
        "wait in the outbox, and everything goes on by itself once Continuum answers.")

TODO_OF_AN_RMM = ("Check the network between this server and {rmm}, and the address in its section of the INI; if "
                  "both are fine, that RMM itself is down. Nothing is lost meanwhile: the agent keeps trying, and "
                  "everything goes on by itself once it answers.")


#: What a failed call to the RMM means (:func:`classify`): it could not be reached or gave no
#: usable answer; it answered, refusing (the activation is pending, the credentials are refused,
#: it asks the agent to wait, it refuses the request); or anything else.
UNREACHABLE = "unreachable"
NOT_ACTIVATED = "not activated"
CREDENTIALS_REFUSED = "credentials refused"
RATE_LIMITED = "rate limited"
REFUSED = "refused"
OTHER = "other"
#: The kinds that are answers: the RMM is reachable, whatever it said.
ANSWERS = (NOT_ACTIVATED, CREDENTIALS_REFUSED, RATE_LIMITED, REFUSED)
_KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((RmmUnavailable, RmmBadAnswer), UNREACHABLE), (RmmNotActivated, NOT_ACTIVATED),
    (RmmCredentialsRefused, CREDENTIALS_REFUSED), (RmmRateLimited, RATE_LIMITED), (RmmRejected, REFUSED))


def classify(exc: BaseException) -> str:
    """What ``exc``, raised by a call to the RMM, means: one of :data:`UNREACHABLE`,
    :data:`ANSWERS` or :data:`OTHER`. The one place every engine asks."""
    return next((kind for types, kind in _KINDS if isinstance(exc, types)), OTHER)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says Continuum could not be reached or gave no usable answer."""
    return classify(exc) == UNREACHABLE


def threshold_seconds(settings: Any) -> float:
    """How long failures must last, with no answer in between, to be an outage episode."""
    return max(2.0 * float(settings.poll_interval_seconds), MIN_THRESHOLD_SECONDS)


class OutageTracker:
    """Failures and answers of every engine of one ``App``; thread-safe.

    ``clock`` gives seconds since the epoch: a wall clock, because when an episode began is
    kept in the store and outlives the process (the threshold is a minute or more, so a clock
    adjustment does not matter). ``on_change`` is called after an episode starts or ends (the
    service rewrites its status file then).
    """

    def __init__(self, app: ReportingApp, *, clock: Callable[[], float] = time.time,
                 on_change: Callable[[], None] | None = None, rmm: str = "Continuum") -> None:
        """``rmm``: how messages name the RMM (an extra RMM instance's tracker names that instance)."""
        self.app = app
        self.rmm = rmm
        self._what_prefix = WHAT_PREFIX if rmm == "Continuum" else f"{rmm} has not answered"
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._failing_since: float | None = None  # the first failure of the current run
        self._episode_since: float | None = None  # set once the run was reported as an episode
        self._warned = False  # the run's first failure was logged as a warning
        self._adopted = False
        self._listeners: dict[str, Callable[[], object]] = {}

    def when_answering_again(self, name: str, listener: Callable[[], object]) -> None:
        """Call ``listener`` each time Continuum answers after a run of failures; one listener per
        ``name`` (giving a name again replaces its listener, so engines built round after round
        do not pile up)."""
        with self._lock:
            self._listeners[name] = listener

    @property
    def failing(self) -> bool:
        """Whether the last call this tracker was told of failed and Continuum has not answered since."""
        with self._lock:
            return self._failing_since is not None

    @property
    def ongoing(self) -> bool:
        """Whether an outage episode has been reported and Continuum has not answered since."""
        with self._lock:
            return self._episode_since is not None

    def failed(self, source: str, exc: BaseException) -> str:
        """Continuum did not answer ``source`` (``feed``, ``outbox``, ``inventory``); start the
        episode when the failures have lasted past the threshold.

        Returns the level at which the caller logs its own line about this failure: ``WARNING``
        for the first failure of a run, ``DEBUG`` for the repeats.
        """
        with self._lock:
            self._adopt()
            now = self._clock()
            if self._failing_since is None:
                self._failing_since = now
                self._record_run(now, exc)
            if self._episode_since is None and now - self._failing_since >= threshold_seconds(self.app.settings):
                self._start(source, exc, self._failing_since, now)
            level = "DEBUG" if self._warned else "WARNING"
            self._warned = True
            return level

    def heard(self, source: str, exc: BaseException) -> str | None:
        """A call of ``source`` failed with ``exc``: tell this tracker what that means (see
        :func:`classify`). Returns the level of the caller's own line when Continuum did not
        answer (:meth:`failed`), ``None`` otherwise (a refusal is an answer: :meth:`answered`)."""
        kind = classify(exc)
        if kind == UNREACHABLE:
            return self.failed(source, exc)
        if kind in ANSWERS:
            self.answered(source)
        return None

    def answered(self, source: str) -> None:
        """Continuum answered ``source``: end the run of failures, and the episode if there is one."""
        with self._lock:
            self._adopt()
            if self._failing_since is None:
                return
            self._warned = False
            since, self._failing_since = self._failing_since, None
            episode, self._episode_since = self._episode_since, None
            lasted = self._clock() - since
            if episode is None:
                logger.debug("Continuum answers {} again after {} of failures", source, duration(lasted))
                self._end_run(since, lasted)
            else:
                self._end(source, since, lasted)
            listeners = list(self._listeners.values())
        # Outside the lock: a listener may talk to Continuum, and so to this tracker.
        for listener in listeners:
            try:
                listener()
            except Exception as err:  # noqa: BLE001 - a listener's trouble is not the engine's
                logger.warning("after Continuum answered again: {}", describe(err))

    # -- the two changes of state ----------------------------------------------------------
    def _start(self, source: str, exc: BaseException, since: float, now: float) -> None:
        what = f"{self._what_prefix} for {duration(now - since)} (since {moment_text(since)})"
        todo = TODO if self.rmm == "Continuum" else TODO_OF_AN_RMM.format(rmm=self.rmm)
        report_failure(self.app, REPORT_KIND, what, exc, todo=todo, event_kind=events.CONTINUUM_UNREACHABLE,
                       data={"since": moment_text(since), "seconds": round(now - since), "source": source,
                             "threshold_seconds": round(threshold_seconds(self.app.settings)), "rmm": self.rmm})
        self._episode_since = since
        self._set_states({SINCE_STATE: stored_moment(since)})
        self._changed()

    def _end(self, source: str, since: float, lasted: float) -> None:
        now = self._clock()
        logger.info("{} answers again ({}): it had not answered for {} (since {})", self.rmm, source,
                    duration(lasted), moment_text(since))
        self._end_run(since, lasted, {SINCE_STATE: None})
        try:
            self.app.notify(events.Event(events.CONTINUUM_RECOVERED,
                                         f"{self.rmm} answers again; it had not answered for {duration(lasted)} "
                                         f"(since {moment_text(since)})",
                                         {"since": moment_text(since), "recovered_at": moment_text(now),
                                          "seconds": round(lasted), "source": source, "rmm": self.rmm},
                                         logged=True))
        except Exception as err:  # noqa: BLE001 - telling must never stop the engine that noticed
            logger.error("cannot notify {}: {}", events.CONTINUUM_RECOVERED, describe(err))
        self._changed()

    def _record_run(self, since: float, exc: BaseException) -> None:
        """The first failure of a run, in the store, for the status (only by the agent that holds
        the folder: a command's failure must not outlive it there while the agent answers)."""
        if getattr(self.app, "owns_folder", False):
            self._set_states({FAILING_SINCE_STATE: stored_moment(since), FAILURE_STATE: describe(exc),
                              BEFORE_STATE: self._state("last_error")})

    def _end_run(self, since: float, lasted: float, values: dict[str, str | None] | None = None) -> None:
        """The run's records cleared; a ``last_error`` that is still the outage's becomes a note."""
        values = dict(values or {})
        if getattr(self.app, "owns_folder", False):
            values.update({FAILING_SINCE_STATE: None, FAILURE_STATE: None, BEFORE_STATE: None})
        if (self._state("last_error") or "").startswith(self._what_prefix):
            values["last_error"] = (f"{RECOVERED_PREFIX} {moment_text(self._clock())} after {duration(lasted)}: "
                                    f"{self.rmm} had not answered since {moment_text(since)}")
        if values:
            self._set_states(values)

    def _adopt(self) -> None:
        """Once: take over an episode that an earlier process reported and did not see end, so
        that it is neither reported twice nor left in the status for ever."""
        if self._adopted:
            return
        self._adopted = True
        stored = self._state(SINCE_STATE)
        if not stored:
            run = self._state(FAILING_SINCE_STATE) if getattr(self.app, "owns_folder", False) else None
            if run:  # a run an earlier agent saw begin: ended (and cleared) by the first answer
                try:
                    self._failing_since = parse_stored_time(run).timestamp()
                except ValueError:
                    self._failing_since = self._clock()
            return
        try:
            since = parse_stored_time(stored).timestamp()
        except ValueError:
            since = self._clock()
        self._failing_since = self._episode_since = since

    def _changed(self) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change()
        except Exception as err:  # noqa: BLE001 - a listener's trouble is not the engine's
            logger.warning("after a change of Continuum's reachability: {}", describe(err))

    # -- the store, which may be what fails ----------------------------------------------------
    def _state(self, key: str) -> str | None:
        try:
            value: str | None = self.app.state.get_state(key)
        except Exception as err:  # noqa: BLE001 - bookkeeping must not stop the engine
            logger.warning("cannot read {} from the store: {}", key, describe(err))
            return None
        return value

    def _set_states(self, values: dict[str, str | None]) -> None:
        try:
            self.app.state.set_states(values)
        except Exception as err:  # noqa: BLE001 - bookkeeping must not stop the engine
            logger.warning("cannot record {} in the store: {}", ", ".join(values), describe(err))


