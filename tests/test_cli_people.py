"""People and records through the real command line: employees, groups, account managers,
deleting accounts, auto-created accounts, assets, and importing accounts and assets from CSV."""

from __future__ import annotations

import json

import pytest
from stores import embedded

from config.loader import load_settings

from conftest import run_cli


@pytest.fixture
def ini(ini):
    for login, group in (("admin", "Full"), ("tech", "Limited")):
        assert run_cli(["employees", "add", login, "--group", group], config=ini).code == 0
    return ini


def store(ini):
    return embedded(load_settings(ini).database)


def employees(ini) -> dict[str, str]:
    return {e["login"]: e["group"] for e in json.loads(run_cli(["employees", "list", "--json"], config=ini).out)}


def audit_actions(ini) -> list[str]:
    with store(ini) as (state, _psa):
        return [e["action"] for e in state.audit_log()]


def test_set_group_and_remove_need_the_privilege_and_are_audited(ini):
    refused = run_cli(["employees", "set-group", "tech", "Full", "--user", "tech"], config=ini)
    assert refused.code == 3 and "Continuum Integration privilege" in refused.err
    assert run_cli(["employees", "set-group", "tech", "Full"], config=ini).code == 2  # who asks? (bad usage)
    moved = run_cli(["employees", "set-group", "tech", "Partial", "--user", "admin"], config=ini)
    assert moved.code == 0 and "from group 'Limited' to 'Partial'" in moved.out
    assert employees(ini)["tech"] == "Partial"
    assert run_cli(["employees", "set-group", "tech", "Nope", "--user", "admin"], config=ini).code == 2
    assert run_cli(["employees", "remove", "tech", "--user", "tech"], config=ini).code == 3
    assert run_cli(["employees", "remove", "tech", "--user", "admin"], config=ini).code == 0
    assert "tech" not in employees(ini)
    gone = run_cli(["employees", "remove", "tech", "--user", "admin"], config=ini)
    assert gone.code == 1 and "there is no employee with login 'tech'" in gone.err
    assert audit_actions(ini)[:2] == ["remove_employee", "set_group"]


def test_the_last_employee_with_the_privilege_cannot_lose_it(ini):
    for args in (["employees", "set-group", "admin", "Limited"], ["employees", "remove", "admin"],
                 ["groups", "revoke", "Full"]):
        res = run_cli([*args, "--user", "admin"], config=ini)
        assert res.code == 1 and "would leave no employee with the Continuum Integration privilege" in res.err, args
    assert employees(ini)["admin"] == "Full"


def test_grant_and_revoke_the_privilege_of_a_group(ini):
    assert run_cli(["groups", "grant", "Limited", "--user", "tech"], config=ini).code == 3
    granted = run_cli(["groups", "grant", "Limited", "--user", "admin"], config=ini)
    assert granted.code == 0 and "now holds" in granted.out
    again = run_cli(["groups", "grant", "Limited", "--user", "admin"], config=ini)
    assert again.code == 0 and "nothing changed" in again.out
    assert run_cli(["employees", "set-group", "admin", "Partial", "--user", "tech"], config=ini).code == 0
    last = run_cli(["groups", "revoke", "Limited", "--user", "tech"], config=ini)  # tech is the last one
    assert last.code == 1 and "would leave no employee" in last.err
    groups = {g["name"]: g["continuum"] for g in json.loads(run_cli(["groups", "list", "--json"], config=ini).out)}
    assert groups["Limited"] is True and groups["Partial"] is False
    assert run_cli(["groups", "grant", "Nope", "--user", "tech"], config=ini).code == 2


def test_set_manager_and_list_auto_created_accounts(ini):
    with store(ini) as (_state, psa):
        acme = psa.add_account("Acme")
        auto = psa.add_account("[Continuum AUTO CREATED] Blue River", auto_created=True)
    assert run_cli(["accounts", "set-manager", acme, "tech"], config=ini).code == 0
    assert json.loads(run_cli(["accounts", "show", acme, "--json"], config=ini).out)["manager"] == "tech"
    unknown = run_cli(["accounts", "set-manager", acme, "ghost"], config=ini)
    assert unknown.code == 1 and "there is no employee with login 'ghost'" in unknown.err
    assert run_cli(["accounts", "set-manager", acme, "--none"], config=ini).code == 0
    assert json.loads(run_cli(["accounts", "show", acme, "--json"], config=ini).out)["manager"] is None
    listed = json.loads(run_cli(["accounts", "list", "--auto-created", "--json"], config=ini).out)
    assert [a["rec_id"] for a in listed] == [auto]


