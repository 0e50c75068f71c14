"""The feed machinery: one transaction per page (D1), ack after commit, failures, orphans, budget."""

from __future__ import annotations

from lxml import etree

from agent import events
from agent.backends.continuum import answers
from agent.hookspecs import hookimpl
from agent.sync.inbound.engine import InboundSync
from agent.sync.outage import OutageTracker
from dbsys import reports

from rmm_support import needs_feed
from test_inbound_support import Env, env, sandbox  # noqa: F401 - fixtures

pytestmark = needs_feed()  # the inbound engine reads a change-feed RMM's tickets


class FailingResolver:
    """Raises for the Continuum tickets named in ``fail`` (a plugin with a bug, or a backend down)."""

    def __init__(self) -> None:
        self.fail: set[str] = set()

    @hookimpl(tryfirst=True)
    def zenith_resolve_account(self, ticket, psa, settings):
        if ticket.ticket_id in self.fail:
            raise RuntimeError(f"lookup service down for {ticket.ticket_id}")
        return None


def test_a_page_commits_all_or_nothing_with_its_cursor(tmp_path, sandbox):
    resolver = FailingResolver()
    env = Env(tmp_path, sandbox, plugins=[("failing", resolver)])
    try:
        ids = [env.open(env.site_codes()[0]) for _ in range(5)]
        resolver.fail = {ids[3]}

        assert env.sync() == 0

        if env.psa.joins_state_transaction:
            # The first three tickets of the page were rolled back with the failing fourth.
            assert env.psa.count_tickets() == 0
            assert env.psa.list_accounts() == []  # even the auto-created account
        else:
            # Written at once (no transactions, D9): kept, and found again by their keys below.
            assert env.psa.count_tickets() == 3 and len(env.psa.list_accounts()) == 1
        assert env.state.feed_cursor is None
        assert env.world.acked_cursor is None
        assert env.recorder.events == []  # notifiers hear only of committed work

        resolver.fail = set()
        assert env.sync() == 5
        assert env.psa.count_tickets() == 5
        assert len(env.psa.list_accounts()) == 1  # one auto-created account for the site, not two
        linked = sorted(env.state.ticket_for_continuum(t) for t in ids)
        assert linked == sorted(t.rec_id for t in env.psa.list_tickets())
        assert env.world.acked_cursor == env.state.feed_cursor
    finally:
        env.close()


def test_a_change_that_fails_once_then_goes_through_leaves_no_failure_counter(tmp_path, sandbox):
    resolver = FailingResolver()
    env = Env(tmp_path, sandbox, plugins=[("failing", resolver)])
    try:
        tid = env.open(env.site_codes()[0])
        change_id = env.world.changes[0]["id"]
        resolver.fail = {tid}
        assert env.sync() == 0
        assert env.state.get_state(f"change_failures:{change_id}") == "1"
        resolver.fail = set()
        assert env.sync() == 1
        assert env.state.get_state(f"change_failures:{change_id}") is None
        assert env.state.db.scalar("SELECT COUNT(*) FROM sync_state WHERE key LIKE 'change_failures:%'") == 0
    finally:
        env.close()


def test_a_change_that_keeps_failing_is_given_up_reported_and_never_blocks_the_feed(tmp_path, sandbox):
    resolver = FailingResolver()
    env = Env(tmp_path, sandbox, plugins=[("failing", resolver)])
    try:
        ids = [env.open(env.site_codes()[0]) for _ in range(3)]
        resolver.fail = {ids[1]}

        assert env.sync(give_up_after=3) == 0
        assert env.sync(give_up_after=3) == 0
        assert reports.list_reports(env.dbsys) == []
        assert env.sync(give_up_after=3) == 2  # third failing round: the change is skipped

        assert env.state.ticket_for_continuum(ids[1]) is None
        assert env.psa.count_tickets() == 2
        assert env.all_processed()
        [report] = reports.list_reports(env.dbsys)
        assert "skipped" in report.what
        audit = [a for a in env.state.audit_log() if a["action"] == "change_given_up"]
        assert len(audit) == 1 and ids[1] in audit[0]["detail"] and "lookup service down" in audit[0]["detail"]
        assert env.state.get_state(f"change_failures:{env.world.changes[1]['id']}") is None
    finally:
        env.close()


class StubClient:
    """Hands out fixed feed pages (XML the sandbox never sends) and records acks."""

    def __init__(self, pages: list[str]) -> None:
        self.pages = pages
        self.acks: list[tuple[str, list]] = []

    def read_changes(self, after, limit=100):
        xml = self.pages.pop(0) if self.pages else f'<Changes next="{after or ""}" more="false"/>'
        root = etree.fromstring(xml)
        return lambda: answers.changes(root)

    def ack(self, cursor, links=(), idempotency_key=None):
        self.acks.append((cursor, list(links)))
        return cursor

    def close_connection(self):
        pass


