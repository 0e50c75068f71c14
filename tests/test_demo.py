"""``zenithlink demo --once`` tells the whole story and exits 0 (what `make demo` runs)."""

from __future__ import annotations

from stores import embedded

from agent.ports.psa import STATUS_COMPLETED
from agent.sync import records

from conftest import run_cli


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
