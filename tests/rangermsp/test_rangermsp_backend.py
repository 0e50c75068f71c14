"""The RangerMSP backend over the DLL simulator: the DB API's failure modes as the contract's status
table describes them (1100, 110004, 110019, 110021, 150002, 150003), the maintenance pause
(CRMStop.ini), an account merged away in RangerMSP's own client, and ``psa probe``."""

from __future__ import annotations

import json
import sys

import pytest
from rangermsp_support import open_simulator_psa, simulator_psa

from agent.app import App
from agent.backends.rangermsp import fields as F
from agent.backends.rangermsp.binding import BUSY_RETRIES, DbApi, Libraries
from agent.backends.rangermsp.messages import Condition
from agent.backends.rangermsp.status import DbApiBusy, DbApiNotFound, DbApiRefused, DbApiRestart
from agent.errors import ConfigError
from agent.ports.psa import STATUS_NEW, PsaNotFound, PsaUnavailable
from agent.sandbox.rangermsp import SimulatorDatabase, configure, make_installation, simulator_libraries

from conftest import run_cli, write_ini
from test_inbound_support import Env, sandbox  # noqa: F401 - fixture


@pytest.fixture
def api(tmp_path):
    """The binding alone on a simulated installation; its back-off sleeps are recorded, not slept."""
    installation = make_installation(tmp_path / "RangerMSP")
    sim = simulator_libraries()
    slept: list[float] = []
    dbapi = DbApi(Libraries(sim.eng, sim.qry, str(installation / "Db")), "zenithlink", sleep=slept.append)
    dbapi.open()
    db = SimulatorDatabase(installation / "Db")
    dbapi.sim, dbapi.db, dbapi.slept = sim, db, slept
    yield dbapi
    dbapi.close()
    db.close()


def _accounts(db: SimulatorDatabase, n: int) -> list[str]:
    return [db.add("ACCOUNT", FLDCRDFULLNAME=f"Customer {i:03}") for i in range(n)]


def test_1100_busy_is_retried_with_growing_back_off_then_answers(api):
    [account] = _accounts(api.db, 1)
    api.sim.faults.set(busy=3)
    with api.counting() as calls:
        row = api.get(account, [F.FieldMap().account_name])
    assert row[F.FieldMap().account_name] == "Customer 000"
    assert calls["CmtGetRecordDataByRecId"] == 4
    assert len(api.slept) == 3 and api.slept[0] < api.slept[1] < api.slept[2]


def test_1100_that_lasts_is_an_outage_that_says_what_to_check(api):
    [account] = _accounts(api.db, 1)
    api.sim.faults.set(busy=BUSY_RETRIES + 1)
    with pytest.raises(DbApiBusy) as caught:
        api.get(account, [F.FieldMap().account_name])
    assert isinstance(caught.value, PsaUnavailable) and caught.value.status == 1100
    assert "check that the RangerMSP database server is running" in str(caught.value)
    assert len(api.slept) == BUSY_RETRIES
    assert api.get(account, [F.FieldMap().account_name])  # nothing is left broken


def test_110004_grows_the_buffer_until_the_answer_fits(api):
    long_notes = "x" * 20_000  # far beyond the first buffer
    account = api.db.add("ACCOUNT", FLDCRDFULLNAME="Big", FLDCRDNOTES=long_notes)
    api.sim.faults.set(small_buffer=2)
    with api.counting() as calls:
        row = api.get(account, ["FLDCRDNOTES"])
    assert row["FLDCRDNOTES"] == long_notes
    assert calls["CmtGetRecordDataByRecId"] >= 3


def test_110019_pages_on_by_rec_id_until_every_record_is_read(api):
    made = _accounts(api.db, 11)
    api.sim.faults.set(max_records=3)
    with api.counting() as calls:
        found = api.query(F.ACCOUNT, [Condition("FLDCRDFULLNAME", "like", "Customer%")])
    assert found == sorted(made)
    assert calls["CmtGetQueryRecIds"] == 4  # 3 + 3 + 3 + 2
    assert api.query(F.ACCOUNT, [Condition("FLDCRDFULLNAME", "like", "Customer%")], limit=5) == sorted(made)[:5]


