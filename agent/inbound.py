"""The change feed into PSA tickets (R1-R12, D1).

One round (:meth:`InboundSync.run_once`) reads a bounded number of feed pages. Each page is
applied in ONE store transaction together with the new cursor; Continuum is acknowledged only
after that commit, and notifiers hear about the page only after it too. Changes are recorded
as processed by id, so a page delivered twice, or again after a crash, changes nothing more.
The requests to Continuum run on a thread of their own (:mod:`agent.feed_io`): the next page
is read while this one is applied, and this one is acknowledged while the next is applied.

Throughput: what a page needs to know is read once, inside its transaction (which of its
changes are processed, the PSA tickets of its Continuum tickets, their last seen fields) and
kept up to date in memory while the page is applied; the processed ids and last seen fields are
written in one statement each when the page ends. PSA records (accounts, tickets, history
notes, ticket links) are still written change by change, so every hook, called once per change
as before, sees what the earlier changes of the page did.

Decisions where the contract is silent:

- A ``TicketReturned``, ``NoteAdded`` or ``TicketUpdated`` for a Continuum ticket that has no
  PSA ticket (it was opened before the server's oldest retained change) creates the PSA ticket
  from the ticket element the change carries, exactly as a ``TicketCreated`` would, and then
  applies the change. No extra request is made: every change carries the whole ticket. Not
  adopted: a ticket that is closed, and a ticket Continuum says is mastered by a PSA ticket
  already (``PsaTicketID``), e.g. one whose link was removed on purpose (R19).
- A change that cannot be applied because of its data (unknown kind, a note change without a
  note) is recorded as processed at once, with a warning and an audit entry. A change whose
  application raises anything else (a plugin error, say) stops the round; after
  ``give_up_after`` rounds failing on the same change it is recorded as processed the same way
  and reported, so one bad change never blocks the feed forever.
- History notes carry Continuum's time of the event (``CreatedOn`` of the ticket or the note,
  ``UpdatedOn`` for other changes); a ticket's history is listed in the order it was written.
- ``TicketUpdated`` notes list what changed since the last change seen for that ticket; the
  last seen fields are kept on the ticket's link (and go when the link goes).
- Processed change ids are kept until a week after the last ack that followed them, then
  forgotten (Continuum never sends an acknowledged change again; the week is a margin).
"""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from operator import attrgetter
from typing import Any, Iterable

from loguru import logger

from agent import events, inventory_index
from agent.continuum.errors import (BadSecurityCode, ContinuumError, ContinuumRefused, NotActivated)
from agent.errors import StoreError, ZenithError, describe
from agent.feed_io import FeedIO
from agent.reporting import report_failure
from agent.store import now_iso

PAGE_LIMIT = 500
MAX_PAGES_PER_ROUND = 10
GIVE_UP_AFTER = 3
PROCESSED_RETENTION_DAYS = 7
PRUNE_EVERY_SECONDS = 3600
AUTHOR = "Continuum"
KINDS = ("TicketCreated", "TicketReturned", "TicketClosed", "NoteAdded", "TicketUpdated")
SNAPSHOT_FIELDS = (("title", "Title"), ("description", "Description"), ("priority", "Priority"),
                   ("status", "Status"), ("assigned_to", "Assigned to"), ("site_code", "Site"),
                   ("device_id", "Device"))
_PROBLEM_STATE = "inbound_problem"
_SNAPSHOT_NAMES = tuple(name for name, _ in SNAPSHOT_FIELDS)
_snapshot_values = attrgetter(*_SNAPSHOT_NAMES)
_SEEN_SEP = "\x1f"
ACTIVATION_PENDING = "Waiting for Continuum to apply the PSA activation (this can take up to 24 hours)"


class BadChange(ZenithError):
    """A feed change whose data cannot be applied; it is recorded as processed and skipped."""

    code = "BadChange"


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


@dataclass
class _PageResult:
    applied: int = 0
    skipped: int = 0
    duplicates: int = 0
    given_up: list[tuple[Any, str]] = field(default_factory=list)
    events: list[events.Event] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (Continuum ticket id, REC ID) made


