"""Links manager (R17-R22) through its API on real .cmt files and a real SQLite store."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent import events
from agent.app import App
from agent.errors import MissingUser, NotFoundError, PreconditionError, PrivilegeError, UnknownEmployee, UsageError
from agent.hookspecs import hookimpl
from agent.sync import accounts, records
from agent.sync.links import DevicePlanRow, LinksManager, PlanAction, SitePlanRow
from dbsys import cmt

from conftest import psa_backend
from rmm_support import SnapshotRmm
from test_outbound_support import make_app, make_snapshot_app, sandbox  # noqa: F401 - a fixture

GENERATED = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)
SITES = [
    [("SiteID", "101"), ("SiteCode", "ACME-HQ"), ("Name", "ACME Inc."), ("ClientName", "ACME")],
    [("SiteID", "102"), ("SiteCode", "ACME-BR"), ("Name", "ACME branch"), ("ClientName", "ACME")],
    [("SiteID", "103"), ("SiteCode", "SMITH"), ("Name", "Smith & Sons"), ("ClientName", "Smith & Sons")],
    [("SiteID", "104"), ("SiteCode", "NW"), ("Name", "Northwind Traders"), ("ClientName", "")],
]
DEVICES = [
    [("DeviceID", "D-1"), ("SiteCode", "ACME-HQ"), ("Name", "ACME-DC01"), ("FriendlyName", "Domain controller"),
     ("DeviceType", "Server"), ("Manufacturer", "Dell Inc."), ("Model", "PowerEdge R640"),
     ("SerialNumber", "7XK2Q13"), ("OperatingSystem", "Windows Server 2022"), ("IPAddress", "10.0.0.5"),
     ("MACAddress", ""), ("LastSeen", "2026-11-27T09:58:00Z")],
    [("DeviceID", "D-2"), ("SiteCode", "ACME-HQ"), ("Name", "ACME-WS07"), ("SerialNumber", "To be filled by O.E.M."),
     ("Manufacturer", "System manufacturer")],
    [("DeviceID", "D-3"), ("SiteCode", "NW"), ("Name", "NW-LT01"), ("SerialNumber", "PF3ABC12"),
     ("Manufacturer", "LENOVO")],
]


class Recorder:
    def __init__(self) -> None:
        self.events: list[events.Event] = []

    @hookimpl
    def zenith_notify(self, event):
        self.events.append(event)


def write_ini(folder: Path) -> Path:
    ini = folder / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nInstanceID=T1\n[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=zenith.db\n"
                   f"Backend={psa_backend()}\n", encoding="utf-8")
    (folder / "Dbsys").mkdir(exist_ok=True)
    return ini


def write_inventory(folder: Path, sites=SITES, devices=DEVICES) -> None:
    cmt.write_inventory(cmt.sites_path(folder / "Dbsys", "T1"), "sites", sites, GENERATED)
    cmt.write_inventory(cmt.devices_path(folder / "Dbsys", "T1"), "devices", devices, GENERATED)


def seed_people(app) -> None:
    state = app.state
    state.add_employee("admin", "Ada Admin", "Full")
    state.add_employee("pat", "Pat Partial", "Partial")


@pytest.fixture
def world(tmp_path):
    ini = write_ini(tmp_path)
    write_inventory(tmp_path)
    recorder = Recorder()
    app = App(ini, extra_plugins=[("recorder", recorder)])
    seed_people(app)
    acme = app.psa.add_account("Acme, Inc")
    smith = app.psa.add_account("Smith and Sons Ltd")
    yield SimpleNamespace(app=app, links=LinksManager(app), state=app.state, psa=app.psa, events=recorder.events,
                          acme=acme, smith=smith, folder=tmp_path)
    app.close()


def snapshot(world) -> tuple:
    state, psa = world.state, world.psa
    return (state.site_links(), state.device_links(), len(psa.list_accounts()), len(psa.list_assets()),
            len(state.audit_log()))


# -- R17: link, unlink, create ---------------------------------------------------------------
def test_link_site_audits_and_notifies(world):
    assert world.links.link_site("ACME-HQ", world.acme, "admin") is None
    assert world.state.account_for_site("ACME-HQ") == world.acme
    audit = world.state.audit_log()[0]
    assert audit["who"] == "admin" and audit["action"] == "link_site" and "ACME-HQ" in audit["detail"]
    assert [e.kind for e in world.events] == [events.LINK_CHANGED]
    assert world.events[0].data["site_code"] == "ACME-HQ" and world.events[0].data["account_rec_id"] == world.acme


def test_a_link_made_in_a_transaction_that_rolls_back_is_never_announced(world):
    with pytest.raises(RuntimeError):
        with world.state.transaction():  # as the request processor's claim transaction does
            world.links.link_site("ACME-HQ", world.acme, "admin")
            assert world.events == []  # not before the commit
            raise RuntimeError("the drop's result could not be written")
    assert world.state.account_for_site("ACME-HQ") is None and world.events == []

    with world.state.transaction():
        world.links.link_site("ACME-HQ", world.acme, "admin")
        assert world.events == []
    assert [e.kind for e in world.events] == [events.LINK_CHANGED]


def test_many_sites_to_one_account(world):
    world.links.link_site("ACME-HQ", world.acme, "admin")
    world.links.link_site("ACME-BR", world.acme, "admin")
    assert world.state.sites_for_account(world.acme) == ["ACME-BR", "ACME-HQ"]
    linked = world.links.sites(linked=True)
    assert {r["site_code"] for r in linked} == {"ACME-HQ", "ACME-BR"}
    assert all(r["account_name"] == "Acme, Inc" for r in linked)
    assert {r["site_code"] for r in world.links.sites(linked=False)} == {"SMITH", "NW"}
    assert len(world.links.sites()) == 4


def test_relinking_reports_the_previous_account(world):
    world.links.link_site("ACME-HQ", world.acme, "admin")
    assert world.links.link_site("ACME-HQ", world.smith, "admin") == world.acme
    assert world.state.account_for_site("ACME-HQ") == world.smith


def test_unlink_site(world):
    world.links.link_site("ACME-HQ", world.acme, "admin")
    world.links.link_site("ACME-BR", world.acme, "admin")
    assert world.links.unlink_site("ACME-HQ", "admin") == world.acme
    assert world.state.site_links() == {"ACME-BR": world.acme}
    assert world.state.audit_log()[0]["action"] == "unlink_site"
    with pytest.raises(PreconditionError, match="not linked"):
        world.links.unlink_site("ACME-HQ", "admin")


def test_unknown_site_or_device_is_not_found_with_a_hint(world):
    before = snapshot(world)
    with pytest.raises(NotFoundError, match="zenithlink inventory refresh"):
        world.links.link_site("NOPE", world.acme, "admin")
    with pytest.raises(NotFoundError, match="no device 'D-9'"):
        world.links.create_asset_from_device("D-9", world.acme, "admin")
    with pytest.raises(NotFoundError):
        world.links.link_site("ACME-HQ", "CRD-does-not-exist", "admin")
    assert snapshot(world) == before and world.events == []


def test_create_account_from_site_is_named_after_its_client_else_the_site(world):
    rec_id = world.links.create_account_from_site("NW", "admin")  # a site without a client name
    account = world.psa.get_account(rec_id)
    assert account.name == "Northwind Traders" and not account.auto_created and account.manager is None
    assert world.state.account_for_site("NW") == rec_id
    assert world.state.audit_log()[0]["action"] == "create_account_from_site"
    with pytest.raises(PreconditionError, match="linked to account"):
        world.links.create_account_from_site("NW", "admin")
    branch = world.links.create_account_from_site("ACME-BR", "admin")
    assert world.psa.get_account(branch).name == "ACME"  # the client's, not "ACME branch"
    named = world.links.create_account_from_site("SMITH", "admin", name=" Smith  and Sons ")
    assert world.psa.get_account(named).name == "Smith and Sons"


def test_link_and_unlink_device(world):
    asset = world.psa.add_asset("DC", world.acme, serial="X1")
    world.links.link_device("D-1", asset, "admin")
    assert world.state.asset_for_device("D-1") == asset
    rows = {r["device_id"]: r for r in world.links.devices()}
    assert rows["D-1"]["linked"] and rows["D-1"]["asset_name"] == "DC" and not rows["D-2"]["linked"]
    assert [r["device_id"] for r in world.links.devices(linked=False)] == ["D-2", "D-3"]
    assert world.links.unlink_device("D-1", "admin") == asset
    assert world.state.device_links() == {}
    assert [e.data["action"] for e in world.events] == ["link_device", "unlink_device"]


def test_create_asset_from_device_fills_fields_and_notes(world):
    world.links.link_site("ACME-HQ", world.acme, "admin")
    rec_id = world.links.create_asset_from_device("D-1", None, "admin")
    asset = world.psa.get_asset(rec_id)
    assert (asset.name, asset.serial, asset.manufacturer, asset.account_rec_id) == \
        ("ACME-DC01", "7XK2Q13", "Dell Inc.", world.acme)
    for line in ("DeviceID: D-1", "Model: PowerEdge R640", "OperatingSystem: Windows Server 2022",
                 "IPAddress: 10.0.0.5", "FriendlyName: Domain controller"):
        assert line in asset.notes.splitlines()
    assert "MACAddress" not in asset.notes and "SerialNumber" not in asset.notes
    assert world.state.asset_for_device("D-1") == rec_id


def test_create_asset_needs_an_account(world):
    before = snapshot(world)
    with pytest.raises(PreconditionError, match="--account"):
        world.links.create_asset_from_device("D-3", None, "admin")
    assert snapshot(world) == before
    rec_id = world.links.create_asset_from_device("D-3", world.smith, "admin")
    assert world.psa.get_asset(rec_id).account_rec_id == world.smith


# -- R19: unlink account cascade --------------------------------------------------------------
def test_unlink_account_removes_sites_ticket_and_asset_links(world):
    other = world.psa.add_account("Other")
    world.links.link_site("ACME-HQ", world.acme, "admin")
    world.links.link_site("ACME-BR", world.acme, "admin")
    world.links.link_site("NW", other, "admin")
    asset = world.links.create_asset_from_device("D-1", None, "admin")
    other_asset = world.links.create_asset_from_device("D-3", None, "admin")
    ticket = world.psa.add_ticket(world.acme, "disk full")
    other_ticket = world.psa.add_ticket(other, "printer")
    world.state.link_ticket("CT-1", ticket)
    world.state.link_ticket("CT-2", other_ticket)

    removed = accounts.unlink_account(world.app, world.acme, "admin")

    assert removed == {"sites": ["ACME-BR", "ACME-HQ"], "ticket_links": 1, "device_links": 1}
    assert world.state.site_links() == {"NW": other}
    assert world.state.device_links() == {"D-3": other_asset}
    assert world.state.continuum_for_ticket(ticket) is None
    assert world.state.continuum_for_ticket(other_ticket) == "CT-2"
    assert world.psa.get_asset(asset).account_rec_id == world.acme  # the records stay, only links go
    assert world.state.audit_log()[0]["action"] == "unlink_account"
    assert world.events[-1].data["action"] == "unlink_account"


# -- R20: merge ------------------------------------------------------------------------------
def test_merge_moves_sites_tickets_assets_and_later_tickets_follow(world):
    auto = world.psa.add_account("[Continuum AUTO CREATED] ACME Inc.", auto_created=True)
    world.state.link_site("ACME-HQ", auto, by="zenithlink")
    asset = world.psa.add_asset("ACME-DC01", auto)
    ticket = world.psa.add_ticket(auto, "disk full")
    world.state.link_ticket("CT-1", ticket)

    moved = accounts.merge_accounts(world.app, auto, world.acme, "admin")

    assert moved == {"sites": 1, "tickets": 1, "assets": 1}
    assert world.state.account_for_site("ACME-HQ") == world.acme
    assert records.get_ticket(world.state, world.psa, ticket).account_rec_id == world.acme
    assert records.get_ticket(world.state, world.psa, ticket).continuum_ticket_id == "CT-1"
    assert world.psa.get_asset(asset).account_rec_id == world.acme
    with pytest.raises(NotFoundError):
        world.psa.get_account(auto)
    # A later ticket of that site resolves to the master through the normal hook chain: no relink.
    later = SimpleNamespace(site_code="ACME-HQ", device_id="", id="CT-2")
    resolved = world.app.pm.hook.zenith_resolve_account(ticket=later, psa=world.app.psa_view,
                                                        settings=world.app.settings)
    assert resolved == world.acme
    assert len(world.psa.list_accounts()) == 2
    assert world.state.audit_log()[0]["action"] == "merge_accounts"


# -- R21: privilege --------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda w: w.links.link_site("ACME-HQ", w.acme, "pat"),
    lambda w: w.links.unlink_site("ACME-HQ", "pat"),
    lambda w: accounts.unlink_account(w.app, w.acme, "pat"),
    lambda w: w.links.create_account_from_site("NW", "pat"),
    lambda w: w.links.link_device("D-1", w.asset, "pat"),
    lambda w: w.links.unlink_device("D-1", "pat"),
    lambda w: w.links.create_asset_from_device("D-1", w.acme, "pat"),
    lambda w: accounts.merge_accounts(w.app, w.smith, w.acme, "pat"),
    lambda w: w.links.review(min_score=50, dry_run=False, user="pat"),
    lambda w: w.links.link_site("ACME-HQ", w.acme, None),
])
def test_without_the_privilege_nothing_changes(world, call):
    world.asset = world.psa.add_asset("DC", world.acme)
    world.state.link_site("ACME-HQ", world.acme)
    world.state.link_device("D-1", world.asset)
    before = snapshot(world)
    with pytest.raises((PrivilegeError, MissingUser)) as caught:  # no privilege, or no user named
        call(world)
    assert "Continuum Integration" in caught.value.message or "--user LOGIN" in caught.value.message
    assert snapshot(world) == before and world.events == []


def test_an_unknown_employee_is_told_so_and_nothing_changes(world):
    world.state.link_site("ACME-HQ", world.acme)
    before = snapshot(world)
    with pytest.raises(UnknownEmployee) as caught:
        world.links.unlink_site("ACME-HQ", "nobody")
    assert caught.value.exit_code == 1 and "no employee with login 'nobody'" in caught.value.message
    assert snapshot(world) == before and world.events == []


def test_refusal_names_the_privilege_and_the_group(world):
    with pytest.raises(PrivilegeError) as caught:
        world.links.link_site("ACME-HQ", world.acme, "pat")
    assert "'Partial'" in caught.value.message and "Continuum Integration privilege" in caught.value.message
    assert caught.value.exit_code == 3


def test_viewing_needs_no_privilege(world):
    assert len(world.links.sites()) == 4 and len(world.links.devices()) == 3
    assert world.links.suggest_accounts("ACME-HQ")[0].rec_id == world.acme
    assert world.links.review(min_score=None, dry_run=True, user=None)
    assert world.links.review(min_score=90, dry_run=True, user="pat")
    assert world.state.site_links() == {}


def test_custom_group_with_the_privilege_may_link(world):
    world.state.add_group("Dispatch", continuum=True)
    world.state.add_employee("dora", group="Dispatch")
    world.links.link_site("SMITH", world.smith, "dora")
    assert world.state.account_for_site("SMITH") == world.smith


# -- R22: no inventory yet -------------------------------------------------------------------
def test_missing_inventory_says_what_to_do(tmp_path):
    app = App(write_ini(tmp_path))
    try:
        seed_people(app)
        account = app.psa.add_account("Acme")
        links = LinksManager(app)
        for call in (lambda: links.sites(), lambda: links.devices(linked=False),
                     lambda: links.link_site("ACME-HQ", account, "admin"),
                     lambda: links.suggest_accounts("ACME-HQ"), lambda: links.review()):
            with pytest.raises(PreconditionError) as caught:
                call()
            message = caught.value.message
            for needle in ("not been downloaded", "ZenithSites_T1.cmt" if "Device" not in message else "T1.cmt",
                           "PSG", "24 hours", "zenithlink inventory refresh", "ZenithErrors", "zenithlink errors list"):
                assert needle in message
            assert caught.value.exit_code == 1
        assert app.state.site_links() == {}
    finally:
        app.close()


def test_a_damaged_inventory_file_is_named_not_taken_for_an_unknown_device(world):
    from dbsys import inventory as inventory_index

    path = inventory_index.inventory_path(world.app.settings, "devices")
    path.write_bytes(path.read_bytes()[:200])  # a copy cut short
    with pytest.raises(PreconditionError, match=r"ZenithDevices_T1.cmt cannot be read .*inventory refresh"):
        world.links.device(DEVICES[0][0][1])


def test_missing_devices_file_only(tmp_path):
    app = App(write_ini(tmp_path))
    cmt.write_inventory(cmt.sites_path(tmp_path / "Dbsys", "T1"), "sites", SITES, GENERATED)
    try:
        assert len(LinksManager(app).sites()) == 4
        with pytest.raises(PreconditionError, match="ZenithDevices_T1.cmt"):
            LinksManager(app).devices()
    finally:
        app.close()


# -- stale links, suggestions, search, review ------------------------------------------------
def test_links_of_sites_gone_from_continuum_are_listed_and_can_be_removed(world):
    world.state.link_site("GONE", world.acme)
    gone = [r for r in world.links.sites(linked=True) if not r["in_inventory"]]
    assert [r["site_code"] for r in gone] == ["GONE"]
    assert all(r["site_code"] != "GONE" for r in world.links.sites(linked=False))
    world.links.unlink_site("GONE", "admin")
    assert world.state.site_links() == {}


def test_suggestions_leave_out_auto_created_accounts(world):
    world.psa.add_account("[Continuum AUTO CREATED] Smith & Sons", auto_created=True)
    found = world.links.suggest_accounts("SMITH")
    assert [s.rec_id for s in found] == [world.smith]
    assert found[0].score == 100 and found[0].reason == "same name once normalised"


def test_asset_suggestions_by_serial_then_name_skip_taken_assets(world):
    same_serial = world.psa.add_asset("Server in the closet", world.acme, serial="7xk2-q13")
    by_name = world.psa.add_asset("ACME DC01", world.acme)
    junk = world.psa.add_asset("Old PC", world.acme, serial="To be filled by O.E.M.")
    found = world.links.suggest_assets("D-1")
    assert [s.rec_id for s in found][:2] == [same_serial, by_name]
    assert found[0].reason == "same serial number"
    assert junk not in [s.rec_id for s in world.links.suggest_assets("D-2")]
    world.links.link_device("D-3", by_name, "admin")
    assert by_name not in [s.rec_id for s in world.links.suggest_assets("D-1")]


def test_search(world):
    world.psa.add_asset("ACME-DC01", world.acme, serial="7XK2Q13", manufacturer="Dell Inc.")
    assert [r["rec_id"] for r in world.links.search_accounts("acme")] == [world.acme]
    assert [r["rec_id"] for r in world.links.search_accounts("SONS smith")] == [world.smith]
    assert world.links.search_accounts("zebra") == []
    assert [r["name"] for r in world.links.search_assets("dell")] == ["ACME-DC01"]
    assert [r["name"] for r in world.links.search_assets("7xk2")] == ["ACME-DC01"]


def test_review_plan_then_link_at_or_above_the_score(world):
    plan = {r.site_code: r for r in world.links.review(min_score=None, dry_run=False, user=None)}
    assert set(plan) == {"ACME-HQ", "ACME-BR", "SMITH", "NW"}
    assert plan["ACME-HQ"].account_rec_id == world.acme and plan["ACME-HQ"].score == 100
    assert plan["SMITH"].account_rec_id == world.smith
    assert plan["NW"].action == "no suggestion"
    assert world.state.site_links() == {}

    dry = world.links.review(min_score=100, dry_run=True, user="admin")
    assert sorted(r.site_code for r in dry if r.action == "link") == ["ACME-BR", "ACME-HQ", "SMITH"]
    assert world.state.site_links() == {}

    done = world.links.review(min_score=100, dry_run=False, user="admin")
    assert sorted(r.site_code for r in done if r.action == "linked") == ["ACME-BR", "ACME-HQ", "SMITH"]
    assert world.state.site_links() == {"ACME-HQ": world.acme, "ACME-BR": world.acme, "SMITH": world.smith}
    assert sum(1 for a in world.state.audit_log() if a["action"] == "link_site") == 3
    assert [e.data["action"] for e in world.events] == ["review"]
    assert [r.site_code for r in world.links.review()] == ["NW"]


def test_a_review_links_exact_and_strong_matches_only_and_never_two_clients_into_one_account(tmp_path):
    ini = write_ini(tmp_path)
    write_inventory(tmp_path, sites=[
        [("SiteID", "1"), ("SiteCode", "CL-1"), ("Name", "Contoso Legal - Boston"), ("ClientName", "Contoso Legal")],
        [("SiteID", "2"), ("SiteCode", "CL-2"), ("Name", "Contoso Legal - Denver"), ("ClientName", "Contoso Legal")],
        [("SiteID", "3"), ("SiteCode", "CLS"), ("Name", "Contoso Legal Services"),
         ("ClientName", "Contoso Legal Services")],
        [("SiteID", "4"), ("SiteCode", "FAB"), ("Name", "Fabrikam Research"), ("ClientName", "")],
        [("SiteID", "5"), ("SiteCode", "FAB2"), ("Name", "Fabrikam Studios"), ("ClientName", "")],
        [("SiteID", "6"), ("SiteCode", "UNI"), ("Name", "Union Engineering Ltd"), ("ClientName", "")],
        [("SiteID", "7"), ("SiteCode", "RIV"), ("Name", "Riverside Foods Inc"), ("ClientName", "")],
    ])
    app = App(ini)
    try:
        seed_people(app)
        contoso = app.psa.add_account("Contoso Legal LLC")
        app.psa.add_account("Fabrikam Research Partners")
        app.psa.add_account("Fabrikam Research Group")
        app.psa.add_account("Iron Engineering")
        app.psa.add_account("RIVERSIDE FOODS")
        app.psa.add_account("Riverside Foods Corp.")
        links = LinksManager(app)

        plan = {r.site_code: r for r in links.review(apply=True, user="admin")}

        assert app.state.site_links() == {"CL-1": contoso, "CL-2": contoso}  # two sites of the one client
        assert plan["CLS"].action == "review" and "2 Continuum clients" in plan["CLS"].reason
        assert plan["UNI"].verdict == "weak"  # the common word is not enough
        assert plan["RIV"].verdict == "ambiguous" and len(plan["RIV"].contenders) == 1
        assert plan["FAB"].verdict == "ambiguous"  # two accounts as good
    finally:
        app.close()


def test_a_review_refuses_to_apply_verdicts_that_need_a_person(world):
    with pytest.raises(UsageError, match="need a person"):
        world.links.review(apply=True, user="admin", verdicts=("exact", "weak"))
    assert world.state.site_links() == {}


def test_applying_a_review_plan_leaves_the_plan_shown_as_it_was(world):
    plan = world.links.review_plan(min_score=100)
    shown = [(r.site_code, r.action) for r in plan]

    applied = world.links.apply(plan, "admin")

    assert [(r.site_code, r.action) for r in plan] == shown  # the rows a person saw are not rewritten
    assert sorted(r.site_code for r in applied if r.action is PlanAction.LINKED) == ["ACME-BR", "ACME-HQ", "SMITH"]
    assert [r.site_code for r in applied if r.action is PlanAction.NO_SUGGESTION] == ["NW"]
    assert world.links.apply(applied, "admin") == applied  # nothing left to link: nothing done
    assert [e.data["action"] for e in world.events] == ["review"]


def test_a_review_row_decided_by_a_person():
    row = SitePlanRow(site_code="HQ", site_name="Acme HQ", client_name="Acme", account_rec_id="CRD1",
                      account_name="Acme", score=80.0, reason="alike", verdict="weak", action=PlanAction.REVIEW)
    assert row.decided(True).action is PlanAction.LINK and row.action is PlanAction.REVIEW
    assert row.as_dict()["action"] == "review" and row.as_dict()["tie"] is False
    device = DevicePlanRow(device_id="D-1", device_name="PC", serial="S1", site_code="HQ", asset_rec_id="AST1",
                           asset_name="PC-1", score=100.0, reason="same serial", tie=True, weak=False,
                           action=PlanAction.REVIEW, candidates=[("AST1", "PC-1"), ("AST2", "PC-2")])
    picked = device.decided("AST2")
    assert (picked.asset_rec_id, picked.asset_name, picked.action) == ("AST2", "PC-2", PlanAction.LINK)
    assert device.decided("AST9").action is PlanAction.REVIEW  # not one of its candidates: a person looks again
    assert device.as_dict()["candidates"] == [["AST1", "PC-1"], ["AST2", "PC-2"]]


# -- on the configured RMM's own inventory (ZENITHLINK_TEST_RMM) -------------------------------
@pytest.fixture
def rmm_links(tmp_path, sandbox):
    """The links manager on the inventory downloaded from the configured RMM's sandbox."""
    from agent.sync.inventory.refresh import refresh

    app = make_snapshot_app(tmp_path, sandbox) if isinstance(sandbox, SnapshotRmm) else make_app(tmp_path, sandbox.url)
    refresh(app)
    seed_people(app)
    yield LinksManager(app)
    app.close()


