"""Publishing the pair of inventory files: a publish stopped half-way is finished, never left mixed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.sync.inventory.publish import complete, pending_path, publish
from agent.sync.inventory.refresh import InventoryJob, finish_publish, inventory_paths, refresh
from dbsys import cmt, fsops, reports
from dbsys.atomic import sweep_temp_files

from test_fsops_support import TRIES, held, no_pauses  # noqa: F401 - a fixture
from test_inventory_job import make_app, sandbox  # noqa: F401 - a fixture


@pytest.fixture
def pair(tmp_path) -> tuple[dict[str, Path], dict[str, Path]]:
    finals = {"sites": tmp_path / "ZenithSites_T1.cmt", "devices": tmp_path / "ZenithDevices_T1.cmt"}
    staged = {kind: tmp_path / f".{path.name}.0123456789ab.tmp" for kind, path in finals.items()}
    for kind in finals:
        finals[kind].write_text(f"old {kind}")
        staged[kind].write_text(f"new {kind}")
    return staged, finals


def contents(finals: dict[str, Path]) -> dict[str, str]:
    return {kind: path.read_text() for kind, path in finals.items()}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".pending", ".tmp")))


def test_a_publish_stopped_after_the_sites_is_finished_by_the_next_try(pair, monkeypatch, tmp_path):
    staged, finals = pair
    monkeypatch.setattr(fsops, "_os_replace", held(os.replace, TRIES, only=finals["devices"]))
    with pytest.raises(fsops.FileInUse, match="ZenithDevices_T1.cmt"):
        publish(staged, finals)
    assert contents(finals) == {"sites": "new sites", "devices": "old devices"}
    assert leftovers(tmp_path) == [pending_path(finals["devices"]).name]
    sweep_temp_files(tmp_path, older_than=0)  # the start-up sweep keeps what the publish still needs
    assert leftovers(tmp_path) == [pending_path(finals["devices"]).name]

    monkeypatch.setattr(fsops, "_os_replace", os.replace)  # the RangerMSP client let go
    assert complete(finals) is True
    assert contents(finals) == {"sites": "new sites", "devices": "new devices"}
    assert leftovers(tmp_path) == []
    assert complete(finals) is False


def test_a_publish_that_cannot_stage_both_files_leaves_the_old_pair(pair, monkeypatch, tmp_path):
    staged, finals = pair
    monkeypatch.setattr(fsops, "_os_replace", held(os.replace, TRIES, only=pending_path(finals["devices"])))
    with pytest.raises(fsops.FileInUse):
        publish(staged, finals)
    assert contents(finals) == {"sites": "old sites", "devices": "old devices"}
    assert not [name for name in leftovers(tmp_path) if name.endswith(".pending")]  # the caller removes its .tmp


def test_what_a_crash_left_is_finished_or_dropped_by_which_files_wait(pair, tmp_path):
    staged, finals = pair
    os.replace(staged["sites"], pending_path(finals["sites"]))  # killed during step 1
    assert complete(finals) is False
    assert contents(finals) == {"sites": "old sites", "devices": "old devices"}
    assert leftovers(tmp_path) == [staged["devices"].name]  # the start-up sweep removes this one

    pending_path(finals["sites"]).write_text("new sites")
    pending_path(finals["devices"]).write_text("new devices")  # killed after step 1
    assert complete(finals) is True
    assert contents(finals) == {"sites": "new sites", "devices": "new devices"}


def new_customer(sandbox) -> None:
    sandbox.world.add_site("A new customer", code="NEW-HQ")
    sandbox.world.add_device("NEW-HQ", name="NEW-PC1")


def seen(settings) -> tuple[bool, bool]:
    """Whether the sites file, and the devices file, know the new customer."""
    paths = inventory_paths(settings)
    sites = {s["SiteCode"] for s in cmt.read_inventory(paths["sites"], "sites")}
    devices = {d["SiteCode"] for d in cmt.read_inventory(paths["devices"], "devices")}
    return "NEW-HQ" in sites, "NEW-HQ" in devices


def test_a_refresh_whose_devices_file_is_held_is_reported_then_repaired(tmp_path, sandbox, monkeypatch):  # noqa: F811
    app, _notified = make_app(tmp_path, sandbox)
    refresh(app)
    paths = inventory_paths(app.settings)
    new_customer(sandbox)
    monkeypatch.setattr(fsops, "_os_replace", held(os.replace, TRIES, only=paths["devices"]))

    assert InventoryJob(app).run_once() is None
    assert seen(app.settings) == (True, False)  # mixed for now
    (report,) = reports.list_reports(app.settings.dbsys_folder)
    text = reports.read_report(app.settings.dbsys_folder, report.name)
    assert "ZenithDevices_" in text["error"] and "Close the program" in text["todo"]

    monkeypatch.setattr(fsops, "_os_replace", os.replace)
    assert finish_publish(app.settings) is True  # housekeeping or start-up, no download needed
    assert seen(app.settings) == (True, True)
    app.close()


def test_a_refresh_finishes_an_earlier_publish_before_it_compares(tmp_path, sandbox, monkeypatch):  # noqa: F811
    app, _notified = make_app(tmp_path, sandbox)
    refresh(app)
    paths = inventory_paths(app.settings)
    monkeypatch.setattr(fsops, "_os_replace", held(os.replace, TRIES, only=paths["devices"]))
    new_customer(sandbox)
    with pytest.raises(fsops.FileInUse):
        refresh(app)
    monkeypatch.setattr(fsops, "_os_replace", os.replace)
    result = refresh(app)
    assert seen(app.settings) == (True, True)
    assert (result.changes.sites.added, result.changes.devices.added) == (0, 0)  # the finished publish had them
    assert not pending_path(paths["devices"]).exists()
    app.close()
