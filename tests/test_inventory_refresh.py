"""Inventory refresh against the sandbox over HTTP, into real files: content, paging, failures, changes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from lxml import etree

from agent.app import App
from agent.backends.continuum import BadAnswer, ContinuumClient, ContinuumUnavailable, RetryPolicy
from agent.sandbox import SandboxServer
from agent.sync.inventory.refresh import inventory_paths, refresh
from config.loader import parse_settings
from dbsys import cmt

FAST = RetryPolicy(max_attempts=3, base=0.001, cap=0.01)


def make_app(tmp_path: Path, sb: SandboxServer, psg: str = "demo") -> App:
    ini = (f"[Continuum]\nPSG={psg}\nContinuumURL={sb.url}\n"
           f"[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=state.db\n")
    app = App(tmp_path / "CmtZenithLink.ini", settings=parse_settings(ini, base_dir=tmp_path))
    app.set_rmm(ContinuumClient(sb.url, psg, retry=FAST, timeout=5.0))
    return app


@pytest.fixture
def sandbox():
    with SandboxServer(psg="demo", seed=3, sites=20, devices=200) as sb:
        yield sb


@pytest.fixture
def app(tmp_path, sandbox):
    app = make_app(tmp_path, sandbox)
    yield app
    app.close()


def file_items(path: Path) -> tuple[etree._Element, list[list[tuple[str, str]]]]:
    root = etree.parse(str(path)).getroot()
    return root, [[(c.tag, c.text or "") for c in item] for item in root]


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_files_match_the_api_item_for_item_across_pages(app, sandbox):
    seen: list[tuple[str, int, int, int]] = []
    result = refresh(app, lambda *a: seen.append(a), page_size=7)

    with ContinuumClient(sandbox.url, "demo", retry=FAST) as other:
        api_sites = [list(s.children) for s in other.iter_sites(page_size=1000)]
        api_devices = [list(d.children) for d in other.iter_devices(page_size=1000)]
    paths = inventory_paths(app.settings)
    sites_root, sites = file_items(paths["sites"])
    devices_root, devices = file_items(paths["devices"])
    assert sites == api_sites and devices == api_devices
    assert sites_root.tag == "ZenithSites" and devices_root.tag == "ZenithDevices"
    assert sites_root.get("count") == "20" and devices_root.get("count") == "200"
    assert all(len(d) >= 3 and d[0][0] == "DeviceID" for d in devices)
    assert (result.sites, result.devices, result.pages) == (20, 200, 3 + 29)
    assert seen[:3] == [("sites", 1, 7, 20), ("sites", 2, 14, 20), ("sites", 3, 20, 20)]
    assert seen[-1] == ("devices", 29, 200, 200)
    assert result.changes.sites.first and result.changes.sites.added == 20


def test_text_is_copied_unchanged_including_markup_characters(app, sandbox):
    code = next(iter(sandbox.world._sites))
    sandbox.world.rename_site(code, "Smith & Sons <Ltd> \"quoted\" ünïcode")
    refresh(app)
    names = {s["SiteCode"]: s["Name"] for s in cmt.read_inventory(inventory_paths(app.settings)["sites"], "sites")}
    assert names[code] == "Smith & Sons <Ltd> \"quoted\" ünïcode"


def test_file_items_are_the_api_elements_byte_for_byte(app, sandbox):
    refresh(app, page_size=64)
    paths = inventory_paths(app.settings)
    with httpx.Client(base_url=sandbox.url, headers={"X-PSG": "demo"}) as http:
        for kind, item in (("sites", "Site"), ("devices", "Device")):
            answer = etree.fromstring(http.get(f"/psa/v1/{kind}", params={"pageSize": 1000}).content)
            api = [etree.tostring(e, with_tail=False) for e in answer.iterchildren(item)]
            written = [etree.tostring(e, with_tail=False) for e in etree.parse(str(paths[kind])).getroot()]
            assert written == api and len(api) == {"sites": 20, "devices": 200}[kind]


def test_an_item_without_its_name_refuses_the_refresh_and_keeps_both_files(app, sandbox):
    refresh(app, page_size=50)
    before = folder_snapshot(app.settings.dbsys_folder)
    device = list(sandbox.world._devices.values())[120]
    device.name = "  "  # the sandbox's own API refuses a blank name; a faulty server would not
    with pytest.raises(BadAnswer) as info:
        refresh(app, page_size=50)
    assert "<Device> without Name" in str(info.value)
    assert folder_snapshot(app.settings.dbsys_folder) == before


def test_names_with_surrounding_spaces_are_not_reported_as_renamed(app, sandbox):
    code = next(iter(sandbox.world._sites))
    sandbox.world.rename_site(code, "  Padded Name  ")
    refresh(app)
    names = {s["SiteCode"]: s["Name"] for s in cmt.read_inventory(inventory_paths(app.settings)["sites"], "sites")}
    assert names[code] == "  Padded Name  "  # the file keeps the value unchanged
    assert not refresh(app).changes.any


def test_failure_on_page_3_of_5_leaves_the_previous_files_byte_identical(app, sandbox):
    refresh(app, page_size=40)
    folder = app.settings.dbsys_folder
    before = folder_snapshot(folder)
    sandbox.world.rename_site(next(iter(sandbox.world._sites)), "Renamed so the sites file would differ")
    pages_seen: list[int] = []

    def fail_after_page_2(kind: str, page: int, items: int, total: int) -> None:
        if kind == "devices":
            pages_seen.append(page)
            if page == 2:
                sandbox.faults.set(outage=True, paths=["/psa/v1/devices"])

    with pytest.raises(ContinuumUnavailable):
        refresh(app, fail_after_page_2, page_size=40)
    assert pages_seen == [1, 2]
    assert folder_snapshot(folder) == before  # no new file, no stray staging file, same bytes

    sandbox.faults.clear()
    result = refresh(app, page_size=40)
    assert result.devices == 200 and result.changes.sites.renamed == 1


def test_hostile_answer_mid_devices_keeps_both_previous_files(app, sandbox):
    refresh(app, page_size=50)
    before = folder_snapshot(app.settings.dbsys_folder)
    sandbox.world.add_site("Brand New Customer")
    sandbox.faults.set(hostile="doctype", paths=["/psa/v1/devices"])
    with pytest.raises(BadAnswer):
        refresh(app, page_size=50)
    assert folder_snapshot(app.settings.dbsys_folder) == before


def test_changes_added_removed_renamed_are_reported(app, sandbox):
    refresh(app)
    world = sandbox.world
    codes = list(world._sites)
    removed, renamed = codes[0], codes[1]
    removed_devices = sum(1 for d in world._devices.values() if d.site_code == removed)
    old_name = world.find_site(renamed).name
    admin = httpx.Client(base_url=sandbox.url)
    assert admin.delete(f"/sandbox/sites/{removed}").status_code < 300
    assert admin.post(f"/sandbox/sites/{renamed}/rename", json={"name": "Now Called This"}).status_code < 300
    added = admin.post("/sandbox/sites", json={"name": "Fresh Customer", "code": "FRESH-HQ"})
    assert added.status_code < 300
    device = next(d for d in world._devices.values() if d.site_code == renamed)
    device_old_name = device.name
    assert admin.post(f"/sandbox/devices/{device.device_id}/rename", json={"name": "RENAMED-PC"}).status_code < 300
    admin.close()

    changes = refresh(app).changes
    assert not changes.sites.first
    assert changes.sites.added_ids == ["FRESH-HQ"] and changes.sites.added == 1
    assert changes.sites.removed_ids == [removed] and changes.sites.removed == 1
    assert changes.sites.renamed_ids == [(renamed, old_name, "Now Called This")]
    assert changes.devices.removed == removed_devices and changes.devices.added == 0
    assert changes.devices.renamed_ids == [(device.device_id, device_old_name, "RENAMED-PC")]
    assert changes.summary() == f"sites +1 -1 ~1; devices +0 -{removed_devices} ~1"
    lines = list(changes.lines())
    assert "site added: FRESH-HQ" in lines and f"site removed: {removed}" in lines

    assert not refresh(app).changes.any


def test_a_damaged_previous_file_is_replaced(app):
    paths = inventory_paths(app.settings)
    paths["sites"].parent.mkdir(parents=True, exist_ok=True)
    paths["sites"].write_bytes(b"<ZenithSites generated='x' count='1'><Site><SiteCode>")
    result = refresh(app)
    assert result.changes.sites.first and result.sites == 20
    assert cmt.inventory_header(paths["sites"])[1] == 20


def test_a_reader_polling_during_many_refreshes_never_sees_a_partial_file(tmp_path):
    with SandboxServer(psg="demo", seed=5, sites=30, devices=1500) as sb:
        app = make_app(tmp_path, sb)
        refresh(app)
        paths = inventory_paths(app.settings)
        stop = threading.Event()
        problems: list[str] = []
        reads = [0]

        def reader() -> None:
            while not stop.is_set():
                for kind, path in paths.items():
                    try:
                        root = etree.fromstring(path.read_bytes())
                    except Exception as exc:  # noqa: BLE001 - any failure is what we look for
                        problems.append(f"{kind}: {exc}")
                        continue
                    if int(root.get("count")) != len(root):
                        problems.append(f"{kind}: count {root.get('count')} but {len(root)} items")
                    reads[0] += 1
                time.sleep(0.005)  # leave the refresh some of the interpreter

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for i in range(10):
                sb.world.add_site(f"Customer number {i}")
                refresh(app, page_size=500)
        finally:
            stop.set()
            thread.join()
            app.close()
        assert problems == []
        assert reads[0] > 10
        assert cmt.inventory_header(paths["sites"])[1] == 40
        left = sorted(p.name for p in paths["sites"].parent.iterdir() if not p.name.startswith(".zenithlink"))
        assert left == sorted(p.name for p in paths.values())  # beside the agent's lock files
