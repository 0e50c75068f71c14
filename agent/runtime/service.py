"""The service (``zenithlink run``): one agent per Dbsys folder, its workers and watchers.

Each engine runs in a worker thread of its own on its own schedule, so a long inventory
download never delays a ticket. The watchers only signal; workers act. SIGTERM/SIGINT set one
stop flag: workers finish the round they are in (a store transaction either commits or rolls
back) and the process exits within a few seconds.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from loguru import logger

from agent import __version__, events, logs
from agent.app import App, load_for_service
from agent.errors import CheckFailed, ConfigError, ZenithError, describe, without_retry_promise
from agent.ports.psa import PsaNeedsRestart
from agent.ports.times import now_iso
from agent.reporting import report_failure
from agent.runtime.engines import RmmEngines
from agent.runtime.lock import FolderLock
from agent.runtime.status import file_fields
from agent.sync.inventory.refresh import finish_publish
from agent.sync.outbound.sender import OutboxSender
from agent.sync.request_results import repair_results
from agent.sync.requests import RequestProcessor

if TYPE_CHECKING:
    from dbsys.watcher import FileWatcher, FolderWatcher

STATUS_EVERY_SECONDS = 15.0
STOP_GRACE_SECONDS = 4.0
# While the agent runs, a temporary file is stray once nobody has written to it for this long: every
# writer of the agent writes its temporary file without pauses that long (a network page has a
# timeout far shorter), and another process's write could only be a killed command's.
STALE_TEMP_SECONDS = 300.0
HOUSEKEEPING_EVERY_SECONDS = 600.0


def cycle_failed(failures: list[tuple[str, str]]) -> CheckFailed:
    """The one sentence ``run --once`` ends with when jobs failed: which, why, and what to do."""
    jobs = ", ".join(name for name, _ in failures)
    reasons = "; and ".join(dict.fromkeys(without_retry_promise(logs.redact(reason)).rstrip(".")
                                          for _, reason in failures))
    return CheckFailed(f"The cycle failed ({jobs}): {reasons}; fix that, then run 'zenithlink run --once' again "
                       "('zenithlink errors' lists the error reports).", code="CycleFailed")


def _warn_if_readable(ini: Path) -> None:
    """Say at start-up that the INI, which holds the RMM's secret, can be read by others, and how to stop that."""
    from dbsys.host import readable_by_others

    try:
        exposed = readable_by_others(ini)
    except OSError:
        return
    if exposed:
        where = Path(ini).absolute()
        logger.warning("{} holds the RMM's secret (PSG, API key) and other users of this machine can read it; "
                       "make it readable by the agent's account only: chmod 600 '{}'", where, where)


@dataclass
class Worker:
    """Calls ``job`` every ``interval()`` seconds, or sooner when woken, until stopped.

    A job that returns ``True`` says more work is waiting now: it is called again at once.
    """

    name: str
    job: Callable[[], object]
    interval: Callable[[], float]
    stop: threading.Event
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    #: What the last run raised, one sentence, or ``None``.
    failure: str | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name=f"zenithlink-{self.name}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            if self.run_guarded():
                continue
            self.wake.wait(timeout=max(0.05, self.interval()))
            self.wake.clear()

    def run_guarded(self) -> bool:
        """Run the job once; whether it said more work is waiting (never after a failure)."""
        self.failure = None
        try:
            return self.job() is True
        except Exception as exc:  # noqa: BLE001 - a worker must outlive any single failure
            self.failure = describe(exc)
            logger.opt(exception=exc).error("{} failed: {}", self.name, self.failure)
            return False


