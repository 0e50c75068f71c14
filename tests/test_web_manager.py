"""The Links Manager screens in process: list and details on one screen, the search kept while
working, "link and go to the next unlinked", the account pickers, and web wording of errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest

from agent.sync.links import LinksManager

from test_web_support import admin, console, make_console, write_inventory  # noqa: F401 - fixtures


def part(html: str, element_id: str) -> str:
    found = lxml.html.fromstring(html).get_element_by_id(element_id, None)
    return "" if found is None else " ".join(found.text_content().split())


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def no_cli_advice(text: str) -> bool:
    return "zenithlink " not in text and "--" not in text


def test_the_tabs_count_unlinked_and_linked_records_of_the_search(admin):
    page = admin.client.get("/sites").text
    assert re.search(r"Unlinked 4\b", part(page, "tab-unlinked")) and "Linked 0" in part(page, "tab-linked")
    LinksManager(admin.app).link_site("ACME-HQ", admin.ids["acme"], "admin")
    page = admin.client.get("/sites").text
    assert "Unlinked 3" in part(page, "tab-unlinked") and "Linked 1" in part(page, "tab-linked")
    searched = admin.client.get("/sites?q=acme").text
    assert "Unlinked 0" in part(searched, "tab-unlinked") and "Linked 1" in part(searched, "tab-linked")
    devices = admin.client.get("/devices?q=lenovo").text
    assert "Unlinked 3" in part(devices, "tab-unlinked")


def test_the_list_and_the_selected_sites_details_are_one_page(admin):
    page = admin.client.get("/sites").text
    assert "ACME Inc." in part(page, "detail-title")  # the first row is selected
    assert "Acme, Inc" in part(page, "suggestions") and "exact" in part(page, "suggestions")
    page = admin.client.get("/sites?sel=NW").text
    assert "Northwind Traders" in part(page, "detail-title") and "Smith & Sons" in part(page, "list")
    assert "D-3" in part(page, "site-devices") and "D-4" in part(page, "site-devices")  # the site's devices
    assert "What the scores and verdicts mean" in part(page, "legend")


def test_link_then_next_selects_the_following_unlinked_site_of_the_same_search(admin):
    form = {"code": "ACME-HQ", "account": admin.ids["acme"], "then": "next", "tab": "unlinked", "q": "s"}
    answer = admin.post("/site/link", form)
    where = query_of(answer.headers["location"])
    assert where == {"q": "s", "sel": "SMITH"}
    page = admin.client.get(answer.headers["location"]).text
    assert "Site ACME-HQ linked to Acme, Inc. Next: SMITH." in part(page, "flash")
    assert "Smith & Sons" in part(page, "detail-title") and 'value="s"' in page  # the search is still there
    last = admin.post("/site/link", {"code": "XSS", "account": admin.ids["acme"], "then": "next", "q": "zzz"})
    assert query_of(last.headers["location"]) == {"q": "zzz", "sel": "XSS"}
    assert "No unlinked one is left for this search" in part(admin.client.get(last.headers["location"]).text, "flash")


def test_the_selected_record_decides_the_page_of_the_list(tmp_path):
    sites = [[("SiteID", str(i)), ("SiteCode", f"S{i:03d}"), ("Name", f"Site {i}"), ("ClientName", "")]
             for i in range(120)]
    made = make_console(tmp_path, inventory=False)
    write_inventory(tmp_path, sites=sites)
    try:
        assert made.signin().status_code == 303
        page = made.client.get("/sites?sel=S077").text
        assert "51–100 of 120" in part(page, "list") and "S077" in part(page, "detail-title")
        answer = made.post("/site/create-account", {"code": "S099", "then": "next"})
        assert query_of(answer.headers["location"]) == {"sel": "S100"}
        after = made.client.get(answer.headers["location"]).text
        assert "51–100 of 119" in part(after, "list") and "S100" in part(after, "detail-title")
    finally:
        made.client.close()
        made.app.close()


def test_create_account_defaults_to_the_client_name_and_offers_the_site_name(admin):
    page = admin.client.get("/sites?sel=ACME-HQ").text
    form = lxml.html.fromstring(page).get_element_by_id("new-account-name")
    assert form.get("value") == "ACME"
    assert "ACME Inc." in part(page, "create-account-site-name")
    answer = admin.post("/site/create-account", {"code": "ACME-HQ", "name": "  ACME   Group "})
    assert answer.status_code == 303
    assert admin.psa.get_account(admin.state.account_for_site("ACME-HQ")).name == "ACME Group"


def test_an_account_made_from_a_site_is_an_exact_match_for_the_clients_other_sites(tmp_path):
    sites = [[("SiteID", "1"), ("SiteCode", "BR-HQ"), ("Name", "Blue River Dental LLC - Head Office"),
              ("ClientName", "Blue River Dental LLC")],
             [("SiteID", "2"), ("SiteCode", "BR-EAST"), ("Name", "Blue River Dental LLC - East Clinic"),
              ("ClientName", "Blue River Dental LLC")]]
    made = make_console(tmp_path, inventory=False)
    write_inventory(tmp_path, sites=sites)
    try:
        links = LinksManager(made.app)
        rec_id = links.create_account_from_site("BR-HQ", "admin")
        assert made.psa.get_account(rec_id).name == "Blue River Dental LLC"
        best = links.suggest_accounts("BR-EAST", limit=1)[0]
        assert (best.rec_id, best.verdict) == (rec_id, "exact")
        assert [row.action for row in links.review_plan(None)] == ["link"]
    finally:
        made.client.close()
        made.app.close()


def test_an_asset_for_a_device_of_an_unlinked_site_is_put_in_a_picked_account(admin):
    page = admin.client.get("/devices?sel=D-3").text
    tree = lxml.html.fromstring(page)
    assert not tree.xpath('//input[@name="account" and not(@type="hidden")]')  # no REC ID to type
    assert "Northwind Logistics" in part(page, "account-choices")  # the site's suggestion, one click away
    found = admin.client.get("/devices?sel=D-3&find=smith").text
    assert "Smith and Sons Ltd" in part(found, "account-choices")
    answer = admin.post("/device/create-asset", {"id": "D-3", "account": admin.ids["smith"], "then": "next"})
    assert answer.status_code == 303 and query_of(answer.headers["location"]) == {"sel": "D-4"}
    asset = admin.psa.get_asset(admin.state.asset_for_device("D-3"))
    assert (asset.name, asset.account_rec_id) == ("NW-LT01", admin.ids["smith"])


def test_a_refused_action_says_what_to_do_in_the_console_and_links_back(admin):
    admin.client.headers["referer"] = "http://127.0.0.1/devices?sel=D-4"
    refused = admin.post("/device/create-asset", {"id": "D-4"})
    del admin.client.headers["referer"]
    message = part(refused.text, "manager")
    assert refused.status_code == 409 and "not linked to an account" in message
    assert no_cli_advice(message) and "account search" in message
    assert lxml.html.fromstring(refused.text).get_element_by_id("back").get("href") == "/devices?sel=D-4"


@pytest.mark.parametrize("url, words", [
    ("/sites?sel=NOPE", "pick one from the Sites page"),
    ("/devices?sel=D-99", "pick one from the Devices page"),
])
def test_an_unknown_record_is_explained_in_web_terms(admin, url, words):
    page = admin.client.get(url).text
    assert words in part(page, "detail-problem") and no_cli_advice(part(page, "detail-problem"))


def test_errors_of_actions_and_missing_inventory_speak_of_the_console(admin, tmp_path):
    answer = admin.post("/site/link", {"code": "NOPE", "account": admin.ids["acme"]})
    assert answer.status_code == 404 and no_cli_advice(part(answer.text, "manager"))
    LinksManager(admin.app).link_site("NW", admin.ids["acme"], "admin")
    again = admin.post("/site/create-account", {"code": "NW"})
    assert again.status_code == 409 and "Remove link" in part(again.text, "manager")
    assert no_cli_advice(part(again.text, "manager"))
    for path in (admin.folder / "Dbsys").glob("Zenith*.cmt"):
        path.unlink()
    missing = admin.client.get("/sites").text
    assert "not been downloaded yet" in part(missing, "no-inventory")
    assert no_cli_advice(part(missing, "no-inventory"))


def test_the_accounts_page_lists_every_account_a_page_at_a_time(admin):
    page = admin.client.get("/accounts").text
    listed = part(page, "accounts")
    assert all(name in listed for name in ("Acme, Inc", "Smith and Sons Ltd", "Northwind Logistics"))
    assert "Smith and Sons Ltd" in part(admin.client.get("/accounts?q=smith").text, "accounts")
    assert "Acme" not in part(admin.client.get("/accounts?q=smith").text, "accounts")


def test_the_inbox_finds_the_account_by_words_without_a_list_of_every_account(admin):
    admin.psa.add_ticket(admin.ids["acme"], "Printer jam", in_inbox=True)
    admin.psa.add_ticket(admin.ids["smith"], "VPN down", in_inbox=True)
    page = admin.client.get("/tickets").text
    assert not lxml.html.fromstring(page).xpath('//select[@name="account"]')
    found = admin.client.get("/tickets?who=smith").text
    assert "VPN down" in part(found, "tickets") and "Printer jam" not in part(found, "tickets")


def test_the_favicon_is_served(admin):
    answer = admin.client.get("/favicon.ico")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/x-icon"
    assert answer.content[:4] == b"\x00\x00\x01\x00"


def test_the_status_page_shows_the_inventory_in_use_not_an_older_refreshs_counts(admin):
    # The agent's last refresh found 12 sites and 48 devices; the files were written since (by a
    # refresh from the command line): 4 sites, 4 devices, generated 2026-11-27 10:00.
    admin.state.set_states({"last_inventory_refresh": "2026-11-20T08:00:00Z", "inventory_sites": "12",
                            "inventory_devices": "48"})
    shown = part(admin.client.get("/status").text, "inventory")
    assert shown.startswith("4 sites, 4 devices, downloaded 2026-11-27 10:00:00 UTC")
    assert "written after the agent's own last refresh: 2026-11-20 08:00:00 UTC" in shown
    assert "12 sites" not in admin.client.get("/status").text
    admin.state.set_states({"last_inventory_refresh": "2026-11-27T10:00:00Z", "inventory_sites": "4"})
    assert part(admin.client.get("/status/panel").text, "inventory") == \
        "4 sites, 4 devices, downloaded 2026-11-27 10:00:00 UTC"


def test_ticket_and_account_errors_on_the_web_say_what_to_do_there(admin):
    ticket = admin.psa.add_ticket(admin.ids["smith"], "Disk low", in_inbox=True)
    refused = admin.post(f"/tickets/{ticket}/create", {"assign": "NOC"}, page=f"/tickets/{ticket}")
    assert refused.status_code == 409 and "Link its site first on the Sites page" in part(refused.text, "manager")
    noted = admin.post(f"/tickets/{ticket}/note", {"note": "hello"}, page=f"/tickets/{ticket}")
    assert "Create in Continuum, on the ticket's page" in part(noted.text, "manager")
    gone = admin.post("/site/link", {"code": "NW", "account": "CRD0000000000000000X"})
    assert gone.status_code == 404 and "Reload the page and choose again" in part(gone.text, "manager")
    for answer in (refused, noted, gone):
        assert no_cli_advice(part(answer.text, "manager"))


def test_a_signed_out_screen_goes_to_the_sign_in_page_whole_and_back_where_it_was(console):
    swapped = console.client.get("/sites?sel=NW", headers={"HX-Request": "true"}, follow_redirects=False)
    assert swapped.status_code == 204 and swapped.headers["hx-redirect"] == "/signin?next=%2Fsites%3Fsel%3DNW"
    posted = console.client.post("/site/link", data={"code": "NW", "account": "x"}, follow_redirects=False,
                                 headers={"referer": "http://127.0.0.1/sites?sel=NW"})
    assert posted.status_code == 303 and posted.headers["location"] == "/signin?next=%2Fsites%3Fsel%3DNW"


def test_devices_link_and_go_to_the_next_unlinked_of_the_same_search(admin):
    asset = next(a.rec_id for a in admin.psa.list_assets() if a.serial == "PF3ABC12")
    answer = admin.post("/device/link", {"id": "D-3", "asset": asset, "then": "next", "q": "lenovo"})
    assert query_of(answer.headers["location"]) == {"q": "lenovo", "sel": "D-4"}
    page = admin.client.get(answer.headers["location"]).text
    assert "Device D-3 linked to asset" in part(page, "flash") and "NW-LT02" in part(page, "detail-title")
    assert "Unlinked 2" in part(page, "tab-unlinked") and "Linked 1" in part(page, "tab-linked")
