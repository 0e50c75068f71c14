"""New tickets into RangerMSP over the DLL simulator, beside the embedded backend in the same run.

Each ticket is written as the inbound sync writes it: under a keyed change, the account's manager
read, the ticket, its creation history note. Figures: tickets per second on both backends, DLL
calls per new ticket (target: at most 3 on the normal path: the look-up of the ticket's key before
it is created, the ticket, its creation note; the note's own look-up is spared because its ticket
is new), and DLL calls per ticket when the same changes are written again (a page replayed after a crash:
the journal answers, target 0).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

from agent.backends.embedded import EmbeddedPsa, StateStore
from agent.backends.rangermsp import open_backend
from agent.backends.rangermsp.binding import Libraries
from agent.sandbox.rangermsp import SimulatorDatabase, make_installation, simulator_libraries
from bench.common import Table, stopwatch

_NOTE = "Created in Continuum on 2026-12-01 10:00 UTC by the NOC; Continuum ticket {}"


def _write(psa, account: str, count: int, unit) -> None:
    for n in range(count):
        with unit(), psa.keyed(f"change:{n}"):
            psa.account_manager(account)
            with psa.keyed(f"ticket:{n}", external_id=str(n)):
                rec_id = psa.add_ticket(account, f"Disk almost full on server {n}", in_inbox=True)
            psa.add_history(rec_id, _NOTE.format(n), at="2026-12-01T10:00:00.000000Z", touch=False)


def _simulator_psa(folder: Path):
    installation = make_installation(folder / "RangerMSP")
    sim = simulator_libraries()
    settings = SimpleNamespace(application_name="zenithlink", continuum_ticket_field="FLDTKTUSER1",
                               dbsys_folder=folder / "Dbsys")
    state = SimpleNamespace(db=SimpleNamespace(path=folder / "zenithlink.sqlite3"))
    libraries = Libraries(sim.eng, sim.qry, str(installation / "Db"), installation / "ThirdParty" / "UserDev")
    psa = open_backend(libraries, settings, state, installation)
    return psa, SimulatorDatabase(installation / "Db"), sim


def main(quick: bool = False) -> Table:
    count = 100 if quick else 1000
    table = Table(f"RangerMSP backend over the DLL simulator: {count} new tickets")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        state = StateStore(folder / "embedded" / "zenithlink.sqlite3")
        embedded = EmbeddedPsa(state.db)
        account = embedded.add_account("Acme")
        with stopwatch() as base:
            _write(embedded, account, count, state.transaction)
        state.close()

        psa, db, sim = _simulator_psa(folder / "rangermsp")
        try:
            account = psa.add_account("Acme")
            before = sum(sim.calls.values())
            with stopwatch() as took:
                _write(psa, account, count, psa.transaction)
            calls = sum(sim.calls.values()) - before
            before = sum(sim.calls.values())
            _write(psa, account, count, psa.transaction)
            replayed = sum(sim.calls.values()) - before
        finally:
            psa.close()
            db.close()
    table.add("tickets per second (rangermsp-simulator)", count / took[0], "tickets/s",
              baseline=count / base[0], target="beside embedded")
    table.add("DLL calls per new ticket", calls / count, "calls", target="<= 3", higher_is_better=False)
    table.add("DLL calls per ticket written again (replay)", replayed / count, "calls", target="0",
              higher_is_better=False)
    return table