class Service:
    """The agent's long-running process (or one cycle of it with ``once``)."""

    def __init__(self, app: App, *, once: bool = False, outage_clock: Callable[[], float] = time.time) -> None:
        """``outage_clock``: the wall clock the outage tracker measures with (tests pass a fake one)."""
        self.app = app
        self.once = once
        app.tries_once = once
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self.started_at = now_iso()
        self.workers: dict[str, Worker] = {}
        #: Set when the PSA backend can only be used again by a new process: ``run`` raises it.
        self.restart_error: PsaNeedsRestart | None = None
        self._request_watcher: FolderWatcher | None = None
        self._ini_watcher: FileWatcher | None = None
        # One engine each for the life of the service; they read app.settings every round, and
        # tell one tracker per RMM how that RMM answers them.
        self.primary = RmmEngines(app, outage_clock=outage_clock, on_change=self._wake_status)
        self.outage = self.primary.outage
        self.inventory_job = self.primary.inventory_job
        self.inbound = self.primary.inbound
        #: The engines of each extra RMM (``[RMM:<name>]``), by InstanceID; their workers' names end
        #: with it (``inventory:NSIGHT1``).
        self.extra: dict[str, RmmEngines] = {
            instance.instance_id: RmmEngines(instance, name=instance.label, outage_clock=outage_clock,
                                             on_change=self._wake_status)
            for instance in app.instances}
        self.sender = OutboxSender(app, stop=self.stop, outage=self.outage)
        self.processor = RequestProcessor(app)
        self.outage.when_answering_again("service", self._wake_after_outage)
        for instance in app.instances:
            engines = self.extra[instance.instance_id]
            # The sender tells the tracker of the RMM a row goes to (the instance's outage): this one.
            instance.outage = engines.outage
            engines.outage.when_answering_again("service",
                                                functools.partial(self._wake_after_outage, instance.instance_id))

    @property
    def alerts_failure(self) -> str | None:
        """What the last poll of the primary alert RMM's failing checks failed with, or ``None``."""
        return self.primary.alerts_failure

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until stopped, or run one cycle; with ``once``, raise :class:`CheckFailed` (exit 1)
        after the clean stop when a job of the cycle failed, naming them and why."""
        settings = self.app.settings
        logs.configure(settings.level, settings.log_folder)
        for warning in settings.warnings:
            logger.warning("configuration: {}", warning)
        _warn_if_readable(self.app.config_path)
        lock = FolderLock(settings.dbsys_folder)
        lock.acquire()
        self.app.owns_folder = True
        failures: list[tuple[str, str]] = []
        try:
            self._prepare()
            logger.info("zenithlink {} started for {} (queue processing {})", __version__,
                        settings.dbsys_folder, "on" if settings.process_queue else "off")
            if settings.process_queue:
                self._warn_of_unlinked_sites()
            if self.once:
                failures = self._one_cycle()
                self._psa_needs_restart()
            else:
                self._serve()
        finally:
            self._shutdown()
            lock.release()
        if self.restart_error is not None:
            raise self.restart_error
        if failures:
            raise cycle_failed(failures)
        return 0

    def _prepare(self) -> None:
        settings = self.app.settings
        for folder in (settings.dbsys_folder, settings.requests_folder):
            Path(folder).mkdir(parents=True, exist_ok=True)
        # The folder lock is held and no worker runs yet: every temporary file in a folder the
        # agent writes was left by a process that died, however young it is.
        self.sweep(older_than=0.0)
        finish_publish(settings)
        self.app.pm  # noqa: B018 - load plugins now: a broken plugin stops the start, not a later ticket
        self.app.state  # noqa: B018 - open the state store now
        self.app.psa  # noqa: B018 - and the PSA backend: a bad Backend= stops the start
        for instance in self.app.instances:
            finish_publish(instance.settings)
        repair_results(self.app)  # results a killed agent left saying Queued follow the store

    def _one_cycle(self) -> list[tuple[str, str]]:
        """Every job once; (job, what failed) of each job that failed, in the order they ran."""
        from dbsys.drops import request_files

        # The engines report their expected failures instead of raising them: ask each one too.
        every = [("", self.primary), *self.extra.items()]
        jobs: list[tuple[str, Callable[[], object], Callable[[], str | None]]] = [
            *((_named("inventory", i), e.inventory, lambda e=e: e.inventory_job.last_failure) for i, e in every),
            ("requests", lambda: self.processor.process(set(request_files(self.app.settings.requests_folder))),
             lambda: None),
            *((_named("inbound", i), e.tickets, e.tickets_failure) for i, e in every),
            ("outbox", self._outbox, lambda: self.sender.last_failure),
            *((_named("reconcile", i), e.reconcile, lambda: None) for i, e in every),
        ]
        failures = []
        for name, job, failure_of in jobs:
            failure = self._run_job(name, job) or failure_of()
            if failure:
                failures.append((name, failure))
        self.write_status()
        return failures

    def sweep(self, *, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Remove the stray temporary files of every folder the agent writes; how many went."""
        from dbsys.atomic import sweep_temp_files
        from dbsys.paths import failed_folder, processed_folder, results_folder
        from dbsys.reports import reports_folder

        settings = self.app.settings
        requests = settings.requests_folder
        folders = (settings.dbsys_folder, requests, results_folder(requests), processed_folder(requests),
                   failed_folder(requests), reports_folder(settings.dbsys_folder))
        return sum(sweep_temp_files(folder, older_than=older_than) for folder in dict.fromkeys(folders))

    def housekeeping(self) -> None:
        """What a running agent repairs now and then, not only at start: stray temporary files, a
        publish of the inventory files stopped half-way (a file held open), and result files that
        still say Queued for a finished request (a result write that failed)."""
        self.sweep()
        finish_publish(self.app.settings)
        for instance in self.app.instances:
            finish_publish(instance.settings)
        repair_results(self.app)

    def _run_job(self, name: str, job: Callable[[], object]) -> str | None:
        worker = Worker(name, job, lambda: 0.0, self.stop)
        worker.run_guarded()
        return worker.failure

    def _serve(self) -> None:
        self._install_signal_handlers()
        settings = self.app.settings
        self.workers = self._workers()
        self._start_ini_watcher()
        self._start_request_watcher(settings.requests_folder)
        for worker in self.workers.values():
            worker.start()
        self.reload_requested.set()  # an edit made while the agent was starting is not missed
        while not self.stop.is_set():
            if self.reload_requested.wait(timeout=0.5):
                self.reload_requested.clear()
                self.reload()
            if self._psa_needs_restart():
                return

    def _psa_needs_restart(self) -> bool:
        """A PSA backend that only a new process can use again stops the service with a failure
        code: the service's recovery actions start it again (docs/service.md)."""
        needed = self.app.psa.restart_needed
        if needed is None:
            return False
        logger.error("stopping so that the service is started again: {}", needed)
        self.restart_error = needed
        self.request_stop()
        return True

    def _workers(self) -> dict[str, Worker]:
        workers = self._rmm_workers("", self.primary)
        workers["outbox"] = Worker("outbox", self._outbox, self._outbox_interval, self.stop)
        for instance_id, engines in self.extra.items():
            workers.update(self._rmm_workers(instance_id, engines))
        workers["status"] = Worker("status", self.write_status, lambda: STATUS_EVERY_SECONDS, self.stop)
        workers["housekeeping"] = Worker("housekeeping", self.housekeeping, lambda: HOUSEKEEPING_EVERY_SECONDS,
                                         self.stop)
        return workers

    def _rmm_workers(self, instance_id: str, engines: RmmEngines) -> dict[str, Worker]:
        """The workers of one RMM's engines, on that RMM's settings."""
        settings = lambda: engines.app.settings  # noqa: E731 - read every round: a reload changes them
        made = [
            Worker(_named("inventory", instance_id), engines.inventory,
                   lambda: settings().inventory_refresh_minutes * 60.0, self.stop),
            Worker(_named("inbound", instance_id), engines.tickets,
                   lambda: max(float(settings().poll_interval_seconds), engines.inbound.seconds_to_wait()), self.stop),
            Worker(_named("reconcile", instance_id), engines.reconcile,
                   lambda: settings().reconcile_minutes * 60.0, self.stop),
        ]
        return {worker.name: worker for worker in made}

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, _frame):
            logger.info("received {}, stopping", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        if hasattr(signal, "SIGBREAK"):  # Windows: Ctrl+Break in the console, otherwise an abrupt end
            signal.signal(signal.SIGBREAK, handler)

    def request_stop(self) -> None:
        self.stop.set()
        for worker in self.workers.values():
            worker.wake.set()

    def _shutdown(self) -> None:
        self.request_stop()
        for watcher in (self._request_watcher, self._ini_watcher):
            if watcher is not None:
                watcher.stop()
        self.processor.close()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in self.workers.values():
            if worker.thread is not None:
                worker.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        stragglers = [w.thread for w in self.workers.values() if w.thread is not None and w.thread.is_alive()]
        if stragglers:
            logger.warning("{} did not finish within {} s; the process exits without closing the store under it",
                           ", ".join(t.name for t in stragglers), STOP_GRACE_SECONDS)
            self.app.keep_open_for(stragglers)
        try:
            self.write_status(stopped=True)
        except Exception as exc:  # noqa: BLE001 - shutting down anyway
            logger.warning("cannot write the final status: {}", exc)
        logger.info("zenithlink stopped")

    # -- jobs --------------------------------------------------------------------------------
    def _outbox(self) -> None:
        self.sender.run_once()

    def _wake_status(self) -> None:
        status = self.workers.get("status")
        if status is not None:
            status.wake.set()

    def _wake_after_outage(self, instance_id: str = "") -> None:
        """An RMM answers again: the workers that wait on it go now, not at their next interval
        (the inventory only when its last refresh failed)."""
        engines = self.extra.get(instance_id, self.primary)
        for name in ("outbox", _named("inbound", instance_id), "status"):
            worker = self.workers.get(name)
            if worker is not None:
                worker.wake.set()
        inventory = self.workers.get(_named("inventory", instance_id))
        if inventory is not None and engines.inventory_job.last_failure is not None:
            inventory.wake.set()

    def _outbox_interval(self) -> float:
        return min(5.0, max(0.05, self.sender.next_due_seconds()))

    def _on_request_files(self, paths: set[Path]) -> None:
        self.processor.process(paths)
        outbox = self.workers.get("outbox")
        if outbox is not None:
            outbox.wake.set()

    def _start_request_watcher(self, folder: Path) -> None:
        from dbsys.watcher import FolderWatcher

        if self._request_watcher is not None:
            self._request_watcher.stop()
        self._request_watcher = FolderWatcher(folder, self._on_request_files,
                                              scan_interval=float(self.app.settings.request_scan_seconds))
        self.processor.writer_done = self._request_watcher.writer_done
        self._request_watcher.start()

    def _start_ini_watcher(self) -> None:
        from dbsys.watcher import FileWatcher

        self._ini_watcher = FileWatcher(self.app.config_path, self.reload_requested.set)
        self._ini_watcher.start()

    # -- configuration reload ------------------------------------------------------------------
    def reload(self) -> bool:
        """Take a changed INI if it is valid; otherwise keep the last good one and say why."""
        old = self.app.settings
        try:
            # The start-up check, so that a change is never taken that a restart would refuse
            # (a file saved half-written or emptied, PSG or ContinuumURL deleted).
            new = load_for_service(self.app.config_path)
        except ZenithError as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else [exc.message]
            # One line in the log: every problem, after the path of the file refused.
            refused = ZenithError(f"{len(problems)} problem(s) in {self.app.config_path}: " + "; ".join(problems),
                                  code=exc.code)
            report_failure(self.app, "config", "the changed configuration was refused; the previous one stays in force",
                           refused, todo="Fix the listed problems in the INI and save it again.",
                           event_kind=events.CONFIG_REJECTED)
            return False
        self.app.replace_settings(new)
        logs.configure(new.level, new.log_folder)
        for warning in new.warnings:
            logger.warning("configuration: {}", warning)
        changed = new.differences(old)
        if not changed:
            return True
        logger.info("configuration reloaded: {}", ", ".join(changed))
        before = {i.instance_id for i in old.rmm_instances}
        if before != {i.instance_id for i in new.rmm_instances}:
            logger.warning("the RMM instances ([RMM:<name>] sections) are read at start-up: restart the agent to "
                           "add or remove one; until then it runs {}", ", ".join(sorted(before)) or "none")
        if new.process_queue and not old.process_queue:
            self._warn_of_unlinked_sites()
        if new.requests_folder != old.requests_folder:
            Path(new.requests_folder).mkdir(parents=True, exist_ok=True)
            self.processor.close()
            self.processor = RequestProcessor(self.app)
            self._start_request_watcher(new.requests_folder)
        inventory_keys = ("continuum_url", "psg", "instance_id", "dbsys_folder", "inventory_refresh_minutes")
        refresh = {"inventory"} if any(getattr(old, k) != getattr(new, k) for k in inventory_keys) else set()
        for instance_id in self.extra:
            if old.dbsys_folder != new.dbsys_folder or _instance(old, instance_id) != _instance(new, instance_id):
                refresh.add(_named("inventory", instance_id))
        for name, worker in self.workers.items():
            if not name.startswith("inventory") or name in refresh:
                worker.wake.set()
        return True

    def _warn_of_unlinked_sites(self) -> None:
        from agent.sync.unlinked import unlinked_sites

        found = unlinked_sites(self.app.settings, self.app.state)
        if found and found.count:
            logger.warning("{}", found.sentence(queue_on=True))

    # -- status file -------------------------------------------------------------------------
    def status_fields(self, *, stopped: bool = False) -> dict:
        return file_fields(self.app, started_at=self.started_at, running=not stopped)

    def write_status(self, *, stopped: bool = False) -> None:
        from dbsys.status import status_path, write_status

        settings = self.app.settings
        write_status(status_path(settings.dbsys_folder, settings.instance_id), self.status_fields(stopped=stopped))
        for instance in self.app.instances:
            # Each RMM's own status file: its inventory, its feed or polls, its outages.
            write_status(status_path(settings.dbsys_folder, instance.instance_id),
                         file_fields(cast(App, instance), started_at=self.started_at, running=not stopped))


def _named(job: str, instance_id: str) -> str:
    """A job's (and worker's) name: ``inventory`` for the primary RMM, ``inventory:NSIGHT1`` for an extra one."""
    return f"{job}:{instance_id}" if instance_id else job


def _instance(settings: Any, instance_id: str) -> Any:
    try:
        return settings.instance(instance_id)
    except KeyError:
        return None