def test_110021_is_an_empty_answer_not_an_error(api):
    assert api.query(F.TICKET, [Condition("FLDTKTUSER1", "=", "no-such-ticket")]) == []


def test_150002_an_unknown_field_points_at_the_probe_and_the_field_map(api):
    [account] = _accounts(api.db, 1)
    with pytest.raises(DbApiRefused) as caught:
        api.get(account, ["FLDCRDNOSUCHFIELD"])
    assert 150010 in caught.value.codes and "zenithlink psa probe" in str(caught.value)
    with pytest.raises(DbApiRefused, match="field map does not fit"):
        api.insert(F.TICKET, {"FLDTKTCARDID": account, "FLDTKTPROBLEM": "x", "FLDTKTNOSUCH": "y"})
    assert api.db.records("TICKET") == []  # refused: nothing written


def test_150003_an_unknown_rec_id_is_not_found(api):
    with pytest.raises(DbApiNotFound) as caught:
        api.get("CRD" + "0" * 16 + "Z", ["FLDCRDFULLNAME"])
    assert 150003 in caught.value.codes and isinstance(caught.value, PsaNotFound)
    with pytest.raises(DbApiNotFound):
        api.update(F.ACCOUNT, "CRD" + "0" * 16 + "Z", {"FLDCRDFULLNAME": "renamed"})


def test_an_application_name_the_dlls_refuse_is_1015(tmp_path):
    installation = make_installation(tmp_path / "RangerMSP")
    sim = simulator_libraries()
    dbapi = DbApi(Libraries(sim.eng, sim.qry, str(installation / "Db")), "a-name-far-too-long")
    with pytest.raises(DbApiRestart) as caught:
        dbapi.open()
    assert caught.value.status == 1015 and "3 to 15 characters" in str(caught.value)
    assert "restart" in str(caught.value)


# -- the backend ---------------------------------------------------------------------------------
def test_crmstop_pauses_every_write_reads_go_on_and_writes_resume_when_it_goes(tmp_path):
    with simulator_psa(tmp_path) as (psa, db):
        account = psa.add_account("ACME")
        flag = tmp_path / "Dbsys" / "CRMStop.ini"
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.write_text("[Stop]\n")
        with pytest.raises(PsaUnavailable, match="CRMStop.ini exists"):
            psa.add_ticket(account, "during maintenance")
        with pytest.raises(PsaUnavailable):
            psa.rename_account(account, "ACME Ltd")
        assert psa.paused_by() == flag
        assert psa.get_account(account).name == "ACME"  # reads go on
        assert db.records("TICKET") == []
        flag.unlink()
        assert psa.paused_by() is None
        psa.add_ticket(account, "after maintenance")
        assert len(db.records("TICKET")) == 1


