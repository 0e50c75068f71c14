"""The alert lifecycle: raised, repeated and recovered checks become one PSA ticket and its notes,
exactly once; a completed ticket queues the check's clear once; the sender clears it in the RMM.

On the in-memory RMM, or (``ZENITHLINK_TEST_RMM=nsight`` / ``ninjaone``) on that RMM's sandbox over
loopback through its real client: the tests name devices D1, D2 (site S1, linked) and D9 (site
S2, not linked), which the world maps to the RMM's own ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from agent.app import App
from agent.backends.memory_rmm import MemoryRmm
from agent.ports.psa import STATUS_COMPLETED
from agent.sync.alerts.lifecycle import AlertLifecycle, AlertPolicy
from agent.sync.outbound.sender import OutboxSender
from agent.sync.outbound.vocabulary import CLEAR

from conftest import rmm_backend
from rmm_support import SnapshotRmm, is_snapshot, snapshot_rmm
from test_outbound_support import make_app, make_snapshot_app


@dataclass
class World:
    app: App
    rmm: Any
    """The client the agent polls (the RMM's own client of its sandbox, or the in-memory RMM)."""
    account: str
    asset: str
    sites: dict[str, str]
    devices: dict[str, str]
    names: dict[str, str]
    sandbox: SnapshotRmm | None = None
    alerts: dict[str, str] = field(default_factory=dict)

    @property
    def state(self):
        return self.app.state

    @property
    def psa(self):
        return self.app.psa

    def lifecycle(self, **policy) -> AlertLifecycle:
        return AlertLifecycle(state=self.state, psa=self.psa, rmm=self.rmm, policy=AlertPolicy(**policy))

    def tickets(self):
        return self.psa.list_tickets()

    def notes(self, rec_id: str) -> list[str]:
        return [h.text for h in self.psa.get_ticket(rec_id).history]

    # -- what the RMM's devices do ---------------------------------------------------------------
    def fail(self, device: str, check: str, description: str = "") -> str:
        """The check of device ``device`` (D1, D2, D9) starts failing (again); its alert id."""
        if self.sandbox is not None:
            return self.sandbox.fail(self.devices[device], check)
        return str(self.rmm.fail(self.devices[device], check, description=description).alert_id)

    def recover(self, alert_id: str) -> None:
        (self.sandbox or self.rmm).recover(alert_id)

    def cleared(self, alert_id: str) -> str | None:
        cleared: str | None = (self.sandbox or self.rmm).cleared(alert_id)
        return cleared

    @staticmethod
    def check_note(text: str) -> str:
        """``text`` without the check ids N-sight's check names carry (``CPU Check (check 10054)``)."""
        return re.sub(r" \(check \d+\)", "", text)

    def snapshot_reads(self) -> int:
        """How many times the RMM was asked for what fails."""
        if self.sandbox is None:
            return int(self.rmm.calls("failing"))
        sandbox = self.sandbox.sandbox
        if self.sandbox.backend == "nsight":
            return int(sandbox.world.calls.get("list_failing_checks", 0))
        return int(sandbox.requests_to("/v2/alerts"))


def _memory_rmm() -> tuple[MemoryRmm, dict[str, str], dict[str, str], dict[str, str]]:
    rmm = MemoryRmm()
    rmm.add_site("S1", "Main office", client_name="ACME")
    rmm.add_site("S2", "Warehouse", client_name="ACME")
    rmm.add_device("D1", "S1", "ACME-DC01")
    rmm.add_device("D2", "S1", "ACME-PC02")
    rmm.add_device("D9", "S2", "WH-PC09")
    return (rmm, {"S1": "S1", "S2": "S2"}, {"D1": "D1", "D2": "D2", "D9": "D9"},
            {"D1": "ACME-DC01", "D2": "ACME-PC02", "D9": "WH-PC09"})


def _sandbox_ids(sandbox: SnapshotRmm) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    first, second = sandbox.sites()[:2]
    devices = sandbox.devices()
    of_first = [d for d in devices if d.site_code == first.site_code]
    of_second = [d for d in devices if d.site_code == second.site_code]
    chosen = {"D1": of_first[0], "D2": of_first[1], "D9": of_second[0]}
    return ({"S1": first.site_code, "S2": second.site_code}, {k: d.device_id for k, d in chosen.items()},
            {k: d.name for k, d in chosen.items()})


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    if is_snapshot():
        with snapshot_rmm(rmm_backend()) as sandbox:
            app = make_snapshot_app(tmp_path, sandbox)
            sites, devices, names = _sandbox_ids(sandbox)
            yield from _seeded(app, app.alert_rmm, sites, devices, names, sandbox)
        return
    app = make_app(tmp_path, "http://127.0.0.1:9")
    rmm, sites, devices, names = _memory_rmm()
    app.set_rmm(rmm)
    yield from _seeded(app, rmm, sites, devices, names, None)


def _seeded(app: App, rmm: Any, sites: dict[str, str], devices: dict[str, str], names: dict[str, str],
            sandbox: SnapshotRmm | None) -> Iterator[World]:
    account = app.psa.add_account("ACME")
    app.state.link_site(sites["S1"], account, by="jsmith")
    asset = app.psa.add_asset(names["D1"], account)
    app.state.link_device(devices["D1"], asset, by="jsmith")
    try:
        yield World(app, rmm, account, asset, sites, devices, names, sandbox)
    finally:
        app.close()


def test_a_failing_check_opens_one_ticket_in_the_inbox_under_the_site_account_and_device_asset(world):
    world.fail("D1", "Disk Space Check - C:", description="C: 3% free")
    outcome = world.lifecycle().poll_once()
    assert outcome.raised == 1
    (ticket,) = world.tickets()
    assert ticket.account_rec_id == world.account and ticket.asset_rec_id == world.asset
    assert ticket.in_inbox and world.names["D1"] in ticket.description and "Disk Space Check - C:" in ticket.description
    (note,) = world.notes(ticket.rec_id)
    assert note.startswith("Check failed: Disk Space Check - C:")
    if world.sandbox is None:
        assert note == "Check failed: Disk Space Check - C: - C: 3% free"
    again = world.lifecycle().poll_once()
    assert again.raised == again.repeated == 0 and len(world.tickets()) == 1
    assert world.snapshot_reads() == 2  # one request per poll, not one per device


def test_a_check_of_an_unlinked_site_waits_for_its_link(world):
    world.fail("D9", "Ping Check")
    assert world.lifecycle().poll_once().unlinked == 1
    assert world.tickets() == []
    world.state.link_site(world.sites["S2"], world.account, by="jsmith")
    assert world.lifecycle().poll_once().raised == 1
    (ticket,) = world.tickets()
    assert ticket.asset_rec_id is None


def test_a_repeat_is_one_note_and_a_count_and_puts_the_ticket_back_in_the_inbox(world):
    alert = world.fail("D1", "Backup Check")
    world.lifecycle().poll_once()
    (ticket,) = world.tickets()
    world.psa.set_inbox(ticket.rec_id, False)
    world.recover(alert)
    world.fail("D1", "Backup Check")  # failed again between two polls
    outcome = world.lifecycle().poll_once()
    assert outcome.repeated == 1 and outcome.raised == 0
    (same,) = world.tickets()
    assert same.rec_id == ticket.rec_id and same.in_inbox
    assert world.notes(ticket.rec_id)[-1].startswith("Check failed again (2 times in all): Backup Check")
    (row,) = world.state.open_alert_tickets()
    assert row.repeats == 1
    assert world.lifecycle().poll_once().repeated == 0


def test_recovery_adds_a_note_and_puts_the_ticket_back_in_the_inbox_and_a_later_failure_is_a_repeat(world):
    alert = world.fail("D2", "CPU Check")
    world.lifecycle().poll_once()
    (ticket,) = world.tickets()
    world.psa.set_inbox(ticket.rec_id, False)
    world.recover(alert)
    assert world.lifecycle().poll_once().recovered == 1
    recovered = world.psa.get_ticket(ticket.rec_id)
    assert recovered.in_inbox and recovered.status_code != STATUS_COMPLETED
    assert world.check_note(world.notes(ticket.rec_id)[-1]) == "Check recovered: CPU Check."
    assert world.lifecycle().poll_once().recovered == 0
    world.fail("D2", "CPU Check")
    assert world.lifecycle().poll_once().repeated == 1
    assert len(world.tickets()) == 1


def test_close_on_recovery_closes_an_untouched_ticket(world):
    alert = world.fail("D1", "Event Log Check")
    world.lifecycle(close_on_recovery=True).poll_once()
    world.recover(alert)
    outcome = world.lifecycle(close_on_recovery=True).poll_once()
    assert outcome.closed == 1
    (ticket,) = world.tickets()
    assert ticket.status_code == STATUS_COMPLETED
    assert world.check_note(world.notes(ticket.rec_id)[-1]) == "Check recovered: Event Log Check. Closed by the agent."
    world.fail("D1", "Event Log Check")
    assert world.lifecycle(close_on_recovery=True).poll_once().raised == 1  # a new failure: a new ticket
    assert len(world.tickets()) == 2


def test_close_on_recovery_leaves_a_ticket_a_person_touched_open(world):
    alert = world.fail("D1", "Event Log Check")
    world.lifecycle(close_on_recovery=True).poll_once()
    (ticket,) = world.tickets()
    world.psa.add_history(ticket.rec_id, "Looking at it.", author="jsmith")
    world.recover(alert)
    assert world.lifecycle(close_on_recovery=True).poll_once().recovered == 1
    kept = world.psa.get_ticket(ticket.rec_id)
    assert kept.status_code != STATUS_COMPLETED and kept.in_inbox
    assert "Left open: it was changed since the agent opened it." in world.notes(ticket.rec_id)[-1]


def test_completing_the_ticket_queues_one_clear_that_the_sender_delivers_with_its_note(world):
    alert = world.fail("D1", "Antivirus Update Check")
    world.lifecycle().poll_once()
    (ticket,) = world.tickets()
    world.psa.set_ticket_status(ticket.rec_id, STATUS_COMPLETED)
    assert world.lifecycle().poll_once().clears_queued == 1
    assert world.lifecycle().poll_once().clears_queued == 0
    assert world.state.count_outbox(ticket.rec_id, [CLEAR]) == 1
    assert OutboxSender(world.app, base_delay=0.05).run_once() == 1
    assert world.cleared(alert) == f"Completed in RangerMSP (ticket {ticket.ticket_no})."
    assert world.rmm.failing().alerts == ()
    assert world.state.outbox_depth() == 0
    assert world.lifecycle().poll_once().raised == 0


def test_a_crash_between_the_poll_and_the_commit_neither_loses_nor_doubles_a_ticket(world, monkeypatch):
    for device, check in [("D1", "Disk"), ("D1", "CPU"), ("D2", "Backup")]:
        world.fail(device, check)
    real = world.state.add_alert_ticket
    calls = []

    def crash_at_the_third(**row):
        calls.append(row)
        if len(calls) == 3:
            raise SystemExit("the agent stops here, before the commit")
        return real(**row)

    monkeypatch.setattr(world.state, "add_alert_ticket", crash_at_the_third)
    with pytest.raises(SystemExit):
        world.lifecycle().poll_once()
    assert world.tickets() == [] and world.state.open_alert_tickets() == []
    monkeypatch.setattr(world.state, "add_alert_ticket", real)
    assert world.lifecycle().poll_once().raised == 3
    assert world.lifecycle().poll_once().raised == 0
    tickets = world.tickets()
    assert len(tickets) == 3 and all(len(world.notes(t.rec_id)) == 1 for t in tickets)


def test_the_skip_rule_sees_every_alert_and_keeps_noise_out(world):
    world.fail("D1", "Disk")
    world.fail("D2", "Windows Update Check")
    seen = []

    def maintenance(alert) -> bool:
        seen.append((alert.device_id, world.check_note(alert.check), alert.site_code))
        return alert.check.startswith("Windows Update Check")

    outcome = AlertLifecycle(state=world.state, psa=world.psa, rmm=world.rmm, skip=maintenance).poll_once()
    assert outcome.raised == 1 and outcome.skipped == 1
    ids, site = world.devices, world.sites["S1"]
    assert sorted(seen) == sorted([(ids["D1"], "Disk", site), (ids["D2"], "Windows Update Check", site)])


def test_a_note_and_a_completion_through_the_agent_go_to_the_check_and_the_clear_is_queued_once(world):
    from agent.ports.rmm import RmmUnsupported, WriteBack, capabilities_of
    from agent.sync.outbound import actions, registry

    world.state.add_employee("jsmith", "Jane Smith", "Full")
    alert = world.fail("D1", "Backup Check")
    world.lifecycle().poll_once()
    (ticket,) = world.tickets()
    if capabilities_of(world.rmm).supports(WriteBack.ADD_NOTE):
        assert actions.add_note(world.app, ticket.rec_id, "Restarted the job.", "jsmith").has_outbox_row
    else:
        with pytest.raises(RmmUnsupported):
            registry.ADD_NOTE.run(world.app, {"TicketRecID": ticket.rec_id, "Note": "Restarted the job."}, "jsmith")
    done = actions.complete_ticket(world.app, ticket.rec_id, "Fixed the backup.", "jsmith")
    assert done.has_outbox_row and world.psa.get_ticket(ticket.rec_id).status_code == STATUS_COMPLETED
    assert world.lifecycle().poll_once().clears_queued == 0  # the poll sees the completion: nothing more
    assert not actions.complete_ticket(world.app, ticket.rec_id, None, "jsmith").has_outbox_row
    OutboxSender(world.app, base_delay=0.05).run_once()
    assert world.cleared(alert) == "Fixed the backup."
    notes = (world.sandbox or world.rmm).notes(alert)
    assert notes == (["Restarted the job."] if capabilities_of(world.rmm).supports(WriteBack.ADD_NOTE) else [])
    assert world.state.count_outbox(ticket.rec_id, [CLEAR], states=("pending", "done", "failed")) == 1
    assert world.state.outbox_depth() == 0