def test_delete_is_refused_while_the_account_holds_anything_saying_what(ini):
    with store(ini) as (state, psa):
        busy = psa.add_account("Busy")
        psa.add_ticket(busy, "one")
        psa.add_ticket(busy, "two")
        psa.add_asset("PC", busy)
        state.link_site("ACME-HQ", busy)
        empty = psa.add_account("Typo Ltd")
    assert run_cli(["accounts", "delete", empty, "--user", "tech"], config=ini).code == 3
    refused = run_cli(["accounts", "delete", busy, "--user", "admin"], config=ini)
    assert refused.code == 1
    assert "2 ticket(s), 1 asset(s), 1 site link(s) (ACME-HQ)" in refused.err
    deleted = run_cli(["accounts", "delete", empty, "--user", "admin"], config=ini)
    assert deleted.code == 0 and "'Typo Ltd' deleted" in deleted.out
    names = [a["name"] for a in json.loads(run_cli(["accounts", "list", "--json"], config=ini).out)]
    assert names == ["Busy"]
    assert audit_actions(ini)[0] == "delete_account"


def test_assets_show(ini):
    with store(ini) as (state, psa):
        acme = psa.add_account("Acme")
        asset = psa.add_asset("DC01", acme, serial="7XK")
        state.link_device("D-1", asset)
    shown = json.loads(run_cli(["assets", "show", asset, "--json"], config=ini).out)
    assert (shown["name"], shown["account_name"], shown["device_id"], shown["serial"]) == ("DC01", "Acme", "D-1", "7XK")
    assert run_cli(["assets", "show", "AST00000000000000000"], config=ini).code == 1


def account_names(ini) -> list[str]:
    return [a["name"] for a in json.loads(run_cli(["accounts", "list", "--json"], config=ini).out)]


def test_accounts_import_by_header_names_with_semicolons_skipping_existing(ini, tmp_path):
    run_cli(["accounts", "add", "Alpha"], config=ini)
    sheet = tmp_path / "accounts.csv"
    sheet.write_text("Manager;Name\n;alpha\ntech;Müller; Technik\n;Gamma\n".replace("Müller; Technik",
                                                                                  '"Müller; Technik"'))
    res = run_cli(["accounts", "import", str(sheet)], config=ini)
    assert res.code == 0, res.err
    assert "Imported 2 account(s)" in res.out and "1 skipped" in res.out and "line(s) 2" in res.out
    assert account_names(ini) == ["Alpha", "Müller; Technik", "Gamma"]
    again = run_cli(["accounts", "import", str(sheet), "--json"], config=ini)
    assert json.loads(again.out) == {"created": [], "skipped_lines": [2, 3, 4], "rows": 3}
    dupes = run_cli(["accounts", "import", str(sheet), "--allow-duplicates"], config=ini)
    assert dupes.code == 0 and len(account_names(ini)) == 6


def test_accounts_import_reports_every_bad_row_and_imports_nothing(ini, tmp_path):
    sheet = tmp_path / "bad.csv"
    sheet.write_text('name,manager\nGood,\n,tech\nBad manager,ghost\nToo,many,fields\n"Open quote,\n')
    res = run_cli(["accounts", "import", str(sheet)], config=ini)
    assert res.code == 2
    for expected in ("line 3: no name", "line 4: there is no employee with login 'ghost'",
                     "line 5: 3 field(s) where the header has 2", "line 6: quoting error"):
        assert expected in res.err, expected
    assert "nothing was imported" in res.err and account_names(ini) == []


def test_assets_import_by_account_name_or_rec_id(ini, tmp_path):
    with store(ini) as (_state, psa):
        acme = psa.add_account("Acme")
        psa.add_account("Twin")
        psa.add_account("twin")
    sheet = tmp_path / "assets.csv"
    sheet.write_text(f"name\taccount\tserial\nDC01\tacme\t7XK\nWS01\t{acme}\t\n")
    res = run_cli(["assets", "import", str(sheet)], config=ini)
    assert res.code == 0, res.err
    assets = json.loads(run_cli(["assets", "list", "--account", acme, "--json"], config=ini).out)
    assert [(a["name"], a["serial"]) for a in assets] == [("DC01", "7XK"), ("WS01", "")]
    assert "2 skipped" in run_cli(["assets", "import", str(sheet)], config=ini).out
    bad = tmp_path / "bad.csv"
    bad.write_text("name,account\nPC,Twin\nPC,Nobody\nPC,\n")
    res = run_cli(["assets", "import", str(bad)], config=ini)
    assert res.code == 2
    assert "line 2: 2 accounts are named 'Twin'" in res.err and "line 3: no account is named 'Nobody'" in res.err
    assert "line 4: no account" in res.err
    assert len(json.loads(run_cli(["assets", "list", "--json"], config=ini).out)) == 2