def test_crmstop_holds_the_feed_back_and_status_says_so(tmp_path, sandbox, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZENITHLINK_TEST_PSA", "rangermsp-simulator")
    env = Env(tmp_path, sandbox)
    try:
        account = env.psa.add_account("ACME")
        env.state.link_site(env.site_codes()[0], account)
        tid = env.open(env.site_codes()[0])
        flag = env.dbsys / "CRMStop.ini"
        flag.write_text("")

        env.sync()
        assert env.state.ticket_for_continuum(tid) is None
        assert env.world.acked_cursor != env.world.changes[-1]["id"]  # nothing acknowledged
        shown = run_cli(["status", "--json"], config=env.ini)
        assert shown.code == 0, shown.err
        assert json.loads(shown.out)["psa_paused_by"] == str(flag)
        assert "writes PAUSED" in run_cli(["status"], config=env.ini).out

        flag.unlink()
        env.drain()
        assert env.ticket_of(tid).account_rec_id == account
        assert json.loads(run_cli(["status", "--json"], config=env.ini).out)["psa_paused_by"] is None
    finally:
        env.close()


def test_an_account_merged_in_rangermsp_is_followed_through_the_tickets_the_agent_made_there(tmp_path):
    psa, db, _ = open_simulator_psa(tmp_path)
    try:
        old, new = psa.add_account("ACME (old)"), psa.add_account("ACME")
        with psa.keyed("change:1", external_id="c-1"):
            ticket = psa.add_ticket(old, "before the merge")
        db.merge_accounts(old, new)  # in RangerMSP's own client: the agent is not told
        psa._accounts.forget(old)

        with pytest.raises(PsaNotFound):
            psa.get_account(old)
        assert psa.successor_account(old) == new
        assert psa.get_ticket(ticket).account_rec_id == new
        with psa.api.counting() as calls:  # known from then on
            assert psa.successor_account(old) == new
        assert sum(calls.values()) <= 1
        assert psa.successor_account(new) is None  # still there: not merged
    finally:
        psa.close()
        db.close()


def test_an_account_gone_without_a_trace_has_no_successor_and_its_site_is_unlinked(tmp_path, sandbox,  # noqa: F811
                                                                                   monkeypatch):
    monkeypatch.setenv("ZENITHLINK_TEST_PSA", "rangermsp-simulator")
    env = Env(tmp_path, sandbox)
    try:
        gone, other = env.psa.add_account("Gone"), env.psa.add_account("Other")
        site = env.site_codes()[0]
        env.state.link_site(site, gone)
        db = SimulatorDatabase(env.dbsys / "RangerMSP-simulator" / "Db")
        db.merge_accounts(gone, other)  # it had no ticket of the agent's: nothing tells where it went
        db.close()
        env.psa._accounts.forget(gone)
        tid = env.open(site)

        env.sync()

        account = env.ticket_of(tid).account_rec_id
        assert account not in (gone, other)  # never written to the vanished REC ID, never guessed
        assert env.psa.get_account(account).auto_created is True  # R4: as an unlinked site's
        assert any(r["action"] == "unlink_missing_account" and gone in r["detail"] for r in env.state.audit_log())
    finally:
        env.close()


def _probe_ini(tmp_path):
    return write_ini(tmp_path, f"[RangerMSP]\nBackend=rangermsp-simulator\nDbsysFolder={tmp_path / 'Dbsys'}\n"
                               f"RangerMSPFolder={tmp_path / 'RangerMSP'}\n")


def _seeded(tmp_path) -> tuple[SimulatorDatabase, str]:
    installation = make_installation(tmp_path / "RangerMSP")
    db = SimulatorDatabase(installation / "Db")
    account = db.add("ACCOUNT", FLDCRDFULLNAME="ACME")
    db.add("ASSET", FLDASTNAME="PC-1", FLDASTACCRECID=account, FLDASTASSETTYPE="Other", FLDASTSTATUS="Active")
    ticket = db.add("TICKET", FLDTKTCARDID=account, FLDTKTPROBLEM="printer", FLDTKTSTATUS="100")
    db.add("HISTORY-NOTE", FLDHISLINKRECID=ticket, FLDHISCARDID=account, FLDHISNOTEDATETIME="02/12/2026 9:30",
           FLDHISDESCRIPTION="called")
    return db, account


# -- the values an installation may differ in ------------------------------------------------------
def test_an_installation_that_differs_is_written_in_its_own_date_format_status_and_asset_values(tmp_path):
    configure(tmp_path / "RangerMSP" / "Db", date_format="yyyy/mm/dd", date_separator="-")
    with simulator_psa(tmp_path, rangermsp_new_ticket_status=200,
                       rangermsp_new_asset_type="Workstation", rangermsp_new_asset_status="In use") as (psa, db):
        account = psa.add_account("ACME")
        asset = psa.add_asset("PC-1", account)
        ticket = psa.add_ticket(account, "printer")
        psa.add_history(ticket, "called", at="2026-12-02T09:30:00.000000Z")

        [stored] = db.records("TICKET")
        assert stored["FLDTKTSTATUS"] == "200"
        assert psa.get_ticket(ticket).status_code == STATUS_NEW  # the port's New, whatever the code
        [note] = db.records("HISTORY-NOTE")
        assert note["FLDHISNOTEDATETIME"] == "2026-12-02 9:30"
        assert (db.get(asset)["FLDASTASSETTYPE"], db.get(asset)["FLDASTSTATUS"]) == ("Workstation", "In use")


def test_a_date_format_the_installation_does_not_use_is_a_configuration_error(tmp_path):
    configure(tmp_path / "RangerMSP" / "Db", date_format="mm/dd/yyyy")
    with pytest.raises(ConfigError, match="DateFormat=mm/dd/yyyy"):
        open_simulator_psa(tmp_path, rangermsp_date_format="dd/mm/yyyy")


# -- employees -------------------------------------------------------------------------------------
def test_an_employee_mapped_to_a_rangermsp_employee_is_written_as_manager_by_rec_id(tmp_path):
    ini = _probe_ini(tmp_path)
    db, account = _seeded(tmp_path)
    worker = db.add("ACCOUNT", FLDCRDFULLNAME="Tech One", FLDCRDENTITYKIND=3)  # employees are CRD records too
    db.close()
    assert run_cli(["employees", "add", "tech1", "--name", "Tech One"], config=ini).code == 0

    unmapped = run_cli(["psa", "employees", "--json"], config=ini)
    assert json.loads(unmapped.out) == [{"login": "tech1", "rangermsp_rec_id": None}]
    assert run_cli(["psa", "map-employee", "nobody", worker], config=ini).code == 1
    wrong = run_cli(["psa", "map-employee", "tech1", "CRD" + "0" * 16 + "Z"], config=ini)
    assert wrong.code == 1 and "employee card" in wrong.err
    mapped = run_cli(["psa", "map-employee", "tech1", worker], config=ini)
    assert mapped.code == 0, mapped.err
    assert json.loads(run_cli(["psa", "employees", "--json"], config=ini).out) == [
        {"login": "tech1", "rangermsp_rec_id": worker}]

    app = App(ini)
    try:
        ticket = app.psa.add_ticket(account, "printer", manager="tech1")
        assert app.psa.get_ticket(ticket).manager == "tech1"  # the agent, its login
    finally:
        app.close()
    db = SimulatorDatabase(tmp_path / "RangerMSP" / "Db")
    assert db.get(ticket)["FLDTKTWORKERID"] == worker  # RangerMSP sees its own employee
    db.close()


def test_an_unmapped_employee_is_kept_by_login_and_named_once_in_the_log(tmp_path):
    from loguru import logger

    seen: list[str] = []
    sink = logger.add(seen.append, level="WARNING", format="{message}")
    try:
        with simulator_psa(tmp_path) as (psa, db):
            account = psa.add_account("ACME")
            first = psa.add_ticket(account, "one", manager="tech9")
            psa.add_ticket(account, "two", manager="tech9")
            assert db.get(first).get("FLDTKTWORKERID", "") == ""  # never a login where a REC ID belongs
            assert psa.get_ticket(first).manager == "tech9"
    finally:
        logger.remove(sink)
    assert len([m for m in seen if "tech9" in m and "map-employee" in m]) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows the lane runs the engine suites on this backend")
def test_the_simulators_real_dlls_backend_says_where_it_can_run(tmp_path):
    ini = write_ini(tmp_path, f"[RangerMSP]\nBackend=rangermsp-simulator-dlls\nDbsysFolder={tmp_path / 'Dbsys'}\n")
    res = run_cli(["run", "--once"], config=ini)
    assert res.code == 2, res.err
    assert "rangermsp-simulator-dlls cannot run here" in res.err and "Windows only" in res.err
