"""An outage of Continuum as the administrator sees it: the running service against the sandbox
over real HTTP, with actions waiting, the sandbox refusing connections or answering 503 past the
threshold, then coming back."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from agent import events, logs
from agent.app import App
from agent.runtime.service import Service
from agent.runtime.status import gather_status
from agent.sandbox import SandboxServer
from agent.sync.outage import threshold_seconds
from dbsys import reports
from dbsys.status import read_status, status_path

from conftest import psa_backend, wait_for
from test_outbound_support import Capture, drop, fast_client, request_xml

PSG = "demo-psg-secret"


class Clock:
    """The outage tracker's wall clock, moved on by the test instead of waiting a minute."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Running:
    """The service in a thread of this process, so that its clock and client can be the test's."""

    def __init__(self, tmp_path: Path, sandbox: SandboxServer) -> None:
        self.ini = tmp_path / "CmtZenithLink.ini"
        self.ini.write_text(f"[Continuum]\nPSG={PSG}\nContinuumURL={sandbox.url}\nRequestTimeoutSeconds=5\n"
                            "ProcessContinuumUpdatesQueue=Y\nPollIntervalSeconds=1\n"
                            f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n")
        self.capture = Capture()
        self.app = App(self.ini, extra_plugins=[("capture", self.capture)])
        self.app.set_rmm(fast_client(sandbox.url, PSG))
        self.clock = Clock()
        self.service = Service(self.app, outage_clock=self.clock)
        self.sources: list[str] = []  # every failure the engines told the tracker of
        failed = self.service.outage.failed

        def counted(source, exc):
            self.sources.append(source)
            return failed(source, exc)

        self.service.outage.failed = counted  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.service.run, name="test-service")

    @property
    def folder(self) -> Path:
        return Path(self.app.settings.dbsys_folder)

    def linked_ticket(self, sandbox: SandboxServer) -> str:
        state, psa, world = self.app.state, self.app.psa, sandbox.world
        state.add_employee("jsmith", "Jane Smith", "Full")
        site = world._site_list()[0].site_code
        account = psa.add_account("ACME")
        state.link_site(site, account, by="jsmith")
        rec_id = psa.add_ticket(account, "Backup job failed")
        state.link_ticket(world.open_ticket(site_code=site, title="Backup failed")["ticket_id"], rec_id, acked=True)
        return rec_id

    def kinds(self) -> list[str]:
        return self.capture.kinds()

    def report_files(self) -> list[Path]:
        return sorted(reports.reports_folder(self.folder).glob("*.xml"))

    def status_file(self) -> dict:
        try:
            return read_status(status_path(self.folder, self.app.settings.instance_id))
        except (FileNotFoundError, ValueError):
            return {}

    def log_lines(self) -> list[str]:
        return (self.folder / "Logs" / "zenithlink.log").read_text(encoding="utf-8").splitlines()

    def stop(self) -> None:
        self.service.request_stop()
        self.thread.join(15)
        logs.configure()  # the service pointed the log at its folder: close that file
        self.app.close()


