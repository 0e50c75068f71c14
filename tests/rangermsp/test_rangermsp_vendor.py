"""The backend and the simulator against what RangerMSP's vendor code does (rangermsp-api-facts.md):
updates, queries, result handling, the environment, records, exactly once, the simulator's own
faithfulness, and ``psa probe``. Each test fails on the backend and simulator built from guesses."""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path

import pytest
from rangermsp_support import open_simulator_psa, pe_header, simulator_psa

from agent.backends.rangermsp import fields as F
from agent.backends.rangermsp.binding import DbApi, Libraries
from agent.backends.rangermsp.dllcalls import WriteResult
from agent.backends.rangermsp.messages import Condition
from agent.backends.rangermsp.status import DbApiMaintenance, DbApiRestart
from agent.errors import ConfigError
from agent.ports.psa import PsaNotFound, PsaUnavailable
from agent.sandbox.rangermsp import SimulatorDatabase, configure, make_installation, simulator_libraries

from conftest import run_cli, write_ini

APP = b"zenithlink"


@pytest.fixture
def installation(tmp_path) -> Path:
    return make_installation(tmp_path / "RangerMSP")


def _api(installation: Path, sim=None, **kw) -> DbApi:
    sim = sim or simulator_libraries()
    api = DbApi(Libraries(sim.eng, sim.qry, str(installation / "Db"), installation / "ThirdParty" / "UserDev"),
                "zenithlink", sleep=lambda s: None, **kw)
    api.open()
    api.sim = sim  # type: ignore[attr-defined]
    return api


class Recorder:
    """A stand-in for :class:`DllCalls` (the seam a 32-bit host takes) that records the writes."""

    def __init__(self, real) -> None:
        self.real, self.writes = real, []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def ins_upd(self, app, table_id, data, mapping) -> WriteResult:
        self.writes.append((data.decode("cp1252"), mapping.decode("cp1252")))
        return self.real.ins_upd(app, table_id, data, mapping)


def _ins_upd(sim, table_id: int, data: str, mapping: str, *, recid: str = "", arg5: int = 0):
    """One raw call of the simulated CmtInsUpdRec, as a caller outside the backend would make it."""
    buf = ctypes.create_string_buffer(recid.encode(), 65)
    codes, text, status = ctypes.create_string_buffer(65), ctypes.create_string_buffer(1025), ctypes.c_int(0)
    sim.eng.CmtInsUpdRec(APP, table_id, data.encode("cp1252"), mapping.encode("cp1252"), arg5, 0, 64, 64, 1024,
                         buf, codes, text, ctypes.byref(status))
    return status.value, buf.value.decode(), codes.value.decode(), text.value.decode()


