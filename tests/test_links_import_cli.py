"""``links export`` / ``links import`` and linking by name, as a person or script runs them."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest
from stores import embedded

from conftest import run_cli
from test_links_manager import seed_people, write_ini, write_inventory


@pytest.fixture
def env(tmp_path):
    ini = write_ini(tmp_path)
    write_inventory(tmp_path)
    with embedded(tmp_path / "zenith.db") as (state, psa):
        seed_people(SimpleNamespace(state=state))
        acme = psa.add_account("Acme, Inc")
        smith = psa.add_account("Smith and Sons Ltd")
        twin_a, twin_b = psa.add_account("Twin"), psa.add_account("twin")
        dc = psa.add_asset("ACME-DC01", acme)
        ws = psa.add_asset("ACME-WS07", acme)
    return SimpleNamespace(ini=ini, db=tmp_path / "zenith.db", folder=tmp_path, acme=acme, smith=smith,
                           twins=(twin_a, twin_b), dc=dc, ws=ws)


def zl(env, *args: str, user: str | None = None):
    return run_cli(list(args), config=env.ini, user=user)


def links(env) -> tuple[dict, dict, int]:
    with embedded(env.db) as (state, _psa):
        return state.site_links(), state.device_links(), len(state.audit_log(1000))


def sheet(env, text: str, name: str = "links.csv"):
    path = env.folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_link_site_and_device_by_exact_name_refusing_an_ambiguous_one(env):
    res = zl(env, "links", "link-site", "ACME-HQ", "acme, inc", user="admin")
    assert res.code == 0, res.err
    assert "linked to account" in res.out and "'Acme, Inc'" in res.out
    again = zl(env, "links", "link-site", "ACME-HQ", env.acme, user="admin")
    assert again.code == 0 and "already; nothing changed" in again.out
    ambiguous = zl(env, "links", "link-site", "NW", "TWIN", user="admin")
    assert ambiguous.code == 2 and "2 accounts are named 'TWIN'" in ambiguous.err
    assert all(t in ambiguous.err for t in env.twins)
    unknown = zl(env, "links", "link-site", "NW", "Nobody", user="admin")
    assert unknown.code == 1 and "no account is named 'Nobody'" in unknown.err
    assert zl(env, "links", "link-device", "D-1", "ACME-DC01", user="admin").code == 0
    assert links(env)[:2] == ({"ACME-HQ": env.acme}, {"D-1": env.dc})


def test_export_then_import_of_the_same_file_changes_nothing_and_says_so(env):
    zl(env, "links", "link-site", "SMITH", env.smith, user="admin")
    exported = zl(env, "links", "export")
    assert exported.code == 0, exported.err
    rows = list(csv.DictReader(io.StringIO(exported.out)))
    assert [r["site_code"] for r in rows] == ["ACME-HQ", "ACME-BR", "SMITH", "NW"]
    assert rows[2]["account_rec_id"] == env.smith and rows[2]["account_name"] == "Smith and Sons Ltd"
    path = sheet(env, exported.out)
    before = links(env)
    res = zl(env, "links", "import", path, user="admin")
    assert res.code == 0, res.err
    assert "Nothing to change" in res.out and "1 linked so already" in res.out and "3 without" in res.out
    assert links(env) == before
    as_json = json.loads(zl(env, "links", "export", "--devices", "--format", "json").out)
    assert [d["device_id"] for d in as_json] == ["D-1", "D-2", "D-3"]


def test_import_a_semicolon_sheet_by_names_in_one_audited_go_then_again_nothing(env):
    path = sheet(env, "Site Code;Account\nACME-HQ;Acme, Inc\nACME-BR;ACME, INC\nACME-HQ;Acme, Inc\nSMITH;"
                      f"{env.smith}\nNW;\n")
    dry = zl(env, "links", "import", path, "--dry-run")
    assert dry.code == 0 and "Dry run: 3 site link(s) would be made" in dry.out and links(env)[0] == {}
    assert zl(env, "links", "import", path, user="pat").code == 3
    assert zl(env, "links", "import", path).code == 2  # no --user: bad usage
    res = zl(env, "links", "import", path, user="admin")
    assert res.code == 0, res.err
    assert "3 site link(s) made" in res.out and "1 without a record left alone" in res.out
    sites, _devices, audited = links(env)
    assert sites == {"ACME-HQ": env.acme, "ACME-BR": env.acme, "SMITH": env.smith}
    again = zl(env, "links", "import", path, user="admin", )
    assert again.code == 0 and "Nothing to change" in again.out
    assert links(env) == (sites, {}, audited)
    with embedded(env.db) as (state, _psa):
        assert [e["who"] for e in state.audit_log(3)] == ["admin"] * 3


def test_a_file_with_bad_rows_reports_every_one_by_line_and_links_nothing(env):
    path = sheet(env, "site_code,account_name\nACME-HQ,Acme, Inc\n".replace("Acme, Inc", '"Acme, Inc"')
                 + "NOPE,Acme\nNW,Twin\nSMITH,Nobody\nACME-HQ,Smith and Sons Ltd\nACME-BR,a,b\n\"SMITH,x\n")
    res = zl(env, "links", "import", path, user="admin")
    assert res.code == 2
    for expected in ("line 3: there is no site 'NOPE'", "line 4: 2 accounts are named 'Twin'",
                     "line 5: no account is named 'Nobody'", "line 6: site ACME-HQ is on line 2 too",
                     "line 7: 3 field(s) where the header has 2", "line 8: quoting error"):
        assert expected in res.err, expected
    assert "nothing was linked" in res.err
    assert links(env) == ({}, {}, 0)


def test_device_import_moves_an_asset_between_devices_and_refuses_one_asset_for_two(env):
    zl(env, "links", "link-device", "D-1", env.dc, user="admin")
    two = sheet(env, f"device_id,asset_rec_id\nD-2,{env.ws}\nD-3,{env.ws}\n")
    res = zl(env, "links", "import", two, user="admin")
    assert res.code == 2 and "line 2: asset" in res.err and "line 3: asset" in res.err
    taken = sheet(env, "device_id,asset_name\nD-2,ACME-DC01\n")
    res = zl(env, "links", "import", taken, user="admin")
    assert res.code == 2 and f"asset {env.dc} is linked to device D-1 already" in res.err
    swap = sheet(env, "device_id,asset_name\nD-1,ACME-WS07\nD-2,ACME-DC01\n")
    res = zl(env, "links", "import", swap, user="admin")
    assert res.code == 0, res.err
    assert links(env)[1] == {"D-1": env.ws, "D-2": env.dc}


def test_export_to_a_file_and_import_json(env):
    out = env.folder / "sites.json"
    assert zl(env, "links", "export", "--format", "json", "--output", str(out)).code == 0
    rows = json.loads(out.read_text())
    rows[0]["account_name"] = "Acme, Inc"
    out.write_text(json.dumps(rows))
    res = zl(env, "links", "import", str(out), "--json", user="admin")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["applied"] is True and [c["key"] for c in doc["changes"]] == ["ACME-HQ"]
    rows[1]["account_name"] = "Nobody"
    out.write_text(json.dumps(rows))
    bad = zl(env, "links", "import", str(out), user="admin")
    assert bad.code == 2 and "entry 2: no account is named 'Nobody'" in bad.err
