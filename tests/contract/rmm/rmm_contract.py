"""The RMM port's contract: every behaviour the engines rely on of an RMM backend.

Written once, run against every RMM backend. Two kinds of RMM (see :mod:`agent.ports.rmm`):
a change-feed RMM (Continuum) subclasses :class:`FeedRmmContract` (also named
:class:`RmmContract`), a snapshot RMM (N-able N-sight, the in-memory RMM) :class:`AlertRmmContract`;
both include :class:`CoreRmmContract` (connection check, errors, inventory, capabilities). A backend
joins in a ``test_*.py`` module beside this one with a ``harness`` fixture that yields a fresh RMM
with sites and devices (and no tickets / nothing failing)::

    import pytest
    from rmm_contract import AlertRmmContract

    class TestMyRmm(AlertRmmContract):
        @pytest.fixture
        def harness(self):
            with MyRmmTestServer() as server:
                yield MyHarness(server)   # implements AlertHarness below

Only the port's names are used here (records, ``RmmError`` classes), never a backend's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from agent.ports.rmm import (
    AlertRmm,
    Change,
    ChangePage,
    NewTicket,
    RmmClient,
    RmmCredentialsRefused,
    RmmError,
    RmmNotActivated,
    RmmRateLimited,
    RmmRejected,
    RmmUnavailable,
    RmmUnsupported,
    WriteBack,
    capabilities_of,
)


class CoreHarness(Protocol):
    """A test RMM: clients of it, and its faults."""

    def client(self) -> Any:
        """A client with the right credentials (retries quick, so failures come fast)."""

    def client_with_wrong_credentials(self) -> Any: ...

    def rate_limit(self, seconds: int) -> None:
        """The next request is rate limited for ``seconds``, longer than a client waits by itself."""

    def outage(self, on: bool) -> None:
        """The RMM stops answering (or answers again)."""


class AlertHarness(CoreHarness, Protocol):
    """A snapshot RMM, and the means to make its checks fail and recover, as its devices would."""

    def fail(self, device_id: str, check: str) -> str:
        """The check ``check`` of the device starts failing (again); its alert id."""

    def recover(self, alert_id: str) -> None: ...

    def notes(self, alert_id: str) -> list[str]:
        """The notes the RMM holds on the alert, oldest first."""

    def cleared(self, alert_id: str) -> str | None:
        """The note the alert was cleared with, ``None`` while it was not cleared."""


class Harness(CoreHarness, Protocol):
    """A change-feed RMM and the means to make things happen in it, as its NOC would."""

    def open_ticket(self, site_code: str, device_id: str | None, title: str) -> str:
        """Open a ticket in the RMM (a ``TicketCreated`` change); its ticket id."""

    def add_note(self, ticket_id: str, text: str) -> None:
        """The NOC adds a note (a ``NoteAdded`` change)."""

    def set_activated(self, activated: bool) -> None: ...


def _drain(client: RmmClient, after: str | None = None) -> Iterator[ChangePage]:
    while True:
        page = client.changes(after, limit=50)
        yield page
        after = page.next or after
        if not page.more:
            return


def _all_changes(client: RmmClient) -> list[Change]:
    return [c for page in _drain(client) for c in page.changes]


class CoreRmmContract:
    """What every RMM backend does: the connection check, its errors, the inventory."""

    expected_delivery = ""

    @pytest.fixture
    def rmm(self, harness: CoreHarness) -> Iterator[Any]:
        client = harness.client()
        try:
            yield client
        finally:
            client.close_connection()

    # -- connection check --------------------------------------------------------------------
    def test_ping_names_the_partner_and_the_activation(self, rmm: Any) -> None:
        pong = rmm.ping()
        assert pong.partner and pong.activated is True

    def test_wrong_credentials_are_refused_and_not_retried_as_transient(self, harness: CoreHarness) -> None:
        client = harness.client_with_wrong_credentials()
        try:
            with pytest.raises(RmmCredentialsRefused) as info:
                client.ping()
            assert not info.value.retryable
        finally:
            client.close_connection()

    def test_a_long_rate_limit_is_handed_back_with_its_delay(self, harness: CoreHarness, rmm: Any) -> None:
        harness.rate_limit(600)
        with pytest.raises(RmmRateLimited) as info:
            rmm.ping()
        assert info.value.retry_after is not None and info.value.retry_after >= 600
        assert rmm.ping().partner

    def test_an_rmm_that_does_not_answer_is_unavailable(self, harness: CoreHarness, rmm: Any) -> None:
        harness.outage(True)
        with pytest.raises(RmmUnavailable) as info:
            rmm.ping()
        assert info.value.retryable and isinstance(info.value, RmmError)

    # -- inventory ---------------------------------------------------------------------------
    def test_site_and_device_pages_cover_everything_once(self, rmm: Any) -> None:
        sites = [s for page in rmm.site_pages(page_size=3) for s in page.items]
        devices = [d for page in rmm.device_pages(page_size=7) for d in page.items]
        assert sites and devices
        assert len({s.site_code for s in sites}) == len(sites)
        assert len({d.device_id for d in devices}) == len(devices)
        assert {d.site_code for d in devices} <= {s.site_code for s in sites}
        assert all(d.name for d in devices)

    def test_devices_of_one_site(self, rmm: Any) -> None:
        device = next(d for page in rmm.device_pages() for d in page.items)
        of_site = [d for page in rmm.device_pages(site_code=device.site_code) for d in page.items]
        assert device.device_id in {d.device_id for d in of_site}
        assert all(d.site_code == device.site_code for d in of_site)

    def test_records_carry_their_fields_in_order_with_the_typed_values(self, rmm: Any) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        fields = dict(site.fields())
        assert fields["SiteCode"].strip() == site.site_code and fields["Name"].strip() == site.name
        device = next(d for page in rmm.device_pages() for d in page.items)
        assert dict(device.fields())["DeviceID"].strip() == device.device_id

    @pytest.mark.parametrize("kind, key", [("sites", "SiteCode"), ("devices", "DeviceID")])
    def test_inventory_pages_hold_the_same_records_as_the_typed_pages(self, rmm: Any, kind: str,
                                                                      key: str) -> None:
        typed = rmm.site_pages(page_size=4) if kind == "sites" else rmm.device_pages(page_size=4)
        expected = [item.fields() for page in typed for item in page.items]
        pages = list(rmm.inventory_pages(kind, page_size=4))  # type: ignore[arg-type]
        assert [r.fields() for page in pages for r in page.items] == expected
        assert all(len(page.texts(key)) == len(page.items) and all(page.texts(key)) for page in pages)
        assert all(page.total in (-1, len(expected)) for page in pages)
        assert [t for page in pages for t in page.texts("Name")] == \
            [dict(f).get("Name", "").strip() for f in expected]


    # -- capabilities ------------------------------------------------------------------------
    def test_the_backend_says_how_it_delivers_and_what_it_writes_back(self, rmm: Any) -> None:
        capabilities = capabilities_of(rmm)
        assert capabilities.delivery == self.expected_delivery
        assert capabilities.rmm
        for write_back in WriteBack:
            if capabilities.supports(write_back):
                capabilities.require(write_back)
            else:
                with pytest.raises(RmmUnsupported) as info:
                    capabilities.require(write_back)
                assert capabilities.rmm in str(info.value) and not info.value.retryable


class FeedRmmContract(CoreRmmContract):
    """A change-feed RMM (Continuum): its tickets come as a feed; the agent creates, assigns,
    notes and closes tickets in it."""

    expected_delivery = "feed"

    def test_pending_activation_is_its_own_retryable_error(self, harness: Harness, rmm: RmmClient) -> None:
        harness.set_activated(False)
        with pytest.raises(RmmNotActivated) as info:
            list(rmm.site_pages())
        assert info.value.retryable
        harness.set_activated(True)
        assert list(rmm.site_pages())

    # -- the change feed ---------------------------------------------------------------------
    def test_a_new_ticket_is_a_ticket_created_change_with_its_fields(self, harness: Harness,
                                                                     rmm: RmmClient) -> None:
        device = next(d for page in rmm.device_pages() for d in page.items)
        ticket_id = harness.open_ticket(device.site_code, device.device_id, "Disk <full> & more")
        (change,) = [c for c in _all_changes(rmm) if c.ticket.ticket_id == ticket_id]
        assert change.kind == "TicketCreated" and change.id
        assert change.ticket.title == "Disk <full> & more"
        assert change.ticket.site_code == device.site_code and change.ticket.device_id == device.device_id
        assert change.origin and change.origin != "PSA"

    def test_a_note_comes_with_the_ticket_and_the_note(self, harness: Harness, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        ticket_id = harness.open_ticket(site.site_code, None, "Printer")
        harness.add_note(ticket_id, "Rebooted.")
        notes = [c for c in _all_changes(rmm) if c.kind == "NoteAdded" and c.ticket.ticket_id == ticket_id]
        assert notes and notes[0].note is not None and notes[0].note.text == "Rebooted."

    def test_the_feed_is_read_after_a_cursor_and_acked_changes_do_not_come_again(
            self, harness: Harness, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        first = harness.open_ticket(site.site_code, None, "one")
        page = rmm.changes(None)
        assert page.next and first in {c.ticket.ticket_id for c in page.changes}
        assert rmm.ack(page.next, [(first, "TKT00000000000000001")]) == page.next
        second = harness.open_ticket(site.site_code, None, "two")
        after = rmm.changes(page.next)
        assert [c.ticket.ticket_id for c in after.changes] == [second]
        assert {c.ticket.ticket_id for c in rmm.changes(None).changes} == {second}
        assert rmm.get_ticket(first).psa_ticket_id == "TKT00000000000000001"

    def test_read_changes_is_changes_in_two_steps(self, harness: Harness, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        harness.open_ticket(site.site_code, None, "later")
        assert rmm.read_changes(None)() == rmm.changes(None)

    def test_an_empty_feed_says_there_is_no_more(self, rmm: RmmClient) -> None:
        page = rmm.changes(None)
        assert page.changes == () and page.more is False

    def test_acking_an_older_cursor_changes_nothing(self, harness: Harness, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        harness.open_ticket(site.site_code, None, "a")
        old = rmm.changes(None).next
        harness.open_ticket(site.site_code, None, "b")
        new = rmm.changes(old).next
        assert old and new
        rmm.ack(new)
        rmm.ack(old)
        assert rmm.changes(None).changes == ()

    def test_a_link_that_contradicts_an_earlier_one_is_rejected(self, harness: Harness, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        ticket_id = harness.open_ticket(site.site_code, None, "linked")
        cursor = rmm.changes(None).next
        assert cursor
        rmm.ack(cursor, [(ticket_id, "TKT00000000000000001")])
        with pytest.raises(RmmRejected) as info:
            rmm.ack(cursor, [(ticket_id, "TKT00000000000000002")])
        assert not info.value.retryable

    # -- ticket actions ----------------------------------------------------------------------
    def test_create_assign_note_close(self, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        new = NewTicket(site_code=site.site_code, title="From PSA", description="d", assign_to="NOC",
                        psa_ticket_id="TKT00000000000000003")
        created = rmm.create_ticket(new, idempotency_key="contract-create-1")
        assert created.ticket_id and created.origin == "PSA" and created.psa_ticket_id == "TKT00000000000000003"
        assert rmm.get_ticket(created.ticket_id).title == "From PSA"
        assert rmm.assign(created.ticket_id, "VSD", "over to you",
                          idempotency_key="contract-assign-1").assigned_to == "VSD"
        note = rmm.add_note(created.ticket_id, "a note", "jsmith", idempotency_key="contract-note-1")
        assert note.note_id and note.text == "a note"
        closed = rmm.close_ticket(created.ticket_id, "fixed", idempotency_key="contract-close-1")
        assert closed.status == "Closed"
        again = rmm.close_ticket(created.ticket_id, None, idempotency_key="contract-close-2")
        assert again.status == "Closed"

    def test_the_same_idempotency_key_creates_one_ticket(self, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        new = NewTicket(site_code=site.site_code, title="Once", psa_ticket_id="TKT00000000000000004")
        first = rmm.create_ticket(new, idempotency_key="contract-once")
        assert rmm.create_ticket(new, idempotency_key="contract-once").ticket_id == first.ticket_id

    def test_our_own_actions_come_back_marked_as_ours(self, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        created = rmm.create_ticket(NewTicket(site_code=site.site_code, title="Echo"),
                                    idempotency_key="contract-echo")
        rmm.add_note(created.ticket_id, "ours", "jsmith", idempotency_key="contract-echo-note")
        echoes = [c for c in _all_changes(rmm) if c.ticket.ticket_id == created.ticket_id]
        assert all(c.origin == "PSA" for c in echoes)

    def test_an_unknown_ticket_is_rejected_for_good(self, rmm: RmmClient) -> None:
        with pytest.raises(RmmRejected) as info:
            rmm.get_ticket("999999999999")
        assert not info.value.retryable
        with pytest.raises(RmmRejected):
            rmm.add_note("999999999999", "x", "jsmith", idempotency_key="contract-unknown")

    def test_an_invalid_assignee_is_rejected(self, rmm: RmmClient) -> None:
        site = next(s for page in rmm.site_pages() for s in page.items)
        created = rmm.create_ticket(NewTicket(site_code=site.site_code, title="x"), idempotency_key="contract-inv")
        with pytest.raises(RmmRejected):
            rmm.assign(created.ticket_id, "Nobody", None, idempotency_key="contract-inv-assign")


def _first_device(rmm: Any) -> Any:
    return next(d for page in rmm.device_pages() for d in page.items)


class AlertRmmContract(CoreRmmContract):
    """A snapshot RMM (N-sight): what fails now, in one poll; notes on a check; clearing it."""

    expected_delivery = "snapshot"

    def test_a_failing_check_is_in_the_snapshot_with_its_device_and_site(self, harness: AlertHarness,
                                                                          rmm: AlertRmm) -> None:
        device = _first_device(rmm)
        assert rmm.failing().alerts == ()
        alert_id = harness.fail(device.device_id, "Disk Space Check - C:")
        (alert,) = rmm.failing().alerts
        assert alert.alert_id == alert_id and alert.device_id == device.device_id
        assert alert.site_code == device.site_code and alert.check and alert.failed_since
        assert alert.key == (device.device_id, alert.check)

    def test_a_check_still_failing_is_the_same_failure_and_a_new_failure_is_told_apart(
            self, harness: AlertHarness, rmm: AlertRmm) -> None:
        device = _first_device(rmm)
        alert_id = harness.fail(device.device_id, "Backup Check")
        (first,) = rmm.failing().alerts
        (still,) = rmm.failing().alerts
        assert still == first
        harness.recover(alert_id)
        assert rmm.failing().alerts == ()
        harness.fail(device.device_id, "Backup Check")
        (again,) = rmm.failing().alerts
        assert again.key == first.key and again.failed_since != first.failed_since

    def test_a_note_is_added_to_the_check_or_refused_as_unsupported(self, harness: AlertHarness,
                                                                     rmm: AlertRmm) -> None:
        alert_id = harness.fail(_first_device(rmm).device_id, "CPU Check")
        if not capabilities_of(rmm).supports(WriteBack.ADD_NOTE):
            with pytest.raises(RmmUnsupported):
                rmm.add_alert_note(alert_id, "x", idempotency_key="contract-note")
            return
        rmm.add_alert_note(alert_id, "Ticket 12 <opened> & assigned", idempotency_key="contract-note")
        assert harness.notes(alert_id)[-1] == "Ticket 12 <opened> & assigned"

    def test_clearing_a_check_takes_it_out_of_the_snapshot_with_the_note(self, harness: AlertHarness,
                                                                           rmm: AlertRmm) -> None:
        alert_id = harness.fail(_first_device(rmm).device_id, "Event Log Check")
        rmm.clear_alert(alert_id, "Fixed in ticket 12", idempotency_key="contract-clear")
        assert alert_id not in {a.alert_id for a in rmm.failing().alerts}
        assert harness.cleared(alert_id) == "Fixed in ticket 12"

    def test_clearing_a_check_that_recovered_is_not_a_failure_to_retry(self, harness: AlertHarness,
                                                                         rmm: AlertRmm) -> None:
        alert_id = harness.fail(_first_device(rmm).device_id, "Ping Check")
        harness.recover(alert_id)
        try:
            rmm.clear_alert(alert_id, "done", idempotency_key="contract-clear-recovered")
        except RmmError as exc:
            assert isinstance(exc, RmmRejected) and not exc.retryable

    def test_an_unknown_check_is_rejected_for_good(self, rmm: AlertRmm) -> None:
        with pytest.raises(RmmRejected) as info:
            rmm.clear_alert("999999999", "x", idempotency_key="contract-unknown")
        assert not info.value.retryable


RmmContract = FeedRmmContract
"""The name the change-feed backends subclassed before snapshot RMMs came."""
