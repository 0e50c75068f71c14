"""The web console's pages and actions, in process (Starlette's test client) over a real store."""

from __future__ import annotations

import re

import lxml.html
import pytest

from agent.sync import records
from agent.sync.links import LinksManager

from test_web_support import admin, console, make_console, reader  # noqa: F401 - fixtures


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def part(html: str, element_id: str) -> str:
    """The text of the page's element with that id ('' when the page has none)."""
    found = lxml.html.fromstring(html).get_element_by_id(element_id, None)
    return "" if found is None else " ".join(found.text_content().split())


def ticked(html: str) -> set[str]:
    """The values of the checked checkboxes named ``link``."""
    tags = re.findall(r'<input type="checkbox" name="link"[^>]*>', html)
    return {re.search(r'value="([^"]+)"', t).group(1) for t in tags if re.search(r"\schecked\b", t)}


PAGES = ["/sites", "/sites?tab=linked", "/sites?sel=ACME-HQ", "/site?code=ACME-HQ", "/sites/review", "/devices",
         "/devices?tab=linked", "/devices?sel=D-1", "/device?id=D-1", "/devices/review?by=serial",
         "/devices/review?by=name", "/accounts", "/tickets",
         "/tickets?inbox=0", "/status", "/status/panel"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_a_signed_in_employee(admin, url):
    answer = admin.client.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_the_signed_out_to_the_sign_in(console, url):
    answer = console.client.get(url, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")


def test_sites_tabs_search_and_paging(admin):
    unlinked = text(admin.client.get("/sites").text)
    assert "ACME-HQ" in unlinked and "Northwind Traders" in unlinked
    found = text(admin.client.get("/sites?q=northwind").text)
    assert "Northwind Traders" in found and "ACME-HQ" not in found
    LinksManager(admin.app).link_site("ACME-HQ", admin.ids["acme"], "admin")
    assert "ACME-HQ" not in text(admin.client.get("/sites").text)
    linked = text(admin.client.get("/sites?tab=linked").text)
    assert "ACME-HQ" in linked and "Acme, Inc" in linked


def test_a_sites_suggestions_show_score_and_reason_and_link(admin):
    page = text(admin.client.get("/site?code=ACME-HQ").text)
    assert "Acme, Inc" in page and "100" in page and "same name once normalised" in page
    answer = admin.post("/site/link", {"code": "ACME-HQ", "account": admin.ids["acme"]})
    assert answer.status_code == 303 and answer.headers["location"] == "/sites?sel=ACME-HQ"
    assert admin.state.account_for_site("ACME-HQ") == admin.ids["acme"]
    shown = text(admin.client.get(answer.headers["location"]).text)
    assert "Site ACME-HQ linked to Acme, Inc." in shown and "Remove link" in shown
    assert admin.state.audit_log(1)[0]["who"] == "admin"


def test_account_search_from_a_site(admin):
    page = admin.client.get("/sites?sel=NW&find=smith").text
    assert "Smith and Sons Ltd" in part(page, "matches")


def test_create_account_from_site_and_remove_the_link(admin):
    answer = admin.post("/site/create-account", {"code": "NW"})
    assert answer.status_code == 303
    rec_id = admin.state.account_for_site("NW")
    assert admin.psa.get_account(rec_id).name == "Northwind Traders"
    assert admin.post("/site/unlink", {"code": "NW"}).status_code == 303
    assert admin.state.account_for_site("NW") is None


def test_remove_every_link_of_an_account_lists_what_goes_first(admin):
    links = LinksManager(admin.app)
    links.link_site("ACME-HQ", admin.ids["acme"], "admin")
    links.link_site("NW", admin.ids["acme"], "admin")
    ticket = admin.psa.add_ticket(admin.ids["acme"], "Disk low")
    admin.state.link_ticket("CT-9", ticket, acked=True)
    page = text(admin.client.get(f"/account/unlink?rec={admin.ids['acme']}").text)
    assert "2 site link(s)" in page and "ACME-HQ" in page and "NW" in page and "CT-9" in page
    assert admin.state.sites_for_account(admin.ids["acme"])  # looking changes nothing
    answer = admin.post("/account/unlink", {"rec": admin.ids["acme"]})
    assert answer.status_code == 303
    assert admin.state.sites_for_account(admin.ids["acme"]) == []
    assert admin.state.continuum_for_ticket(ticket) is None


def test_site_review_preselects_sure_rows_only_and_links_the_ticked(admin):
    page = admin.client.get("/sites/review").text
    assert ticked(page) == {"ACME-HQ", "SMITH"}
    assert "each name has a word the other lacks" in text(page)  # Northwind Traders ~ Northwind Logistics
    assert "NW" not in ticked(page)  # shown as weak, not ticked
    form = {"link": ["ACME-HQ", "NW"], "account:ACME-HQ": admin.ids["acme"], "account:NW": admin.ids["northwind"]}
    answer = admin.post("/sites/review", form, page="/sites/review")
    assert answer.status_code == 303
    assert admin.state.account_for_site("ACME-HQ") == admin.ids["acme"]
    assert admin.state.account_for_site("NW") == admin.ids["northwind"]
    assert admin.state.account_for_site("SMITH") is None  # unticked


def test_site_review_leaves_a_row_whose_suggestion_changed(admin):
    form = {"link": ["ACME-HQ"], "account:ACME-HQ": admin.ids["smith"]}  # not what the plan suggests
    answer = admin.post("/sites/review", form, page="/sites/review")
    assert answer.status_code == 303
    assert admin.state.account_for_site("ACME-HQ") is None
    assert "suggestion changed" in text(admin.client.get("/sites/review").text)


def test_devices_search_link_by_suggestion_and_unlink(admin):
    assert "NW-LT01" in part(admin.client.get("/devices?q=lenovo nw-lt01").text, "list")
    assert "ACME-DC01" not in part(admin.client.get("/devices?q=lenovo").text, "list")
    page = text(admin.client.get("/device?id=D-1").text)
    assert "same serial number" in page
    asset = next(a.rec_id for a in admin.psa.list_assets() if a.serial == "7XK2Q13")
    assert admin.post("/device/link", {"id": "D-1", "asset": asset}).status_code == 303
    assert admin.state.asset_for_device("D-1") == asset
    assert "ACME-DC01" in part(admin.client.get("/devices?tab=linked").text, "list")
    assert admin.post("/device/unlink", {"id": "D-1"}).status_code == 303
    assert admin.state.asset_for_device("D-1") is None


def test_create_asset_from_device_needs_an_account_then_copies_the_details(admin):
    refused = admin.post("/device/create-asset", {"id": "D-3"})
    assert refused.status_code == 409 and "not linked to an account" in text(refused.text)
    LinksManager(admin.app).link_site("NW", admin.ids["northwind"], "admin")
    assert admin.post("/device/create-asset", {"id": "D-3"}).status_code == 303
    asset = admin.psa.get_asset(admin.state.asset_for_device("D-3"))
    assert (asset.name, asset.serial, asset.manufacturer, asset.account_rec_id) == (
        "NW-LT01", "PF3ABC12", "LENOVO", admin.ids["northwind"])


def test_device_review_by_serial_shows_ties_unticked(admin):
    page = admin.client.get("/devices/review?by=serial").text
    assert ticked(page) == {"D-1", "D-3"}
    assert "D-2" in page and "D-4" in page and "tie: shared by several" in text(page)
    spare = next(a.rec_id for a in admin.psa.list_assets() if a.serial == "PF0SAME1")
    form = {"by": "serial", "link": ["D-1", "D-2"], "asset:D-1": next(
        a.rec_id for a in admin.psa.list_assets() if a.serial == "7XK2Q13"), "asset:D-2": spare}
    assert admin.post("/devices/review", form, page="/devices/review").status_code == 303
    assert admin.state.asset_for_device("D-1") and admin.state.asset_for_device("D-2") == spare
    assert admin.state.asset_for_device("D-3") is None  # left unticked


def test_device_review_by_machine_name(admin):
    admin.psa.add_asset("nw-lt02.corp.example", admin.ids["acme"])
    page = admin.client.get("/devices/review?by=name").text
    assert "D-4" in page and "nw-lt02.corp.example" in page


def test_rename_and_merge_an_auto_created_account(admin):
    auto = admin.psa.add_account("[Continuum AUTO CREATED] Smith & Sons", auto_created=True)
    admin.state.link_site("SMITH", auto, by="agent")
    ticket = admin.psa.add_ticket(auto, "Printer jammed")
    page = admin.client.get("/accounts").text
    assert "[Continuum AUTO CREATED] Smith &amp; Sons" in page and "&amp;amp;" not in page
    merge_page = text(admin.client.get(f"/account/merge?rec={auto}").text)
    assert "Merge into Smith and Sons Ltd" in merge_page  # suggested from its site's name
    assert admin.post("/account/rename", {"rec": auto, "name": "Smith & Sons (temp)"},
                      page="/accounts").status_code == 303
    assert admin.psa.get_account(auto).name == "Smith & Sons (temp)"
    answer = admin.post("/account/merge", {"rec": auto, "into": admin.ids["smith"]}, page="/accounts")
    assert answer.status_code == 303
    assert admin.state.account_for_site("SMITH") == admin.ids["smith"]
    assert admin.psa.get_ticket(ticket).account_rec_id == admin.ids["smith"]


def test_inbox_filters_and_a_ticket_with_its_history(admin):
    rec_id = admin.psa.add_ticket(admin.ids["acme"], "Backup failed\nNight job", in_inbox=True)
    admin.psa.add_history(rec_id, "Created in Continuum at 10:00")
    admin.psa.add_ticket(admin.ids["smith"], "Not in the inbox")
    inbox = text(admin.client.get("/tickets").text)
    assert "Backup failed" in inbox and "Not in the inbox" not in inbox
    everything = text(admin.client.get("/tickets?inbox=0").text)
    assert "Not in the inbox" in everything
    only_smith = text(admin.client.get(f"/tickets?inbox=0&account={admin.ids['smith']}").text)
    assert "Backup failed" not in only_smith and "Not in the inbox" in only_smith
    assert "Backup failed" not in text(admin.client.get("/tickets?inbox=0&status=1000").text)
    page = text(admin.client.get(f"/tickets/{rec_id}").text)
    assert "Created in Continuum at 10:00" in page and "not linked to a Continuum site" in page


def test_a_completed_ticket_is_not_in_the_web_inbox(admin):
    from agent.ports.psa import STATUS_COMPLETED

    done = admin.psa.add_ticket(admin.ids["acme"], "Printer fixed", in_inbox=True)
    admin.psa.add_ticket(admin.ids["acme"], "Printer jams", in_inbox=True)
    admin.psa.set_ticket_status(done, STATUS_COMPLETED)
    inbox = text(admin.client.get("/tickets").text)
    assert "Printer jams" in inbox and "Printer fixed" not in inbox
    assert "Printer fixed" in text(admin.client.get("/tickets?inbox=0").text)


def test_create_in_continuum_with_a_site_chooser_queues_and_shows_queued(admin):
    LinksManager(admin.app).link_site("ACME-HQ", admin.ids["acme"], "admin")
    LinksManager(admin.app).link_site("NW", admin.ids["acme"], "admin")
    rec_id = admin.psa.add_ticket(admin.ids["acme"], "Server down", in_inbox=True)
    page = admin.client.get(f"/tickets/{rec_id}").text
    assert '<select name="site"' in page
    answer = admin.post(f"/tickets/{rec_id}/create", {"assign": "VSD", "site": "NW", "note": "please"},
                        page=f"/tickets/{rec_id}")
    assert answer.status_code == 303
    [row] = admin.state.outbox_for_ticket(rec_id)
    assert (row.payload["site_code"], row.payload["assign_to"], row.requested_by) == ("NW", "VSD", "admin")
    shown = text(admin.client.get(f"/tickets/{rec_id}").text)
    assert "queued" in shown and "creation queued" in shown
    assert 'hx-trigger="every 2s"' in admin.client.get(f"/tickets/{rec_id}/outbox").text
    assert f'hx-get="/tickets/{rec_id}/outbox"' in admin.client.get(f"/tickets/{rec_id}").text


def test_reassign_note_and_complete_a_linked_ticket(admin):
    LinksManager(admin.app).link_site("ACME-HQ", admin.ids["acme"], "admin")
    rec_id = admin.psa.add_ticket(admin.ids["acme"], "Disk low")
    admin.state.link_ticket("CT-1", rec_id, acked=True)
    url = f"/tickets/{rec_id}"
    assert admin.post(f"{url}/reassign", {"assign": "Partner", "note": "yours"}, page=url).status_code == 303
    assert admin.post(f"{url}/note", {"note": "a note"}, page=url).status_code == 303
    assert admin.post(f"{url}/complete", {"note": "fixed"}, page=url).status_code == 303
    assert [r.action for r in admin.state.outbox_for_ticket(rec_id)] == ["assign", "note", "close"]
    assert records.get_ticket(admin.state, admin.psa, rec_id).status_code == 1000
    empty = admin.post(f"{url}/note", {"note": ""}, page=url)
    assert empty.status_code == 400


def test_a_failed_outbox_row_says_why_on_the_ticket_and_the_status_page(admin):
    rec_id = admin.psa.add_ticket(admin.ids["acme"], "Disk low")
    admin.state.link_ticket("CT-2", rec_id, acked=True)
    row = admin.state.enqueue_outbox("k-1", rec_id, "note", {"text": "x"}, requested_by="admin")
    admin.state.outbox_finish(row, "failed", error="Continuum refused it: ticket CT-2 is closed")
    assert "failed" in text(admin.client.get(f"/tickets/{rec_id}").text)
    assert "ticket CT-2 is closed" in text(admin.client.get(f"/tickets/{rec_id}").text)
    assert "ticket CT-2 is closed" in text(admin.client.get("/status").text)


def test_status_shows_queue_outbox_error_reports_and_the_audit_log(admin):
    from dbsys import reports

    name = reports.write_report(admin.app.settings.dbsys_folder, "inventory", "the inventory download failed",
                                "Continuum answered 401", "Check the PSG.")
    page = text(admin.client.get("/status").text)
    assert "off: inventory and links only" in page and "0 waiting" in page
    assert "the inventory download failed" in page and "web_sign_in" in page
    report = text(admin.client.get(f"/errors?name={name.name if hasattr(name, 'name') else name}").text)
    assert "Continuum answered 401" in report and "Check the PSG." in report
    assert 'hx-trigger="every 5s"' in admin.client.get("/status/panel").text


def test_the_status_panel_says_since_when_continuum_does_not_answer(admin):
    assert "no outage" in text(admin.client.get("/status/panel").text)
    admin.state.set_state("outage_since", "2026-11-27T10:00:00.000000Z")
    panel = text(admin.client.get("/status/panel").text)
    assert "not answering since 2026-11-27 10:00:00 UTC" in panel


def test_without_inventory_the_links_pages_say_so_and_point_to_the_error_reports(tmp_path):
    made = make_console(tmp_path, inventory=False)
    try:
        assert made.signin().status_code == 303
        for url in ("/sites", "/devices", "/site?code=X", "/device?id=Y", "/sites/review", "/devices/review"):
            page = made.client.get(url).text
            assert 'id="no-inventory"' in page and "/status#errors" in page, url
            assert "have not been downloaded yet" in text(page)
    finally:
        made.client.close()
        made.app.close()
