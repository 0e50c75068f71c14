"""Behaviour rules R1-R12 of the inbound sync, one test each, against the sandbox over HTTP."""

from __future__ import annotations

from agent import events
from agent.ports.psa import STATUS_NEW
from agent.sync import records
from config.loader import load_settings

from rmm_support import needs_feed
from test_inbound_support import Env, env, ini_text, sandbox  # noqa: F401 - fixtures

pytestmark = needs_feed()  # the inbound engine reads a change-feed RMM's tickets

IN_PROGRESS = 200


def test_R1_ticket_created_becomes_one_inbox_ticket_with_continuum_creation_time(env):
    site = env.site_codes()[0]
    tid = env.open(site, title="Low disk space on C:", description="Free space below 5%.")
    created_on = env.world.ticket(tid)["created_on"]

    assert env.sync() == 1

    assert env.psa.count_tickets() == 1
    ticket = env.ticket_of(tid)
    assert ticket.in_inbox is True
    assert ticket.status_code == STATUS_NEW
    assert "Low disk space on C:" in ticket.description and "Free space below 5%." in ticket.description
    assert ticket.continuum_ticket_id == tid
    [note] = ticket.history
    assert note.at.startswith(created_on[:19])  # Continuum's creation time, not the time of the sync
    day, clock = created_on[:10], created_on[11:16]
    assert f"Created in Continuum on {day} {clock} UTC by Monitoring (Alert)" in note.text
    # The ack after the commit tells Continuum which PSA ticket masters its ticket.
    assert env.world.links == {tid: ticket.rec_id}
    assert env.world.acked_cursor == env.state.feed_cursor
    assert env.recorder.kinds() == [events.TICKET_CREATED]
    assert env.recorder.events[0].data["ticket_rec_id"] == ticket.rec_id


def test_R2_manager_is_the_account_manager_else_the_default_ticket_manager(tmp_path, sandbox):
    env = Env(tmp_path, sandbox, extra="DefaultTicketManager=dispatch\n")
    try:
        env.state.add_employee("amanager", "Account Manager")
        managed = env.psa.add_account("Managed customer", manager="amanager")
        plain = env.psa.add_account("Plain customer")
        first, second = env.site_codes()[:2]
        env.state.link_site(first, managed)
        env.state.link_site(second, plain)
        t_managed, t_plain = env.open(first), env.open(second)

        env.sync()

        assert env.ticket_of(t_managed).manager == "amanager"
        assert env.ticket_of(t_plain).manager == "dispatch"
    finally:
        env.close()


def test_R2_no_manager_at_all_leaves_the_ticket_without_one(env):
    account = env.psa.add_account("Plain customer")
    env.state.link_site(env.site_codes()[0], account)
    tid = env.open(env.site_codes()[0])
    env.sync()
    assert env.ticket_of(tid).manager is None


def test_R3_ticket_lands_in_the_account_linked_to_its_site(env):
    acme = env.psa.add_account("ACME")
    other = env.psa.add_account("Other")
    first, second = env.site_codes()[:2]
    env.state.link_site(first, acme)
    env.state.link_site(second, acme)  # many sites may share one account
    t1, t2 = env.open(first), env.open(second)

    env.sync()

    assert env.ticket_of(t1).account_rec_id == acme
    assert env.ticket_of(t2).account_rec_id == acme
    assert records.list_tickets(env.state, env.psa, account_rec_id=other) == []
    assert len(env.psa.list_accounts()) == 2  # nothing auto-created


def test_R3_a_linked_account_merged_away_in_the_psa_is_followed_to_the_account_that_took_it_over(env):
    old = env.psa.add_account("ACME (old)")
    new = env.psa.add_account("ACME")
    first, second = env.site_codes()[:2]
    env.state.link_site(first, old)
    env.state.link_site(second, old)
    with env.psa.keyed("earlier", external_id="earlier-1"):  # a ticket of the old account, from before
        env.psa.add_ticket(old, "an earlier ticket")
    # Merged in the PSA itself (for RangerMSP: in its own client), not through the agent: the
    # site links still name the account that is gone.
    env.psa.merge_account(old, new)
    tid = env.open(first)

    env.sync()

    assert env.ticket_of(tid).account_rec_id == new
    assert env.state.account_for_site(first) == env.state.account_for_site(second) == new
    assert any(row["action"] == "follow_merged_account" for row in env.state.audit_log())
    assert [a.rec_id for a in env.psa.list_accounts()] == [new]


