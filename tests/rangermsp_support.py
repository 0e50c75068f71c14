"""The RangerMSP backend over the DLL simulator, opened directly (without an App), for its tests."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from agent.backends.rangermsp import RangerMspPsa, open_backend
from agent.backends.rangermsp.binding import Libraries
from agent.sandbox.rangermsp import SimulatorDatabase, make_installation, simulator_libraries


def settings(folder: Path, **overrides) -> SimpleNamespace:
    values = {"application_name": "zenithlink", "continuum_ticket_field": "FLDTKTUSER1",
              "dbsys_folder": folder / "Dbsys", "rangermsp_folder": folder / "RangerMSP"}
    values.update(overrides)
    return SimpleNamespace(**values)


def open_simulator_psa(folder: Path, **overrides) -> tuple[RangerMspPsa, SimulatorDatabase, object]:
    """The backend, an admin handle on the simulator's records (close both), and the libraries."""
    conf = settings(folder, **overrides)
    installation = make_installation(conf.rangermsp_folder)
    sim = simulator_libraries()
    state = SimpleNamespace(db=SimpleNamespace(path=folder / "zenithlink.sqlite3"))
    libraries = Libraries(sim.eng, sim.qry, str(installation / "Db"), installation / "ThirdParty" / "UserDev")
    psa = open_backend(libraries, conf, state, installation)
    return psa, SimulatorDatabase(installation / "Db"), sim


@contextmanager
def simulator_psa(folder: Path, **overrides) -> Iterator[tuple[RangerMspPsa, SimulatorDatabase]]:
    psa, db, _ = open_simulator_psa(folder, **overrides)
    try:
        yield psa, db
    finally:
        psa.close()
        db.close()


def pe_header(machine: int, magic: int) -> bytes:
    """The start of a Windows DLL with this PE machine and optional-header magic (0x14C/0x10B:
    PE32 x86, as RangerMSP's DLLs; 0x8664/0x20B: x64), all the bitness check reads."""
    head = bytearray(512)
    head[:2] = b"MZ"
    struct.pack_into("<I", head, 0x3C, 0x80)
    head[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", head, 0x84, machine)
    struct.pack_into("<H", head, 0x80 + 24, magic)
    return bytes(head)