def test_unknown_kinds_and_malformed_changes_are_recorded_and_skipped_at_once(env):
    good = ("<Ticket><TicketID>900001</TicketID><Title>Printer offline</Title><Source>NOC</Source>"
            "<Origin>NOC</Origin><CreatedBy>NOC</CreatedBy><CreatedOn>2026-11-27T10:00:00Z</CreatedOn></Ticket>")
    page = (f'<Changes next="x-3" more="false">'
            f'<Change id="x-1" kind="TicketMerged">{good}</Change>'
            f'<Change id="x-2" kind="NoteAdded">{good}</Change>'  # a NoteAdded without its <Note>
            f'<Change id="x-3" kind="TicketCreated">{good}</Change></Changes>')
    stub = StubClient([page])
    env.psa.add_account("Own business")
    env.app.set_rmm(stub)

    assert env.sync() == 1

    assert all(env.state.is_processed(c) for c in ("x-1", "x-2", "x-3"))
    ticket = env.ticket_of("900001")
    assert ticket.history[0].at.startswith("2026-11-27T10:00:00")
    assert stub.acks == [("x-3", [("900001", ticket.rec_id)])]
    # Bad data from the server is not the administrator's to fix: only the malformed known kind
    # is reported, the unknown kind is a warning in the log.
    [report] = reports.list_reports(env.dbsys)
    assert "1 Continuum change" in report.what


def test_ack_failure_after_the_commit_is_made_good_at_the_next_round(env):
    ids = [env.open(env.site_codes()[0]) for _ in range(2)]
    env.sandbox.faults.set(outage=True, paths=["/psa/v1/queue/ack"])

    assert env.sync() == 2

    assert env.psa.count_tickets() == 2  # committed before the ack
    assert env.world.acked_cursor is None
    assert len(env.state.unacked_ticket_links()) == 2
    assert env.recorder.kinds() == [events.TICKET_CREATED] * 2  # the commit happened: notify

    env.sandbox.faults.clear()
    assert env.sync() == 0

    assert env.world.acked_cursor == env.state.feed_cursor
    assert set(env.world.links) == set(ids)
    assert env.state.unacked_ticket_links() == []
    acks = sum(1 for e in env.world.ledger if e["action"] == "ack")
    env.sync()
    assert sum(1 for e in env.world.ledger if e["action"] == "ack") == acks  # idle polls send no ack


def test_not_activated_is_noted_quietly_then_the_queue_is_read(env):
    env.open(env.site_codes()[0])
    env.world.set_activated(False)

    assert env.sync() == 0
    assert env.sync() == 0

    assert env.state.get_state("activation") == "pending"
    assert env.recorder.kinds() == [events.ACTIVATION_PENDING]  # once, not every poll
    assert len(reports.list_reports(env.dbsys)) == 1  # as the inventory refresh does: once a day
    assert env.state.get_state("last_error") is None

    env.world.set_activated(True)
    assert env.sync() == 1
    assert env.state.get_state("activation") == "ok"


def test_bad_security_code_is_reported_once(tmp_path, sandbox):
    env = Env(tmp_path, sandbox, psg="not-the-code", inventory=False)
    try:
        env.open(env.site_codes()[0])

        assert env.sync() == 0
        assert env.sync() == 0

        [report] = reports.list_reports(env.dbsys)
        assert "Security Code" in report.what
        assert "PSG" in reports.read_report(env.dbsys, report.name)["todo"]
        assert env.recorder.kinds() == [events.SECURITY_CODE_REFUSED]
        assert env.state.get_state("activation") == "refused"
        assert "not-the-code" not in env.state.get_state("last_error")
        assert env.psa.count_tickets() == 0
    finally:
        env.close()


def test_transient_failures_end_the_round_quietly_and_the_next_poll_retries(env):
    env.open(env.site_codes()[0])
    env.sandbox.faults.set(outage=True)

    assert env.sync() == 0
    assert reports.list_reports(env.dbsys) == []

    env.sandbox.faults.clear()
    assert env.sync() == 1


def test_garbled_feed_answers_past_the_threshold_are_an_outage_reported_once(env):
    env.open(env.site_codes()[0])
    now = [1_795_000_000.0]
    sync = InboundSync(env.app, outage=OutageTracker(env.app, clock=lambda: now[0]))
    env.sandbox.faults.set(hostile="malformed", hostile_count=1000, paths=["/psa/v1/queue"])

    assert sync.run_once() == 0
    assert reports.list_reports(env.dbsys) == []  # one bad answer is a warning in the log
    for _ in range(3):
        now[0] += 31
        assert sync.run_once() == 0

    [report] = reports.list_reports(env.dbsys)
    assert report.kind == "continuum-unreachable"
    assert env.recorder.kinds() == [events.CONTINUUM_UNREACHABLE]
    assert env.state.get_state("outage_since")

    env.sandbox.faults.clear()
    assert sync.run_once() == 1
    assert env.recorder.kinds() == [events.CONTINUUM_UNREACHABLE, events.CONTINUUM_RECOVERED, events.TICKET_CREATED]
    assert env.state.get_state("outage_since") is None
    assert env.state.get_state("last_error").startswith("Recovered at")