# -- 1. updates ------------------------------------------------------------------------------------
def test_1_an_update_sends_the_rec_id_as_the_recid_field_in_data_and_map(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        account = psa.add_account("ACME")
        recorder = Recorder(psa.api.dll)
        psa.api.dll = recorder
        psa.rename_account(account, "ACME Ltd")
        [(data, mapping)] = recorder.writes
        assert mapping == "'\n,\nFLDCRDRECID\nFLDCRDFULLNAME" and data == f"'{account}','ACME Ltd'"
        assert [r["FLDCRDFULLNAME"] for r in db.records("ACCOUNT")] == ["ACME Ltd"]  # updated, none added


def test_1_the_simulator_ignores_a_pre_filled_rec_id_buffer(installation):
    api = _api(installation)
    account = api.insert(F.ACCOUNT, {"FLDCRDFULLNAME": "ACME"}).rec_id
    status, _, _, _ = _ins_upd(api.sim, 10, "'renamed'", "'\n,\nFLDCRDFULLNAME", recid=account)
    db = SimulatorDatabase(installation / "Db")
    names = sorted(r["FLDCRDFULLNAME"] for r in db.records("ACCOUNT"))
    db.close()
    assert status == 1 and names == ["ACME", "renamed"]  # an insert: the buffer is output only


# -- 2. queries ------------------------------------------------------------------------------------
def test_2_the_simulator_refuses_unspaced_links_with_110005(installation):
    api = _api(installation)
    request = (b'<?xml version="1.0" ?>\r\n<?commitcrmxmlqueryrequest version="1.0" ?>\r\n<CommitCRMQueryDataRequest>'
               b"<ExternalApplicationName>zl</ExternalApplicationName><Datakind>ACCOUNT</Datakind>"
               b"<MaxRecordCount>5</MaxRecordCount><Query><Where>"
               b'<FLDCRDFULLNAME op="=">a</FLDCRDFULLNAME><Link>AND</Link><FLDCRDFULLNAME op="=">b</FLDCRDFULLNAME>'
               b"</Where><Order/></Query></CommitCRMQueryDataRequest>")
    status, raw = api.dll.read("CmtGetQueryRecIds", request, 4096)
    assert status != 1 and b"<ResultCodes>110005</ResultCodes>" in raw


def test_2_paging_by_rec_id_with_an_order_finds_every_record_of_many_pages(installation):
    db = SimulatorDatabase(installation / "Db")
    made = [db.add("ACCOUNT", FLDCRDFULLNAME=f"Customer {i:04}") for i in range(1203)]
    db.close()
    api = _api(installation)
    with api.counting() as calls:
        found = api.query(F.ACCOUNT, [Condition("FLDCRDFULLNAME", "like", "Customer%")])
    assert found == sorted(made)
    assert calls["CmtGetQueryRecIds"] == 5  # 3 pages; the first grew its buffer twice (1020), the others not
    with api.counting() as calls:
        rows = api.get_many(F.ACCOUNT, [*found, "CRD" + "Z" * 17], ["FLDCRDFULLNAME"])
    assert sorted(rows) == sorted(made) and rows[made[7]]["FLDCRDFULLNAME"] == "Customer 0007"
    assert calls["CmtGetMultiRecordDataByRecId"] == 13  # 100 REC IDs a call; the bogus one left out
    api.sim.faults.set(max_records=7)  # the DLL answers fewer than asked, with 110019
    assert api.query(F.ACCOUNT, [Condition("FLDCRDFULLNAME", "like", "Customer 00%")]) == sorted(made[:100])


def test_2_a_query_without_order_answers_in_no_rec_id_order(installation):
    db = SimulatorDatabase(installation / "Db")
    made = [db.add("ACCOUNT", FLDCRDFULLNAME=f"C{i}") for i in range(40)]
    db.close()
    assert made != sorted(made)  # random REC IDs: paging by "> last" needs <order>


# -- 3. result handling ----------------------------------------------------------------------------
def test_3_status_1020_grows_the_buffer_and_calls_again(installation):
    api = _api(installation)
    account = api.insert(F.ACCOUNT, {"FLDCRDFULLNAME": "Big", "FLDCRDNOTES": "x" * 100_000}).rec_id
    with api.counting() as calls:
        assert api.get(account, ["FLDCRDNOTES"])["FLDCRDNOTES"] == "x" * 100_000
    assert calls["CmtGetRecordDataByRecId"] == 2  # 64 KB answered 1020, 128 KB fitted


def test_3_result_code_110004_with_status_1_grows_the_buffer_too(installation):
    api = _api(installation)
    account = api.insert(F.ACCOUNT, {"FLDCRDFULLNAME": "ACME"}).rec_id
    real, sizes = api.dll.read, []

    def read(function, request, size):
        sizes.append(size)
        if len(sizes) == 1:
            return 1, (b"<CommitCRMGetRecordDataResponse><Status>SUCCESS</Status><ResultCodes>110004</ResultCodes>"
                       b"</CommitCRMGetRecordDataResponse>")
        return real(function, request, size)

    api.dll.read = read
    assert api.get(account, ["FLDCRDFULLNAME"]) == {"FLDCRDFULLNAME": "ACME"}
    assert sizes[1] > sizes[0]


def test_3_maintenance_1022_pauses_and_a_newer_api_1023_asks_for_a_restart(installation):
    api = _api(installation)
    api.sim.faults.set(maintenance=1)
    with pytest.raises(DbApiMaintenance) as paused:
        api.query(F.ACCOUNT, [])
    assert isinstance(paused.value, PsaUnavailable) and "tries again" in str(paused.value)
    api.sim.faults.set(newer_api=1)
    with pytest.raises(DbApiRestart, match="Restart the zenithlink service"):
        api.query(F.ACCOUNT, [])
    with api.counting() as calls, pytest.raises(DbApiRestart):
        api.query(F.ACCOUNT, [])  # the loaded DLLs are stale: nothing more is asked of them
    assert sum(calls.values()) == 0


def test_3_completed_since_and_list_accounts_do_not_stop_at_one_page(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        account = db.add("ACCOUNT", FLDCRDFULLNAME="ACME")
        for n in range(F.PAGE_SIZE + 20):
            db.add("ACCOUNT", FLDCRDFULLNAME=f"Other {n}")
            db.add("TICKET", FLDTKTCARDID=account, FLDTKTPROBLEM=f"t{n}", FLDTKTSTATUS="1000")
        assert len(psa.completed_since(None)) == F.PAGE_SIZE + 20
        assert len(psa.list_accounts()) == F.PAGE_SIZE + 21


# -- 4. environment --------------------------------------------------------------------------------
def test_4_the_working_directory_is_the_dll_folder_around_both_inits(installation):
    sim, seen = simulator_libraries(), []

    class Spy:
        def __init__(self, real) -> None:
            self.real = real

        def __getattr__(self, name):
            function = getattr(self.real, name)
            if not name.startswith("CmtInit"):
                return function
            return lambda *args: (seen.append(os.getcwd()), function(*args))[1]

    before = os.getcwd()
    DbApi(Libraries(Spy(sim.eng), Spy(sim.qry), str(installation / "Db"), installation / "ThirdParty" / "UserDev"),
          "zenithlink").open()
    assert seen == [str(installation / "ThirdParty" / "UserDev")] * 2 and os.getcwd() == before


def test_4_a_failed_init_is_not_retried_in_the_same_load(tmp_path):
    sim = simulator_libraries()
    libraries = Libraries(sim.eng, sim.qry, str(tmp_path / "no-such-db"))
    for _ in range(2):
        with pytest.raises(DbApiRestart, match="restart zenithlink"):
            DbApi(libraries, "zenithlink").open()
    assert sim.calls["CmtInitDbEngDll"] == 1  # the DLL keeps its failure: asking again is pointless


def test_4_the_simulator_initialises_once_per_load_and_keeps_a_failure(tmp_path, installation):
    sim = simulator_libraries()
    status = ctypes.c_int(0)
    sim.qry.CmtInitDbQryDll(APP, str(tmp_path / "missing").encode(), ctypes.byref(status))
    assert status.value == 1009
    sim.qry.CmtInitDbQryDll(APP, str(installation / "Db").encode(), ctypes.byref(status))
    assert status.value == 1009  # the stored failure, not a second try
    fresh = simulator_libraries()  # a new load: Init works
    fresh.qry.CmtInitDbQryDll(APP, str(installation / "Db").encode(), ctypes.byref(status))
    assert status.value == 1
    fresh.qry.CmtTerminateDbQryDll()
    fresh.qry.CmtInitDbQryDll(APP, str(installation / "Db").encode(), ctypes.byref(status))
    assert status.value == 1  # Terminate does not reset the stored status


def test_4_an_ini_of_an_earlier_release_with_its_strftime_date_format_still_starts(tmp_path):
    psa, db, _ = open_simulator_psa(tmp_path, rangermsp_date_format="%d/%m/%Y %H:%M")
    psa.close()
    db.close()


def test_4_text_travels_in_the_installations_ansi_code_page(tmp_path):
    configure(tmp_path / "RangerMSP" / "Db", code_page="cp1250")
    with simulator_psa(tmp_path, rangermsp_code_page="cp1250") as (psa, db):
        account = psa.add_account("Łódź Sp. z o.o.")
        assert psa.get_account(account).name == "Łódź Sp. z o.o."
        assert db.get(account)["FLDCRDFULLNAME"] == "Łódź Sp. z o.o."


def test_4_dates_are_written_in_the_installations_us_format(tmp_path):
    configure(tmp_path / "RangerMSP" / "Db", date_format="mm/dd/yyyy", am_pm=True)
    with simulator_psa(tmp_path) as (psa, db):
        ticket = psa.add_ticket(psa.add_account("ACME"), "printer")
        psa.add_history(ticket, "called", at="2026-12-02T21:30:00.000000Z")
        [note] = db.records("HISTORY-NOTE")
        assert note["FLDHISNOTEDATETIME"] == "12/02/2026 9:30 PM"


# -- 5. records ------------------------------------------------------------------------------------
def test_5_contacts_and_employees_are_not_accounts(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        account = psa.add_account("ACME")
        contact = db.add("ACCOUNT", FLDCRDFULLNAME="Jane at ACME", FLDCRDENTITYKIND=5, FLDCRDASSIGNCARDID=account)
        db.add("ACCOUNT", FLDCRDFULLNAME="Tech One", FLDCRDENTITYKIND=3)
        assert [a.rec_id for a in psa.list_accounts()] == [account]
        with pytest.raises(PsaNotFound, match="contact"):
            psa.get_account(contact)


def test_5_a_key_field_that_would_truncate_the_key_is_refused_at_start_up(tmp_path):
    configure(tmp_path / "RangerMSP" / "Db", field_sizes={"FLDTKTUSER1": 10})
    with pytest.raises(ConfigError, match="only 10 characters in FLDTKTUSER1.*ContinuumTicketField="):
        open_simulator_psa(tmp_path)


def test_5_arguments_5_and_6_are_the_vendors_0_0(installation):
    api = _api(installation)
    status, _, _, message = _ins_upd(api.sim, 10, "'ACME'", "'\n,\nFLDCRDFULLNAME", arg5=1)
    assert status == 2000 and "vendor passes 0, 0" in message
    assert api.insert(F.ACCOUNT, {"FLDCRDFULLNAME": "ACME"}).rec_id.startswith("CRD")


def test_5_quotes_are_sent_as_they_are_and_canceled_is_a_status(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        ticket = psa.add_ticket(psa.add_account("ACME"), "the user's printer")
        assert db.get(ticket)["FLDTKTPROBLEM"] == "the user's printer"
        psa.set_ticket_status(ticket, F.STATUS_CANCELED)
        assert db.get(ticket)["FLDTKTSTATUS"] == "900"
        with pytest.raises(Exception, match="54005"):
            psa.set_ticket_status(ticket, 123)


# -- 6. exactly once -------------------------------------------------------------------------------
def test_6_the_key_is_looked_up_before_the_first_create_too(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        account = psa.add_account("ACME")
        made = db.add("TICKET", FLDTKTCARDID=account, FLDTKTPROBLEM="made earlier", FLDTKTUSER1="4711")
        with psa.keyed("change:1", external_id="4711"):  # no journal entry: a journal lost or a new agent
            assert psa.add_ticket(account, "disk full") == made
        assert len(db.records("TICKET")) == 1


def test_6_a_write_that_commits_then_fails_is_found_not_made_twice(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        account = psa.add_account("ACME")
        faults = db
        psa.api.libs.eng._sim.faults.set(commit_then_busy=2)  # the ticket and the note commit, then answer 1100
        with psa.keyed("change:1", external_id="4711"):
            ticket = psa.add_ticket(account, "disk full")
            psa.add_history(ticket, "created")
        assert [t["FLDTKTRECID"] for t in faults.records("TICKET")] == [ticket]
        assert len(faults.records("HISTORY-NOTE")) == 1
        assert psa.api.calls["CmtInsUpdRec"] == 3  # the account, the ticket, the note: none re-issued


def test_6_tickets_and_notes_of_the_cli_and_the_demo_are_keyed_too(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        ticket = psa.add_ticket(psa.add_account("ACME"), "from the CLI")  # no keyed unit around it
        note = psa.add_history(ticket, "a note from the CLI")
        assert db.get(ticket)["FLDTKTUSER1"].startswith("zl-")
        assert F.KEY_MARKER.format("") in db.get(note)["FLDHISDESCRIPTION"]
        assert psa.side.unfinished() == []


# -- 7. the simulator ------------------------------------------------------------------------------
def test_7_the_simulator_truncates_to_field_sizes_with_50001(installation):
    api = _api(installation)
    status, rec_id, codes, _ = _ins_upd(api.sim, 10, f"'{'N' * 70}'", "'\n,\nFLDCRDFULLNAME")
    assert (status, codes) == (1, "50001")
    assert api.get(rec_id, ["FLDCRDFULLNAME"])["FLDCRDFULLNAME"] == "N" * 60
    assert api.field_size("FLDCRDFULLNAME") == 60


def test_7_the_simulator_answers_system_properties_and_the_maintenance_flag(installation):
    configure(installation / "Db", date_format="mm/dd/yyyy")
    api = _api(installation)
    assert api.properties["CmtDateFormat"] == "mm/dd/yyyy"
    (installation / "Dbsys" / "CRMStop.ini").write_text("")
    with pytest.raises(DbApiMaintenance):
        api.get("CRD" + "A" * 17, ["FLDCRDFULLNAME"])


# -- 8. the probe ----------------------------------------------------------------------------------
def _ini(tmp_path, extra: str = ""):
    return write_ini(tmp_path, f"[RangerMSP]\nBackend=rangermsp-simulator\nDbsysFolder={tmp_path / 'Dbsys'}\n"
                               f"RangerMSPFolder={tmp_path / 'RangerMSP'}\n{extra}")


def test_8_the_probe_checks_everything_and_removes_its_test_records(tmp_path):
    installation = make_installation(tmp_path / "RangerMSP")
    db = SimulatorDatabase(installation / "Db")
    db.add("ACCOUNT", FLDCRDFULLNAME="ACME")
    before = {kind: db.records(kind) for kind in ("ACCOUNT", "TICKET", "HISTORY-NOTE")}

    shown = run_cli(["psa", "probe", "--json"], config=_ini(tmp_path))

    assert shown.code == 0, shown.out + shown.err
    found = {f["check"]: f for f in json.loads(shown.out)["findings"]}
    for check in ("bitness", "date format", "field attributes", "key field FLDTKTUSER1", "insert and read-back",
                  "quote, accent, line break", "update", "note found by its marker", "note date", "empty query",
                  "MaxRecordCount=1 query", "multi-record read", "bogus REC ID",
                  "FLDTKTUSER1 empty on other tickets", "test records"):
        assert found[check]["verdict"] == "ok", (check, found[check])
    assert "deleted with CmtDelete" in found["test records"]["detail"]
    assert {kind: db.records(kind) for kind in before} == before
    db.close()


def test_8_the_probe_fails_on_a_used_key_field_and_read_only(tmp_path):
    installation = make_installation(tmp_path / "RangerMSP")
    db = SimulatorDatabase(installation / "Db")
    account = db.add("ACCOUNT", FLDCRDFULLNAME="ACME")
    db.add("TICKET", FLDTKTCARDID=account, FLDTKTPROBLEM="theirs", FLDTKTUSER1="INV-4471")
    db.close()

    shown = run_cli(["psa", "probe", "--json", "--read-only"], config=_ini(tmp_path))

    assert shown.code == 1
    found = {f["check"]: f for f in json.loads(shown.out)["findings"]}
    assert found["FLDTKTUSER1 empty on other tickets"]["verdict"] == "failed"
    assert "ContinuumTicketField=" in found["FLDTKTUSER1 empty on other tickets"]["detail"]
    assert found["insert, update, read-back"]["verdict"] == "not made"


@pytest.mark.parametrize(("settings", "extra", "words"), [
    ({"date_format": "mm/dd/yyyy"}, "DateFormat=dd/mm/yyyy\n", "set DateFormat=mm/dd/yyyy"),
    ({"field_sizes": {"FLDTKTUSER1": 12}}, "", "ContinuumTicketField="),
])
def test_8_the_probe_fails_with_what_to_fix_on_a_us_date_format_or_a_truncating_key_field(tmp_path, settings,
                                                                                          extra, words):
    configure(make_installation(tmp_path / "RangerMSP") / "Db", **settings)
    shown = run_cli(["psa", "probe"], config=_ini(tmp_path, extra))
    assert shown.code == 2 and words in shown.err


def test_6_an_unfinished_write_in_a_journal_of_an_earlier_release_is_settled_at_start_up(tmp_path):
    from agent.backends.rangermsp.journal import SideStore

    installation = make_installation(tmp_path / "RangerMSP")
    db = SimulatorDatabase(installation / "Db")
    account = db.add("ACCOUNT", FLDCRDFULLNAME="ACME")
    ticket = db.add("TICKET", FLDTKTCARDID=account, FLDTKTPROBLEM="t", FLDTKTUSER1="4711")
    db.add("HISTORY-NOTE", FLDHISLINKRECID=ticket, FLDHISDESCRIPTION="created\n[zenithlink:0123456789abcdef]")
    side = SideStore(tmp_path / "zenithlink-rangermsp.sqlite3")
    side.intend("change:1/ticket1", "TKT", [["FLDTKTUSER1", "=", "4711"]])
    side.intend("change:1/history1", "HIS", [["FLDHISLINKRECID", "=", ticket],
                                             ["FLDHISDESCRIPTION", "LIKE", "%[zenithlink:0123456789abcdef]%"]])
    side.close()
    psa, _, _ = open_simulator_psa(tmp_path)
    try:
        assert psa.side.unfinished() == []
        assert psa.side.entry("change:1/ticket1").rec_id == ticket
        assert [n.text for n in psa.get_ticket(ticket).history] == ["created"]
    finally:
        psa.close()
        db.close()


def test_8_the_probe_reads_the_dlls_bitness_from_its_pe_header(tmp_path):
    with simulator_psa(tmp_path) as (psa, _db):
        (tmp_path / "RangerMSP" / "ThirdParty" / "UserDev" / "CmtDbQry.dll").write_bytes(pe_header(0x14C, 0x10B))
        [bitness] = [f for f in psa.probe(read_only=True) if f.check == "bitness"]
    expected = "ok" if ctypes.sizeof(ctypes.c_void_p) == 4 else "failed"
    assert bitness.verdict == expected and "32-bit" in bitness.detail


def test_3_an_agent_started_during_maintenance_waits_and_then_checks_and_writes(tmp_path):
    installation = make_installation(tmp_path / "RangerMSP")
    configure(installation / "Db", date_format="mm/dd/yyyy", field_sizes={"FLDTKTUSER1": 12})
    flag = installation / "Dbsys" / "CRMStop.ini"
    flag.write_text("")
    psa, db, _ = open_simulator_psa(tmp_path)  # every call answers 1022: the start-up checks wait
    try:
        with pytest.raises(PsaUnavailable, match="maintenance"):
            psa.add_account("ACME")
        flag.unlink()
        with pytest.raises(ConfigError, match="only 12 characters in FLDTKTUSER1"):
            psa.add_account("ACME")  # the start-up checks, made before the first write
        assert psa.api.dates.date_format == "mm/dd/yyyy"
    finally:
        psa.close()
        db.close()


def _pe_files(folder: Path, machine: int, magic: int) -> None:
    for name in ("CmtDbEng.dll", "CmtDbQry.dll"):
        (folder / name).write_bytes(pe_header(machine, magic))


def test_4_a_64_bit_agent_reaches_32_bit_dlls_through_a_host_and_never_loads_them_itself(tmp_path, monkeypatch):
    import sys

    from agent.backends.rangermsp import binding, pe
    from agent.backends.rangermsp.host import HostedDllCalls

    folder = make_installation(tmp_path / "RangerMSP") / "ThirdParty" / "UserDev"
    _pe_files(folder, 0x14C, 0x10B)  # PE32 x86, as RangerMSP's DLLs (facts §1.3)
    loaded = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(pe, "process_bits", lambda: 64)
    monkeypatch.setattr(binding, "process_bits", lambda: 64)
    monkeypatch.setattr(ctypes, "WinDLL", lambda path: loaded.append(path), raising=False)
    libraries = binding.load_windows_libraries(tmp_path / "RangerMSP")
    assert isinstance(libraries.dll_calls(), HostedDllCalls) and libraries.dll_calls().folder == folder
    assert loaded == []  # no WinError 193: the 32-bit DLLs are never loaded into this process


def test_4_the_loader_refuses_a_dll_of_the_other_bitness_before_loading_it(tmp_path, monkeypatch):
    import sys

    from agent.backends.rangermsp import binding, pe

    folder = make_installation(tmp_path / "RangerMSP") / "ThirdParty" / "UserDev"
    _pe_files(folder, 0x8664, 0x20B)  # 64-bit DLLs, which a 32-bit Python cannot load
    loaded = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(pe, "process_bits", lambda: 32)
    monkeypatch.setattr(binding, "process_bits", lambda: 32)
    monkeypatch.setattr(ctypes, "WinDLL", lambda path: loaded.append(path), raising=False)
    with pytest.raises(ConfigError, match="CmtDbEng.dll is a 64-bit DLL.*32-bit process.*64-bit Python"):
        binding.load_windows_libraries(tmp_path / "RangerMSP")
    assert loaded == []  # refused before WinError 193 could happen
