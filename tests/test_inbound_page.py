"""One feed page is applied in one transaction with what it reads once per page (processed ids,
linked tickets, last seen fields) kept up to date as it goes: several changes of one ticket, and
several tickets of one unlinked site, in the same page."""

from __future__ import annotations

import gc

from agent import events
from agent.hookspecs import hookimpl
from agent.sync.inbound.engine import InboundSync

from rmm_support import needs_feed
from test_inbound_support import Env, sandbox  # noqa: F401 - fixtures

pytestmark = needs_feed()  # the inbound engine reads a change-feed RMM's tickets


class Watcher:
    """A manager rule that looks at the store: how many PSA tickets exist when it is asked."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    @hookimpl
    def zenith_ticket_manager(self, ticket, account, psa, settings):
        self.counts.append(psa.count_tickets())
        return None


def test_every_change_of_one_ticket_in_one_page(tmp_path, sandbox):
    env = Env(tmp_path, sandbox)
    try:
        site = env.site_codes()[0]
        tid = env.open(site, title="Backup failed", priority="High")
        env.world.add_note(tid, "Looking at it.", author="NOC")
        env.world.update_ticket(tid, priority="Critical")
        env.world.return_ticket(tid, "Info Needed")
        env.world.update_ticket(tid, assigned_to="VSD")
        env.world.close_ticket(tid)

        assert env.sync() == 6
        assert env.sandbox.world.acked_cursor == env.state.feed_cursor
        assert env.psa.count_tickets() == 1
        texts = [h.text for h in env.ticket_of(tid).history]
        assert len(texts) == 6
        assert texts[0].startswith("Created in Continuum") and "Looking at it." in texts[1]
        assert "Priority High -> Critical" in texts[2] and "Title" not in texts[2]
        assert "Info Needed" in texts[3]
        assert "Priority" not in texts[4] and "-> VSD" in texts[4]  # compared with the change before it
        assert texts[5].startswith("Closed in Continuum")
        assert env.recorder.kinds() == [events.TICKET_CREATED, events.TICKET_RETURNED,
                                        events.TICKET_CLOSED_IN_CONTINUUM]

        # The fields remembered at the end of that page are what the next page compares with.
        env.world.update_ticket(tid, title="Backup failed twice")
        assert env.sync() == 1
        last = env.ticket_of(tid).history[-1].text
        assert "Title Backup failed -> Backup failed twice" in last and "Priority" not in last
    finally:
        env.close()


def test_tickets_of_one_unlinked_site_in_one_page_share_one_new_account(tmp_path, sandbox):
    watcher = Watcher()
    env = Env(tmp_path, sandbox, plugins=[("watcher", watcher)])
    try:
        site = env.site_codes()[1]
        ids = [env.open(site, title=f"Alert {n}") for n in range(3)]
        own = env.psa.add_account("Own business")

        assert env.sync() == 3

        accounts = {env.ticket_of(t).account_rec_id for t in ids}
        assert len(accounts) == 1 and own not in accounts  # R4: created once, then linked
        assert env.state.account_for_site(site) in accounts
        assert [a.auto_created for a in env.psa.list_accounts()] == [False, True]
        assert [env.ticket_of(t).ticket_no for t in ids] == [1, 2, 3]
        assert watcher.counts == [0, 1, 2]  # a hook sees the tickets made earlier in the page
        assert env.state.unacked_ticket_links() == []
        assert env.sandbox.world.links == {t: env.ticket_of(t).rec_id for t in ids}
    finally:
        env.close()


class CollectorWatcher:
    """A manager rule that notes whether the cyclic garbage collector runs while a page is applied."""

    def __init__(self) -> None:
        self.enabled: list[bool] = []

    @hookimpl
    def zenith_ticket_manager(self, ticket, account, psa, settings):
        self.enabled.append(gc.isenabled())
        return None


def test_the_collector_is_paused_while_a_page_is_applied_and_as_it_was_after(tmp_path, sandbox):
    watcher = CollectorWatcher()
    env = Env(tmp_path, sandbox, plugins=[("collector", watcher)])
    try:
        site = env.site_codes()[0]
        env.open(site, title="one")
        env.open(site, title="two")
        assert gc.isenabled()
        assert env.sync() == 2
        assert watcher.enabled == [False, False]
        assert gc.isenabled()

        gc.disable()  # switched off by someone else: left off
        try:
            env.open(site, title="three")
            assert env.sync() == 1
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        env.close()


def test_a_page_that_fails_gives_the_collector_back(tmp_path, sandbox):
    class Failing:
        @hookimpl
        def zenith_ticket_description(self, ticket, device, asset, settings):
            raise RuntimeError("a plugin bug")

    env = Env(tmp_path, sandbox, plugins=[("failing", Failing())])
    try:
        env.open(env.site_codes()[0], title="one")
        assert env.sync() == 0
        assert gc.isenabled()
    finally:
        env.close()


def test_a_row_of_the_batch_that_breaks_a_rule_of_the_store_is_counted_against_its_change(tmp_path, sandbox):
    """The page's rows are written together; one that the store refuses (here a link a plugin made
    behind the agent's back) sends the page round again row by row, so that the change it belongs
    to is the one that fails and is counted, not the whole round."""
    holder: dict = {}

    class LinksBehindTheBack:
        @hookimpl
        def zenith_ticket_manager(self, ticket, account, psa, settings):
            if ticket.title == "taken":
                holder["env"].state.link_ticket(ticket.ticket_id, "TKT00000000000000042")
            return None

    env = Env(tmp_path, sandbox, plugins=[("links", LinksBehindTheBack())])
    holder["env"] = env
    try:
        site = env.site_codes()[0]
        fine = env.open(site, title="fine")
        taken = env.open(site, title="taken")
        sync = InboundSync(env.app)
        assert sync.run_once() == 0
        assert sync.last_round.stopped_by == "change failed"
        assert f"Continuum ticket {taken}" in sync.last_round.failure
        assert env.state.ticket_for_continuum(fine) is None  # the page's transaction was rolled back whole
    finally:
        env.close()
