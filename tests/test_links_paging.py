"""The links core's paged search, tie-aware reviews and the site chosen for a new Continuum ticket."""

from __future__ import annotations

import pytest

from agent.errors import UsageError
from agent.hookspecs import Suggestion
from agent.sync.links import LinksManager
from agent.sync.outbound import actions

from test_web_support import console  # noqa: F401 - fixture


def test_find_sites_pages_and_searches_and_keeps_links_to_gone_sites(console):
    links = LinksManager(console.app)
    first = links.find_sites(limit=2)
    assert (first.total, len(first.rows), first.rows[0]["site_code"]) == (4, 2, "ACME-HQ")
    assert [r["site_code"] for r in links.find_sites(offset=2, limit=2).rows] == ["NW", "XSS"]
    assert [r["site_code"] for r in links.find_sites(keyword="SMITH sons").rows] == ["SMITH"]
    console.state.link_site("GONE", console.ids["acme"], by="admin")
    linked = links.find_sites(linked=True)
    assert [(r["site_code"], r["in_inventory"], r["account_name"]) for r in linked.rows] == [
        ("GONE", False, "Acme, Inc")]
    assert "GONE" not in [r["site_code"] for r in links.find_sites(linked=False).rows]


def test_find_devices_searches_every_detail(console):
    found = LinksManager(console.app).find_devices(keyword="windows server")
    assert [r["device_id"] for r in found.rows] == ["D-1"]


def test_a_tie_is_never_linked_by_a_review(console, monkeypatch):
    links = LinksManager(console.app)
    tied = [Suggestion(console.ids["acme"], "Acme, Inc", 100.0, "same"),
            Suggestion(console.ids["smith"], "Smith", 100.0, "same")]
    monkeypatch.setattr(links.suggestions, "for_site", lambda site, accounts, limit: tied[:limit])
    plan = links.review_plan(90, only=["ACME-HQ"])
    assert [(r.site_code, r.tie, r.action) for r in plan] == [("ACME-HQ", True, "review")]


def test_device_review_by_an_unknown_field_is_a_usage_error(console):
    with pytest.raises(UsageError):
        LinksManager(console.app).device_review_plan("colour")


def test_a_new_continuum_ticket_goes_to_the_chosen_site_only_if_it_is_the_accounts(console):
    state = console.state
    state.link_site("ACME-HQ", console.ids["acme"], by="admin")
    state.link_site("NW", console.ids["acme"], by="admin")
    rec_id = console.psa.add_ticket(console.ids["acme"], "Server down")
    state.add_employee("full", "Full", "Full")
    with pytest.raises(UsageError, match="not linked to the account"):
        actions.create_in_continuum(console.app, rec_id, "NOC", None, "full", site_code="SMITH")
    queued = actions.create_in_continuum(console.app, rec_id, "NOC", None, "full", site_code="NW")
    assert queued.payload["site_code"] == "NW"
