"""The Links Manager screen in a real browser (headless Chromium, Playwright): working through a
list of unlinked sites on one screen, by mouse and by keyboard, without typing a REC ID.

The console runs in uvicorn on a free loopback port over a real store. ``window.sameDocument``
is set on the page once: it survives htmx swaps and is gone after any full page load, so it
tells that the journey never left the screen.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from agent.web.server import WebServer, resolve_listen

from test_web_browser import browser_context, shot, sign_in  # noqa: F401 - fixture
from test_web_support import DEVICES, cheap_hasher, make_console, write_inventory

pytestmark = pytest.mark.browser

CLIENTS = 24


def client_sites() -> list[list[tuple[str, str]]]:
    return [[("SiteID", str(100 + i)), ("SiteCode", f"C{i:02d}-HQ"), ("Name", f"Client {i:02d} Dental - Head Office"),
             ("ClientName", f"Client {i:02d} Dental")] for i in range(CLIENTS)]


def settled(page) -> None:
    """Wait until htmx has swapped the screen and made its new links and forms its own: a click
    before that is a plain page load (which works, but leaves the screen)."""
    from playwright.sync_api import expect

    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


@pytest.fixture
def manager(tmp_path, browser_context):  # noqa: F811 - the fixture imported above
    """A console whose inventory has 24 unlinked sites, each with an account of its client's name."""
    made = make_console(tmp_path, inventory=False)
    write_inventory(tmp_path, sites=client_sites(), devices=DEVICES)
    made.accounts = {f"C{i:02d}-HQ": made.psa.add_account(f"Client {i:02d} Dental") for i in range(CLIENTS)}
    server = WebServer(made.app, resolve_listen(made.app.settings, "127.0.0.1:0"), hasher=cheap_hasher())
    made.url = server.start()
    browser_context.clear_cookies()
    made.page = browser_context.new_page()
    yield made
    made.page.close()
    server.stop()
    made.client.close()
    made.app.close()


def test_link_twenty_unlinked_sites_in_sequence_on_one_screen(manager):
    from playwright.sync_api import expect

    sign_in(manager)
    page = manager.page
    page.evaluate("window.sameDocument = true")
    codes = [f"C{i:02d}-HQ" for i in range(20)]
    for number, code in enumerate(codes):
        expect(page.locator("#detail-title")).to_contain_text(code)
        expect(page.locator("#list tr.selected")).to_contain_text(code)
        settled(page)
        if number % 2:
            page.keyboard.press("Enter")  # links the top suggestion and goes to the next
        else:
            page.click("#link-top")
        expect(page.locator("#flash")).to_contain_text(f"Site {code} linked to Client {number:02d} Dental")
        if number == 2:
            shot(page, "links-manager")
    expect(page.locator("#detail-title")).to_contain_text("C20-HQ")
    expect(page.locator("#tab-unlinked")).to_contain_text("4")
    expect(page.locator("#tab-linked")).to_contain_text("20")
    assert page.evaluate("window.sameDocument === true"), "the journey left the screen"
    assert urlsplit(page.url).path == "/sites"
    assert {code: manager.state.account_for_site(code) for code in codes} == {
        code: manager.accounts[code] for code in codes}
    assert page.locator("input[name=account]:not([type=hidden])").count() == 0  # nowhere to type a REC ID
    # No copy of the pages (and their security tokens) is kept in the browser's storage; going
    # back asks the server, which shows the site as it is now: linked.
    assert page.evaluate("[localStorage, sessionStorage].every(s => !s.getItem('htmx-history-cache'))")
    page.go_back()
    expect(page.locator("#detail-title")).to_contain_text("C19-HQ")
    expect(page.locator("#linked")).to_contain_text("Client 19 Dental")


def test_the_keyboard_moves_through_the_list_and_the_search_stays(manager):
    from playwright.sync_api import expect

    sign_in(manager)
    page = manager.page
    page.evaluate("window.sameDocument = true")
    for key, code in (("ArrowDown", "C01-HQ"), ("j", "C02-HQ"), ("k", "C01-HQ"), ("n", "C02-HQ")):
        page.keyboard.press(key)  # n: skip to the next unlinked without linking
        expect(page.locator("#detail-title")).to_contain_text(code)
        settled(page)
    page.keyboard.press("/")
    page.keyboard.type("c1")  # htmx narrows the list as one types
    expect(page.locator("#list tbody tr")).to_have_count(10)
    expect(page.locator("#detail-title")).to_contain_text("C10-HQ")
    settled(page)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("Site C10-HQ linked")
    expect(page.locator("#detail-title")).to_contain_text("C11-HQ")
    expect(page.locator("#q")).to_have_value("c1")
    assert parse_qs(urlsplit(page.url).query).get("q") == ["c1"]
    assert page.evaluate("window.sameDocument === true")


def test_pick_an_account_by_search_and_create_an_account_named_after_the_client(manager):
    from playwright.sync_api import expect

    sign_in(manager)
    page = manager.page
    page.goto(f"{manager.url}/sites?sel=C05-HQ")
    page.keyboard.press("f")
    page.keyboard.type("client 07")
    page.keyboard.press("Enter")
    expect(page.locator("#matches")).to_contain_text("Client 07 Dental")
    page.locator("#matches button.link-next").first.click()
    expect(page.locator("#flash")).to_contain_text("Site C05-HQ linked to Client 07 Dental")
    assert manager.state.account_for_site("C05-HQ") == manager.accounts["C07-HQ"]
    page.goto(f"{manager.url}/sites?sel=NEW")  # an unknown site: the details say what to do
    expect(page.locator("#detail-problem")).to_contain_text("pick one from the Sites page")


def test_without_javascript_the_same_screen_works_by_plain_forms(manager):
    from playwright.sync_api import expect

    page = manager.page
    page.route(re.compile(r"\.js$"), lambda route: route.abort())  # no htmx, no shortcuts
    sign_in(manager)
    page.evaluate("window.sameDocument = true")
    page.click("#link-top")
    expect(page.locator("#flash")).to_contain_text("Site C00-HQ linked")
    expect(page.locator("#detail-title")).to_contain_text("C01-HQ")
    assert page.evaluate("window.sameDocument === undefined")  # a full page load: plain HTML did it


def test_a_device_of_an_unlinked_site_gets_its_asset_in_an_account_picked_with_a_click(manager):
    from playwright.sync_api import expect

    sign_in(manager)
    page = manager.page
    page.goto(f"{manager.url}/devices?sel=D-3")
    expect(page.locator("#no-site-account")).to_contain_text("not linked to an account")
    page.fill("#find", "client 03")
    page.keyboard.press("Enter")
    expect(page.locator("#account-choices")).to_contain_text("Client 03 Dental")
    page.locator("#create").scroll_into_view_if_needed()
    shot(page, "device-account-picker")
    page.locator("#account-choices button.create-in").first.click()
    expect(page.locator("#flash")).to_contain_text("created from device D-3")
    asset = manager.psa.get_asset(manager.state.asset_for_device("D-3"))
    assert asset.account_rec_id == manager.accounts["C03-HQ"]
