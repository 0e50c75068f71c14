"""``zenithlink demo --rmm nsight``: the story against a sandbox N-able N-sight.

The same engines the service runs (inventory, links manager, alert lifecycle, outbox sender) on
the sandbox N-sight's Data Extraction API: failing checks become tickets, a repeat and a recovery
become notes, completing a ticket clears its check in N-sight.
"""

from __future__ import annotations

import threading
from pathlib import Path

from loguru import logger

from agent.app import App, load
from agent.demo import ADMIN, Demo, _psa_spelling
from agent.ports.psa import STATUS_COMPLETED
from agent.sandbox.nsight import NsightSandbox, NsightWorld
from agent.sync.alerts import AlertLifecycle, PollOutcome


class NsightDemo(Demo):
    """The demo's plumbing (folder, INI, tables), with a sandbox N-sight for the RMM."""

    nsight: NsightSandbox

    @property
    def live(self) -> App:
        """The started demo's app."""
        if self.app is None:
            raise RuntimeError("the demo is not started")
        return self.app

    def write_ini(self, queue: bool) -> Path:
        forced = {"Continuum": {"Backend": "nsight", "ProcessContinuumUpdatesQueue": "Y" if queue else "N"},
                  "Nsight": {"ServerURL": self.nsight.url, "APIKey": self.nsight.world.api_key},
                  "RangerMSP": {"Backend": self.psa_backend, "DbsysFolder": "Dbsys",
                                "OwnBusinessAccount": "Own business", "DefaultTicketManager": ADMIN}}
        return self.workdir.write_ini(forced, {"Logging": {"Level": "INFO"}})

    def start(self) -> None:
        again = self.workdir.claim()
        self.nsight = NsightSandbox(NsightWorld(seed=7, clients=3, sites=6, devices=24), port=self.port)
        self.nsight.__enter__()
        self.app = App(self.write_ini(queue=False))
        self.say(f"[bold]zenithlink demo[/bold] — sandbox N-able N-sight at {self.nsight.url}, "
                 f"working folder {self.folder}")
        if again:
            self.say("This folder holds an earlier run of the demo: [bold]starting over[/bold].")

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

        self.step("Inventory", "The agent reads N-sight's clients, their sites and each site's servers and "
                               "workstations (list_clients, list_sites, list_servers, list_workstations) into "
                               "the Dbsys folder's inventory files.")
        result = refresh(self.live)
        self.say(f"Read {result.sites} sites and {result.devices} devices in {result.seconds:.2f} s.")
        sites = LinksManager(self.live).sites()
        self.table("N-sight sites (SiteCode is N-sight's siteid)", ["SiteCode", "Name", "Client"],
                   [[s["site_code"], s["name"], s["record"].get("ClientName")] for s in sites])
        for name in sorted({s["record"].get("ClientName", "") for s in sites[:-2]} - {""}):
            self.live.psa.add_account(_psa_spelling(name))

    def switch_queue_on(self) -> None:
        self.step("Switch the queue on", "ProcessContinuumUpdatesQueue=Y: from now on failing checks become "
                                         "PSA tickets. The service reads them at most every 90 s, as N-able asks; "
                                         "the demo polls at once.")
        self.live.replace_settings(load(self.write_ini(queue=True)))
        from agent.backends.nsight import NsightClient

        self.live.set_rmm(NsightClient(self.nsight.url, self.nsight.world.api_key, min_poll_seconds=0))

    def _poll(self) -> PollOutcome:
        return AlertLifecycle(state=self.live.state, psa=self.live.psa, rmm=self.live.alert_rmm).poll_once()

    def _linked_checks(self) -> list[int]:
        world, links = self.nsight.world, self.live.state.site_links()
        return [c.checkid for c in world.checks.values() if str(world.devices[c.deviceid].siteid) in links]

    def checks_fail(self) -> None:
        self.step("Checks fail", "Three checks fail on devices of linked sites, one on a site nobody linked.")
        world, links = self.nsight.world, self.live.state.site_links()
        for checkid in self._linked_checks()[:3]:
            world.fail(checkid, output="Threshold exceeded")
        unlinked = next((c for c in world.checks.values() if str(world.devices[c.deviceid].siteid) not in links), None)
        if unlinked is not None:
            world.fail(unlinked.checkid, output="Threshold exceeded")
        outcome = self._poll()
        self.say(f"One poll: {outcome.failing} failing, {outcome.raised} tickets opened, "
                 f"{outcome.unlinked} waiting for their site to be linked.")
        self._inbox()

    def repeat_and_recover(self) -> None:
        self.step("A repeat and a recovery", "One check recovers and fails again between two polls; another "
                                             "recovers. Each is one note on its ticket, never a second ticket.")
        first, second = self._linked_checks()[:2]
        world = self.nsight.world
        world.recover(first)
        world.fail(first, output="Threshold exceeded again")
        world.recover(second)
        outcome = self._poll()
        self.say(f"One poll: {outcome.repeated} repeated, {outcome.recovered} recovered.")
        self._inbox()

    def complete_a_ticket(self) -> None:
        from agent.sync.outbound.sender import OutboxSender

        rows = {r.alert_id: r for r in self.live.state.open_alert_tickets()}
        checkid = next(c for c in self._linked_checks()[:3] if str(c) in rows and self.nsight.world.checks[c].failing)
        rec_id = rows[str(checkid)].ticket_rec_id
        self.step("Complete a ticket", "A technician completes the ticket of a check that still fails: the "
                                       "agent clears the check in N-sight, with a note, through the outbox.")
        self.live.psa.set_ticket_status(rec_id, STATUS_COMPLETED)
        outcome = self._poll()
        sent = OutboxSender(self.live).run_once()
        cleared = self.nsight.cleared(str(checkid))
        self.say(f"{outcome.clears_queued} clear queued, {sent} sent; N-sight's check {checkid} is cleared "
                 f"with the note: {cleared!r}")
        ticket = self.live.psa.get_ticket(rec_id)
        self.table(f"History of PSA ticket {ticket.ticket_no}", ["at", "note"],
                   [[h.at[:19].replace("T", " "), h.text] for h in ticket.history])

    def _inbox(self) -> None:
        psa, names = self.live.psa, dict(self.live.psa.account_names())
        self.table("PSA tickets", ["no", "account", "inbox", "status", "notes", "description"],
                   [[t.ticket_no, names.get(t.account_rec_id, t.account_rec_id), "yes" if t.in_inbox else "",
                     t.status, len(psa.get_ticket(t.rec_id).history), t.description.splitlines()[0]]
                    for t in psa.list_tickets()])

    def summary(self) -> dict:
        state, psa, world = self.live.state, self.live.psa, self.nsight.world
        figures = {
            "sites linked": len(state.site_links()),
            "PSA tickets": psa.count_tickets(),
            "in the Inbox": len(psa.list_tickets(inbox=True)),
            "checks failing in N-sight": len(world.failing()),
            "checks cleared by the agent": sum(1 for c in world.checks.values() if c.cleared),
            "outbox waiting": state.outbox_depth(),
        }
        self.step("Summary", "Everything above went through the agent's own engines and N-sight's API.")
        self.table("Figures", ["", "count"], [[k, v] for k, v in figures.items()])
        return figures

    def _alerts(self, stop: threading.Event) -> None:
        while not stop.wait(10):
            try:
                checkid = self._linked_checks()[len(self.nsight.world.failing()) % 7]
                self.nsight.world.fail(checkid, output="Threshold exceeded")
                logger.info("sandbox: N-sight check {} fails", checkid)
            except Exception as exc:  # noqa: BLE001 - the demo's ticker must not die
                logger.warning("sandbox ticker: {}", exc)

    def close(self) -> None:
        if self.app is not None:
            self.live.close()
        nsight = getattr(self, "nsight", None)
        if nsight is not None:
            nsight.__exit__(None, None, None)
        self.workdir.remove_if_temporary()
