"""Shared set-up for the web console tests (imported by them; holds no tests).

A ``Site`` is a real agent set-up: an INI in ``tmp_path``, inventory files, an embedded store
with employees (``admin`` in Full, ``pat`` in Partial, both with a password) and accounts, and
the console's Starlette app for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from agent.app import App
from agent.web.app import create_app
from agent.web.auth import set_password
from dbsys import cmt

from conftest import psa_backend

PASSWORD = "correct horse battery"
GENERATED = datetime(2026, 11, 27, 10, 0, 0, tzinfo=timezone.utc)
SITES = [
    [("SiteID", "101"), ("SiteCode", "ACME-HQ"), ("Name", "ACME Inc."), ("ClientName", "ACME")],
    [("SiteID", "102"), ("SiteCode", "SMITH"), ("Name", "Smith & Sons"), ("ClientName", "Smith & Sons")],
    [("SiteID", "103"), ("SiteCode", "NW"), ("Name", "Northwind Traders"), ("ClientName", "")],
    [("SiteID", "104"), ("SiteCode", "XSS"), ("Name", "<script>alert(1)</script>"), ("ClientName", "")],
]
DEVICES = [
    [("DeviceID", "D-1"), ("SiteCode", "ACME-HQ"), ("Name", "ACME-DC01"), ("Manufacturer", "Dell Inc."),
     ("SerialNumber", "7XK2Q13"), ("OperatingSystem", "Windows Server 2022")],
    [("DeviceID", "D-2"), ("SiteCode", "ACME-HQ"), ("Name", "ACME-WS07"), ("SerialNumber", "PF0SAME1"),
     ("Manufacturer", "LENOVO")],
    [("DeviceID", "D-3"), ("SiteCode", "NW"), ("Name", "NW-LT01"), ("SerialNumber", "PF3ABC12"),
     ("Manufacturer", "LENOVO")],
    [("DeviceID", "D-4"), ("SiteCode", "NW"), ("Name", "NW-LT02"), ("SerialNumber", "PF0SAME1"),
     ("Manufacturer", "LENOVO")],
]


class FakeClock:
    """The sign-in limit's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cheap_hasher() -> PasswordHasher:
    """Argon2 at its lowest costs: the tests check the flow, not the hash's strength."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def write_ini(folder: Path, extra: str = "", url: str = "http://127.0.0.1:9") -> Path:
    ini = folder / "CmtZenithLink.ini"
    ini.write_text(f"[Continuum]\nInstanceID=T1\nPSG=web-test-psg\nContinuumURL={url}\n"
                   f"[RangerMSP]\nDbsysFolder=Dbsys\nBackend={psa_backend()}\n{extra}", encoding="utf-8")
    (folder / "Dbsys").mkdir(exist_ok=True)
    return ini


def write_inventory(folder: Path, sites=SITES, devices=DEVICES) -> None:
    cmt.write_inventory(cmt.sites_path(folder / "Dbsys", "T1"), "sites", sites, GENERATED)
    cmt.write_inventory(cmt.devices_path(folder / "Dbsys", "T1"), "devices", devices, GENERATED)


def seed(app: App, hasher: PasswordHasher) -> dict[str, str]:
    state, psa = app.state, app.psa
    state.add_employee("admin", "Ada Admin", "Full")
    state.add_employee("pat", "Pat Partial", "Partial")
    for login in ("admin", "pat"):
        set_password(app, login, PASSWORD, by="admin", hasher=hasher)
    acme = psa.add_account("Acme, Inc")
    smith = psa.add_account("Smith and Sons Ltd")
    psa.add_asset("ACME-DC01", acme, serial="7XK2Q13", manufacturer="Dell Inc.")
    psa.add_asset("NW laptop", acme, serial="PF3ABC12")
    psa.add_asset("Spare laptop", acme, serial="PF0SAME1")  # two devices share this serial: a tie
    northwind = psa.add_account("Northwind Logistics")  # like the NW site's name, but not the same
    return {"acme": acme, "smith": smith, "northwind": northwind}


@dataclass
class Console:
    app: App
    client: TestClient
    clock: FakeClock
    folder: Path
    ids: dict

    @property
    def state(self):
        return self.app.state

    @property
    def psa(self):
        return self.app.psa

    def signin(self, login: str = "admin", password: str = PASSWORD, next_url: str = ""):
        page = self.client.get("/signin")
        return self.client.post("/signin", data={"login": login, "password": password, "csrf": csrf_of(page.text),
                                                 "next": next_url}, follow_redirects=False)

    def post(self, url: str, data: dict | None = None, *, page: str = "/sites"):
        """POST a form the way the page does: with the session's CSRF token."""
        token = csrf_of(self.client.get(page).text)
        return self.client.post(url, data={"csrf": token, **(data or {})}, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def make_console(tmp_path: Path, *, inventory: bool = True, ini_extra: str = "", url: str = "http://127.0.0.1:9"):
    ini = write_ini(tmp_path, ini_extra, url)
    if inventory:
        write_inventory(tmp_path)
    app = App(ini)
    hasher = cheap_hasher()
    ids = seed(app, hasher)
    clock = FakeClock()
    client = TestClient(create_app(app, clock=clock, hasher=hasher), base_url="http://127.0.0.1")
    return Console(app, client, clock, tmp_path, ids)


@pytest.fixture
def console(tmp_path):
    made = make_console(tmp_path)
    yield made
    made.client.close()
    made.app.close()


@pytest.fixture
def admin(console):
    """The console with ``admin`` (Full: may act) signed in."""
    assert console.signin().status_code == 303
    return console


@pytest.fixture
def reader(console):
    """The console with ``pat`` (Partial: read-only) signed in."""
    assert console.signin("pat").status_code == 303
    return console
