"""The outbox sender: delivers queued PSA actions to the RMM (R13–R16, D2), each through its registry action.

Rows go out oldest first, in order per ticket, each with its own ``Idempotency-Key`` so a
retry after a lost answer (or a crash) is applied once by Continuum. Different tickets' rows
are sent side by side (a thread each, at most SEND_WORKERS, one shared HTTP client); a ticket's next row
is picked only once its previous one has finished, so no ticket ever has two rows in flight.
A worker sends a run of up to RUN_ROWS rows of its ticket, one after another, then commits
those Continuum took, each with its audit History Note (R16), the ticket link (create) and the
request's result, in one transaction; their result files follow. A transient failure
reschedules the row with exponential backoff and jitter (honouring ``Retry-After``) for as
long as it takes; a definitive refusal fails the row and its request and tells the
administrator. Conditions that concern every row (Continuum down, rate limit, Security Code refused,
activation pending) pause the whole sender instead of burning through the rows.

When Continuum answers again after a run of failures (the outage tracker sees it, whichever
engine's call answered), the pause ends and the rows rescheduled because Continuum could not be
reached become due at once: only the outage made their backoff long. Rows that wait for their
own reasons (a rate limit's Retry-After, a garbled answer, a store that could not record) keep
their schedule. Which rows waited for the outage is known to the process that tried them.
"""

from __future__ import annotations

import functools
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loguru import logger

from agent import events
from agent.errors import PreconditionError, ZenithError, describe
from agent.ports.rmm import (
    RmmError,
    RmmUnavailable,
    RmmUnsupported,
)
from agent.ports.state import OutboxItem
from agent.ports.times import now_iso, parse_stored_time, stored_time
from agent.reporting import report_failure
from agent.sync.engine_app import EngineApp
from agent.sync.outage import ANSWERS, CREDENTIALS_REFUSED, NOT_ACTIVATED, RATE_LIMITED, OutageTracker, classify
from agent.sync.outbound import registry, sends
from agent.sync.outbound.actions import close_completed_tickets, rmm_name
from agent.sync.outbound.pause import SenderPause
from agent.sync.outbound.sends import Delivery
from agent.sync.request_results import write_request_results
from dbsys.atomic import fsync_folder
from dbsys.backoff import Backoff

COMPLETED_SWEEP_SECONDS = 30.0
SWEEP_LIMIT = 500
SWEEP_MARGIN_SECONDS = 600
#: Rows of different tickets in flight at once. Each send waits mostly on Continuum and each
#: commit on the disk, so a few overlap well; more would only queue on the store's one writer.
SEND_WORKERS = 4
#: How many rows of one ticket a worker sends one after another before it records them: in
#: order, each with its own Idempotency-Key, then one durable commit for them all (a commit per
#: row held the sender to the disk's pace while a burst of drops kept the disk busy). A crash
#: before the commit sends them again with the same keys, which Continuum applies once.
RUN_ROWS = 25
#: Result files a worker writes at once after its run's commit.
RESULT_THREADS = 8
#: How long the round waits for a send to finish before it looks again for a ticket that
#: became due meanwhile (a slot of the pool may be free).
FILL_SECONDS = 0.5
#: How long a stop lets the sends in flight finish before it abandons them. A send that hangs
#: (up to RequestTimeoutSeconds) must not hold the stop past the service contract's 10 s; an
#: abandoned row stays pending and its Idempotency-Key makes the later re-send apply once.
STOP_SEND_GRACE_SECONDS = 2.0


def wait_for_work(app: EngineApp, timeout: float | None) -> bool:
    """Sleep until rows are queued in this ``App`` (``app.outbox_wake``) or ``timeout`` seconds pass;
    True when woken."""
    woken: bool = app.outbox_wake.wait(timeout)
    app.outbox_wake.clear()
    return woken