class _ChangeFailed(Exception):
    def __init__(self, change, exc: BaseException, permanent: bool) -> None:
        super().__init__(str(exc))
        self.change, self.exc, self.permanent = change, exc, permanent


class _StopRound(Exception):
    """The round ends here; what happened is logged or reported already."""


class InboundSync:
    """Turns the Continuum change feed into PSA work; build one per round or keep one."""

    def __init__(self, app, *, limit: int = PAGE_LIMIT, max_pages: int = MAX_PAGES_PER_ROUND,
                 give_up_after: int = GIVE_UP_AFTER) -> None:
        self.app = app
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
        try:
            self._read_pages(stats)
            self._prune_processed()
            self._clear_problem()
        except _StopRound:
            pass
        except NotActivated:
            stats.stopped_by = "not activated"
            self._activation_pending()
        except BadSecurityCode as exc:
            stats.stopped_by = "security code"
            self.app.store.set_state("activation", "refused")
            self._problem("BadSecurityCode", "Continuum refused the Security Code while reading the ticket queue",
                          exc, events.SECURITY_CODE_REFUSED,
                          todo="Correct [Continuum] PSG in the INI; the agent reads the queue again at the next poll.")
        except ContinuumRefused as exc:
            stats.stopped_by = "refused"
            self._problem("QueueRefused", "Continuum refused to serve the ticket queue", exc)
        except ContinuumError as exc:
            stats.stopped_by = "continuum unavailable"
            if exc.retryable and exc.code != "BadAnswer":
                logger.warning("ticket queue not read this time, retried at the next poll: {}", describe(exc))
            else:
                self._problem(exc.code, "The ticket queue could not be read", exc)
        except (StoreError, sqlite3.Error) as exc:
            stats.stopped_by = "store"
            self._problem("StoreError", "Continuum changes could not be written to the store", exc)
        except Exception as exc:  # noqa: BLE001 - the service loop must survive a bug here; report it
            stats.stopped_by = "error"
            self._problem("InboundFailed", "Reading the Continuum ticket queue failed", exc)
        return stats.applied

    def _read_pages(self, stats: RoundStats) -> None:
        """The round's pages: each is read while the one before it is applied (see :mod:`agent.feed_io`)."""
        store = self.app.store
        with FeedIO(self.app.client, self.limit, store.get_state("acked_cursor")) as feed:
            try:
                self._pages(stats, feed)
            except BaseException:
                self._record_acks(feed, failing=True)
                raise
            self._record_acks(feed)

    def _pages(self, stats: RoundStats, feed: FeedIO) -> None:
        store = self.app.store
        ahead = feed.fetch(store.feed_cursor)
        # Links not acknowledged yet (a crash, or a failed ack, ended an earlier round before):
        # they go with the first ack; later acks carry the links their page made.
        unacked = store.unacked_ticket_links()
        for number in range(1, self.max_pages + 1):
            page = ahead.page()
            self._activation_confirmed()
            more = bool(page.more and page.changes)
            if more and number < self.max_pages:
                ahead = feed.fetch(page.next)  # applied only once this page's cursor is committed
            self._one_page(page, stats, feed, unacked)
            unacked = []
            if not more:
                return
        stats.stopped_by = "page budget"

    def _one_page(self, page, stats: RoundStats, feed: FeedIO, unacked: list[tuple[str, str]]) -> None:
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
            for event in result.events:
                self.app.notify(event)
            self._report_given_up(result.given_up)

    def _prune_processed(self) -> None:
        """Forget, once an hour, the ids of changes processed a week or more before the last ack.

        Continuum sends again only what follows the acknowledged cursor, so those ids can never
        be needed again; kept, they would take room for ever. The week is a margin, not a need.
        """
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        acked_at = _parse_time(self.app.store.get_state("acked_at") or "")
        if acked_at is None:
            return
        gone = self.app.store.prune_processed(_stored(acked_at - timedelta(days=PROCESSED_RETENTION_DAYS)))
        if gone:
            logger.info("forgot {} processed change id(s) acknowledged more than {} days ago", gone,
                        PROCESSED_RETENTION_DAYS)

    def _activation_confirmed(self) -> None:
        store = self.app.store
        if store.get_state("activation") in ("pending", "refused"):
            with store.transaction():
                store.set_state("activation", "ok")
                store.set_state("activation_pending_since", None)
            logger.info("Continuum accepts the Security Code now; the ticket queue is read")

    # -- one page in one transaction (D1) --------------------------------------------------
    def _apply_page(self, page) -> _PageResult:
        give_up: dict[str, str] = {}
        while True:
            try:
                return self._commit_page(page, give_up)
            except _ChangeFailed as failure:
                give_up[failure.change.id] = self._after_failure(failure)

    def _commit_page(self, page, give_up: dict[str, str]) -> _PageResult:
        store = self.app.store
        result = _PageResult()
        with store.transaction():
            # Read inside the transaction: nothing else writes until it commits.
            applier = _Applier(self.app, page.changes)
            done = store.processed_among(change.id for change in page.changes)
            processed: list[str] = []
            for change in page.changes:
                if change.id in done:
                    result.duplicates += 1
                    continue
                if change.id in give_up:
                    result.given_up.append((change, give_up[change.id]))
                    store.audit("zenithlink", "change_given_up", f"{change.id} {change.kind} ticket "
                                f"{change.ticket.ticket_id}: {give_up[change.id]}")
                    store.set_state(_failures_key(change.id), None)
                elif _guarded(applier.skip, change):
                    result.skipped += 1
                else:
                    produced = _guarded(applier.apply, change)
                    if produced is None:
                        result.skipped += 1
                    else:
                        result.applied += 1
                        result.events.extend(produced)
                done.add(change.id)
                processed.append(change.id)
            store.mark_processed_many(processed)
            applier.finish()
            result.links = applier.new_links
            states = {"last_queue_poll": now_iso()}
            if page.next:
                states["feed_cursor"] = page.next
            store.set_states(states)
        return result

    def _after_failure(self, failure: _ChangeFailed) -> str:
        """Count a failed change; the reason to give it up, or stop the round to retry it later."""
        change, reason = failure.change, describe(failure.exc)
        key = _failures_key(change.id)
        store = self.app.store
        attempts = int(store.get_state(key) or 0) + 1
        if failure.permanent or attempts >= self.give_up_after:
            logger.warning("change {} ({} of Continuum ticket {}) cannot be applied and is skipped: {}",
                           change.id, change.kind, change.ticket.ticket_id, reason)
            return reason
        store.set_state(key, str(attempts))
        logger.warning("change {} ({} of Continuum ticket {}) failed (attempt {} of {}); the round stops and "
                       "tries again at the next poll: {}", change.id, change.kind, change.ticket.ticket_id,
                       attempts, self.give_up_after, reason)
        self.last_round.stopped_by = "change failed"
        raise _StopRound from failure.exc

    def _report_given_up(self, given_up: list[tuple[Any, str]]) -> None:
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
            store = self.app.store
            refused = [r for s in sent for r in s.refused]
            with store.transaction(durable=bool(refused)):
                store.mark_links_acked([tid for s in sent for tid in s.linked] + [tid for tid, _, _ in refused])
                store.set_states({"acked_cursor": sent[-1].cursor, "acked_at": now_iso()})
                for tid, rec_id, why in refused:
                    store.audit("zenithlink", "link_refused", f"{tid} -> {rec_id}: {why}")
        if failure is not None and not failing:
            raise failure

    # -- failures --------------------------------------------------------------------------
    def _activation_pending(self) -> None:
        """Not a failure of the agent: noted quietly; notifiers hear it once (as the inventory job does)."""
        store = self.app.store
        since = store.get_state("activation_pending_since")
        with store.transaction():
            store.set_state("activation", "pending")
            if not since:
                store.set_state("activation_pending_since", now_iso())
        if since:
            logger.debug("ticket queue: the PSA activation is still pending")
            return
        logger.info("ticket queue: Continuum has not applied the PSA activation yet (this can take up to "
                    "24 hours); the agent keeps polling")
        self.app.notify(events.Event(events.ACTIVATION_PENDING, ACTIVATION_PENDING, {"since": now_iso()}))

    def _problem(self, kind: str, what: str, exc: BaseException, event_kind: str | None = None, *,
                 todo: str = "") -> None:
        """Report a failure once; the same failure again, round after round, is only logged."""
        try:
            last = self.app.store.get_state(_PROBLEM_STATE)
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            last = None
        if last == kind:
            logger.warning("{}: {}", what, describe(exc))
            return
        report_failure(self.app, kind, what, exc, event_kind=event_kind, todo=todo)
        try:
            self.app.store.set_state(_PROBLEM_STATE, kind)
        except Exception:  # noqa: BLE001 - already reported
            pass

    def _clear_problem(self) -> None:
        if self.app.store.get_state(_PROBLEM_STATE):
            self.app.store.set_state(_PROBLEM_STATE, None)


