"""The change feed into PSA tickets (R1-R12, D1).

One round (:meth:`InboundSync.run_once`) reads a bounded number of feed pages. Each page is
applied in ONE store transaction together with the new cursor; Continuum is acknowledged only
after that commit, and notifiers hear about the page only after it too. Changes are recorded
as processed by id, so a page delivered twice, or again after a crash, changes nothing more.
The requests to Continuum run on a thread of their own (:mod:`agent.sync.inbound.feed`): the next page
is read while this one is applied, and this one is acknowledged while the next is applied.

Throughput: what a page needs to know is read once, inside its transaction (which of its
changes are processed, the PSA tickets of its Continuum tickets, their last seen fields) and
kept up to date in memory while the page is applied; the processed ids and last seen fields are
written in one statement each when the page ends. PSA records (accounts, tickets, history
notes, ticket links) are still written change by change, so every hook, called once per change
as before, sees what the earlier changes of the page did.

How one change becomes PSA records (R1-R11, through the hooks) is :mod:`agent.sync.inbound.rules`.

Decisions where the contract is silent:

- A change that cannot be applied because of its data (unknown kind, a note change without a
  note) is recorded as processed at once, with a warning and an audit entry. A change whose
  application raises anything else (a plugin error, say) stops the round; after
  ``give_up_after`` rounds failing on the same change it is recorded as processed the same way
  and reported, so one bad change never blocks the feed forever.
- Processed change ids are kept until a week after the last ack that followed them, then
  forgotten (Continuum never sends an acknowledged change again; the week is a margin).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from loguru import logger

from agent import events
from agent.errors import ConstraintError, StoreError, describe
from agent.hookcalls import first_result
from agent.ports.psa import PsaUnavailable
from agent.ports.rmm import Change, ChangePage, RmmError
from agent.ports.times import now_iso, parse_stored_time, stored_time
from agent.reporting import report_failure
from agent.sync.activation import Activation
from agent.sync.inbound.feed import FeedIO
from agent.sync.inbound.heap import collector_paused
from agent.sync.inbound.rules import KINDS, BadChange, PageApplier
from agent.sync.outage import (
    CREDENTIALS_REFUSED,
    NOT_ACTIVATED,
    RATE_LIMITED,
    REFUSED,
    UNREACHABLE,
    OutageTracker,
    classify,
)

if TYPE_CHECKING:
    from agent.sync.engine_app import EngineApp

T = TypeVar("T")

PAGE_LIMIT = 500
MAX_PAGES_PER_ROUND = 10
GIVE_UP_AFTER = 3
PROCESSED_RETENTION_DAYS = 7
PRUNE_EVERY_SECONDS = 3600
_PROBLEM_STATE = "inbound_problem"


@dataclass
class RoundStats:
    """What one round did; ``applied`` is what :meth:`InboundSync.run_once` returns."""

    pages: int = 0
    fetched: int = 0
    applied: int = 0
    skipped: int = 0
    duplicates: int = 0
    given_up: int = 0
    stopped_by: str = ""
    #: What made the round fail, one sentence; empty when it did not (the queue off, Continuum's
    #: activation pending or its request to wait are not failures of the agent).
    failure: str = ""


@dataclass
class _PageResult:
    applied: int = 0
    skipped: int = 0
    duplicates: int = 0
    given_up: list[tuple[Change, str]] = field(default_factory=list)
    events: list[events.Event] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (Continuum ticket id, REC ID) made


class _ChangeFailed(Exception):
    def __init__(self, change: Change, exc: BaseException, permanent: bool) -> None:
        super().__init__(str(exc))
        self.change, self.exc, self.permanent = change, exc, permanent


class _StopRound(Exception):
    """The round ends here; what happened is logged or reported already."""


class InboundSync:
    """Turns the Continuum change feed into PSA work; build one per round or keep one."""

    def __init__(self, app: EngineApp, *, limit: int = PAGE_LIMIT, max_pages: int = MAX_PAGES_PER_ROUND,
                 give_up_after: int = GIVE_UP_AFTER, clock: Callable[[], float] = time.monotonic,
                 outage: OutageTracker | None = None) -> None:
        self.app = app
        self._clock = clock
        self.outage = outage or app.outage
        self._not_before = -math.inf  # Continuum's Retry-After: no read of the feed before then
        self.limit = limit
        self.max_pages = max_pages
        self.give_up_after = give_up_after
        self.last_round = RoundStats()
        self._pruned_at = -math.inf

    # -- the round -------------------------------------------------------------------------
    def run_once(self) -> int:
        """Read and apply up to ``max_pages`` pages; return how many changes were applied.

        Returns 0 at once while ``ProcessContinuumUpdatesQueue`` is off (R12). Never raises for
        expected failures: transient ones end the round (the next poll retries), the others are
        reported through :func:`agent.reporting.report_failure`.
        """
        stats = self.last_round = RoundStats()
        if not self.app.settings.process_queue:
            stats.stopped_by = "queue off"
            return 0
        if self._clock() < self._not_before:
            stats.stopped_by = "rate limited"
            return 0
        try:
            self._read_pages(stats)
            self._prune_processed()
            self._clear_problem()
        except _StopRound:
            pass
        except RmmError as exc:
            self._rmm_failed(exc, stats)
        except (StoreError, PsaUnavailable) as exc:
            stats.stopped_by = "store"
            stats.failure = describe(exc)
            self._problem("StoreError", "Continuum changes could not be written to the store", exc)
        except Exception as exc:  # noqa: BLE001 - the service loop must survive a bug here; report it
            stats.stopped_by = "error"
            stats.failure = describe(exc)
            self._problem("InboundFailed", "Reading the Continuum ticket queue failed", exc)
        return stats.applied

    def _rmm_failed(self, exc: RmmError, stats: RoundStats) -> None:
        """The round ended on what Continuum answered, or on its not answering."""
        level = self.outage.heard("feed", exc)  # a refusal is an answer: Continuum is reachable
        kind = classify(exc)
        if kind == UNREACHABLE:
            stats.stopped_by = "continuum unavailable"
            stats.failure = describe(exc)
            logger.log(level or "WARNING", "ticket queue not read this time, retried at the next poll: {}",
                       describe(exc))
            return
        if kind == NOT_ACTIVATED:
            stats.stopped_by = "not activated"
            Activation(self.app).pending(exc)
        elif kind == CREDENTIALS_REFUSED:
            stats.stopped_by = "security code"
            stats.failure = describe(exc)
            Activation(self.app).refused()
            self._problem("BadSecurityCode", "Continuum refused the Security Code while reading the ticket queue",
                          exc, events.SECURITY_CODE_REFUSED,
                          todo="Correct [Continuum] PSG in the INI; the agent reads the queue again at the next poll.")
        elif kind == RATE_LIMITED:
            stats.stopped_by = "rate limited"
            delay = getattr(exc, "retry_after", None) or float(self.app.settings.poll_interval_seconds)
            self._not_before = self._clock() + delay
            logger.warning("Continuum asks for {:.0f} s before the ticket queue is read again; the agent waits", delay)
        elif kind == REFUSED:
            stats.stopped_by = "refused"
            stats.failure = describe(exc)
            self._problem("QueueRefused", "Continuum refused to serve the ticket queue", exc)
        else:
            stats.stopped_by = "continuum unavailable"
            stats.failure = describe(exc)
            if exc.retryable:
                logger.warning("ticket queue not read this time, retried at the next poll: {}", describe(exc))
            else:
                self._problem(exc.code, "The ticket queue could not be read", exc)

    def seconds_to_wait(self) -> float:
        """How long Continuum asked the agent to wait before the next read (0: none)."""
        return max(0.0, self._not_before - self._clock())

    def _read_pages(self, stats: RoundStats) -> None:
        """The round's pages: each is read while the one before it is applied (see :mod:`agent.sync.inbound.feed`)."""
        state = self.app.state
        with FeedIO(self.app.rmm, self.limit, state.get_state("acked_cursor")) as feed:
            try:
                self._pages(stats, feed)
            except BaseException:
                self._record_acks(feed, failing=True)
                raise
            self._record_acks(feed)

    def _pages(self, stats: RoundStats, feed: FeedIO) -> None:
        state = self.app.state
        ahead = feed.fetch(state.feed_cursor)
        # Links not acknowledged yet (a crash, or a failed ack, ended an earlier round before):
        # they go with the first ack; later acks carry the links their page made.
        unacked = state.unacked_ticket_links()
        for number in range(1, self.max_pages + 1):
            with collector_paused():
                page = ahead.page()
                self.outage.answered("feed")  # before the page's events: Continuum was back first
                Activation(self.app).confirmed(what="the ticket queue is read")
                more = bool(page.more and page.changes)
                if more and number < self.max_pages:
                    ahead = feed.fetch(page.next)  # applied only once this page's cursor is committed
                self._one_page(page, stats, feed, unacked)
            unacked = []
            if not more:
                return
        stats.stopped_by = "page budget"

    def _one_page(self, page: ChangePage, stats: RoundStats, feed: FeedIO, unacked: list[tuple[str, str]]) -> None:
        """Apply and commit one page, queue its ack, then tell the notifiers."""
        stats.pages += 1
        stats.fetched += len(page.changes)
        result = self._apply_page(page)
        stats.applied += result.applied
        stats.skipped += result.skipped
        stats.duplicates += result.duplicates
        stats.given_up += len(result.given_up)
        try:
            feed.ack(page.next, unacked + result.links)
        finally:
            self.app.notify_all(result.events)
            self._report_given_up(result.given_up)

    def _prune_processed(self) -> None:
        """Forget, once an hour, the ids of changes processed a week or more before the last ack.

        Continuum sends again only what follows the acknowledged cursor, so those ids can never
        be needed again; kept, they would take room for ever. The week is a margin, not a need.
        """
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        acked_at = self.app.state.get_state("acked_at")
        if not acked_at:
            return
        cutoff = parse_stored_time(acked_at) - timedelta(days=PROCESSED_RETENTION_DAYS)
        gone = self.app.state.prune_processed(stored_time(cutoff))
        if gone:
            logger.info("forgot {} processed change id(s) acknowledged more than {} days ago", gone,
                        PROCESSED_RETENTION_DAYS)

    # -- one page in one transaction (D1) --------------------------------------------------
    def _apply_page(self, page: ChangePage) -> _PageResult:
        give_up: dict[str, str] = {}
        batched = True
        while True:
            try:
                return self._commit_page(page, give_up, batched)
            except _ChangeFailed as failure:
                give_up[failure.change.id] = self._after_failure(failure)
            except ConstraintError:
                if not batched:
                    raise
                # A row written with the page's batch broke a rule of the store: the page is
                # applied again row by row, so that the change it belongs to is the one counted.
                batched = False

    def _skipped(self, page: ChangePage, give_up: dict[str, str]) -> set[str]:
        """The changes the skip rule (``zenith_skip_change``) sets aside. It needs no store, so it
        is asked before the page's transaction: a slow plugin holds no lock that other threads wait on."""
        skip, settings = first_result(self.app.pm.hook.zenith_skip_change), self.app.settings
        return {change.id for change in page.changes if change.id not in give_up
                and _guarded(lambda c: bool(skip(change=c, settings=settings)), change)}

    def _apply_changes(self, page: ChangePage, give_up: dict[str, str], skipped: set[str], applier: PageApplier,
                       done: set[str], processed: list[str], result: _PageResult) -> None:
        """The page's changes in order, inside its transaction; ``done`` and ``processed`` grow."""
        state, psa = self.app.state, self.app.psa
        for change in page.changes:
            if change.id in done:
                result.duplicates += 1
                continue
            if change.id in give_up:
                result.given_up.append((change, give_up[change.id]))
                state.audit("zenithlink", "change_given_up", f"{change.id} {change.kind} ticket "
                            f"{change.ticket.ticket_id}: {give_up[change.id]}")
                state.set_state(_failures_key(change.id), None)
            elif change.id in skipped:
                result.skipped += 1
            else:
                with psa.keyed(f"change:{change.id}"):
                    produced = _guarded(applier.apply, change)
                if produced is None:
                    result.skipped += 1
                else:
                    result.applied += 1
                    result.events.extend(produced)
            done.add(change.id)
            processed.append(change.id)

    def _commit_page(self, page: ChangePage, give_up: dict[str, str], batched: bool = True) -> _PageResult:
        state, psa = self.app.state, self.app.psa
        result = _PageResult()
        skipped = self._skipped(page, give_up)
        with self.app.unit_of_work():
            # Read inside the transaction: nothing else writes until it commits.
            applier = PageApplier(self.app, page.changes)
            done = state.processed_among(change.id for change in page.changes)
            failed_before = state.get_states_with_prefix(_FAILURES_PREFIX)  # of any page; usually none
            processed: list[str] = []
            with psa.batch() if batched else nullcontext():
                self._apply_changes(page, give_up, skipped, applier, done, processed, result)
            state.mark_processed_many(processed)
            applier.finish()
            result.links = applier.new_links
            states: dict[str, str | None] = {"last_queue_poll": now_iso()}
            if page.next:
                states["feed_cursor"] = page.next
            # A change that failed before and went through now leaves no counter behind.
            went_through = set(processed)
            states.update({key: None for key in failed_before if key.removeprefix(_FAILURES_PREFIX) in went_through})
            state.set_states(states)
        return result

    def _after_failure(self, failure: _ChangeFailed) -> str:
        """Count a failed change; the reason to give it up, or stop the round to retry it later."""
        change, reason = failure.change, describe(failure.exc)
        key = _failures_key(change.id)
        state = self.app.state
        attempts = int(state.get_state(key) or 0) + 1
        if failure.permanent or attempts >= self.give_up_after:
            logger.warning("change {} ({} of Continuum ticket {}) cannot be applied and is skipped: {}",
                           change.id, change.kind, change.ticket.ticket_id, reason)
            return reason
        state.set_state(key, str(attempts))
        logger.warning("change {} ({} of Continuum ticket {}) failed (attempt {} of {}); the round stops and "
                       "tries again at the next poll: {}", change.id, change.kind, change.ticket.ticket_id,
                       attempts, self.give_up_after, reason)
        self.last_round.stopped_by = "change failed"
        self.last_round.failure = (f"change {change.id} of Continuum ticket {change.ticket.ticket_id} could not be "
                                   f"applied (it is tried again at the next poll): {reason}")
        raise _StopRound from failure.exc

    def _report_given_up(self, given_up: list[tuple[Change, str]]) -> None:
        unexpected = [(c, r) for c, r in given_up if c.kind in KINDS]
        if not unexpected:
            return
        details = {c.id: f"{c.kind} of Continuum ticket {c.ticket.ticket_id}: {r}" for c, r in unexpected}
        report_failure(self.app, "ChangeSkipped",
                       f"{len(unexpected)} Continuum change(s) could not be applied and were skipped",
                       todo="Check the plugins named in the log and the tickets listed here; "
                            "the audit log ('change_given_up') keeps every skipped change.",
                       data=details)

    # -- acknowledgement -------------------------------------------------------------------
    def _record_acks(self, feed: FeedIO, *, failing: bool = False) -> None:
        """Wait for the round's acks and note what Continuum was told; raise the first failure
        (unless the round is ``failing`` already: its own error is the one to report).

        The note need not wait for the disk: if it is lost, the next round tells Continuum the
        same again, which changes nothing there. A refused link is audited, durably.
        """
        sent, failure = feed.finish()
        if sent:
            state = self.app.state
            refused = [r for s in sent for r in s.refused]
            with self.app.unit_of_work(durable=bool(refused)):
                state.mark_links_acked([tid for s in sent for tid in s.linked] + [tid for tid, _, _ in refused])
                state.set_states({"acked_cursor": sent[-1].cursor, "acked_at": now_iso()})
                for tid, rec_id, why in refused:
                    state.audit("zenithlink", "link_refused", f"{tid} -> {rec_id}: {why}")
        if failure is not None and not failing:
            raise failure

    # -- failures --------------------------------------------------------------------------
    def _problem(self, kind: str, what: str, exc: BaseException, event_kind: str | None = None, *,
                 todo: str = "") -> None:
        """Report a failure once; the same failure again, round after round, is only logged."""
        try:
            last = self.app.state.get_state(_PROBLEM_STATE)
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            last = None
        if last == kind:
            logger.warning("{}: {}", what, describe(exc))
            return
        report_failure(self.app, kind, what, exc, event_kind=event_kind, todo=todo)
        try:
            self.app.state.set_state(_PROBLEM_STATE, kind)
        except Exception:  # noqa: BLE001 - already reported
            pass

    def _clear_problem(self) -> None:
        if self.app.state.get_state(_PROBLEM_STATE):
            self.app.state.set_state(_PROBLEM_STATE, None)


def _guarded(step: Callable[[Change], T], change: Change) -> T:
    """Run one step on one change; classify what it raises (storage trouble stops the round as it is)."""
    try:
        return step(change)
    except BadChange as exc:
        raise _ChangeFailed(change, exc, permanent=True) from exc
    except (StoreError, PsaUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin or bad data: counted and eventually skipped
        raise _ChangeFailed(change, exc, permanent=False) from exc


_FAILURES_PREFIX = "change_failures:"


def _failures_key(change_id: str) -> str:
    return _FAILURES_PREFIX + change_id