def test_R4_unlinked_site_gets_a_new_auto_created_account_even_if_the_name_exists(env):
    site = env.sites[0]
    name = f"[Continuum AUTO CREATED] {site.name}"
    existing = env.psa.add_account(name)  # e.g. left over from earlier tickets: never matched by name
    t1 = env.open(site.site_code)
    t2 = env.open(site.site_code)

    env.sync()

    account = env.ticket_of(t1).account_rec_id
    assert account != existing
    assert env.psa.get_account(account).name == name
    assert env.psa.get_account(account).auto_created is True
    assert env.state.account_for_site(site.site_code) == account
    assert env.ticket_of(t2).account_rec_id == account  # later tickets of the site land there too
    assert [a.name for a in env.psa.list_accounts()].count(name) == 2


def test_R4_prefix_comes_from_the_ini(tmp_path, sandbox):
    env = Env(tmp_path, sandbox, extra="AutoCreatedAccountPrefix=(new)\n")
    try:
        site = env.sites[1]
        tid = env.open(site.site_code)
        env.sync()
        assert env.psa.get_account(env.ticket_of(tid).account_rec_id).name == f"(new) {site.name}"
    finally:
        env.close()


def test_R5_ticket_without_a_site_goes_to_the_own_business_account(tmp_path, sandbox):
    env = Env(tmp_path, sandbox, extra="OwnBusinessAccount=Our MSP\n")
    try:
        env.psa.add_account("First customer")
        ours = env.psa.add_account("Our MSP")
        tid = env.open(None, source="NOC", title="Question for NOC support")
        env.sync()
        assert env.ticket_of(tid).account_rec_id == ours
    finally:
        env.close()


def test_R5_without_own_business_account_the_first_account_is_used(env):
    first = env.psa.add_account("My own business")
    env.psa.add_account("A customer")
    tid = env.open(None, source="Manual")
    env.sync()
    assert env.ticket_of(tid).account_rec_id == first


def test_R6_ticket_is_linked_to_the_asset_of_its_device(env):
    site = env.site_codes()[0]
    device = env.devices_of(site)[0]
    account = env.psa.add_account("ACME")
    env.state.link_site(site, account)
    asset = env.psa.add_asset(device.name, account)
    env.state.link_device(device.device_id, asset)
    tid = env.open(site, device.device_id)

    env.sync()

    ticket = env.ticket_of(tid)
    assert ticket.asset_rec_id == asset
    assert "not linked to an asset" not in ticket.description


def test_R6_device_without_asset_puts_the_device_details_in_the_description(env):
    site = env.site_codes()[0]
    device = next(d for d in env.devices_of(site) if d.serial_number)
    account = env.psa.add_account("ACME")
    env.state.link_site(site, account)
    tid = env.open(site, device.device_id)

    env.sync()

    ticket = env.ticket_of(tid)
    assert ticket.asset_rec_id is None
    assert ticket.account_rec_id == account
    assert device.device_id in ticket.description
    assert device.name in ticket.description
    assert device.serial_number in ticket.description


def test_R7_closed_in_continuum_adds_a_history_note_and_keeps_the_status(env):
    tid = env.open(env.site_codes()[0])
    env.sync()
    rec_id = env.ticket_of(tid).rec_id
    env.psa.set_ticket_status(rec_id, IN_PROGRESS)
    env.world.close_ticket(tid, note="Disk cleaned up.")

    assert env.sync() == 1

    ticket = records.get_ticket(env.state, env.psa, rec_id)
    assert ticket.status_code == IN_PROGRESS
    assert len(ticket.history) == 2
    assert "Closed in Continuum" in ticket.history[-1].text
    assert "Disk cleaned up." in ticket.history[-1].text
    assert env.recorder.kinds()[-1] == events.TICKET_CLOSED_IN_CONTINUUM


def test_R8_returned_ticket_goes_back_into_the_inbox_with_an_audit_note(env):
    tid = env.open(env.site_codes()[0])
    env.sync()
    rec_id = env.ticket_of(tid).rec_id
    env.psa.set_inbox(rec_id, False)
    env.world.return_ticket(tid, "Info Needed", note="Which drive may we clean?")

    assert env.sync() == 1

    ticket = records.get_ticket(env.state, env.psa, rec_id)
    assert ticket.in_inbox is True
    text = ticket.history[-1].text
    assert "Info Needed" in text and "Which drive may we clean?" in text
    assert env.recorder.kinds()[-1] == events.TICKET_RETURNED
    assert env.recorder.events[-1].data["status"] == "Info Needed"


def test_R8_each_return_status_is_named(env):
    for status in ("Work Completed", "Approval Required"):
        tid = env.open(env.site_codes()[0])
        env.world.return_ticket(tid, status)
        env.sync()
        assert status in env.ticket_of(tid).history[-1].text


