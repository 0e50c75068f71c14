"""RangerMSP's case for real: the simulator built as 32-bit (x86) stdcall DLLs, loaded by a 64-bit
Windows CPython through msl-loadlib's 32-bit host process (``host.py``, ``host32.py``).

Windows only (the Windows lane: Windows CPython under Wine, wine32 running the 32-bit host), with
the DLLs built and named by ZENITHLINK_SIMULATOR_DLLS."""

from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from loguru import logger
from rangermsp_support import settings

from agent.backends.rangermsp import open_backend
from agent.backends.rangermsp.binding import load_windows_libraries, needs_host
from agent.backends.rangermsp.fields import ACCOUNT
from agent.backends.rangermsp.host import HostedDllCalls
from agent.backends.rangermsp.status import DbApiBusy
from agent.ports.psa import PsaUnavailable
from agent.sandbox.rangermsp import SimulatorDatabase, make_installation
from agent.sandbox.rangermsp.dll import built_dlls, install_dlls, unavailable
from agent.sandbox.rangermsp.faults import FILE_NAME as FAULTS_FILE
from agent.sandbox.rangermsp.wire import serve

pytestmark = [
    pytest.mark.skipif(unavailable() is not None, reason=unavailable() or ""),
    pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="a 32-bit Python loads 32-bit DLLs itself"),
]


@pytest.fixture
def installation(tmp_path):
    dlls = built_dlls()
    assert dlls is not None
    folder = make_installation(tmp_path / "RangerMSP")
    install_dlls(folder, dlls, "x86")
    with serve(folder):
        yield folder


def _psa(tmp_path: Path, folder: Path):
    state = SimpleNamespace(db=SimpleNamespace(path=tmp_path / "zenithlink.sqlite3"))
    conf = settings(tmp_path, rangermsp_folder=folder)
    return open_backend(load_windows_libraries(folder), conf, state, folder)


def test_32_bit_dlls_run_in_a_32_bit_host_process_of_their_own(tmp_path, installation):
    libraries = load_windows_libraries(installation)
    assert needs_host(libraries.folder) and libraries.eng is None
    calls = libraries.dll_calls()
    assert isinstance(calls, HostedDllCalls)
    try:
        assert calls.host_bits() == 32
        assert calls.host_pid() != os.getpid()
    finally:
        calls.terminate()


def test_the_backend_writes_and_reads_through_the_host(tmp_path, installation):
    psa = _psa(tmp_path, installation)
    try:
        rec_id = psa.api.insert(ACCOUNT, {"FLDCRDCOMPANY": "Zoë's \"Dental\"\nClinic"}).rec_id
        row = psa.api.get(rec_id, ["FLDCRDCOMPANY"])
        listed = psa.api.query(ACCOUNT, [])
    finally:
        psa.close()
    assert row["FLDCRDCOMPANY"] == "Zoë's \"Dental\"\nClinic"
    assert listed == [rec_id]


def test_a_host_killed_between_calls_is_replaced_and_initialised_again(tmp_path, installation):
    psa = _psa(tmp_path, installation)
    hosted = psa.api.dll
    assert isinstance(hosted, HostedDllCalls)
    try:
        os.kill(hosted.host_pid(), signal.SIGTERM)  # TerminateProcess on Windows
        with pytest.raises(DbApiBusy):
            hosted.host_bits()
        rec_id = psa.api.insert(ACCOUNT, {"FLDCRDCOMPANY": "After the crash"}).rec_id
        assert hosted.starts == 2
        assert psa.api.get(rec_id, ["FLDCRDCOMPANY"]) == {"FLDCRDCOMPANY": "After the crash"}
    finally:
        psa.close()


def test_the_host_is_recycled_after_its_calls(tmp_path, installation):
    psa = _psa(tmp_path, installation)
    hosted = psa.api.dll
    assert isinstance(hosted, HostedDllCalls)
    hosted.recycle_every = 5
    try:
        first = hosted.host_pid()
        for n in range(6):
            psa.api.insert(ACCOUNT, {"FLDCRDCOMPANY": f"Account {n}"})
        assert hosted.starts >= 2 and hosted.host_pid() != first
    finally:
        psa.close()


def test_thirty_host_deaths_mid_write_neither_double_nor_lose_a_ticket_or_a_note(tmp_path, installation):
    """The 32-bit host killed at random moments of keyed writes (TerminateProcess, as a crash),
    while the simulator also commits some writes and then answers 1100: every unit is tried again
    until it succeeds, as the engines do, and each ticket and note exists exactly once."""
    (installation / "Db" / FAULTS_FILE).write_text(json.dumps({"commit_then_busy_probability": 0.05, "seed": 3}),
                                                   encoding="utf-8")
    rng = random.Random(30)
    psa = _psa(tmp_path, installation)
    hosted = psa.api.dll
    assert isinstance(hosted, HostedDllCalls)
    account = _until_done(lambda: psa.add_account("Acme"))
    kills, written = 0, 0
    stops: list[str] = []
    sink = logger.add(lambda message: stops.append(str(message)), level="INFO",
                      filter=lambda record: "32-bit host process: it failed during" in record["message"])
    try:
        while kills < 30:
            victim = _until_done(hosted.host_pid)
            timer = threading.Timer(rng.uniform(0.0, 0.1), os.kill, (victim, signal.SIGTERM))
            timer.start()
            for _ in range(8):
                _until_done(lambda n=written: _write_ticket(psa, account, n))
                written += 1
            timer.join()
            kills += 1
    finally:
        logger.remove(sink)
        psa.close()
    db = SimulatorDatabase(installation / "Db")
    try:
        tickets, notes = db.records("TICKET"), db.records("HISTORY-NOTE")
    finally:
        db.close()
    assert hosted.starts > 30
    assert sum("during ins_upd" in line for line in stops) >= 10, "deaths in the middle of a write"
    assert sorted(int(t["FLDTKTUSER1"]) for t in tickets) == list(range(written))  # none lost, none twice
    assert sorted(Counter(n["FLDHISLINKRECID"] for n in notes).values()) == [1] * written


def _write_ticket(psa, account: str, n: int) -> None:
    with psa.keyed(f"change:{n}"):
        with psa.keyed(f"ticket:{n}", external_id=str(n)):
            ticket = psa.add_ticket(account, f"Disk almost full on server {n}", in_inbox=True)
        psa.add_history(ticket, f"Created in Continuum; Continuum ticket {n}", at="2026-12-01T10:00:00.000000Z",
                        touch=False)


def _until_done(unit):
    """A unit of work made again after the PSA was unavailable, as the engines make it."""
    for _ in range(50):
        try:
            return unit()
        except PsaUnavailable:
            continue
    raise AssertionError("the unit never succeeded")