def test_the_rmms_sites_and_devices_are_linked_by_their_clients_name(rmm_links):
    sites = rmm_links.sites()
    assert sites and all(s["record"].get("ClientName") for s in sites)
    by_client: dict[str, list[str]] = {}
    for row in sites:
        by_client.setdefault(row["record"]["ClientName"], []).append(row["site_code"])
    def plain(name: str) -> str:
        return "".join(ch for ch in name.lower() if ch.isalnum())

    # A client whose name no other client shares once normalised (two would be a person's call).
    unique = [c for c in by_client if sum(plain(other) == plain(c) for other in by_client) == 1]
    client = max(unique, key=lambda c: (len(by_client[c]), c))
    codes = by_client[client]
    account = rmm_links.psa.add_account(client)
    assert rmm_links.suggest_accounts(codes[0])[0].rec_id == account
    rmm_links.review(min_score=100, dry_run=False, user="admin")
    assert {code for code, linked in rmm_links.state.site_links().items() if linked == account} >= set(codes)
    made = rmm_links.create_account_from_site(next(c for c in (s["site_code"] for s in sites)
                                                   if rmm_links.state.account_for_site(c) is None), "admin")
    assert rmm_links.psa.get_account(made).name in by_client
    device = next(d for d in rmm_links.devices() if d["record"]["SiteCode"] in codes)
    asset = rmm_links.create_asset_from_device(device["device_id"], None, "admin")
    assert rmm_links.psa.get_asset(asset).account_rec_id == account
    assert rmm_links.state.asset_for_device(device["device_id"]) == asset
