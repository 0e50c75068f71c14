"""The 32-bit host process: the backend over :class:`HostedDllCalls`, supervised through restarts.

The host here is a stand-in for msl-loadlib's ``Client64`` built from its documented behaviour
(``request32(name, *args)`` calls that method of the ``Server32`` subclass in the other process and
returns its picklable answer; ``shutdown_server32()`` ends the process), running the simulator of
the DLLs the way ``host32.py`` runs the real ones: each host is a new load of the DLLs. In the
Windows lane the real msl-loadlib server hosts the simulator's real 32-bit DLLs instead
(``test_real_dlls.py``)."""

from __future__ import annotations

import ctypes
from pathlib import Path
from types import SimpleNamespace

import pytest
from rangermsp_support import settings

from agent.backends.rangermsp import open_backend
from agent.backends.rangermsp.binding import DbApi, Libraries
from agent.backends.rangermsp.dllcalls import DllCalls
from agent.backends.rangermsp.fields import ACCOUNT
from agent.backends.rangermsp.host import HostedDllCalls
from agent.sandbox.rangermsp import SimulatorDatabase, make_installation, simulator_libraries


class StandInHost:
    """One host process: one load of the (simulated) DLLs. ``die_after``: the name of a call that
    is carried out and then ends the process before it answers, as a crash would."""

    def __init__(self, hosts: list[StandInHost], die_after: set[str]) -> None:
        self.sim = simulator_libraries()
        self.calls = DllCalls(self.sim.eng, self.sim.qry)
        self.die_after = die_after
        self.alive = True
        self.inits = 0
        hosts.append(self)

    def request32(self, name: str, *args):
        if not self.alive:
            raise ConnectionRefusedError("the 32-bit server is not running")
        self.inits += name == "init"
        if name in ("bits", "pid"):  # host32.RangerMspHost's own questions, about the process it runs in
            return 32 if name == "bits" else id(self)
        answer = getattr(self.calls, name)(*args)
        if name in self.die_after:
            self.die_after.discard(name)
            self.alive = False
            raise ConnectionResetError("the 32-bit server closed the connection")
        return (answer.status, answer.rec_id, answer.codes, answer.message) if hasattr(answer, "rec_id") else answer

    def shutdown_server32(self, kill_timeout: float = 10):
        self.alive = False
        return b"", b""


@pytest.fixture
def world(tmp_path):
    installation = make_installation(tmp_path / "RangerMSP")
    hosts: list[StandInHost] = []
    die_after: set[str] = set()
    calls = HostedDllCalls(installation / "ThirdParty" / "UserDev",
                           start=lambda folder: StandInHost(hosts, die_after))
    db = SimulatorDatabase(installation / "Db")
    yield SimpleNamespace(installation=installation, hosts=hosts, die_after=die_after, calls=calls, db=db,
                          tmp_path=tmp_path)
    db.close()


def _libraries(world) -> Libraries:
    return Libraries(None, None, str(world.installation / "Db"), world.installation / "ThirdParty" / "UserDev",
                     calls=world.calls)


def _psa(world):
    conf = settings(world.tmp_path, rangermsp_folder=world.installation)
    state = SimpleNamespace(db=SimpleNamespace(path=world.tmp_path / "zenithlink.sqlite3"))
    return open_backend(_libraries(world), conf, state, world.installation)


def test_the_backend_works_through_one_host(world):
    psa = _psa(world)
    try:
        account = psa.add_account("ACME")
        ticket = psa.add_ticket(account, "disk full")
        assert psa.get_ticket(ticket).description.startswith("disk full")
    finally:
        psa.close()
    assert len(world.hosts) == 1 and world.hosts[0].inits == 2  # Eng, then Qry
    assert not world.hosts[0].alive  # closed with the backend


def test_the_host_is_recycled_after_its_calls_and_the_new_one_is_initialised_again(world):
    world.calls.recycle_every = 10
    psa = _psa(world)
    try:
        account = psa.add_account("ACME")
        for n in range(12):
            psa.add_ticket(account, f"alert {n}")
        assert len(world.db.records("TICKET")) == 12
    finally:
        psa.close()
    assert len(world.hosts) >= 3
    assert all(host.inits == 2 for host in world.hosts)  # each load of the DLLs initialised once
    assert sum(host.alive for host in world.hosts) == 0


def test_a_host_that_dies_after_its_write_committed_is_replaced_and_nothing_is_made_twice(world):
    psa = _psa(world)
    try:
        account = psa.add_account("ACME")
        world.die_after.add("ins_upd")  # the next write commits, then the host process dies
        with psa.keyed("change:1", external_id="4711"):
            ticket = psa.add_ticket(account, "disk full")
        assert [t["FLDTKTRECID"] for t in world.db.records("TICKET")] == [ticket]
        assert len(world.hosts) == 2
    finally:
        psa.close()


@pytest.fixture
def api(world):
    """The binding alone over the host, with one account in the records."""
    opened = DbApi(_libraries(world), "zenithlink", sleep=lambda s: None)
    opened.open()
    world.db.add("ACCOUNT", FLDCRDFULLNAME="ACME")
    yield opened
    opened.close()


def test_a_read_whose_host_died_is_made_again_in_a_new_host(world, api):
    world.die_after.add("read")
    assert len(api.query(ACCOUNT, [])) == 1
    assert len(world.hosts) == 2 and world.hosts[1].inits == 2


def test_a_newer_api_1023_gets_a_new_host_where_the_dlls_in_process_would_refuse_every_call(world, api):
    world.hosts[0].sim.faults.set(newer_api=1)
    assert len(api.query(ACCOUNT, [])) == 1  # answered by the new host's fresh load
    assert len(api.query(ACCOUNT, [])) == 1
    assert len(world.hosts) == 2


def test_a_failed_init_is_made_again_in_a_new_host_not_in_the_failed_load(world, tmp_path):
    missing = tmp_path / "elsewhere" / "Db"
    api = DbApi(Libraries(None, None, str(missing), world.installation / "ThirdParty" / "UserDev",
                          calls=world.calls), "zenithlink", sleep=lambda s: None)
    with pytest.raises(Exception, match="restart"):
        api.open()  # no database there (1009)
    missing.parent.mkdir(parents=True)
    make_installation(missing.parent)
    api.open()  # the cause corrected: a new host, whose Init succeeds
    api.close()
    assert len(world.hosts) == 2


def test_the_host_module_imports_nothing_the_32_bit_interpreter_lacks():
    """msl-loadlib's 32-bit server has the standard library and msl-loadlib only."""
    import ast

    allowed_roots = {"__future__", "ctypes", "importlib", "os", "pathlib", "typing", "collections", "contextlib",
                     "dataclasses", "msl", "sys"}
    for name in ("host32.py", "dllcalls.py"):
        tree = ast.parse((Path(__file__).parents[2] / "agent" / "backends" / "rangermsp" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed_roots, (name, roots)


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="a 32-bit Python loads 32-bit DLLs itself")
def test_the_probe_says_the_32_bit_dlls_run_in_the_host(world):
    from rangermsp_support import pe_header

    (world.installation / "ThirdParty" / "UserDev" / "CmtDbQry.dll").write_bytes(pe_header(0x14C, 0x10B))
    psa = _psa(world)
    try:
        [bitness] = [f for f in psa.probe(read_only=True) if f.check == "bitness"]
    finally:
        psa.close()
    assert bitness.verdict == "ok" and "32-bit host process" in bitness.detail, bitness
