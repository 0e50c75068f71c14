"""Web console page times with 5,000 sites, 5,000 accounts and 50,000 devices in the inventory.

Targets (issue 16): Sites and Devices pages with a keyword search p95 <= 100 ms, a site's page
with its suggestions <= 50 ms. Baseline, in the same run: the command line's equivalent listing
(``zenithlink links sites --json`` / ``links devices --json``, a process each) and the links
manager's full listing in process.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.bench_suggest import company_names, site_records
from bench.common import Table, stopwatch

PAGE_TARGET_MS = 100.0
SUGGEST_TARGET_MS = 50.0
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


def timed_ms(call, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main(quick: bool) -> Table:
    from argon2 import PasswordHasher
    from starlette.testclient import TestClient

    from agent.app import App
    from agent.sync.links import LinksManager
    from agent.web.app import create_app
    from agent.web.auth import set_password
    from dbsys import cmt

    n_sites = n_accounts = 1_000 if quick else 5_000
    n_devices = 10_000 if quick else 50_000
    repeat = 20 if quick else 60
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
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text).group(1)
            client.post("/signin", data={"login": "bench", "password": PASSWORD, "csrf": token})
            words = [s["Name"].split()[0] for s in sites[:repeat]]

            with stopwatch() as first:
                client.get("/devices")  # the first page reads the files into the index
            table.add("first Devices page (reads the .cmt files)", first[0] * 1000, "ms", higher_is_better=False)
            client.get("/sites")
            sites_ms = timed_ms(lambda: client.get(f"/sites?q={words[random.randrange(len(words))]}"), repeat)
            devices_ms = timed_ms(lambda: client.get(f"/devices?q=WS-{random.randrange(n_devices):06d}"), repeat)
            client.get(f"/site?code={sites[0]['SiteCode']}")
            codes = [s["SiteCode"] for s in sites]
            suggest_ms = timed_ms(lambda: client.get(f"/site?code={random.choice(codes)}"), repeat)
            links = LinksManager(app)
            core_sites_ms = timed_ms(lambda: links.sites(), 3 if quick else 5)
            core_devices_ms = timed_ms(lambda: links.devices(), 3 if quick else 5)
            cli_sites_ms = _cli_ms(ini, "sites")
            cli_devices_ms = _cli_ms(ini, "devices")
            client.close()
        finally:
            app.close()
    table.add("Sites page with search, p95", p95(sites_ms), "ms", baseline=cli_sites_ms,
              target=f"<= {PAGE_TARGET_MS:.0f} ms", higher_is_better=False)
    table.add("Devices page with search, p95", p95(devices_ms), "ms", baseline=cli_devices_ms,
              target=f"<= {PAGE_TARGET_MS:.0f} ms", higher_is_better=False)
    table.add("a site's page with suggestions, p95", p95(suggest_ms), "ms", target=f"<= {SUGGEST_TARGET_MS:.0f} ms",
              higher_is_better=False)
    table.add("in process: LinksManager.sites() (all)", statistics.median(core_sites_ms), "ms", higher_is_better=False)
    table.add("in process: LinksManager.devices() (all)", statistics.median(core_devices_ms), "ms",
              higher_is_better=False)
    table.add("CLI: links sites --json", cli_sites_ms, "ms", higher_is_better=False)
    table.add("CLI: links devices --json", cli_devices_ms, "ms", higher_is_better=False)
    return table


def _cli_ms(ini: Path, kind: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    with stopwatch() as t:
        subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", "--config", str(ini), "links",
                        kind, "--json"], check=True, stdout=subprocess.DEVNULL, env=env)
    return t[0] * 1000


if __name__ == "__main__":
    main(quick=False).print()
