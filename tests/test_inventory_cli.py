"""``zenithlink inventory refresh | sites | devices`` against the sandbox, on real files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from agent.app import App
from agent.backends.continuum import ContinuumClient, RetryPolicy
from agent.cli.inventory_cmd import InventoryFailed, inventory
from agent.errors import PreconditionError
from agent.sandbox import SandboxServer
from agent.sync.inventory.refresh import inventory_paths
from config.loader import parse_settings
from dbsys.atomic import temp_name

FAST = RetryPolicy(max_attempts=3, base=0.001, cap=0.01)


@pytest.fixture
def sandbox():
    with SandboxServer(psg="demo", seed=4, sites=12, devices=1500) as sb:
        yield sb


@pytest.fixture
def app(tmp_path, sandbox):
    ini = (f"[Continuum]\nPSG=demo\nContinuumURL={sandbox.url}\n"
           f"[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=state.db\n")
    app = App(tmp_path / "CmtZenithLink.ini", settings=parse_settings(ini, base_dir=tmp_path))
    app.set_rmm(ContinuumClient(sandbox.url, "demo", retry=FAST, timeout=5.0))
    yield app
    app.close()


def invoke(app: App, *args: str):
    return CliRunner().invoke(inventory, list(args), obj=app, standalone_mode=False, catch_exceptions=True)


def test_listing_before_the_first_refresh_names_the_file_and_what_to_do(app):
    for kind in ("sites", "devices"):
        result = invoke(app, kind)
        assert isinstance(result.exception, PreconditionError) and result.exception.exit_code == 1
        message = result.exception.message
        assert inventory_paths(app.settings)[kind].name in message
        assert "zenithlink inventory refresh" in message and "ZenithErrors" in message


def test_refresh_then_list(app, sandbox):
    result = invoke(app, "refresh")
    assert result.exception is None, result.exception
    assert "Inventory refreshed: 12 sites and 1500 devices" in result.stdout
    assert "devices: page 2, 1500 of 1500" in result.stderr  # plain lines when not on a terminal

    sites = json.loads(invoke(app, "sites", "--json").stdout)
    assert [s["SiteCode"] for s in sites] == list(sandbox.world._sites)
    assert set(sites[0]) >= {"SiteID", "SiteCode", "Name", "ClientID", "ClientName"}

    table = invoke(app, "sites").stdout
    assert all(code in table for code in sandbox.world._sites)

    code = next(iter(sandbox.world._sites))
    of_site = json.loads(invoke(app, "devices", "--json", "--site", code).stdout)
    expected = [d.device_id for d in sandbox.world._devices.values() if d.site_code == code]
    assert [d["DeviceID"] for d in of_site] == expected and expected

    lines = invoke(app, "devices").stdout.splitlines()  # more than a table holds: tab-separated
    assert lines[0].split("\t") == ["DeviceID", "SiteCode", "Name", "DeviceType", "SerialNumber"]
    assert len(lines) == 1501


def test_refresh_json_summary(app):
    document = json.loads(invoke(app, "refresh", "--json").stdout)
    assert document["sites"] == 12 and document["devices"] == 1500 and document["pages"] == 3
    assert document["changes"]["sites"]["first"] is True


def test_a_failed_refresh_exits_1_with_the_reason_and_keeps_the_files(app, sandbox):
    invoke(app, "refresh")
    before = {p: p.read_bytes() for p in inventory_paths(app.settings).values()}
    sandbox.faults.set(outage=True, paths=["/psa/v1/devices"])
    result = invoke(app, "refresh")
    assert isinstance(result.exception, InventoryFailed) and result.exception.exit_code == 1
    assert "unavailable" in result.exception.message.lower()
    assert "previous inventory files were kept" in result.exception.message
    assert {p: p.read_bytes() for p in before} == before


def test_refresh_sweeps_old_stray_temp_files_first(app):
    import os
    import time

    folder = app.settings.dbsys_folder
    folder.mkdir(parents=True)
    stray = folder / temp_name(inventory_paths(app.settings)["devices"].name)
    stray.write_bytes(b"<ZenithDevices")
    old = time.time() - 3600
    os.utime(stray, (old, old))
    assert invoke(app, "refresh").exception is None
    assert not stray.exists()


def test_a_damaged_file_is_reported_with_what_to_do(app):
    path = inventory_paths(app.settings)["sites"]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"<NotInventory/>")
    result = invoke(app, "sites", "--json")
    assert isinstance(result.exception, PreconditionError)
    assert "zenithlink inventory refresh" in result.exception.message


def test_exit_codes_through_the_real_command_line(tmp_path, sandbox):
    import subprocess
    import sys

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text(f"[Continuum]\nPSG=demo\nContinuumURL={sandbox.url}\n"
                   f"[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=state.db\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", "--config", str(ini),
                               "inventory", *args], capture_output=True, text=True, timeout=60)

    missing = run("devices")
    assert missing.returncode == 1 and "zenithlink inventory refresh" in missing.stderr
    ok = run("refresh")
    assert ok.returncode == 0 and "Inventory refreshed" in ok.stdout, ok.stderr
    sandbox.world.set_activated(False)
    pending = run("refresh")
    assert pending.returncode == 1 and "24 hours" in pending.stderr and "were kept" in pending.stderr
    assert "demo" not in pending.stderr
    assert len(json.loads(run("sites", "--json").stdout)) == 12