def _guarded(step, change):
    """Run one step on one change; classify what it raises (storage trouble stops the round as it is)."""
    try:
        return step(change)
    except BadChange as exc:
        raise _ChangeFailed(change, exc, permanent=True) from exc
    except StoreError:
        raise
    except sqlite3.IntegrityError as exc:
        raise _ChangeFailed(change, exc, permanent=False) from exc
    except sqlite3.Error:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin or bad data: counted and eventually skipped
        raise _ChangeFailed(change, exc, permanent=False) from exc


class _Applier:
    """Applies the single changes of one page inside the page's transaction; collects nothing but events.

    What the page needs from the store is read once when the page starts (the PSA tickets of
    its Continuum tickets, their last seen fields) and kept up to date as the page is applied:
    within the page's transaction only this page writes ticket links. The last seen fields of
    tickets linked before the page are written when the page ends (:meth:`finish`); PSA records
    (accounts, tickets, history notes, ticket links) are written at once, so the hooks called
    for a later change of the page see them. ``new_links`` lists the links the page made, for
    the ack.
    """

    def __init__(self, app, changes: Iterable[Any] = ()) -> None:
        self.settings = app.settings
        self.store = app.store
        hook = app.pm.hook
        self._skip_change = hook.zenith_skip_change
        self._resolve_account = hook.zenith_resolve_account
        self._resolve_asset = hook.zenith_resolve_asset
        self._ticket_manager = hook.zenith_ticket_manager
        self._ticket_description = hook.zenith_ticket_description
        self._handlers = {"TicketCreated": self._created, "TicketReturned": self._returned,
                          "TicketClosed": self._closed, "NoteAdded": self._note_added,
                          "TicketUpdated": self._updated}
        known = self.store.ticket_links_among({change.ticket.ticket_id for change in changes})
        self._links = {tid: rec_id for tid, (rec_id, _) in known.items()}
        self._seen = {tid: seen for tid, (_, seen) in known.items() if seen}
        self._remembered: dict[str, str] = {}
        self.new_links: list[tuple[str, str]] = []
        self._device_lookup = None

    def finish(self) -> None:
        """Write what the page remembered of its tickets; call once, inside the page's transaction."""
        self.store.set_seen_many(self._remembered.items())
        self._remembered = {}

    def skip(self, change) -> bool:
        return bool(self._skip_change(change=change, settings=self.settings))

    def apply(self, change) -> list[events.Event] | None:
        """Apply one change; its events, or ``None`` when it asks for nothing (R10, orphans)."""
        handler = self._handlers.get(change.kind)
        if handler is None:
            raise BadChange(f"unknown change kind {change.kind!r}; this agent knows {', '.join(KINDS)}")
        return handler(change)

    # -- kinds -----------------------------------------------------------------------------
    def _created(self, change) -> list[events.Event] | None:
        ticket = change.ticket
        if ticket.ticket_id in self._links:
            return None  # R10: this Continuum ticket has its PSA ticket already
        return [self._create(ticket)]

    def _returned(self, change) -> list[events.Event] | None:
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        ticket, note = change.ticket, change.note
        self.store.set_inbox(rec_id, True)
        text = f"Returned by {_who(ticket.origin)} in Continuum with status {ticket.status or 'unknown'}"
        self._history(rec_id, text + _note_suffix(note), note.created_on if note else ticket.updated_on)
        self._remember(ticket)
        produced.append(_event(events.TICKET_RETURNED, f"Continuum ticket {ticket.ticket_id} returned "
                               f"({ticket.status}) into the Inbox as {rec_id}", ticket, rec_id,
                               status=ticket.status, note=note.text if note else ""))
        return produced

    def _closed(self, change) -> list[events.Event] | None:
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        ticket, note = change.ticket, change.note
        text = f"Closed in Continuum by {_who(ticket.origin)}; the status of this ticket is unchanged"
        self._history(rec_id, text + _note_suffix(note), note.created_on if note else ticket.updated_on)
        self._remember(ticket)
        produced.append(_event(events.TICKET_CLOSED_IN_CONTINUUM,
                               f"Continuum ticket {ticket.ticket_id} was closed in Continuum ({rec_id})",
                               ticket, rec_id))
        return produced

    def _note_added(self, change) -> list[events.Event] | None:
        note = change.note
        if note is None:
            raise BadChange("a NoteAdded change without its <Note>")
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        author = note.author or _who(note.origin)
        self._history(rec_id, f"Note from {author} in Continuum: {note.text}", note.created_on)
        self._remember(change.ticket)
        return produced

    def _updated(self, change) -> list[events.Event] | None:
        ticket = change.ticket
        before = self._snapshot(ticket.ticket_id)
        produced, rec_id = self._linked(change)
        if rec_id is None:
            return None
        if produced:
            before = None  # adopted just now from this very change: nothing to compare with
        text = f"Updated in Continuum by {_who(ticket.origin)}: {update_summary(before, ticket)}"
        self._history(rec_id, text, ticket.updated_on)
        self._remember(ticket)
        return produced

    # -- shared steps ----------------------------------------------------------------------
    def _linked(self, change) -> tuple[list[events.Event], str | None]:
        """The PSA ticket of the change's Continuum ticket, adopting it when sensible."""
        ticket = change.ticket
        rec_id = self._links.get(ticket.ticket_id)
        if rec_id:
            return [], rec_id
        if change.kind == "TicketClosed" or ticket.status == "Closed" or ticket.psa_ticket_id:
            logger.info("{} of Continuum ticket {} ignored: no PSA ticket is linked to it{}", change.kind,
                        ticket.ticket_id, f" (Continuum names {ticket.psa_ticket_id})" if ticket.psa_ticket_id else "")
            return [], None
        created = self._create(ticket)
        return [created], created.data["ticket_rec_id"]

    def _create(self, ticket) -> events.Event:
        """R1-R6: one PSA ticket in the Inbox, linked to the Continuum ticket."""
        store, settings = self.store, self.settings
        account = self._resolve_account(ticket=ticket, store=store, settings=settings)
        if not account:
            raise BadChange(f"no plugin chose an account for Continuum ticket {ticket.ticket_id}; "
                            "enable the account_resolver plugin or a replacement")
        asset = self._resolve_asset(ticket=ticket, account=account, store=store, settings=settings)
        manager = self._ticket_manager(ticket=ticket, account=account, store=store, settings=settings)
        device = self._device(ticket.device_id) if ticket.device_id else None
        description = self._ticket_description(ticket=ticket, device=device, asset=asset, settings=settings)
        rec_id = store.add_ticket(account, description or _fallback_description(ticket), asset_rec_id=asset,
                                  manager=manager, in_inbox=True)
        self._history(rec_id, created_text(ticket), ticket.created_on, touch=False)
        seen = self._seen[ticket.ticket_id] = _snapshot(ticket)
        store.link_ticket(ticket.ticket_id, rec_id, seen=seen)
        self._links[ticket.ticket_id] = rec_id
        self.new_links.append((ticket.ticket_id, rec_id))
        return _event(events.TICKET_CREATED, f"Continuum ticket {ticket.ticket_id} became PSA ticket {rec_id}",
                      ticket, rec_id, account_rec_id=account, asset_rec_id=asset, manager=manager,
                      title=ticket.title)

    def _device(self, device_id: str) -> dict[str, str] | None:
        if self._device_lookup is None:  # the devices file as it is when the page first needs it
            self._device_lookup = inventory_index.device_lookup(self.settings)
        return self._device_lookup(device_id)

    def _history(self, rec_id: str, text: str, when: str, *, touch: bool = True) -> None:
        self.store.add_history(rec_id, text, at=store_time(when), author=AUTHOR, touch=touch)

    def _snapshot(self, ticket_id: str) -> dict[str, str] | None:
        raw = self._seen.get(ticket_id)
        return seen_fields(raw) if raw else None

    def _remember(self, ticket) -> None:
        self._seen[ticket.ticket_id] = self._remembered[ticket.ticket_id] = _snapshot(ticket)


