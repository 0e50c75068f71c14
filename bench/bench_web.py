"""Web console pages with 5,000 sites, 5,000 accounts and 50,000 devices in the inventory.

Targets (issue 28): every page p95 <= 100 ms on the server and <= 300 KB; the review of 500
unlinked sites <= 300 ms on the server. Each page's baseline, in the same run: a static page of
the same size served by the same stack (Starlette, the console's security headers, the same
in-process client), so the figure beside it is what the page's own work costs.
"""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from bench.bench_suggest import company_names, site_records
from bench.common import Table, stopwatch

PAGE_TARGET_MS = 100.0
REVIEW_TARGET_MS = 300.0
SIZE_TARGET_KB = 300.0
PASSWORD = "bench password 1"


def devices_for(sites: list[dict], count: int, seed: int) -> list[list[tuple[str, str]]]:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        site = sites[i % len(sites)]
        out.append([("DeviceID", f"DEV{i:06d}"), ("SiteCode", site["SiteCode"]), ("Name", f"WS-{i:06d}"),
                    ("SerialNumber", f"SN{rnd.randrange(10**9):09d}"), ("Manufacturer", rnd.choice(
                        ["Dell Inc.", "LENOVO", "HP", "ASUSTeK"])), ("OperatingSystem", "Windows 11 Pro")])
    return out


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def timed_ms(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def static_twin(size: int):
    """A client of a Starlette app that serves one static page of ``size`` bytes with the
    console's security headers: the baseline of a page of that size."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from agent.web.app import SecurityHeaders

    body = b"<!doctype html><title>static</title>" + b"x" * max(0, size - 36)

    async def static_page(request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    app = Starlette(routes=[Route("/page", static_page)])
    app.add_middleware(SecurityHeaders, tls=False)
    return TestClient(app, base_url="http://127.0.0.1")


def main(quick: bool) -> Table:
    from argon2 import PasswordHasher
    from starlette.testclient import TestClient

    from agent.app import App
    from agent.web import heap
    from agent.web.app import create_app
    from agent.web.auth import set_password
    from dbsys import cmt

    n_sites = n_accounts = 1_000 if quick else 5_000
    n_devices = 10_000 if quick else 50_000
    repeat = 20 if quick else 40
    names = company_names(n_accounts, seed=7)
    sites = site_records(names, n_sites, seed=11)
    table = Table(f"Web console: {n_sites:,} sites, {n_accounts:,} accounts, {n_devices:,} devices")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ini = root / "CmtZenithLink.ini"
        ini.write_text("[Continuum]\nInstanceID=B1\n[RangerMSP]\nDbsysFolder=.\nDatabase=bench.db\n", encoding="utf-8")
        now = datetime.now(timezone.utc)
        cmt.write_inventory(cmt.sites_path(root, "B1"), "sites", (list(s.items()) for s in sites), now)
        cmt.write_inventory(cmt.devices_path(root, "B1"), "devices", devices_for(sites, n_devices, 3), now)
        app = App(ini)
        try:
            with app.unit_of_work():
                for name in names:
                    app.psa.add_account(name)
            app.state.add_employee("bench", "Bench", "Full")
            hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
            set_password(app, "bench", PASSWORD, hasher=hasher)
            client = TestClient(create_app(app, hasher=hasher), base_url="http://127.0.0.1")
            heap.settle()  # as the console's server does once the console is built
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
            client.post("/signin", data={"login": "bench", "password": PASSWORD, "csrf": token})
            rnd = random.Random(5)
            words = [s["Name"].split()[0] for s in sites[:200]]
            codes = [s["SiteCode"] for s in sites]

            with stopwatch() as first:
                client.get("/devices")  # the first page reads the files into the index
            table.add("first Devices page (reads the .cmt files)", first[0] * 1000, "ms", higher_is_better=False)
            with stopwatch() as cold:
                client.get("/sites/review")  # the matcher asked for each of the 500 sites
            table.add("first review of 500 sites (matcher for each)", cold[0] * 1000, "ms", higher_is_better=False)
            pages: list[tuple[str, Callable[[], str], float]] = [
                ("Sites (first unlinked selected)", lambda: "/sites", PAGE_TARGET_MS),
                ("Sites, keyword search", lambda: f"/sites?q={rnd.choice(words)}", PAGE_TARGET_MS),
                ("Sites, a site selected", lambda: f"/sites?sel={rnd.choice(codes)}", PAGE_TARGET_MS),
                ("Sites, account search in the details", lambda: f"/sites?sel={rnd.choice(codes)}&find="
                                                                 f"{rnd.choice(words)}", PAGE_TARGET_MS),
                ("Devices (first unlinked selected)", lambda: "/devices", PAGE_TARGET_MS),
                ("Devices, keyword search", lambda: f"/devices?q=WS-{rnd.randrange(n_devices):06d}", PAGE_TARGET_MS),
                ("Accounts", lambda: "/accounts", PAGE_TARGET_MS),
                ("Inbox (empty)", lambda: "/tickets", PAGE_TARGET_MS),
                ("Status", lambda: "/status", PAGE_TARGET_MS),
                ("Review of 500 unlinked sites", lambda: "/sites/review", REVIEW_TARGET_MS),
            ]
            for label, url, target in pages:
                client.get(url())  # warm: the first request of a kind builds its caches
                size = len(client.get(url()).content)
                samples = timed_ms(lambda make=url: client.get(make()), repeat)
                with static_twin(size) as twin:
                    twin.get("/page")
                    static_ms = timed_ms(lambda: twin.get("/page"), repeat)
                table.add(f"{label}, p95", p95(samples), "ms", baseline=p95(static_ms),
                          target=f"<= {target:.0f} ms", higher_is_better=False)
                table.add(f"{label}, median", statistics.median(samples), "ms",
                          baseline=statistics.median(static_ms), higher_is_better=False)
                table.add(f"{label}, size", size / 1024, "KB", target=f"<= {SIZE_TARGET_KB:.0f} KB",
                          higher_is_better=False)
            client.close()
        finally:
            app.close()
    return table


if __name__ == "__main__":
    main(quick=False).print()
