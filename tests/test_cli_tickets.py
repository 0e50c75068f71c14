"""Tickets by number or REC ID, filtered listings, and the site of a new Continuum ticket (real processes)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from stores import embedded

from agent.ports.psa import STATUS_COMPLETED

from conftest import run_cli
from test_links_manager import seed_people, write_ini, write_inventory


@pytest.fixture
def env(tmp_path):
    ini = write_ini(tmp_path)
    write_inventory(tmp_path)
    with embedded(tmp_path / "zenith.db") as (state, psa):
        seed_people(SimpleNamespace(state=state))
        acme, smith = psa.add_account("Acme, Inc"), psa.add_account("Smith and Sons Ltd")
        tickets = [psa.add_ticket(acme, "printer jam"), psa.add_ticket(smith, "disk full", in_inbox=True),
                   psa.add_ticket(acme, "new laptop", in_inbox=True)]
        psa.set_ticket_status(tickets[2], STATUS_COMPLETED)  # a Completed ticket has left the Inbox
        state.link_site("ACME-HQ", acme)
        state.link_site("ACME-BR", acme)
        state.link_site("SMITH", smith)
    return SimpleNamespace(ini=ini, db=tmp_path / "zenith.db", acme=acme, smith=smith, tickets=tickets)


def zl(env, *args: str, user: str | None = None):
    return run_cli(list(args), config=env.ini, user=user)


def numbers(res) -> list[int]:
    assert res.code == 0, res.err
    return [t["ticket_no"] for t in json.loads(res.out)]


def test_show_and_act_on_a_ticket_by_its_number_or_rec_id(env):
    by_number = json.loads(zl(env, "tickets", "show", "2", "--json").out)
    assert by_number["rec_id"] == env.tickets[1]
    assert json.loads(zl(env, "tickets", "show", env.tickets[1], "--json").out) == by_number
    missing = zl(env, "tickets", "show", "99")
    assert missing.code == 1 and "no ticket number 99" in missing.err
    queued = zl(env, "tickets", "create-in-continuum", "2", "--assign", "NOC", "--json", user="admin")
    assert queued.code == 0, queued.err
    assert json.loads(queued.out)["ticket_rec_id"] == env.tickets[1]
    assert zl(env, "tickets", "note", "2", "hello", user="admin").code == 0  # behind the queued create


def test_list_filters_by_account_status_and_pages(env):
    assert numbers(zl(env, "tickets", "list", "--json")) == [1, 2, 3]
    assert numbers(zl(env, "tickets", "list", "--account", "Acme, Inc", "--json")) == [1, 3]
    assert numbers(zl(env, "tickets", "list", "--account", env.smith, "--json")) == [2]
    assert numbers(zl(env, "tickets", "list", "--status", "completed", "--json")) == [3]
    assert numbers(zl(env, "tickets", "list", "--status", "100", "--account", "acme, inc", "--json")) == [1]
    assert numbers(zl(env, "tickets", "list", "--limit", "1", "--offset", "1", "--json")) == [2]
    assert numbers(zl(env, "tickets", "list", "--offset", "5", "--json")) == []
    assert numbers(zl(env, "tickets", "list", "--inbox", "--json")) == [2]
    bad = zl(env, "tickets", "list", "--status", "Sleeping")
    assert bad.code == 2 and "Completed" in bad.err
    assert zl(env, "tickets", "list", "--account", "Nobody").code == 1


def test_an_account_of_several_sites_needs_the_site_named(env):
    refused = zl(env, "tickets", "create-in-continuum", "1", "--assign", "NOC", user="admin")
    assert refused.code == 2
    assert "linked to 2 sites (ACME-BR, ACME-HQ)" in refused.err and "--site" in refused.err
    with embedded(env.db) as (state, _psa):
        assert state.outbox_depth() == 0
    chosen = zl(env, "tickets", "create-in-continuum", "1", "--assign", "NOC", "--site", "ACME-BR", "--json",
                user="admin")
    assert chosen.code == 0, chosen.err
    with embedded(env.db) as (state, _psa):
        assert state.get_outbox(1).payload["site_code"] == "ACME-BR"
    one_site = zl(env, "tickets", "create-in-continuum", "2", "--assign", "NOC", user="admin")
    assert one_site.code == 0, one_site.err
