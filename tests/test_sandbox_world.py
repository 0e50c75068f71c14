"""The generated world is deterministic and holds the awkward cases a client must handle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from agent.sandbox import World


def _inventory(world: World) -> tuple[list[dict], list[dict]]:
    return ([s.to_dict() for s in world.sites_page(1, 1000)[1]],
            [d.to_dict() for d in world.devices_page(1, 1000)[1]])


def _tickets(world: World) -> list[tuple]:
    return [(t["ticket_id"], t["title"], t["site_code"], t["device_id"], t["source"])
            for t in world.tickets.values()]


def test_same_seed_same_world():
    a, b = World(seed=42, sites=30, devices=300, tickets=20), World(seed=42, sites=30, devices=300, tickets=20)
    assert _inventory(a) == _inventory(b) and _tickets(a) == _tickets(b)
    assert a.open_tickets(5) == b.open_tickets(5) and _tickets(a) == _tickets(b)


def test_other_seed_other_world():
    assert _inventory(World(seed=1, sites=20, devices=100)) != _inventory(World(seed=2, sites=20, devices=100))


def test_world_holds_awkward_names_and_values():
    sites, devices = _inventory(World(seed=1, sites=20, devices=600))
    clients = {s["client_name"] for s in sites}
    assert {"ACME Inc.", "Acme, Inc", "ACME Holdings", "Smith & Sons"} <= clients
    assert any("GmbH" in c for c in clients) and any("LLC" in c for c in clients)
    assert any(c.endswith("Ltd") for c in clients)
    codes = [s["site_code"] for s in sites]
    assert len(codes) == len(set(codes)) == 20
    assert len({s["client_id"] for s in sites}) == len(clients)
    serials = [d["serial_number"] for d in devices]
    assert {"To be filled by O.E.M.", "Default string", "0", ""} & set(serials)
    assert None in serials
    assert any(v is None for d in devices for v in d.values())
    ids = [d["device_id"] for d in devices]
    assert len(set(ids)) == 600 and all(i.startswith("D-") and i[2:].isdigit() for i in ids)
    assert all(d["site_code"] in codes and d["name"] for d in devices)


def test_tickets_at_start_are_a_realistic_mix():
    world = World(seed=9, sites=10, devices=50, tickets=100)
    tickets = list(world.tickets.values())
    assert len(world.changes) == 100 and world.changes[0]["id"] == "c-000001"
    assert all(t["ticket_id"].isdigit() for t in tickets)
    device_alerts = [t for t in tickets if t["device_id"]]
    site_alerts = [t for t in tickets if t["site_code"] and not t["device_id"]]
    noc = [t for t in tickets if not t["site_code"]]
    assert device_alerts and site_alerts and noc
    assert all(t["source"] == "Alert" and t["origin"] == "System" for t in device_alerts + site_alerts)
    assert all(t["source"] == "NOC" and t["origin"] == "NOC" for t in noc)


def test_empty_world_still_serves():
    world = World(seed=1, sites=0, devices=0, tickets=3)
    assert world.sites_page(1, 10) == (0, []) and len(world.tickets) == 3
    page, next_cursor, more = world.feed(None, 100)
    assert len(page) == 3 and next_cursor == "c-000003" and more is False


def test_feed_with_nothing_yet():
    world = World(seed=1, sites=1, devices=0)
    assert world.feed(None, 100) == ([], "", False)


@pytest.mark.posix  # a graceful SIGTERM
def test_cli_serves_until_sigterm():
    code = "from agent.cli.sandbox_cmd import sandbox; sandbox()"
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0", "--tickets", "2", "--psg", "abc"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.get(url + "/psa/v1/queue", headers={"X-PSG": "abc"})
        assert r.status_code == 200 and r.text.count("<Change ") == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