def test_a_rate_limit_is_an_answer_that_ends_a_run_of_failures(env):
    now = [1_795_000_000.0]
    tracker = OutageTracker(env.app, clock=lambda: now[0])
    env.sandbox.faults.set(outage=True)
    InboundSync(env.app, outage=tracker).run_once()
    now[0] += 59
    env.sandbox.faults.set(outage=False, rate_limit_count=5, retry_after=1)
    InboundSync(env.app, outage=tracker).run_once()
    env.sandbox.faults.clear()
    env.sandbox.faults.set(outage=True)
    now[0] += 59
    InboundSync(env.app, outage=tracker).run_once()

    assert not tracker.ongoing and reports.list_reports(env.dbsys) == []


def test_orphan_changes_adopt_the_ticket_unless_it_is_closed_or_mastered_elsewhere(env):
    site = env.site_codes()[0]
    note_only, closed_only, mastered = env.open(site), env.open(site), env.open(site)
    # These TicketCreated changes were consumed before this agent's store existed.
    env.world.ack(env.world.changes[-1]["id"], [(mastered, "TKT0000000000000OTHER")])
    env.world.add_note(note_only, "Still failing.")
    env.world.close_ticket(closed_only)
    env.world.add_note(mastered, "For the other PSA ticket.")

    assert env.sync() == 1

    ticket = env.ticket_of(note_only)
    assert ticket.in_inbox is True
    assert [h.text.split(" ")[0] for h in ticket.history] == ["Created", "Note"]
    assert "Still failing." in ticket.history[1].text
    assert env.state.ticket_for_continuum(closed_only) is None
    assert env.state.ticket_for_continuum(mastered) is None
    assert env.psa.count_tickets() == 1
    assert all(env.state.is_processed(c["id"]) for c in env.world.changes[3:])


def test_a_round_reads_a_bounded_number_of_pages(env):
    for _ in range(13):
        env.open(env.site_codes()[0])
    sync = InboundSync(env.app, limit=5, max_pages=2)

    assert sync.run_once() == 10
    assert sync.last_round.stopped_by == "page budget"
    assert sync.last_round.pages == 2
    assert env.world.acked_cursor == env.state.feed_cursor

    assert InboundSync(env.app, limit=5, max_pages=2).run_once() == 3


def test_a_cursor_the_server_forgot_is_read_again_from_the_acknowledged_position(env):
    first = env.open(env.site_codes()[0])
    env.sync()
    second = env.open(env.site_codes()[0])
    env.state.set_state("feed_cursor", "c-999999")

    assert env.sync() == 1

    assert env.state.ticket_for_continuum(second)
    assert env.psa.count_tickets() == 2
    assert env.state.ticket_for_continuum(first)


def test_last_queue_poll_is_recorded(env):
    assert env.state.get_state("last_queue_poll") is None
    env.sync()
    first = env.state.get_state("last_queue_poll")
    env.open(env.site_codes()[0])
    env.sync()
    assert env.state.get_state("last_queue_poll") > first


def test_processed_ids_are_forgotten_a_week_after_the_ack_that_followed_them(env):
    env.open(env.site_codes()[0])
    env.sync()
    assert env.state.get_state("acked_at")
    [old] = [c["id"] for c in env.world.changes]
    env.state.db.execute("UPDATE processed_changes SET processed_at = '2026-01-01T00:00:00.000000Z'")
    env.open(env.site_codes()[0])

    env.sync()

    assert not env.state.is_processed(old)  # acknowledged long before: never sent again
    assert all(env.state.is_processed(c["id"]) for c in env.world.changes[1:])
    assert env.psa.count_tickets() == 2


def test_a_long_retry_after_on_the_feed_holds_every_read_until_it_has_passed(tmp_path, sandbox):
    from agent.sync.inbound.engine import InboundSync

    env = Env(tmp_path, sandbox)
    try:
        now = [1000.0]
        sync = InboundSync(env.app, clock=lambda: now[0])
        env.open(env.site_codes()[0])
        sandbox.faults.set(rate_limit_count=1, retry_after=65)
        assert sync.run_once() == 0 and sync.last_round.stopped_by == "rate limited"
        assert sync.seconds_to_wait() == 65
        now[0] += 64
        assert sync.run_once() == 0 and sync.last_round.stopped_by == "rate limited"  # not asked again
        assert env.psa.count_tickets() == 0
        now[0] += 1.5
        assert sync.run_once() == 1 and sync.seconds_to_wait() == 0
    finally:
        env.close()
