"""New tickets into RangerMSP over the DLL simulator, beside the embedded backend in the same run.

Each ticket is written as the inbound sync writes it: under a keyed change, the account's manager
read, the ticket, its creation history note. Figures: tickets per second on both backends, DLL
calls per new ticket (target: at most 3 on the normal path: the look-up of the ticket's key before
it is created, the ticket, its creation note; the note's own look-up is spared because its ticket
is new), and DLL calls per ticket when the same changes are written again (a page replayed after a crash:
the journal answers, target 0).

On Windows with the simulator built as real DLLs (the Windows lane: ``ZENITHLINK_SIMULATOR_DLLS``
set, ``scripts/winpy -m bench rangermsp``), it also times one DLL call through the 32-bit host
process (x86 DLLs from this 64-bit Python, msl-loadlib) beside the same call made in this process
(x64 DLLs), both answered by the same simulator server.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from agent.backends.embedded import EmbeddedPsa, StateStore
from agent.backends.rangermsp import open_backend
from agent.backends.rangermsp.binding import Libraries, load_windows_libraries
from agent.backends.rangermsp.dllcalls import Calls
from agent.sandbox.rangermsp import SimulatorDatabase, make_installation, simulator_libraries
from agent.sandbox.rangermsp.dll import built_dlls, install_dlls, unavailable
from agent.sandbox.rangermsp.wire import serve
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


def _seconds_per_call(calls: Calls, count: int) -> float:
    """Median of three runs of ``count`` calls (``CmtGetDescriptionByCode``: no records touched)."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(count):
            calls.describe_status(1020)
        runs.append((time.perf_counter() - start) / count)
    return statistics.median(runs)


def _host_round_trip(table: Table, folder: Path, count: int) -> None:
    dlls = built_dlls()
    assert dlls is not None
    seconds = {}
    for arch in ("x64", "x86"):
        installation = make_installation(folder / arch)
        install_dlls(installation, dlls, arch)
        with serve(installation):
            calls = load_windows_libraries(installation).dll_calls()
            try:
                calls.describe_status(1020)  # the host is started by the first call: not timed
                seconds[arch] = _seconds_per_call(calls, count)
            finally:
                calls.terminate()
    table.add("one DLL call through the 32-bit host (ms)", seconds["x86"] * 1000, "ms",
              baseline=seconds["x64"] * 1000, higher_is_better=False, target="beside in-process")


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
            sim.unload()
    table.add("tickets per second (rangermsp-simulator)", count / took[0], "tickets/s",
              baseline=count / base[0], target="beside embedded")
    table.add("DLL calls per new ticket", calls / count, "calls", target="<= 3", higher_is_better=False)
    table.add("DLL calls per ticket written again (replay)", replayed / count, "calls", target="0",
              higher_is_better=False)
    if unavailable() is None:
        # The x64 DLLs stay loaded in this process until it ends: Windows keeps their files.
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            _host_round_trip(table, Path(tmp), 50 if quick else 500)
    return table