def test_R9_notes_and_updates_become_history_notes_only(env):
    tid = env.open(env.site_codes()[0], title="Backup failed", priority="High")
    env.sync()
    before = env.ticket_of(tid)
    env.psa.set_inbox(before.rec_id, False)
    env.world.add_note(tid, "Rebooted the server.", author="NOC")
    env.world.update_ticket(tid, priority="Critical", assigned_to="VSD")

    assert env.sync() == 2

    after = env.ticket_of(tid)
    assert after.description == before.description  # the PSA keeps its own ticket details
    assert after.in_inbox is False
    assert after.status_code == before.status_code
    note, update = after.history[-2].text, after.history[-1].text
    assert "Rebooted the server." in note and "NOC" in note
    assert "Priority High -> Critical" in update and "Assigned to NOC -> VSD" in update
    assert "Title" not in update  # only what changed
    # Nothing goes back to Continuum for these.
    assert env.state.outbox_depth() == 0
    assert [e["action"] for e in env.world.ledger if e["action"] != "ack" and e["action"] != "link"] == []


def test_R10_duplicated_and_redelivered_changes_change_nothing_more(env):
    site = env.site_codes()[0]
    env.sandbox.faults.set(duplicate_feed=True, redeliver=True)
    ids = [env.open(site) for _ in range(12)]
    for tid in ids[:4]:
        env.world.add_note(tid, f"note for {tid}")
    env.world.return_ticket(ids[0], "Work Completed")

    for _ in range(4):
        env.sync(limit=5)

    assert env.psa.count_tickets() == 12
    assert len(set(env.world.links.values())) == 12
    assert [len(env.ticket_of(t).history) for t in ids[:4]] == [3, 2, 2, 2]
    assert all(len(env.ticket_of(t).history) == 1 for t in ids[4:])
    assert env.recorder.kinds().count(events.TICKET_CREATED) == 12


def test_R10_ticket_created_for_a_ticket_that_has_a_psa_ticket_adds_nothing(env):
    tid = env.open(env.site_codes()[0])
    env.sync()
    rec_id = env.ticket_of(tid).rec_id
    # Lose every trace of the changes (as if the processed-change table were restored from an old
    # backup): the feed is read again from the start.
    env.state.db.execute("DELETE FROM processed_changes")
    env.state.set_state("feed_cursor", None)
    env.sandbox.faults.set(redeliver=True)
    with env.world.lock:
        env.world._acked = 0  # the server re-sends everything it holds

    env.sync()

    assert env.psa.count_tickets() == 1
    assert env.ticket_of(tid).rec_id == rec_id
    assert len(records.get_ticket(env.state, env.psa, rec_id).history) == 1


def test_R11_changes_caused_by_the_psa_create_no_psa_work(env):
    site = env.site_codes()[0]
    tid = env.open(site)
    env.sync()
    rec_id = env.ticket_of(tid).rec_id
    history = len(records.get_ticket(env.state, env.psa, rec_id).history)
    client = env.app.rmm
    # What the outbound sender does: each of these is echoed in the feed with Origin = PSA.
    client.add_note(tid, "Called the customer.", "jsmith", idempotency_key="k-note")
    client.assign(tid, "VSD", "Please check", idempotency_key="k-assign")
    client.close_ticket(tid, "Done", idempotency_key="k-close")
    from agent.backends.continuum.models import NewTicket
    created = client.create_ticket(NewTicket(site_code=site, title="From the PSA", note="first note",
                                             psa_ticket_id=rec_id), idempotency_key="k-create")

    assert env.sync() == 0

    assert env.psa.count_tickets() == 1
    assert len(records.get_ticket(env.state, env.psa, rec_id).history) == history
    assert env.state.ticket_for_continuum(created.ticket_id) is None
    assert env.all_processed()
    assert env.world.acked_cursor == env.state.feed_cursor


def test_R12_queue_off_consumes_nothing_and_switching_it_on_needs_no_restart(tmp_path, sandbox):
    env = Env(tmp_path, sandbox, queue=False)
    try:
        ids = [env.open(env.site_codes()[0]) for _ in range(3)]

        assert env.sync() == 0

        assert env.psa.count_tickets() == 0
        assert env.world.acked_cursor is None
        assert not any(e["action"] == "ack" for e in env.world.ledger)
        assert env.state.feed_cursor is None

        # The service hands over a reloaded INI; the next round reads the feed.
        env.ini.write_text(ini_text(sandbox.url, env.dbsys, queue=True))
        env.app.replace_settings(load_settings(env.ini))

        assert env.sync() == 3
        assert {env.ticket_of(t).continuum_ticket_id for t in ids} == set(ids)

        env.ini.write_text(ini_text(sandbox.url, env.dbsys, queue=False))
        env.app.replace_settings(load_settings(env.ini))
        env.open(env.site_codes()[0])
        assert env.sync() == 0
        assert env.psa.count_tickets() == 3
    finally:
        env.close()