# -- texts -----------------------------------------------------------------------------------
def created_text(ticket) -> str:
    """The History Note of a new ticket, with Continuum's creation date and time (R1)."""
    by = ticket.created_by or "Continuum"
    source = f" ({ticket.source})" if ticket.source else ""
    return f"Created in Continuum on {human_time(ticket.created_on)} by {by}{source}; Continuum ticket {ticket.ticket_id}"


def update_summary(before: dict[str, str] | None, ticket) -> str:
    """What changed (``before`` is the last seen fields), or the current fields if unknown."""
    now = {name: getattr(ticket, name) or "" for name, _ in SNAPSHOT_FIELDS}
    if before is None:
        return "; ".join(f"{label} {_short(now[name]) or '(none)'}" for name, label in SNAPSHOT_FIELDS if now[name])
    changed = [f"{label} {_short(before.get(name, '')) or '(none)'} -> {_short(now[name]) or '(none)'}"
               for name, label in SNAPSHOT_FIELDS if before.get(name, "") != now[name]]
    return "; ".join(changed) if changed else "no change to the title, description, priority, status, assignee, site or device"


def human_time(value: str) -> str:
    moment = _parse_time(value)
    return moment.isoformat(" ", "minutes")[:16] + " UTC" if moment else (value or "an unknown time")