class OutboxSender:
    """Delivers due outbox rows through ``app.rmm``; one bounded round per :meth:`run_once`."""

    def __init__(self, app: EngineApp, *, batch: int = 100, round_limit: int = 500, base_delay: float = 1.0,
                 max_delay: float = 300.0, pause_max: float = 60.0, workers: int = SEND_WORKERS,
                 rng: Callable[[], float] = random.random, clock: Callable[[], float] = time.monotonic,
                 stop: threading.Event | None = None, outage: OutageTracker | None = None) -> None:
        """``stop``: once set (the service is stopping), no other send starts and those in flight get
        :data:`STOP_SEND_GRACE_SECONDS` to finish.
        ``outage``: where Continuum's answers and failures are told (default: the app's tracker).
        ``workers``: how many tickets' rows may be in flight at once (1: one row at a time)."""
        if workers < 1:
            raise ValueError("an outbox sender needs at least one worker")
        self.app = app
        self.workers = workers
        self.outage = outage or app.outage
        self.outage.when_answering_again("outbox", functools.partial(resume_after_outage, app))
        self._stop = stop
        self.batch = batch
        self.round_limit = round_limit
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.pause_max = pause_max
        self._rng = rng
        self._clock = clock
        self._swept_at = -math.inf
        self._completed_since: str | None = None
        self._state: SenderPause = app.outbox_pause
        self._sends: dict[Future[tuple[str, int]], threading.Thread] = {}
        self._results_written = False
        #: Why a row of the last :meth:`run_once` was not delivered and waits, one sentence, or
        #: ``None``; a row Continuum refused for good is finished (failed), not waiting, and
        #: Continuum's pending activation is not a failure of the agent.
        self.last_failure: str | None = None

    def _sweep_completed(self) -> None:
        """R15 whoever completed the ticket: the first sweep looks at every completed ticket,
        later ones at those updated since the sweep before (less a margin for transactions
        that commit late), through an index of completed tickets only."""
        started = now_iso()
        if close_completed_tickets(self.app, self._completed_since, SWEEP_LIMIT) < SWEEP_LIMIT:
            self._completed_since = stored_time(parse_stored_time(started) - timedelta(seconds=SWEEP_MARGIN_SECONDS))

    # -- the round -------------------------------------------------------------------------
    def run_once(self) -> int:
        """Deliver what is due; returns how many rows were finished (done or failed)."""
        self.last_failure = None
        if self._paused():
            return 0
        if self._clock() - self._swept_at >= COMPLETED_SWEEP_SECONDS:
            self._swept_at = self._clock()
            self._sweep_completed()
        tried: set[int] = set()
        first = self._due(tried, set(), min(self.workers, self.round_limit))
        if not first:
            return 0
        try:
            finished, held = self._round(first, tried)
        finally:
            self._sync_results()
        if finished and not held:
            self._resume()
        return finished

    def _round(self, first: list[OutboxItem], tried: set[int]) -> tuple[int, bool]:
        """Keep up to :attr:`workers` sends in flight, each the head of a ticket that has nothing
        else in flight, until nothing is due, the round's budget is spent, a row pauses the sender,
        or the service stops: then no other send starts, and those in flight get
        :data:`STOP_SEND_GRACE_SECONDS` to finish before they are abandoned. Returns (rows
        finished, held back)."""
        finished, held = 0, False
        flying: dict[Future[tuple[str, int]], OutboxItem] = {}
        stop_deadline: float | None = None
        waiting: set[str] = set()  # tickets whose head was tried and rescheduled: none of theirs goes now
        items = first
        while True:
            for item in items:
                if self._stopping():
                    held = True
                    break
                tried.add(item.id)
                budget = max(1, self.round_limit - len(tried) - finished)
                flying[self._start_send(item, budget)] = item
            if not flying:
                return finished, held
            if self._stopping():
                stop_deadline = stop_deadline or time.monotonic() + STOP_SEND_GRACE_SECONDS
                if time.monotonic() >= stop_deadline:
                    self._abandon(flying)
                    return finished, True
            done, _ = wait(flying, timeout=FILL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                item = flying.pop(future)
                outcome, rows = future.result()  # a bug that escaped _deliver: the pool still finishes the rest
                held |= outcome == "pause"
                finished += rows
                if outcome == "retry":
                    waiting.add(item.ticket_rec_id)
            held |= self._stopping()
            free = min(self.workers - len(flying), self.round_limit - len(tried) - finished)
            busy = {i.ticket_rec_id for i in flying.values()} | waiting
            items = [] if held or free <= 0 else self._due(tried, busy, free)

    def _start_send(self, item: OutboxItem, budget: int) -> Future[tuple[str, int]]:
        """:meth:`_deliver` on a thread of its own, a daemon: a send abandoned at a stop must not
        hold the process's exit (a ThreadPoolExecutor's threads are joined at interpreter exit)."""
        future: Future[tuple[str, int]] = Future()

        def send() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._deliver(item, min(RUN_ROWS, budget)))
                except BaseException as exc:  # noqa: BLE001 - handed to the round, as a pool would
                    future.set_exception(exc)

        thread = threading.Thread(target=send, name=f"zenithlink-outbox-{item.id}", daemon=True)
        self._sends[future] = thread
        future.add_done_callback(self._sends.pop)
        thread.start()
        return future

    def _abandon(self, flying: dict[Future[tuple[str, int]], OutboxItem]) -> None:
        logger.warning("stopping: {} send(s) to {} still waiting for an answer after {} s are abandoned; "
                       "they stay queued and are sent again (once, by their idempotency key) at the next start",
                       len(flying), rmm_name(self.app), STOP_SEND_GRACE_SECONDS)
        # The store stays open under them until they finish or the process exits.
        self.app.keep_open_for([thread for future in flying if (thread := self._sends.get(future)) is not None])

    def _due(self, tried: set[int], busy: set[str], count: int) -> list[OutboxItem]:
        """Up to ``count`` due heads not tried in this round, of tickets not in ``busy``."""
        items = self.app.state.due_outbox(now_iso(), min(count, self.batch), skip=busy)
        return [i for i in items if i.id not in tried]

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def next_due_seconds(self) -> float:
        """Seconds until the next row is due (0: now); ``math.inf`` when nothing is pending."""
        pause = max(0.0, self._state.until - self._clock())
        when = self.app.state.next_outbox_attempt()
        if when is None:
            return math.inf
        due = (parse_stored_time(when) - datetime.now(timezone.utc)).total_seconds()
        return max(0.0, due, pause)

    def deliver_row(self, item_id: int) -> str:
        """Deliver one row now, whatever its schedule (the CLI's ``--wait``); returns its state."""
        item = self.app.state.get_outbox(item_id)
        if item.state == "pending" and not self._paused():
            if self.app.state.first_pending_outbox_id(item.ticket_rec_id) == item.id:
                try:
                    self._deliver(item)
                finally:
                    self._sync_results()
            else:
                self.run_once()
        return self.app.state.get_outbox(item_id).state

    # -- one ticket's rows -----------------------------------------------------------------
    def _deliver(self, head: OutboxItem, rows: int = 1) -> tuple[str, int]:
        """Send ``head`` and, while Continuum takes them, up to ``rows`` of its ticket's rows in
        order; then record those Continuum took in one transaction and write their results.
        Returns (what the round should do, rows finished)."""
        sent: list[tuple[OutboxItem, Delivery]] = []
        failure: tuple[OutboxItem, Exception] | None = None
        item: OutboxItem | None = head
        following: Iterator[OutboxItem] | None = None
        while item is not None:
            try:
                delivery = self._send(item)
            except Exception as exc:  # noqa: BLE001 - told apart by _failed, after the rows sent are recorded
                failure = (item, exc)
                break
            if delivery.sent:
                self._outage_of(item).answered("outbox")
            sent.append((item, delivery))
            # A new ticket's link must be committed before its next row can be sent to it.
            if item.action == registry.CREATE_TICKET.row or len(sent) >= rows or self._stopping():
                break
            if following is None:  # read once the head went: its send starts without waiting for the store
                following = iter(self._following(head, rows))
            item = next(following, None)
        if sent:
            try:
                self._succeed(sent)
            except Exception as exc:  # noqa: BLE001 - Continuum has them; what failed is recording that
                self._not_recorded(sent, exc)
                return "pause", 0
        if failure is None:
            return "finished", len(sent)
        outcome = self._failed(*failure)
        return outcome, len(sent) + (outcome == "finished")

    def _following(self, head: OutboxItem, rows: int) -> list[OutboxItem]:
        """The rows of ``head``'s ticket that follow it and are due, at most ``rows - 1``."""
        pending = self.app.state.pending_outbox_of(head.ticket_rec_id, rows)
        if not pending or pending[0].id != head.id:
            return []  # finished or overtaken meanwhile: the head alone, as picked
        now = now_iso()
        run = []
        for item in pending[1:]:
            if item.next_attempt_at > now:
                break
            run.append(item)
        return run

    def _failed(self, item: OutboxItem, exc: Exception) -> str:
        """What a failure to send ``item`` means: ``finished`` (failed for good), ``retry`` (this
        row later) or ``pause`` (every row waits)."""
        if isinstance(exc, RmmError):
            return self._rmm_failed(item, exc)
        if isinstance(exc, PreconditionError):
            self._fail(item, exc)
            return "finished"
        if isinstance(exc, ZenithError):  # configuration (no ContinuumURL, bad PSG characters): all wait
            self._pause_for(exc, None, until_new_settings=True)
            return "pause"
        # A bug must not lose the row: keep it, say so.
        logger.opt(exception=exc).error("unexpected error sending outbox row {}", item.id)
        self._retry_later(item, exc)
        return "retry"

    def _rmm_failed(self, item: OutboxItem, exc: RmmError) -> str:
        """What the RMM's failure means for this row, and for the others."""
        # The first failure of a run is a warning, not every one; a refusal is an answer.
        level = self._outage_of(item).heard("outbox", exc)
        if classify(exc) in ANSWERS:
            return self._refused(item, exc)
        if isinstance(exc, RmmUnavailable):
            self._retry_later(item, exc, level="DEBUG")  # the pause's line says it
            with self._state.lock:
                self._state.unreachable.add(item.id)
            self._pause_for(exc, None, level=level or "WARNING",
                            why=f"{rmm_name(self.app, sends.target_of(self.app, item))} is not taking outbound actions")
            return "pause"
        # BadAnswer and the like: this row again later (on its own backoff), others go on.
        self._retry_later(item, exc, level=level or "WARNING")
        return "retry"

    def _refused(self, item: OutboxItem, exc: RmmError) -> str:
        """The RMM answered, but not with the row done."""
        kind = classify(exc)
        if kind == CREDENTIALS_REFUSED:
            self._pause_for(exc, events.SECURITY_CODE_REFUSED, until_new_settings=True)
            return "pause"
        if kind == NOT_ACTIVATED:
            self._pause_for(exc, events.ACTIVATION_PENDING, long=True)
            return "pause"
        if kind == RATE_LIMITED:
            self._retry_later(item, exc)
            self._pause_for(exc, None)
            return "pause"
        self._fail(item, exc)
        return "finished"

    def _not_recorded(self, sent: list[tuple[OutboxItem, Delivery]], exc: BaseException) -> None:
        """The RMM took the actions but the store could not record them: the rows are sent again
        later (their idempotency keys make that a no-op in the RMM), and every row waits, as a
        store that cannot write concerns them all. The first row is rescheduled; the others wait
        behind it, as a ticket's rows go out in order."""
        item = sent[0][0]
        logger.error("{} took {} for ticket {}{}, but recording it failed: {}; sent again later",
                     rmm_name(self.app, sent[0][1].continuum_ticket_id), item.action, item.ticket_rec_id,
                     f" and {len(sent) - 1} row(s) after it" if len(sent) > 1 else "", describe(exc))
        try:
            self._retry_later(item, exc)
        except Exception as again:  # noqa: BLE001 - the pause below still holds the sender back
            logger.error("outbox row {} could not be rescheduled either: {}", item.id, describe(again))
        self._pause_for(exc, None, why="the store cannot record outbound actions")

    def _send(self, item: OutboxItem) -> Delivery:
        action = registry.by_row(item.action)
        if action is None:
            raise PreconditionError(f"outbox row {item.id} has the unknown action {item.action!r}; "
                                    "it was written by a newer zenithlink; upgrade the agent.")
        try:
            action.require(self.app.rmm_owning(sends.target_of(self.app, item)))
        except RmmUnsupported as exc:
            # The RMM was switched since the row was queued: refused for good, and not an answer of
            # the RMM (the outage tracker must not hear of it).
            raise PreconditionError(exc.message, code=exc.code) from exc
        return action.send(self.app, item)

    def _outage_of(self, item: OutboxItem) -> OutageTracker:
        """The outage tracker of the RMM the row goes to: each RMM's answers are its own."""
        if not self.app.settings.rmm_instances:
            return self.outage
        owner = self.app.instance_owning(sends.target_of(self.app, item))
        if owner is None:
            return self.outage
        tracker = owner.outage
        tracker.when_answering_again("outbox", functools.partial(resume_after_outage, self.app))
        return tracker

    # -- outcomes --------------------------------------------------------------------------
    def _succeed(self, sent: list[tuple[OutboxItem, Delivery]]) -> None:
        """Record the rows the RMM took, their History Notes (R16) and their requests in one
        transaction, then write their results."""
        state, psa = self.app.state, self.app.psa
        rmm = rmm_name(self.app, sent[0][1].continuum_ticket_id)  # a run is one ticket's: one RMM
        recorded: list[tuple[OutboxItem, Delivery]] = []
        with self.app.unit_of_work():
            for item, delivery in sent:
                if state.get_outbox(item.id).state != "pending":
                    continue  # another sender (the CLI's --wait beside the service) finished it already
                if item.action == registry.CREATE_TICKET.row and not state.continuum_for_ticket(item.ticket_rec_id):
                    # The RMM holds the link already (PsaTicketID went with the ticket): nothing to ack.
                    state.link_ticket(delivery.continuum_ticket_id, item.ticket_rec_id, acked=True)
                with psa.keyed(f"outbox:{item.id}"):
                    psa.add_history(item.ticket_rec_id, f"Sent to {rmm}: {delivery.note}",
                                    author=item.requested_by or "zenithlink")
                state.outbox_finish(item.id, "done", result={"continuum_ticket_id": delivery.continuum_ticket_id})
                if item.request_id:
                    state.finish_request(item.request_id, "Done", continuum_ticket_id=delivery.continuum_ticket_id)
                recorded.append((item, delivery))
        for item, delivery in recorded:
            logger.info("sent {} for ticket {} to {} ({})", item.action, item.ticket_rec_id, rmm, delivery.note)
        self._write_results([item for item, _delivery in recorded])

    def _fail(self, item: OutboxItem, exc: BaseException) -> None:
        state, psa = self.app.state, self.app.psa
        sentence = describe(exc)
        code = getattr(exc, "code", None) or "Refused"
        rmm = rmm_name(self.app)
        with self.app.unit_of_work():
            if state.get_outbox(item.id).state != "pending":
                return
            with psa.keyed(f"outbox:{item.id}"):
                psa.add_history(item.ticket_rec_id, f"Not sent to {rmm} ({_doing(item.action)}): {sentence}",
                                author="zenithlink")
            state.outbox_finish(item.id, "failed", error=sentence)
            if item.request_id:
                state.finish_request(item.request_id, "Failed", error_code=code, error_message=sentence)
        self._write_results([item])
        report_failure(self.app, "request", f"{rmm} refused to {_doing(item.action)} for ticket "
                       f"{item.ticket_rec_id}", exc, todo="Fix what the error says, then repeat the action "
                       "(a new request, or the CLI).", event_kind=events.REQUEST_FAILED,
                       data={"ticket_rec_id": item.ticket_rec_id, "action": item.action,
                             "request_id": item.request_id, "code": code})

    def _retry_later(self, item: OutboxItem, exc: BaseException, *, level: str = "WARNING") -> None:
        self.last_failure = describe(exc)
        delay = self._backoff(item.attempts + 1, getattr(exc, "retry_after", None))
        when = datetime.now(timezone.utc) + timedelta(seconds=delay)
        self.app.state.outbox_retry_later(item.id, stored_time(when), describe(exc))
        logger.log(level, "outbox row {} ({} for {}) not sent: {}; next try in {:.1f} s", item.id, item.action,
                   item.ticket_rec_id, describe(exc), delay)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        return Backoff(self.base_delay, self.max_delay, "equal", random=self._rng).delay(attempt, retry_after)

    def _write_results(self, items: list[OutboxItem]) -> None:
        """The result files of the rows' requests, side by side (each is fsynced before its rename,
        and one after another those waits added up to more than the run's sends)."""
        requests = [item.request_id for item in items if item.request_id]
        if not requests:
            return
        # The renames are made durable with the round's others (_sync_results): a folder fsync
        # per row took the disk from the commits. Until then a power cut may bring back the
        # "Queued" result; the store holds the outcome and repair_results rewrites such a
        # result when the agent starts.
        self._results_written = True
        for request_id, exc in write_request_results(self.app, requests, threads=RESULT_THREADS):
            logger.error("cannot write the result of request {}: {}", request_id, exc)

    def _sync_results(self) -> None:
        """One fsync of the results folder for every result the round wrote."""
        if self._results_written:
            self._results_written = False
            fsync_folder(Path(self.app.settings.requests_folder) / "Results")

    # -- pausing ---------------------------------------------------------------------------
    def _paused(self) -> bool:
        state = self._state
        if state.refused_settings is not None and self.app.settings is not state.refused_settings:
            self._resume()  # a new INI was loaded: try again at once
        return self._clock() < state.until

    def _pause_for(self, exc: BaseException, event_kind: str | None, *, long: bool = False,
                   until_new_settings: bool = False, level: str = "WARNING",
                   why: str | None = None) -> None:
        state = self._state
        if classify(exc) != NOT_ACTIVATED:
            self.last_failure = describe(exc)
        code = getattr(exc, "code", type(exc).__name__)
        reporting = event_kind is not None or until_new_settings
        with state.lock:
            state.pauses += 1
            delay = self.pause_max if long or until_new_settings else self._backoff(state.pauses, None)
            delay = max(min(delay, self.pause_max), float(getattr(exc, "retry_after", None) or 0))
            state.until = max(state.until, self._clock() + delay)
            if until_new_settings:
                state.refused_settings = self.app.settings
            # Said once per episode, not once per round nor once per send that was in flight.
            say, state.reported = reporting and state.reported != code, code if reporting else state.reported
        if say:
            report_failure(self.app, "outbox", "Outbound actions are waiting", exc, event_kind=event_kind)
        elif not reporting:
            why = why or f"{rmm_name(self.app)} is not taking outbound actions"
            logger.log(level, "{} ({}); pausing {:.1f} s", why, describe(exc), delay)

    def _resume(self) -> None:
        state = self._state
        with state.lock:
            state.until, state.pauses, state.reported, state.refused_settings = 0.0, 0, None, None


def resume_after_outage(app: EngineApp) -> int:
    """Continuum answers again: the sender's pause ends, the rows that waited because it could not
    be reached are due now, and a sender waiting for work wakes. How many rows became due."""
    state: SenderPause = app.outbox_pause
    with state.lock:
        rows, state.unreachable = state.unreachable, set()
        if state.refused_settings is None:  # a refused Security Code waits for a new INI, not for this
            state.until, state.pauses = 0.0, 0
    due = app.state.outbox_due_now(rows, now_iso()) if rows else 0
    if due:
        logger.info("{} outbox row(s) that waited while {} did not answer are due now", due, rmm_name(app))
    app.outbox_wake.set()
    return due


def _doing(action: str) -> str:
    known = registry.by_row(action)
    return known.doing if known is not None else action


