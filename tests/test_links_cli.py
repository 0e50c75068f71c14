"""``zenithlink links …`` and ``accounts merge`` as a person or script runs them (exit codes, JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from stores import embedded

from agent.sync import records

from test_links_manager import seed_people, write_ini, write_inventory

RUN = [sys.executable, "-c", "from agent.cli import main; main()"]


@pytest.fixture
def env(tmp_path):
    ini = write_ini(tmp_path)
    write_inventory(tmp_path)
    with embedded(tmp_path / "zenith.db") as (state, psa):
        seed_people(SimpleNamespace(state=state))
        acme = psa.add_account("Acme, Inc")
        smith = psa.add_account("Smith and Sons Ltd")
    return {"ini": ini, "db": tmp_path / "zenith.db", "acme": acme, "smith": smith, "folder": tmp_path}


def zl(env, *args, user: str | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZENITHLINK_")}
    if user:
        environ["ZENITHLINK_USER"] = user
    return subprocess.run(RUN + ["--config", str(env["ini"]), *args], capture_output=True, text=True,
                          env=environ, timeout=60, stdin=subprocess.DEVNULL)


def store_state(env) -> tuple:
    with embedded(env["db"]) as (state, psa):
        return state.site_links(), state.device_links(), len(psa.list_accounts()), len(psa.list_assets())


def test_link_list_and_unlink_sites(env):
    result = zl(env, "links", "link-site", "ACME-HQ", env["acme"], "--user", "admin")
    assert result.returncode == 0, result.stderr
    assert zl(env, "links", "link-site", "ACME-BR", env["acme"], user="admin").returncode == 0  # envvar
    linked = json.loads(zl(env, "links", "sites", "--linked", "--json").stdout)
    assert sorted(r["site_code"] for r in linked) == ["ACME-BR", "ACME-HQ"]
    assert {r["account_rec_id"] for r in linked} == {env["acme"]}
    unlinked = json.loads(zl(env, "links", "sites", "--unlinked", "--json").stdout)
    assert sorted(r["site_code"] for r in unlinked) == ["NW", "SMITH"]
    assert len(json.loads(zl(env, "links", "sites", "--json").stdout)) == 4
    assert zl(env, "links", "unlink-site", "ACME-HQ", "--user", "admin").returncode == 0
    assert store_state(env)[0] == {"ACME-BR": env["acme"]}
    table = zl(env, "links", "sites")
    assert table.returncode == 0 and "ACME-BR" in table.stdout


def test_no_privilege_exits_3_names_privilege_and_group_and_changes_nothing(env):
    before = store_state(env)
    for args in (["link-site", "ACME-HQ", env["acme"]], ["create-account", "NW"], ["unlink-account", env["acme"]],
                 ["create-asset", "D-1", "--account", env["acme"]], ["review", "--min-score", "90"]):
        result = zl(env, "links", *args, "--user", "pat")
        assert result.returncode == 3, (args, result.stderr)
        assert "Continuum Integration privilege" in result.stderr and "'Partial'" in result.stderr
    merge = zl(env, "accounts", "merge", env["smith"], env["acme"], "--user", "pat")
    assert merge.returncode == 3 and "Continuum Integration" in merge.stderr
    no_user = zl(env, "links", "link-site", "ACME-HQ", env["acme"])
    assert no_user.returncode == 2 and "--user" in no_user.stderr  # bad usage: nobody named
    assert store_state(env) == before


def test_missing_inventory_message(tmp_path):
    env = {"ini": write_ini(tmp_path)}
    for args in (["links", "sites"], ["links", "devices", "--json"], ["links", "suggest", "site", "X"]):
        result = zl(env, *args)
        assert result.returncode == 1
        assert "not been downloaded" in result.stderr and "zenithlink inventory refresh" in result.stderr
        assert "ZenithErrors" in result.stderr and "zenithlink errors list" in result.stderr
        assert result.stdout == ""


def test_unknown_site_exits_1_with_a_hint(env):
    result = zl(env, "links", "link-site", "NOPE", env["acme"], "--user", "admin")
    assert result.returncode == 1 and "zenithlink inventory refresh" in result.stderr


def test_create_account_and_asset_then_devices_listing(env):
    made = zl(env, "links", "create-account", "ACME-HQ", "--user", "admin", "--json")
    assert made.returncode == 0, made.stderr
    account = json.loads(made.stdout)["rec_id"]
    asset = json.loads(zl(env, "links", "create-asset", "D-1", "--user", "admin", "--json").stdout)["rec_id"]
    devices = {r["device_id"]: r for r in json.loads(zl(env, "links", "devices", "--json").stdout)}
    assert devices["D-1"]["asset_rec_id"] == asset and devices["D-1"]["asset_name"] == "ACME-DC01"
    no_account = zl(env, "links", "create-asset", "D-3", "--user", "admin")
    assert no_account.returncode == 1 and "--account" in no_account.stderr
    with embedded(env["db"]) as (state, psa):
        assert psa.get_account(account).name == "ACME"  # the site's client name
        assert psa.get_asset(asset).account_rec_id == account
    assert zl(env, "links", "unlink-device", "D-1", "--user", "admin").returncode == 0
    assert zl(env, "links", "link-device", "D-1", asset, "--user", "admin").returncode == 0
    assert zl(env, "links", "unlink-account", account, "--user", "admin").returncode == 0
    assert store_state(env)[:2] == ({}, {})


def test_suggest_and_search_json(env):
    found = json.loads(zl(env, "links", "suggest", "site", "SMITH", "--json").stdout)
    assert found[0] == {"rec_id": env["smith"], "name": "Smith and Sons Ltd", "score": 100.0,
                        "reason": "same name once normalised", "verdict": "exact"}
    with embedded(env["db"]) as (state, psa):
        asset = psa.add_asset("Closet server", env["acme"], serial="7XK2Q13")
    devices = json.loads(zl(env, "links", "suggest", "device", "D-1", "--json").stdout)
    assert devices[0]["rec_id"] == asset and devices[0]["reason"] == "same serial number"
    accounts = json.loads(zl(env, "links", "search", "accounts", "smith", "--json").stdout)
    assert [a["rec_id"] for a in accounts] == [env["smith"]]
    assets = json.loads(zl(env, "links", "search", "assets", "closet", "--json").stdout)
    assert [a["rec_id"] for a in assets] == [asset]


def test_review_shows_the_plan_dry_run_changes_nothing_then_links(env):
    dry = zl(env, "links", "review", "--min-score", "100", "--dry-run")
    assert dry.returncode == 0 and "SMITH" in dry.stdout and "would be linked" in dry.stdout
    assert store_state(env)[0] == {}
    applied = zl(env, "links", "review", "--min-score", "100", "--user", "admin")
    assert applied.returncode == 0, applied.stderr
    assert "Review of unlinked sites" in applied.stdout and "3 site(s) linked" in applied.stdout
    assert store_state(env)[0] == {"ACME-HQ": env["acme"], "ACME-BR": env["acme"], "SMITH": env["smith"]}
    rest = json.loads(zl(env, "links", "review", "--json").stdout)
    assert [r["site_code"] for r in rest] == ["NW"] and rest[0]["action"] == "no suggestion"


def test_accounts_merge_goes_through_the_links_manager(env):
    with embedded(env["db"]) as (state, psa):
        auto = psa.add_account("[Continuum AUTO CREATED] ACME Inc.", auto_created=True)
        state.link_site("ACME-HQ", auto)
        ticket = psa.add_ticket(auto, "disk full")
    result = zl(env, "accounts", "merge", auto, env["acme"], "--user", "admin")
    assert result.returncode == 0, result.stderr
    with embedded(env["db"]) as (state, psa):
        assert state.account_for_site("ACME-HQ") == env["acme"]
        assert records.get_ticket(state, psa, ticket).account_rec_id == env["acme"]
        entry = state.audit_log()[0]
        assert entry["who"] == "admin" and entry["action"] == "merge_accounts"


def test_long_listings_are_one_tab_separated_line_per_row(monkeypatch, capsys):
    from agent.cli import output

    monkeypatch.setattr(output, "TABLE_LIMIT", 1)
    output.listing("Sites", ["site code", "name"], [("A\tB", None), ("C", "two\nlines")])
    assert capsys.readouterr().out.splitlines() == ["site code\tname", "A B\t", "C\ttwo lines"]


def test_review_apply_links_by_verdict_and_exact_only_holds_the_strong_ones(env):
    with embedded(env["db"]) as (state, psa):
        northwind = psa.add_account("Northwind Traders Wholesale")  # a strong match for NW, not exact
    exact_only = zl(env, "links", "review", "--apply", "--exact-only", "--user", "admin", "--json")
    assert exact_only.returncode == 0, exact_only.stderr
    rows = {r["site_code"]: r for r in json.loads(exact_only.stdout)}
    assert rows["NW"]["verdict"] == "strong" and rows["NW"]["action"] == "review"
    assert store_state(env)[0] == {"ACME-HQ": env["acme"], "ACME-BR": env["acme"], "SMITH": env["smith"]}

    shown = zl(env, "links", "review")
    assert shown.returncode == 0 and "strong" in shown.stdout and "1 site(s) would be linked by --apply" in shown.stdout
    assert zl(env, "links", "review", "--apply").returncode == 2  # who links? a person with the privilege
    applied = zl(env, "links", "review", "--apply", "--user", "admin")
    assert applied.returncode == 0 and "1 site(s) linked" in applied.stdout
    assert store_state(env)[0]["NW"] == northwind


def test_review_devices_by_serial_then_name_within_the_sites_account_and_create_missing(env):
    with embedded(env["db"]) as (state, psa):
        state.link_site("ACME-HQ", env["acme"])
        by_serial = psa.add_asset("DC (old name)", env["acme"], serial="7XK2Q13")
        psa.add_asset("Spare PC", env["acme"], serial="To be filled by O.E.M.")  # placeholder: never a match
        psa.add_asset("ACME-WS07", env["smith"])  # the right name, but another customer's asset
    dry = zl(env, "links", "review", "devices", "--create-missing", "--json")
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert [(r["device_id"], r["asset_rec_id"], r["action"]) for r in shown["plan"]] == [("D-1", by_serial, "link")]
    assert [r["device_id"] for r in shown["create"]] == ["D-2"]  # D-3's site is not linked: no account for it
    assert store_state(env)[1] == {}

    assert zl(env, "links", "review", "devices", "--apply").returncode == 2  # no --user
    applied = zl(env, "links", "review", "devices", "--apply", "--create-missing", "--user", "admin")
    assert applied.returncode == 0, applied.stderr
    assert "1 device(s) linked, 1 asset(s) created" in applied.stdout
    links = store_state(env)[1]
    assert links["D-1"] == by_serial and set(links) == {"D-1", "D-2"}
    with embedded(env["db"]) as (state, psa):
        created = psa.get_asset(links["D-2"])
        assert (created.name, created.account_rec_id) == ("ACME-WS07", env["acme"])
    again = json.loads(zl(env, "links", "review", "devices", "--create-missing", "--json").stdout)
    assert again == {"plan": [], "create": [], "created": []}  # nothing left to do


def _on_a_terminal(env, answer: bytes, *args: str) -> subprocess.CompletedProcess:
    import pty

    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZENITHLINK_")}
    master, slave = pty.openpty()
    try:
        os.write(master, answer)
        return subprocess.run(RUN + ["--config", str(env["ini"]), *args], capture_output=True, text=True,
                              env=environ, timeout=60, stdin=slave)
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.posix
def test_unlink_account_asks_on_a_terminal_and_yes_skips_the_question(env):
    assert zl(env, "links", "link-site", "ACME-HQ", env["acme"], "--user", "admin").returncode == 0
    refused = _on_a_terminal(env, b"n\n", "links", "unlink-account", env["acme"], "--user", "admin")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    assert "ACME-HQ" in refused.stdout and "Remove every Continuum link" in refused.stdout
    assert store_state(env)[0] == {"ACME-HQ": env["acme"]}
    done = _on_a_terminal(env, b"", "links", "unlink-account", env["acme"], "--yes", "--user", "admin")
    assert done.returncode == 0, done.stderr
    assert store_state(env)[0] == {}
