"""The feed's requests overlap the page work (agent.sync.inbound.feed): the next page is read while one is
applied, acks go out behind; a page is applied only once the cursor it was read with is committed."""

from __future__ import annotations

import threading
import time

from agent.hookspecs import hookimpl
from agent.sync.inbound.engine import InboundSync

from test_inbound_support import Env, sandbox  # noqa: F401 - fixtures


class FeedLog:
    """Wraps the sandbox's feed to record the ``after`` of every page request."""

    def __init__(self, world) -> None:
        self.afters: list[str | None] = []
        self.arrived = threading.Condition()
        real = world.feed

        def feed(after, limit, **kwargs):
            with self.arrived:
                self.afters.append(after)
                self.arrived.notify_all()
            return real(after, limit, **kwargs)

        world.feed = feed

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.afters) >= count, timeout)


class Probe:
    """Runs ``check`` for the Continuum tickets named in ``at`` while their page is applied."""

    def __init__(self) -> None:
        self.at: set[str] = set()
        self.check = lambda ticket_id: None

    @hookimpl(tryfirst=True)
    def zenith_resolve_account(self, ticket, psa, settings):
        if ticket.ticket_id in self.at:
            self.check(ticket.ticket_id)
        return None


def test_the_next_page_is_requested_while_the_page_is_applied(tmp_path, sandbox):
    probe = Probe()
    env = Env(tmp_path, sandbox, plugins=[("probe", probe)])
    try:
        ids = [env.open(env.site_codes()[0]) for _ in range(6)]
        log = FeedLog(env.world)
        seen_during_apply: list[bool] = []
        probe.at = {ids[2]}  # the last ticket of the first page
        probe.check = lambda _: seen_during_apply.append(log.wait_for(2))

        assert env.sync(limit=3) == 6

        # Without read-ahead the second request would only come after this page's commit.
        assert seen_during_apply == [True]
        first_page_cursor = env.world.changes[2]["id"]
        assert log.afters[:2] == [None, first_page_cursor]
        assert env.world.acked_cursor == env.state.feed_cursor == env.world.changes[5]["id"]
        assert env.state.unacked_ticket_links() == []
        assert env.world.links == {t: env.state.ticket_for_continuum(t) for t in ids}
    finally:
        env.close()


def test_a_page_read_ahead_is_not_applied_when_the_page_before_it_fails(tmp_path, sandbox):
    probe = Probe()
    env = Env(tmp_path, sandbox, plugins=[("probe", probe)])
    try:
        ids = [env.open(env.site_codes()[0]) for _ in range(9)]
        log = FeedLog(env.world)

        def fail_once_page_three_was_requested(ticket_id):
            assert log.wait_for(3)
            raise RuntimeError("lookup service down")

        probe.at, probe.check = {ids[4]}, fail_once_page_three_was_requested
        sync = InboundSync(env.app, limit=3)

        assert sync.run_once() == 3
        assert sync.last_round.stopped_by == "change failed"

        # Page 1 committed and acknowledged; pages 2 and 3 (read ahead) left no trace.
        page_one = env.world.changes[2]["id"]
        assert log.afters[:3] == [None, page_one, env.world.changes[5]["id"]]
        assert env.state.feed_cursor == env.world.acked_cursor == page_one
        assert env.psa.count_tickets() == 3
        assert [env.state.ticket_for_continuum(t) is not None for t in ids] == [True] * 3 + [False] * 6

        probe.at = set()
        started = len(log.afters)
        assert env.drain(limit=3) == 6
        assert log.afters[started] == page_one  # read again from the committed cursor
        assert env.psa.count_tickets() == 9
        assert env.world.acked_cursor == env.state.feed_cursor
    finally:
        env.close()


def test_a_failed_ack_ends_the_round_and_is_sent_again_next_time(tmp_path, sandbox):
    env = Env(tmp_path, sandbox)
    try:
        ids = [env.open(env.site_codes()[0]) for _ in range(6)]
        env.sandbox.faults.set(outage=True, paths=["/psa/v1/queue/ack"])
        sync = InboundSync(env.app, limit=3)

        sync.run_once()

        assert sync.last_round.stopped_by == "continuum unavailable"
        assert env.world.acked_cursor is None and env.world.links == {}
        assert env.psa.count_tickets() >= 3  # committed before the ack was tried
        env.sandbox.faults.clear()
        deadline = time.monotonic() + 10
        while env.world.acked_cursor != env.world.changes[5]["id"] and time.monotonic() < deadline:
            env.sync(limit=3)
        assert env.world.acked_cursor == env.state.feed_cursor
        assert env.world.links == {t: env.state.ticket_for_continuum(t) for t in ids}
        assert env.state.unacked_ticket_links() == []
    finally:
        env.close()
