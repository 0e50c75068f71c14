"""One sentence and one exit code for "already linked", "not linked", an unknown employee and a
missing --user, whichever command meets them (real processes, real store and inventory)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from stores import embedded

from conftest import run_cli
from test_links_manager import seed_people, write_ini, write_inventory

ALREADY = "is linked to"
NOT_LINKED = "is not linked to"
UNKNOWN = "there is no employee with login 'ghost'; 'zenithlink employees list' shows them"
NO_USER = "the agent needs to know who acts: pass --user LOGIN"


@pytest.fixture
def env(tmp_path):
    ini = write_ini(tmp_path)
    write_inventory(tmp_path)
    with embedded(tmp_path / "zenith.db") as (state, psa):
        seed_people(SimpleNamespace(state=state))
        acme = psa.add_account("Acme, Inc")
        asset = psa.add_asset("ACME-DC01", acme)
        ticket = psa.add_ticket(acme, "printer jam")
        state.link_site("ACME-HQ", acme)
        state.link_device("D-1", asset)
    return SimpleNamespace(ini=ini, acme=acme, asset=asset, ticket=ticket)


def zl(env, *args: str, user: str | None = None):
    return run_cli(list(args), config=env.ini, user=user)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_already_linked_is_one_sentence_and_exit_1(env):
    for args in (["links", "create-account", "ACME-HQ"], ["links", "create-asset", "D-1"],
                 ["links", "link-device", "D-2", env.asset]):
        res = zl(env, *args, user="admin")
        assert res.code == 1, (args, res.err)
        line = last_line(res.err)
        assert ALREADY in line and "already; unlink it first ('zenithlink links unlink-" in line, args


def test_not_linked_is_one_sentence_and_exit_1(env):
    for args in (["links", "unlink-site", "SMITH"], ["links", "unlink-device", "D-3"],
                 ["tickets", "note", env.ticket, "hello"], ["tickets", "complete", env.ticket]):
        res = zl(env, *args, user="admin")
        assert res.code == 1 and NOT_LINKED in last_line(res.err), (args, res.err)


def test_an_unknown_employee_is_one_sentence_and_exit_1(env):
    for args, user in ((["links", "link-site", "SMITH", env.acme], "ghost"),
                       (["tickets", "note", env.ticket, "hello"], "ghost"),
                       (["accounts", "add", "Globex", "--manager", "ghost"], None),
                       (["employees", "set-password", "ghost", "--password-stdin"], None)):
        res = zl(env, *args, user=user)
        assert res.code == 1, (args, res.err)
        assert UNKNOWN in last_line(res.err), (args, res.err)


def test_a_missing_user_is_one_sentence_and_exit_2_bad_usage(env):
    for args in (["links", "link-site", "SMITH", env.acme], ["links", "unlink-device", "D-1"],
                 ["tickets", "note", env.ticket, "hello"], ["tickets", "complete", env.ticket],
                 ["accounts", "merge", env.acme, env.acme]):
        res = zl(env, *args)
        assert res.code == 2, (args, res.err)
        assert NO_USER in last_line(res.err), (args, res.err)
