"""``zenithlink demo --once`` tells the whole story and exits 0 (what `make demo` runs)."""

from __future__ import annotations

import pytest
from stores import embedded

from agent.ports.psa import STATUS_COMPLETED
from agent.sync import records

from conftest import run_cli, write_ini


def test_demo_once_tells_the_whole_story(tmp_path):
    res = run_cli(["demo", "--once", "--folder", str(tmp_path)], timeout=120)
    assert res.code == 0, res.err
    for step in ("Inventory", "Link sites to accounts", "Tickets arrive", "Hand a ticket to the NOC", "Summary"):
        assert step in res.out
    assert "does not hold the Continuum Integration privilege" in res.out
    with embedded(tmp_path / "Dbsys" / "zenithlink.sqlite3") as (state, psa):
        tickets = records.list_tickets(state, psa, )
        assert len(tickets) == 5 and all(t.continuum_ticket_id for t in tickets)
        accounts = {a.rec_id: a for a in psa.list_accounts()}
        assert any(a.auto_created for a in accounts.values())  # the unlinked site's ticket
        assert accounts[tickets[3].account_rec_id].name == "Own business"  # the ticket with no site
        handed = tickets[4]
        assert handed.status_code == STATUS_COMPLETED
        texts = [h.text for h in records.get_ticket(state, psa, handed.rec_id).history]
        assert any(t.startswith("Sent to Continuum: closed") for t in texts)
        assert state.outbox_depth() == 0
    assert (tmp_path / "Dbsys" / "ZenithDevices_RMAZenithINFOTECHID1.cmt").exists()


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    ini = write_ini(real, "[RangerMSP]\nDbsysFolder=Dbsys\n")
    before = ini.read_bytes()
    res = run_cli(["demo", "--once", "--folder", str(real)], timeout=120)
    assert res.code == 2, res.err
    assert "not a folder the demo made" in res.err and "CmtZenithLink.ini" in res.err
    assert ini.read_bytes() == before
    assert sorted(p.name for p in real.iterdir()) == ["CmtZenithLink.ini"]  # no store, no marker


def test_demo_starts_over_in_its_own_folder_and_keeps_the_keys_added_to_its_ini(tmp_path):
    folder = tmp_path / "demo-work"
    assert run_cli(["demo", "--once", "--folder", str(folder)], timeout=120).code == 0
    ini = folder / "CmtZenithLink.ini"
    with ini.open("a", encoding="utf-8") as fh:
        fh.write("[Plugins]\nnotify_log=Y\n[plugin:notify_log]\nLevel=INFO\n")
    res = run_cli(["demo", "--once", "--folder", str(folder)], timeout=120)
    assert res.code == 0, res.err
    assert "starting over" in res.out and "kept" in res.out
    text = ini.read_text(encoding="utf-8")
    assert "[Plugins]\nnotify_log=Y\n[plugin:notify_log]\nLevel=INFO" in text
    assert "ProcessContinuumUpdatesQueue=Y" in text
    with embedded(folder / "Dbsys" / "zenithlink.sqlite3") as (state, psa):
        assert psa.count_tickets() == 5  # the earlier run's records are gone, not doubled
        assert [e["login"] for e in state.list_employees()].count("admin") == 1


def test_demo_removes_the_temporary_folder_it_made(tmp_path):
    res = run_cli(["demo", "--once"], timeout=120, env={"TMPDIR": str(tmp_path), "TEMP": str(tmp_path),
                                                        "TMP": str(tmp_path)})
    assert res.code == 0, res.err
    assert "zenithlink-demo-" in res.out  # it said where it worked
    assert not list(tmp_path.glob("zenithlink-demo-*"))


@pytest.mark.parametrize("rmm, name", [("nsight", "N-sight"), ("ninjaone", "NinjaOne")])
def test_demo_with_a_snapshot_rmm_tells_the_alert_story(tmp_path, rmm, name):
    res = run_cli(["demo", "--once", "--rmm", rmm, "--folder", str(tmp_path)], timeout=120)
    assert res.code == 0, res.err
    for step in ("Inventory", "Link sites to accounts", "Checks fail", "A repeat and a recovery",
                 "Complete a ticket", "Summary"):
        assert step in res.out
    assert f"sandbox {name} at http://127.0.0.1:" in res.out
    assert "3 tickets opened, 1 waiting for their site to be linked" in res.out
    assert "1 repeated, 1 recovered" in res.out and "1 clear queued, 1 sent" in res.out
    with embedded(tmp_path / "Dbsys" / "zenithlink.sqlite3") as (state, psa):
        tickets = psa.list_tickets()
        assert len(tickets) == 3 and sum(t.status_code == STATUS_COMPLETED for t in tickets) == 1
        assert len(state.open_alert_tickets()) == 2  # the completed one is closed, its check cleared
        assert state.outbox_depth() == 0
