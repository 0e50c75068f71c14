"""The Windows service's whole life under a real service control manager: install, start, the
running service downloads the inventory and answers a request drop, ``status --check`` says it
runs, ``service stop`` ends it cleanly within the contract's 10 s, ``service uninstall`` removes it.

It registers a real service, so it runs only where that is wanted: in the Windows lane (the
official Windows CPython under Wine's service manager, ``make test-windows``), which sets
``ZENITHLINK_TEST_WINDOWS_SERVICE=1``; a GitHub Windows runner may set it too."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time

import pytest
from stores import embedded

from agent.runtime import winservice
from agent.sandbox import SandboxServer
from dbsys.status import read_status, status_path

from conftest import TEST_PSG, run_cli, wait_for, write_ini
from test_outbound_support import drop, request_xml, result

pytestmark = pytest.mark.skipif(
    sys.platform != "win32" or os.environ.get("ZENITHLINK_TEST_WINDOWS_SERVICE") != "1",
    reason="registers a real Windows service: the Windows lane only (ZENITHLINK_TEST_WINDOWS_SERVICE=1)")


def _status(folder) -> dict:
    try:
        return read_status(status_path(folder, "RMAZenithINFOTECHID1"))
    except (FileNotFoundError, ValueError):
        return {}


def test_install_run_stop_and_uninstall_under_the_service_control_manager(tmp_path):
    with SandboxServer(psg=TEST_PSG, seed=4, sites=3, devices=6, tickets=0) as sandbox:
        ini = write_ini(tmp_path, url=sandbox.url)
        folder = tmp_path / "Dbsys"
        site = sandbox.world._site_list()[0].site_code
        folder.mkdir()
        with embedded(folder / "zenithlink.sqlite3") as (state, psa):
            state.add_employee("jsmith", "Jane Smith", "Full")
            account = psa.add_account("ACME")
        name = winservice.service_name(folder)
        try:
            installed = run_cli(["service", "install"], config=ini, timeout=120)
            assert installed.code == 0, installed.err
            assert f"Installed and started {name}" in installed.out
            # Wine refuses some recovery settings: each is a warning with what to do, never a failure.
            assert all("set it by hand" in line for line in installed.err.splitlines() if "Warning" in line)

            wait_for(lambda: _status(folder).get("last_inventory_refresh"), 60, "the service's first inventory")
            assert (folder / "ZenithSites_RMAZenithINFOTECHID1.cmt").exists()
            requests = folder / "ZenithRequests"
            drop(requests, "link-1.xml", request_xml("link-1", "LinkSite", SiteCode=site, AccountRecID=account))
            answered = wait_for(lambda: result(requests, "link-1"), 60, "the request's result")
            assert answered["status"] == "Done", answered

            running = run_cli(["status", "--check"], config=ini)
            assert running.code == 0, running.err
            assert run_cli(["service", "status"], config=ini).out.count("running") == 1

            started = time.monotonic()
            stopped = run_cli(["service", "stop"], config=ini, timeout=60)
            took = time.monotonic() - started
            assert stopped.code == 0, stopped.err
            assert took < 10 + 5  # the stop contract's 10 s, plus this interpreter's start under Wine
            assert _status(folder)["running"] is False
            assert list(folder.rglob("*.tmp")) == []
            with sqlite3.connect(folder / "zenithlink.sqlite3") as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert run_cli(["status", "--check"], config=ini).code == 1

            removed = run_cli(["service", "uninstall"], config=ini, timeout=60)
            assert removed.code == 0, removed.err
            shown = run_cli(["service", "status", "--json"], config=ini)
            assert json.loads(shown.out)["installed"] is False
        finally:
            run_cli(["service", "uninstall"], config=ini, timeout=60)
