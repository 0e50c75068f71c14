"""``zenithlink demo``: the product's whole story on built-in defaults.

A sandbox Continuum on loopback and an embedded store in a working folder; every step goes
through the same engines the service uses (inventory, links manager, inbound sync, actions,
outbox sender), so what the demo shows is what the agent does.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from agent import logs
from agent.app import App, load
from agent.demo_folder import DemoFolder
from agent.errors import ZenithError

DEMO_PSG = "demo-security-code"
ADMIN, TECH = "admin", "tech"

if TYPE_CHECKING:
    from agent.sandbox import SandboxServer


class Demo:
    def __init__(self, folder: Path | None, *, port: int = 0, console: Console | None = None,
                 psa: str = "embedded") -> None:
        self.psa_backend = psa
        self.workdir = DemoFolder(folder)
        self.folder = self.workdir.path
        self.port = port
        self.console = console or Console()
        self.step_no = 0
        self.sandbox: SandboxServer | None = None
        self.app: App | None = None

    @property
    def live(self) -> App:
        """The started demo's app."""
        if self.app is None:
            raise RuntimeError("the demo is not started")
        return self.app

    @property
    def live_sandbox(self) -> SandboxServer:
        """The started demo's sandbox Continuum."""
        if self.sandbox is None:
            raise RuntimeError("the demo is not started")
        return self.sandbox

    # -- plumbing --------------------------------------------------------------------------
    def step(self, title: str, text: str) -> None:
        self.step_no += 1
        self.console.print()
        self.console.print(Panel(text, title=f"[bold]{self.step_no}. {title}[/bold]", title_align="left",
                                 border_style="cyan"))

    def table(self, title: str, columns: list[str], rows: list[list]) -> None:
        t = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            t.add_column(column, overflow="fold")
        for row in rows:
            t.add_row(*["" if v is None else str(v) for v in row])
        self.console.print(t)

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def write_ini(self, queue: bool) -> Path:
        """The demo's INI; keys the user added to it (a notifier, say) are kept."""
        forced = {"Continuum": {"PSG": DEMO_PSG, "ContinuumURL": self.live_sandbox.url,
                                "ProcessContinuumUpdatesQueue": "Y" if queue else "N"},
                  "RangerMSP": {"Backend": self.psa_backend, "DbsysFolder": "Dbsys",
                                "OwnBusinessAccount": "Own business", "DefaultTicketManager": ADMIN}}
        defaults = {"Continuum": {"PollIntervalSeconds": "2"}, "Logging": {"Level": "INFO"}}
        return self.workdir.write_ini(forced, defaults)

    # -- the story -------------------------------------------------------------------------
    def start(self) -> None:
        from agent.sandbox import SandboxServer

        again = self.workdir.claim()
        self.sandbox = SandboxServer(psg=DEMO_PSG, seed=7, sites=12, devices=48, tickets=0, port=self.port).start()
        ini = self.write_ini(queue=False)
        self.app = App(ini)
        self.say(f"[bold]zenithlink demo[/bold] — sandbox Continuum at {self.sandbox.url}, "
                 f"working folder {self.folder}")
        if again:
            self.say("This folder holds an earlier run of the demo: [bold]starting over[/bold]. Its store and "
                     "Dbsys folder were removed, because every run's sandbox Continuum is a new world that the "
                     "old records do not belong to; the keys you added to CmtZenithLink.ini are kept.")
        elif self.workdir.temporary:
            self.say("The temporary folder is removed at the end; pass --folder DIR to keep a working folder.")

    def story(self) -> dict:
        self.prepare_psa()
        self.inventory()
        self.link_sites()
        asset_device = self.link_a_device()
        self.switch_queue_on()
        self.tickets_arrive(asset_device)
        self.hand_to_noc()
        return self.summary()

    def prepare_psa(self) -> None:
        state, psa = self.live.state, self.live.psa
        psa.add_account("Own business")
        state.add_employee(ADMIN, "Alex Admin", "Sys Admin")
        state.add_employee(TECH, "Terry Tech", "Limited")
        if self.psa_backend == "rangermsp-simulator":
            self._employees_in_the_simulator({ADMIN: "Alex Admin", TECH: "Terry Tech"})

    def _employees_in_the_simulator(self, people: dict[str, str]) -> None:
        # As an administrator would on a real server: the employees exist in RangerMSP (here, made
        # the way RangerMSP's own client makes them), and each login is mapped to its REC ID.
        from agent.backends.rangermsp import installation_folder
        from agent.sandbox.rangermsp import SimulatorDatabase
        from agent.sandbox.rangermsp.schema import ENTITY_EMPLOYEE

        folder = installation_folder(self.live.settings)
        assert folder is not None
        db = SimulatorDatabase(folder / "Db")
        try:
            for login, name in people.items():
                employee = db.add("ACCOUNT", FLDCRDFULLNAME=name, FLDCRDENTITYKIND=ENTITY_EMPLOYEE)
                self.live.psa.map_employee(login, employee)  # type: ignore[attr-defined]
        finally:
            db.close()

    def inventory(self) -> None:
        from agent.sync.inventory.refresh import refresh
        from agent.sync.links import LinksManager

        self.step("Inventory", "The agent downloads Continuum's sites and devices into the Dbsys folder "
                               "(streamed page by page, written atomically).")
        result = refresh(self.live)
        self.say(f"Downloaded {result.sites} sites and {result.devices} devices in {result.seconds:.2f} s.")
        for path in sorted((self.live.settings.dbsys_folder).glob("Zenith*.cmt")):
            self.say(f"  {path.name}  ({path.stat().st_size:,} bytes)")
        sites = LinksManager(self.live).sites()
        self.table("Some Continuum sites", ["SiteCode", "Name", "Client"],
                   [[s["site_code"], s["name"], s["record"].get("ClientName")] for s in sites[:6]])
        # The MSP's PSA already knows most of these customers, under its own spelling.
        clients = sorted({s["record"].get("ClientName", "") for s in sites[:-2]} - {""})
        for name in clients:
            self.live.psa.add_account(_psa_spelling(name))
        self.say(f"The PSA has {len(clients)} customer accounts of its own (spelt its own way).")

    def link_sites(self) -> None:
        from agent.sync.links import LinksManager

        links = LinksManager(self.live)
        self.step("Link sites to accounts", "Suggestions rank the PSA accounts by the evidence that they are the "
                                            "site's; the review links the exact and strong matches only.")
        code = links.sites(linked=False)[0]["site_code"]
        own = self.live.psa.first_account()
        assert own is not None  # prepare_psa made it
        try:
            links.link_site(code, own.rec_id, TECH)
        except ZenithError as exc:
            self.say(f"[yellow]{TECH} tries to link {code}:[/yellow] {exc.message}")
        plan = links.review(apply=True, user=ADMIN)
        self.table("Review (--apply, by admin)", ["site", "suggested account", "score", "verdict", "why", "action"],
                   [[p.site_code, p.account_name, p.score and f"{p.score:.0f}", p.verdict, p.reason,
                     str(p.action)] for p in plan])

    def link_a_device(self) -> tuple[str, str] | None:
        from agent.sync.links import LinksManager

        links = LinksManager(self.live)
        linked_sites = {s["site_code"] for s in links.sites(linked=True)}
        devices = [d for d in links.devices() if d["record"].get("SiteCode") in linked_sites]
        if not devices:
            return None
        device = devices[0]
        rec_id = links.create_asset_from_device(device["device_id"], None, ADMIN)
        asset = self.live.psa.get_asset(rec_id)
        self.step("Link a device to an asset", "An asset is created from a Continuum device (name, serial "
                                               "number, manufacturer; the rest goes into its notes) and linked.")
        self.say(f"Device {device['device_id']} → asset {asset.name} ({rec_id}), serial {asset.serial or '—'}")
        return device["device_id"], rec_id

    def switch_queue_on(self) -> None:
        self.step("Switch the queue on", "ProcessContinuumUpdatesQueue=Y in CmtZenithLink.ini: from now on "
                                         "Continuum tickets become PSA tickets.")
        ini = self.write_ini(queue=True)
        self.live.replace_settings(load(ini))

    def tickets_arrive(self, asset_device: tuple[str, str] | None) -> dict[str, str]:
        from agent.sync.inbound.engine import InboundSync
        from agent.sync.links import LinksManager

        self.step("Tickets arrive", "Continuum opens tickets: an alert on a linked device, one on a device "
                                    "with no asset, one from a site nobody linked, and a NOC ticket with no site.")
        links = LinksManager(self.live)
        linked = {s["site_code"] for s in links.sites(linked=True)}
        unlinked = [s["site_code"] for s in links.sites(linked=False)]
        world = self.live_sandbox.world
        opened = {}
        if asset_device:
            opened["linked device"] = world.open_ticket(device_id=asset_device[0], title="Low disk space on C:",
                                                        description="Free space below 5%.")["ticket_id"]
        free_device = next((d for d in links.devices(linked=False) if d["record"].get("SiteCode") in linked), None)
        if free_device:
            opened["unlinked device"] = world.open_ticket(device_id=free_device["device_id"],
                                                          title="Backup job failed")["ticket_id"]
        if unlinked:
            opened["unlinked site"] = world.open_ticket(site_code=unlinked[0], title="Firewall offline")["ticket_id"]
        opened["no site"] = world.open_ticket(title="Monthly NOC report ready", source="NOC",
                                              priority="Low")["ticket_id"]
        applied = InboundSync(self.live).run_once()
        state, psa = self.live.state, self.live.psa
        names = dict(psa.account_names())
        rows = []
        for case, cid in opened.items():
            rec_id = state.ticket_for_continuum(cid)
            assert rec_id is not None  # every ticket opened above became a PSA ticket
            t = psa.get_ticket(rec_id)
            asset = psa.get_asset(t.asset_rec_id).name if t.asset_rec_id else "—"
            rows.append([case, cid, t.ticket_no, names.get(t.account_rec_id, t.account_rec_id),
                         asset, "yes" if t.in_inbox else "", t.description.splitlines()[0]])
        self.table(f"Inbox after one poll ({applied} changes applied)",
                   ["case", "Continuum", "PSA no", "account", "asset", "inbox", "description"], rows)
        return opened

    def hand_to_noc(self) -> None:
        from agent.sync.inbound.engine import InboundSync
        from agent.sync.outbound.registry import ADD_NOTE, CLOSE_TICKET, CREATE_TICKET
        from agent.sync.outbound.sender import OutboxSender

        state, psa = self.live.state, self.live.psa
        account = next(a for a in psa.list_accounts() if state.sites_for_account(a.rec_id))
        rec_id = psa.add_ticket(account.rec_id, "Nightly backup of the file server keeps failing")
        self.step("Hand a ticket to the NOC", f"A technician's PSA ticket for {account.name} is created in "
                                              "Continuum, assigned to the NOC, with a note.")
        site = state.sites_for_account(account.rec_id)[0]  # the technician names the site, as --site does
        with self.live.unit_of_work():
            CREATE_TICKET.run(self.live, {"TicketRecID": rec_id, "AssignTo": "NOC", "SiteCode": site,
                                         "Note": "Please check the backup job."}, ADMIN)
        OutboxSender(self.live).run_once()
        cid = state.continuum_for_ticket(rec_id)
        assert cid is not None  # the sender delivered the creation
        self.say(f"PSA ticket {psa.get_ticket(rec_id).ticket_no} → Continuum ticket {cid} (assigned to NOC).")

        self.live_sandbox.world.return_ticket(cid, "Work Completed", note="Backup job repaired and re-run.")
        InboundSync(self.live).run_once()
        self.say("The NOC returns it with 'Work Completed': the ticket is back in the Inbox.")

        with self.live.unit_of_work():
            ADD_NOTE.run(self.live, {"TicketRecID": rec_id, "Note": "Thanks, confirmed with the customer."}, ADMIN)
        with self.live.unit_of_work():
            CLOSE_TICKET.run(self.live, {"TicketRecID": rec_id, "Note": "Resolved by the NOC."}, ADMIN)
        OutboxSender(self.live).run_once()
        InboundSync(self.live).run_once()
        ticket = psa.get_ticket(rec_id)
        self.say(f"Note sent; the PSA ticket is {ticket.status}, and in Continuum it is "
                 f"{self.live_sandbox.world.ticket(cid)['status']}.")
        self.table(f"History of PSA ticket {ticket.ticket_no}", ["at", "note"],
                   [[h.at[:19].replace("T", " "), h.text] for h in ticket.history])

    def summary(self) -> dict:
        state, psa, world = self.live.state, self.live.psa, self.live_sandbox.world
        figures = {
            "sites linked": len(state.site_links()),
            "PSA tickets": psa.count_tickets(),
            "in the Inbox": len(psa.list_tickets(inbox=True)),
            "Continuum tickets linked": len(world.links),
            "effects applied in Continuum": len(world.ledger),
            "outbox waiting": state.outbox_depth(),
        }
        self.step("Summary", "Everything above went through the agent's own engines and the wire.")
        self.table("Figures", ["", "count"], [[k, v] for k, v in figures.items()])
        return figures

    # -- keep serving ----------------------------------------------------------------------
    def serve(self) -> None:
        from agent.runtime.service import Service

        stop = threading.Event()
        ticker = threading.Thread(target=self._alerts, args=(stop,), daemon=True)
        ticker.start()
        self.say("\n[bold]Serving.[/bold] New alerts arrive every 10 s; the agent turns them into PSA tickets. "
                 "Drop requests into Dbsys/ZenithRequests, edit the INI, or use the CLI with "
                 f"--config {self.live.config_path}. Ctrl-C stops.")
        try:
            Service(self.live).run()
        finally:
            stop.set()

    def _alerts(self, stop: threading.Event) -> None:
        while not stop.wait(10):
            try:
                tid = self.live_sandbox.world.open_tickets(1)[0]
                logger.info("sandbox: Continuum opened ticket {}", tid)
            except Exception as exc:  # noqa: BLE001 - the demo's ticker must not die
                logger.warning("sandbox ticker: {}", exc)

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
        if self.sandbox is not None:
            self.sandbox.stop()
        self.workdir.remove_if_temporary()


def _psa_spelling(name: str) -> str:
    """How a PSA would often spell a customer: another case, suffix or punctuation."""
    variants = {" Inc.": ", Inc", " LLC": " L.L.C.", " Ltd": " Limited", "&": "and"}
    for old, new in variants.items():
        if old in name:
            return name.replace(old, new)
    return name.upper() if len(name) < 12 else name


def run_demo(folder: Path | None = None, *, once: bool = False, port: int = 0, psa: str = "embedded",
             story: type[Demo] = Demo) -> dict:
    """Tell the whole story; then serve until Ctrl-C unless ``once``. Returns the summary figures.
    ``psa`` is the PSA backend (``rangermsp-simulator``: RangerMSP's DB API over its simulator),
    ``story`` the demo to tell (:class:`agent.demo_nsight.NsightDemo`: against a sandbox N-sight)."""
    logs.configure("WARNING" if once else "INFO")
    demo = story(folder, port=port, psa=psa)
    try:
        demo.start()
        figures = demo.story()
        if not once:
            demo.serve()
        return figures
    finally:
        demo.close()
