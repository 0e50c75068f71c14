"""The Links Manager and the web console on the sites of a snapshot RMM: N-able N-sight (client →
site → device) and NinjaOne (organization → location → device), their inventory downloaded from
the RMM's sandbox over loopback, the screens served in process (Starlette's TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agent.app import App
from agent.ports.rmm import Device, Site
from agent.sync.inventory.refresh import refresh
from agent.sync.links import LinksManager
from agent.sync.links.plan import PlanAction
from agent.web.app import create_app
from agent.web.auth import set_password

from conftest import psa_backend
from rmm_support import SnapshotRmm, snapshot_rmm
from test_web_pages import part, text, ticked
from test_web_support import PASSWORD, Console, FakeClock, cheap_hasher


@dataclass
class RmmConsole:
    console: Console
    rmm: SnapshotRmm
    sites: list[Site]
    devices: list[Device]
    accounts: dict[str, str]
    """The PSA's account of each of the RMM's clients (organizations), by the client's name."""

    @property
    def app(self) -> App:
        return self.console.app

    @property
    def links(self) -> LinksManager:
        return LinksManager(self.app)

    def of_client(self, client: str) -> list[Site]:
        return [s for s in self.sites if s.client_name == client]


@pytest.fixture(params=["nsight", "ninjaone"])
def rmm_console(request, tmp_path: Path) -> Iterator[RmmConsole]:
    with snapshot_rmm(request.param) as rmm:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(rmm.ini() + f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n", encoding="utf-8")
        app = App(ini)
        app.set_rmm(rmm.client())
        refresh(app)
        hasher = cheap_hasher()
        app.state.add_employee("admin", "Ada Admin", "Full")
        set_password(app, "admin", PASSWORD, by="admin", hasher=hasher)
        sites, devices = rmm.sites(), rmm.devices()
        clients = sorted({s.client_name for s in sites})
        # The PSA holds an account for the first client only, spelt exactly as the RMM spells it.
        accounts = {clients[0]: app.psa.add_account(clients[0])}
        client = TestClient(create_app(app, clock=FakeClock(), hasher=hasher), base_url="http://127.0.0.1")
        console = Console(app, client, FakeClock(), tmp_path, accounts)
        assert console.signin().status_code == 303
        try:
            yield RmmConsole(console, rmm, sites, devices, accounts)
        finally:
            client.close()
            app.close()


def test_the_sites_screen_lists_each_site_under_its_client_with_its_devices(rmm_console):
    web, site = rmm_console.console, rmm_console.sites[0]
    page = web.client.get("/sites").text
    assert f"Unlinked {len(rmm_console.sites)}" in part(page, "tab-unlinked")
    listed = part(page, "list")
    assert all(s.name in listed for s in rmm_console.sites)
    detail = web.client.get(f"/sites?sel={site.site_code}").text
    assert site.name in part(detail, "detail-title") and site.client_name in text(detail)
    own = [d.name for d in rmm_console.devices if d.site_code == site.site_code]
    assert own and all(name in part(detail, "site-devices") for name in own)


def test_suggestions_name_the_clients_account_and_the_review_links_its_sites_only(rmm_console):
    web = rmm_console.console
    (client, account), = rmm_console.accounts.items()
    own = {s.site_code for s in rmm_console.of_client(client)}
    first = sorted(own)[0]
    suggestions = part(web.client.get(f"/sites?sel={first}").text, "suggestions")
    assert client in suggestions and "exact" in suggestions
    review = web.client.get("/sites/review").text
    assert ticked(review) == own  # the sure rows: every site of the client with an account, no other
    form = {"link": sorted(own), **{f"account:{code}": account for code in own}}
    assert web.post("/sites/review", form, page="/sites/review").status_code == 303
    assert {code for code, linked in web.state.site_links().items() if linked == account} == own
    others = [s for s in rmm_console.sites if s.site_code not in own]
    assert others and all(web.state.account_for_site(s.site_code) is None for s in others)


def test_an_account_made_from_a_site_is_named_after_its_client_and_takes_the_clients_other_sites(rmm_console):
    web = rmm_console.console
    client = sorted({s.client_name for s in rmm_console.sites})[-1]  # no account of its own yet
    first, *rest = rmm_console.of_client(client)
    assert rest, "the sandbox gives each client several sites"
    assert web.post("/site/create-account", {"code": first.site_code}).status_code == 303
    made = web.state.account_for_site(first.site_code)
    assert made and web.psa.get_account(made).name == client
    plan = {row.site_code: row for row in rmm_console.links.review_plan(None)}
    assert all(plan[s.site_code].account_rec_id == made and plan[s.site_code].action is PlanAction.LINK for s in rest)


def test_the_devices_screen_and_an_asset_made_from_a_device(rmm_console):
    web = rmm_console.console
    device = rmm_console.devices[0]
    page = web.client.get("/devices").text
    assert f"Unlinked {len(rmm_console.devices)}" in part(page, "tab-unlinked")
    assert device.name in part(web.client.get(f"/devices?q={device.name}").text, "list")
    assert device.name in text(web.client.get(f"/device?id={device.device_id}").text)
    (account,) = rmm_console.accounts.values()
    answer = web.post("/device/create-asset", {"id": device.device_id, "account": account}, page="/devices")
    assert answer.status_code == 303
    asset = web.state.asset_for_device(device.device_id)
    assert asset and web.psa.get_asset(asset).name == device.name
    assert device.name in part(web.client.get("/devices?tab=linked").text, "list")