@pytest.mark.parametrize("how", ["connection refused", "503"])
def test_an_outage_is_reported_once_and_its_end_said_once(tmp_path, how):
    sandbox = SandboxServer(psg=PSG, seed=3, sites=5, devices=20, port=free_port()).start()
    running = Running(tmp_path, sandbox)
    try:
        rec_id = running.linked_ticket(sandbox)
        running.thread.start()
        wait_for(lambda: running.app.state.get_state("last_queue_poll"), 15, "the first poll of the feed")
        # And the first inventory refresh: one that ran into the outage would write a report of its own.
        wait_for(lambda: running.app.state.get_state("last_inventory_refresh"), 30, "the first inventory refresh")

        if how == "503":
            sandbox.faults.set(outage=True)
        else:
            sandbox.stop()
        put_request_for(running, rec_id)
        wait_for(lambda: {"feed", "outbox"} <= set(running.sources), 15,
                 "failures of the feed poller and of the outbox sender")

        # Before the threshold: a warning in the log, no report nor event yet; the status says what
        # is happening already (issue #26: it said last_error null).
        doc = gather_status(running.app)
        assert doc["last_error"].startswith("Continuum has not answered for ")
        assert ("Could not get an answer from Continuum" if how != "503" else "Continuum is unavailable") \
            in doc["last_error"]
        assert doc["failing_since"] and doc["outage_since"] is None
        wait_for(lambda: running.status_file().get("failing_since"), 15, "failing_since in the status file")
        assert running.report_files() == [] and events.CONTINUUM_UNREACHABLE not in running.kinds()

        running.clock.advance(threshold_seconds(running.app.settings) + 1)
        wait_for(lambda: events.CONTINUUM_UNREACHABLE in running.kinds(), 15, "the continuum_unreachable event")
        seen = len(running.sources)
        wait_for(lambda: len(running.sources) >= seen + 3, 15, "more failures within the episode")

        doc = gather_status(running.app)  # what `zenithlink status` shows
        assert doc["last_error"].startswith("Continuum has not answered for ")
        assert doc["outage_since"] and doc["failing_since"] and doc["outbox_depth"] == 1
        wait_for(lambda: running.status_file().get("outage_since"), 15, "outage_since in the status file")
        (report,) = running.report_files()
        assert report.name.endswith("-continuum-unreachable.xml")
        assert running.kinds().count(events.CONTINUUM_UNREACHABLE) == 1

        running.clock.advance(30)
        if how == "503":
            sandbox.faults.clear()
        else:
            sandbox.start()
        wait_for(lambda: events.CONTINUUM_RECOVERED in running.kinds(), 15, "the continuum_recovered event")
        wait_for(lambda: running.app.state.outbox_depth() == 0, 15, "the waiting note to go out")

        recovered = next(e for e in running.capture.events if e.kind == events.CONTINUUM_RECOVERED)
        assert recovered.data["seconds"] >= threshold_seconds(running.app.settings) + 30
        doc = gather_status(running.app)
        assert doc["last_error"].startswith("Recovered at") and doc["outage_since"] is None
        assert doc["failing_since"] is None
        assert running.report_files() == [report]
        assert running.kinds().count(events.CONTINUUM_UNREACHABLE) == 1
        assert running.kinds().count(events.CONTINUUM_RECOVERED) == 1
    finally:
        running.stop()
        sandbox.stop()

    lines = running.log_lines()
    own = [line for line in lines if "notify_log" not in line]
    # Several engines failed again and again: one warning (the first failure), one error (the
    # episode), one line for the recovery.
    assert len(running.sources) > 5
    assert len([line for line in own if "| WARNING" in line and "Continuum" in line]) == 1
    assert sum("| ERROR" in line and "Continuum has not answered" in line for line in own) == 1
    (back,) = [line for line in own if "Continuum answers again" in line]
    assert "| INFO" in back and "it had not answered for 1 min " in back


def put_request_for(running: Running, rec_id: str) -> None:
    """The PSA side drops a note for Continuum while it is down: an action waits in the outbox."""
    drop(Path(running.app.settings.requests_folder), "note-1.xml",
         request_xml("note-1", "AddNote", TicketRecID=rec_id, Note="Called the customer."))
    wait_for(lambda: running.app.state.outbox_depth() == 1, 15, "the note queued in the outbox")


def test_the_running_service_sends_what_waited_as_soon_as_continuum_answers_again(tmp_path):
    """Backoffs of an hour: a note that goes within the test did not sit its backoff out (issue #26)."""
    from agent.ports.times import now_iso
    from agent.sync.outbound.sender import OutboxSender

    sandbox = SandboxServer(psg=PSG, seed=4, sites=5, devices=20, port=free_port()).start()
    running = Running(tmp_path, sandbox)
    service = running.service
    service.sender = OutboxSender(running.app, base_delay=3600, max_delay=3600, pause_max=3600, stop=service.stop,
                                  outage=service.outage)
    try:
        rec_id = running.linked_ticket(sandbox)
        running.thread.start()
        wait_for(lambda: running.app.state.get_state("last_queue_poll"), 15, "the first poll of the feed")
        sandbox.faults.set(outage=True)
        put_request_for(running, rec_id)
        wait_for(lambda: "outbox" in running.sources, 15, "the note tried while Continuum is down")
        # The tracker hears the failure before the sender records the row's next try: wait for that.
        row = wait_for(lambda: next((r for r in running.app.state.db.query("SELECT attempts, next_attempt_at "
                                                                           "FROM outbox") if r["attempts"] == 1),
                                    None), 15, "the failed try recorded on the row")
        assert row["next_attempt_at"] > now_iso()  # half an hour away at least

        sandbox.faults.clear()
        wait_for(lambda: running.app.state.outbox_depth() == 0, 15, "the waiting note to go out")
        assert [e["action"] for e in sandbox.world.ledger].count("note") == 1
    finally:
        running.stop()
        sandbox.stop()