def store_time(value: str) -> str:
    """A Continuum time in the store's own format (so history sorts right); now if unreadable."""
    moment = _parse_time(value)
    return _stored(moment) if moment else now_iso()


def _stored(moment: datetime) -> str:
    return moment.isoformat("T", "microseconds")[:26] + "Z"


@lru_cache(maxsize=64)  # a new ticket's time is read twice: its note's text and its note's time
def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _note_suffix(note) -> str:
    return f". Note from {note.author or _who(note.origin)}: {note.text}" if note and note.text else ""


def _who(origin: str) -> str:
    return {"NOC": "the NOC", "VSD": "the Virtual Service Desk", "System": "Continuum"}.get(origin or "", origin or "Continuum")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fallback_description(ticket) -> str:
    return ticket.title or ticket.description or f"Continuum ticket {ticket.ticket_id}"


def _event(kind: str, summary: str, ticket, rec_id: str, **data: Any) -> events.Event:
    return events.Event(kind, summary, {"ticket_rec_id": rec_id, "continuum_ticket_id": ticket.ticket_id,
                                        "site_code": ticket.site_code, "device_id": ticket.device_id, **data})


def seen_fields(raw: str) -> dict[str, str]:
    """The last seen fields as stored on a ticket link, by name (see :data:`SNAPSHOT_FIELDS`)."""
    return dict(zip(_SNAPSHOT_NAMES, raw.split(_SEEN_SEP)))


def _snapshot(ticket) -> str:
    """The last seen fields of a Continuum ticket as stored: the values in SNAPSHOT_FIELDS order
    joined by U+001F, which cannot occur in them (they come from XML, which cannot hold it)."""
    return _SEEN_SEP.join([value or "" for value in _snapshot_values(ticket)])


def _failures_key(change_id: str) -> str:
    return f"change_failures:{change_id}"

