"""The demo's story against a snapshot RMM (``demo --rmm nsight`` / ``--rmm ninjaone``).

The same engines the service runs (inventory, links manager, alert lifecycle, outbox sender) on a
sandbox RMM that speaks its vendor's API on loopback: failing checks (open alerts) become
tickets, a repeat and a recovery become notes, completing a ticket clears the check (resets the
alert) in the RMM. The story is told once here; :mod:`agent.demo_nsight` and
:mod:`agent.demo_ninjaone` name their sandbox, its INI section and its client.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from agent.app import App, load
from agent.demo import ADMIN, Demo, _psa_spelling
from agent.ports.psa import STATUS_COMPLETED
from agent.ports.rmm import AlertRmm
from agent.sync.alerts.lifecycle import AlertLifecycle, PollOutcome

CHECKS = ("Disk Space Check - C:", "Backup Check", "Antivirus Update Check", "Event Log Check")


@dataclass
class Failing:
    """A check the demo made fail: its device, its name and the alert id the RMM gave it last."""

    device_id: str
    check: str
    alert_id: str


class AlertDemo(Demo):
    """The alert story; a subclass says which sandbox RMM it is told against."""

    rmm_name = ""
    """The RMM as the story names it: ``N-sight``, ``NinjaOne``."""
    backend = ""
    """``[Continuum] Backend=`` of the RMM."""
    inventory_text = ""
    """How the agent reads the RMM's inventory (the step's text)."""
    site_code_is = ""
    """What the RMM's SiteCode is, for the inventory's table."""
    politeness = ""
    """How often the service reads the RMM (the text of the step that switches the queue on)."""
    completion = ""
    """What completing a ticket does in the RMM (the step's text)."""

    rmm_sandbox: Any
    """The sandbox: it speaks the RMM contract's harness protocol (``fail``, ``recover``, ``cleared``)."""

    # -- what a subclass provides ------------------------------------------------------------------
    def make_sandbox(self) -> Any:
        raise NotImplementedError

    def rmm_sections(self) -> dict[str, dict[str, str]]:
        """The INI sections that point the agent at the sandbox."""
        raise NotImplementedError

    def client(self) -> AlertRmm:
        """A client of the sandbox that polls at once (the service waits between polls)."""
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------------------------
    @property
    def live(self) -> App:
        """The started demo's app."""
        if self.app is None:
            raise RuntimeError("the demo is not started")
        return self.app

    def write_ini(self, queue: bool) -> Path:
        forced = {"Continuum": {"Backend": self.backend, "ProcessContinuumUpdatesQueue": "Y" if queue else "N"},
                  **self.rmm_sections(),
                  "RangerMSP": {"Backend": self.psa_backend, "DbsysFolder": "Dbsys",
                                "OwnBusinessAccount": "Own business", "DefaultTicketManager": ADMIN}}
        return self.workdir.write_ini(forced, {"Logging": {"Level": "INFO"}})

    def start(self) -> None:
        again = self.workdir.claim()
        self.rmm_sandbox = self.make_sandbox()
        self.rmm_sandbox.__enter__()
        self.failing: list[Failing] = []
        self.app = App(self.write_ini(queue=False))
        self.say(f"[bold]zenithlink demo[/bold] — sandbox {self.rmm_name} at {self.rmm_sandbox.url}, "
                 f"working folder {self.folder}")
        if again:
            self.say("This folder holds an earlier run of the demo: [bold]starting over[/bold].")

    # -- the story ---------------------------------------------------------------------------------
    def story(self) -> dict:
        self.prepare_psa()
        self.inventory()
        self.link_sites()
        self.switch_queue_on()
        self.checks_fail()
        self.repeat_and_recover()
        self.complete_a_ticket()
        return self.summary()

    def inventory(self) -> None:
        from agent.sync.inventory.refresh import refresh
        from agent.sync.links import LinksManager

        self.step("Inventory", self.inventory_text)
        result = refresh(self.live)
        self.say(f"Read {result.sites} sites and {result.devices} devices in {result.seconds:.2f} s.")
        sites = LinksManager(self.live).sites()
        self.table(f"{self.rmm_name} sites (SiteCode is {self.site_code_is})", ["SiteCode", "Name", "Client"],
                   [[s["site_code"], s["name"], s["record"].get("ClientName")] for s in sites])
        # The PSA knows every customer but the last one, so that one's sites stay unlinked.
        for name in sorted({s["record"].get("ClientName", "") for s in sites} - {""})[:-1]:
            self.live.psa.add_account(_psa_spelling(name))

    def switch_queue_on(self) -> None:
        self.step("Switch the queue on", "ProcessContinuumUpdatesQueue=Y: from now on failing checks become "
                                         f"PSA tickets. {self.politeness} The demo polls at once.")
        self.live.replace_settings(load(self.write_ini(queue=True)))
        self.live.set_rmm(self.client())

    def checks_fail(self) -> None:
        self.step("Checks fail", "Three checks fail on devices of linked sites, one on a site nobody linked.")
        linked, unlinked = self._devices()
        for device_id, check in zip(linked, CHECKS[:3]):
            self.failing.append(Failing(device_id, check, self.rmm_sandbox.fail(device_id, check)))
        if unlinked:
            self.rmm_sandbox.fail(unlinked[0], CHECKS[3])
        outcome = self._poll()
        self.say(f"One poll: {outcome.failing} failing, {outcome.raised} tickets opened, "
                 f"{outcome.unlinked} waiting for their site to be linked.")
        self._inbox()

    def repeat_and_recover(self) -> None:
        self.step("A repeat and a recovery", "One check recovers and fails again between two polls; another "
                                             "recovers. Each is one note on its ticket, never a second ticket.")
        first, second = self.failing[:2]
        self.rmm_sandbox.recover(first.alert_id)
        first.alert_id = self.rmm_sandbox.fail(first.device_id, first.check)
        self.rmm_sandbox.recover(second.alert_id)
        self.failing.remove(second)
        outcome = self._poll()
        self.say(f"One poll: {outcome.repeated} repeated, {outcome.recovered} recovered.")
        self._inbox()

    def complete_a_ticket(self) -> None:
        from agent.sync.outbound.sender import OutboxSender

        rows = {r.alert_id: r for r in self.live.state.open_alert_tickets() if r.state == "failing"}
        chosen = next(f for f in self.failing if f.alert_id in rows)
        rec_id = rows[chosen.alert_id].ticket_rec_id
        self.step("Complete a ticket", f"A technician completes the ticket of a check that still fails: "
                                       f"{self.completion}, with a note, through the outbox.")
        self.live.psa.set_ticket_status(rec_id, STATUS_COMPLETED)
        outcome = self._poll()
        sent = OutboxSender(self.live).run_once()
        cleared = self.rmm_sandbox.cleared(chosen.alert_id)
        self.say(f"{outcome.clears_queued} clear queued, {sent} sent; {self.rmm_name}'s {chosen.check} on device "
                 f"{chosen.device_id} is cleared with the note: {cleared!r}")
        ticket = self.live.psa.get_ticket(rec_id)
        self.table(f"History of PSA ticket {ticket.ticket_no}", ["at", "note"],
                   [[h.at[:19].replace("T", " "), h.text] for h in ticket.history])

    def summary(self) -> dict:
        state, psa = self.live.state, self.live.psa
        figures = {
            "sites linked": len(state.site_links()),
            "PSA tickets": psa.count_tickets(),
            "in the Inbox": len(psa.list_tickets(inbox=True)),
            f"checks failing in {self.rmm_name}": len(self.live.alert_rmm.failing().alerts),
            "checks cleared by the agent": sum(1 for f in self.failing if self.rmm_sandbox.cleared(f.alert_id)),
            "outbox waiting": state.outbox_depth(),
        }
        self.step("Summary", f"Everything above went through the agent's own engines and {self.rmm_name}'s API.")
        self.table("Figures", ["", "count"], [[k, v] for k, v in figures.items()])
        return figures

    # -- inside ------------------------------------------------------------------------------------
    def _poll(self) -> PollOutcome:
        return AlertLifecycle(state=self.live.state, psa=self.live.psa, rmm=self.live.alert_rmm).poll_once()

    def _devices(self) -> tuple[list[str], list[str]]:
        """The devices of linked sites, and of the others, from the inventory files."""
        from agent.sync.links import LinksManager

        links = self.live.state.site_links()
        devices = LinksManager(self.live).devices()
        return ([d["device_id"] for d in devices if d["record"].get("SiteCode") in links],
                [d["device_id"] for d in devices if d["record"].get("SiteCode") not in links])

    def _inbox(self) -> None:
        psa, names = self.live.psa, dict(self.live.psa.account_names())
        self.table("PSA tickets", ["no", "account", "inbox", "status", "notes", "description"],
                   [[t.ticket_no, names.get(t.account_rec_id, t.account_rec_id), "yes" if t.in_inbox else "",
                     t.status, len(psa.get_ticket(t.rec_id).history), t.description.splitlines()[0]]
                    for t in psa.list_tickets()])

    def _alerts(self, stop: threading.Event) -> None:
        number = 0
        while not stop.wait(10):
            try:
                linked, _unlinked = self._devices()
                device_id, check = linked[number % len(linked)], CHECKS[number % len(CHECKS)]
                number += 1
                self.rmm_sandbox.fail(device_id, check)
                logger.info("sandbox: {} {} fails on device {}", self.rmm_name, check, device_id)
            except Exception as exc:  # noqa: BLE001 - the demo's ticker must not die
                logger.warning("sandbox ticker: {}", exc)

    def close(self) -> None:
        if self.app is not None:
            self.live.close()
        sandbox = getattr(self, "rmm_sandbox", None)
        if sandbox is not None:
            sandbox.__exit__(None, None, None)
        self.workdir.remove_if_temporary()
