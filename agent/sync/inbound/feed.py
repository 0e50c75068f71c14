"""The change feed's requests on a thread of their own, so that they overlap the page work.

:class:`~agent.sync.inbound.engine.InboundSync` asks for the next page while it applies the current one
(read-ahead) and acknowledges a committed page while it applies the next. Continuum is another
machine: without this the agent would wait for it twice a page, doing nothing.

The rules of the contract still hold:

- A page is read with the cursor of the page before it, and applied only once that cursor is
  committed; if the commit fails, the page read ahead is thrown away unused and the next round
  reads again from the committed cursor.
- An ack is sent only for a committed cursor, and acks go out in order (one thread).

This module only talks to the RMM (through the port); the store is written by the caller's thread alone, so a
request never waits for a page's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from loguru import logger

from agent.errors import describe
from agent.ports.rmm import ChangePage, RmmClient, RmmError, RmmRejected

T = TypeVar("T")

ACK_LINKS_PER_CALL = 500


@dataclass
class AckSent:
    """What one acknowledgement achieved: its cursor, the links Continuum took or refused."""

    cursor: str
    linked: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (ticket id, REC ID, why)


class PageAhead:
    """A page being read; :meth:`page` waits for it and builds its records (or raises)."""

    def __init__(self, future: Future[Callable[[], ChangePage]]) -> None:
        self._future = future

    def page(self) -> ChangePage:
        return self._future.result()()


class FeedIO:
    """One worker thread for the feed's reads and acks; use as a context manager (one per round)."""

    def __init__(self, client: RmmClient, limit: int, acked_cursor: str | None) -> None:
        self.client = client
        self.limit = limit
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zenithlink-feed")
        self._acks: list[Future[AckSent]] = []
        self._sent: set[str] = set()
        self._cursor = acked_cursor

    def __enter__(self) -> FeedIO:
        return self

    def __exit__(self, *exc: object) -> None:
        # A page read ahead and not wanted any more is waited for, not left running.
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- reads -----------------------------------------------------------------------------
    def fetch(self, cursor: str | None) -> PageAhead:
        """Start reading the page after ``cursor``."""
        return PageAhead(self._pool.submit(self._fetch, cursor))

    def _fetch(self, cursor: str | None) -> Callable[[], ChangePage]:
        try:
            return self.client.read_changes(after=cursor, limit=self.limit)
        except RmmRejected as exc:
            if not cursor:
                raise
            # The server forgot our cursor: read again from what it has acknowledged; the
            # processed ids make the re-read harmless.
            logger.warning("Continuum refused the feed cursor {} ({}); reading from its acknowledged position",
                           cursor, describe(exc))
            return self.client.read_changes(after=None, limit=self.limit)

    # -- acknowledgements ------------------------------------------------------------------
    def ack(self, cursor: str | None, links: Iterable[tuple[str, str]]) -> None:
        """Queue the ack of committed ``cursor`` with the links not sent in this round yet.

        Raises the error of an earlier ack that failed, so a Continuum that stopped answering
        ends the round at the next page, as a failed read would.
        """
        self.check()
        fresh = [(tid, rec_id) for tid, rec_id in links if tid not in self._sent]
        if not cursor or (not fresh and cursor == self._cursor):
            return
        self._sent.update(tid for tid, _ in fresh)
        self._cursor = cursor
        self._acks.append(self._pool.submit(self._send_ack, cursor, fresh))

    def check(self) -> None:
        """Raise the error of an ack that has failed already (nothing if none has)."""
        for done in [f for f in self._acks if f.done()]:
            done.result()

    def finish(self) -> tuple[list[AckSent], BaseException | None]:
        """Wait for every queued ack: what was acknowledged, and the first failure if any."""
        sent, failure = [], None
        for future in self._acks:
            try:
                sent.append(future.result())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which reports it
                failure = failure or exc
        self._acks = []
        return sent, failure

    def _send_ack(self, cursor: str, links: list[tuple[str, str]]) -> AckSent:
        sent = AckSent(cursor)
        for chunk in _chunks(links, ACK_LINKS_PER_CALL):
            try:
                self.client.ack(cursor, chunk)
                sent.linked += [tid for tid, _ in chunk]
            except RmmRejected as exc:
                if not chunk:
                    raise
                self._ack_one_by_one(cursor, chunk, exc, sent)
        return sent

    def _ack_one_by_one(self, cursor: str, links: list[tuple[str, str]], exc: RmmError,
                        sent: AckSent) -> None:
        logger.warning("Continuum refused an ack with {} link(s) ({}); sending them one by one", len(links),
                       describe(exc))
        self.client.ack(cursor, [])
        for tid, rec_id in links:
            try:
                self.client.ack(cursor, [(tid, rec_id)])
                sent.linked.append(tid)
            except RmmRejected as err:
                # Continuum keeps another PSA ticket as this ticket's master; nothing to retry.
                logger.warning("Continuum refused the link of its ticket {} to {}: {}", tid, rec_id, describe(err))
                sent.refused.append((tid, rec_id, describe(err)))


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    if not items:
        yield []
        return
    for start in range(0, len(items), size):
        yield items[start:start + size]
