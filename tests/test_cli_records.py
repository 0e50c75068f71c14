"""The CLI contract for PSA records, through the real command line."""

from __future__ import annotations

import json

from stores import embedded

from conftest import run_cli


def test_accounts_employees_assets_tickets_round_trip(ini, tmp_path):
    res = run_cli(["accounts", "add", "ACME", "--json"], config=ini)
    assert res.code == 0, res.err
    acc = json.loads(res.out)["rec_id"]
    assert acc.startswith("CRD") and len(acc) == 20
    assert run_cli(["employees", "add", "jsmith", "--name", "J Smith", "--group", "Limited"], config=ini).code == 0
    asset = json.loads(run_cli(["assets", "add", "DC01", "--account", acc, "--serial", "7XK", "--json"],
                               config=ini).out)["rec_id"]
    ticket = json.loads(run_cli(["tickets", "add", "--account", acc, "--description", "Printer", "--asset", asset,
                                 "--json"], config=ini).out)["rec_id"]
    shown = json.loads(run_cli(["tickets", "show", ticket, "--json"], config=ini).out)
    assert shown["rec_id"] == ticket and shown["account_rec_id"] == acc and shown["asset_rec_id"] == asset
    assert shown["status_code"] == 100 and shown["history"] == []
    listed = json.loads(run_cli(["accounts", "list", "--json"], config=ini).out)
    assert [a["name"] for a in listed] == ["ACME"]
    assets = json.loads(run_cli(["assets", "list", "--json"], config=ini).out)
    assert assets[0]["serial"] == "7XK"


def test_json_output_is_only_json_on_stdout(ini):
    res = run_cli(["groups", "list", "--json"], config=ini)
    assert res.code == 0
    groups = json.loads(res.out)
    assert {g["name"] for g in groups} >= {"Full", "Partial", "Limited", "Sys Admin"}


def test_groups_add_with_privilege(ini):
    assert run_cli(["groups", "add", "Dispatch", "--continuum"], config=ini).code == 0
    groups = {g["name"]: g["continuum"] for g in json.loads(run_cli(["groups", "list", "--json"], config=ini).out)}
    assert groups["Dispatch"] is True


def test_unknown_record_exits_1_with_a_hint(ini):
    res = run_cli(["tickets", "show", "TKT00000000000000000"], config=ini)
    assert res.code == 1
    assert "tickets list" in res.err


def test_bad_group_is_usage_error(ini):
    res = run_cli(["employees", "add", "x", "--group", "Nope"], config=ini)
    assert res.code == 2
    assert "Full" in res.err


def test_accounts_import_csv_all_or_nothing(ini, tmp_path):
    good = tmp_path / "a.csv"
    good.write_text("name,manager\nAlpha,\nBeta,\n")
    assert run_cli(["accounts", "import", str(good)], config=ini).code == 0
    bad = tmp_path / "b.csv"
    bad.write_text("name,manager\nGamma,\nDelta,nobody\n")
    res = run_cli(["accounts", "import", str(bad)], config=ini)
    assert res.code == 2 and "line 3" in res.err
    names = [a["name"] for a in json.loads(run_cli(["accounts", "list", "--json"], config=ini).out)]
    assert names == ["Alpha", "Beta"]


def test_backup_command(ini, tmp_path):
    run_cli(["accounts", "add", "ACME"], config=ini)
    target = tmp_path / "copy.sqlite3"
    assert run_cli(["backup", str(target)], config=ini).code == 0
    import sqlite3

    assert sqlite3.connect(target).execute("SELECT name FROM accounts").fetchone()[0] == "ACME"


def test_check_config_reports_problems_with_exit_2(tmp_path):
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nPSG=s3cr3t-value\nPollIntervalSeconds=abc\nVerifyTLS=perhaps\n")
    res = run_cli(["check-config"], config=ini)
    assert res.code == 2
    assert "PollIntervalSeconds" in res.err and "VerifyTLS" in res.err
    assert "s3cr3t-value" not in res.err + res.out


def test_check_config_prints_settings_without_psg(tmp_path):
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nPSG=s3cr3t-value\nContinuumURL=http://127.0.0.1:9\n")
    res = run_cli(["check-config", "--json", "--offline"], config=ini)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["valid"] is True and doc["connection"] is None
    assert {"section": "Continuum", "key": "PSG", "value": "(set)"} in doc["settings"]
    assert "s3cr3t-value" not in res.out + res.err


def test_init_writes_the_template(tmp_path):
    target = tmp_path / "new.ini"
    res = run_cli(["init", str(target)])
    assert res.code == 0, res.err
    assert "ProcessContinuumUpdatesQueue=N" in target.read_text()
    assert run_cli(["init", str(target)]).code == 2


def test_missing_config_is_exit_2(tmp_path):
    res = run_cli(["accounts", "list"], config=tmp_path / "none.ini")
    assert res.code == 2 and "zenithlink init" in res.err


def test_check_config_pings_continuum(tmp_path):
    from agent.sandbox import SandboxServer

    with SandboxServer(psg="right-code", sites=1, devices=1) as sb:
        good = tmp_path / "good.ini"
        good.write_text(f"[Continuum]\nPSG=right-code\nContinuumURL={sb.url}\n")
        doc = json.loads(run_cli(["check-config", "--json"], config=good).out)
        assert doc["connection"]["ok"] is True and doc["connection"]["activated"] is True
        bad = tmp_path / "bad.ini"
        bad.write_text(f"[Continuum]\nPSG=wrong-code\nContinuumURL={sb.url}\n")
        res = run_cli(["check-config", "--json"], config=bad)
        assert res.code == 1, res.err
        doc = json.loads(res.out)
        assert doc["valid"] is True
        assert doc["connection"]["ok"] is False and "PSG" in doc["connection"]["message"]
        assert "wrong-code" not in res.out + res.err


def test_rename_an_auto_created_account_makes_it_real(ini):

    from config.loader import load_settings

    with embedded(load_settings(ini).database) as (state, psa):
        auto = psa.add_account("[Continuum AUTO CREATED] Blue River", auto_created=True)
        state.link_site("BLUE-HQ", auto)
    assert run_cli(["accounts", "rename", auto, "Blue River Dental"], config=ini).code == 0
    shown = json.loads(run_cli(["accounts", "show", auto, "--json"], config=ini).out)
    assert shown["name"] == "Blue River Dental" and shown["auto_created"] is False
    assert shown["sites"] == ["BLUE-HQ"]
    assert run_cli(["accounts", "rename", auto, "  "], config=ini).code == 2


def test_tickets_add_refuses_an_asset_of_another_account_naming_both(ini):
    acme = json.loads(run_cli(["accounts", "add", "ACME", "--json"], config=ini).out)["rec_id"]
    smith = json.loads(run_cli(["accounts", "add", "Smith and Sons", "--json"], config=ini).out)["rec_id"]
    asset = json.loads(run_cli(["assets", "add", "SMITH-DC01", "--account", smith, "--json"], config=ini).out)["rec_id"]
    res = run_cli(["tickets", "add", "--account", acme, "--description", "Printer", "--asset", asset], config=ini)
    assert res.code == 1
    assert acme in res.err and smith in res.err and "'ACME'" in res.err and "'Smith and Sons'" in res.err
    assert json.loads(run_cli(["tickets", "list", "--json"], config=ini).out) == []
