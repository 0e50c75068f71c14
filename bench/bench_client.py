"""Continuum client throughput: devices per second through the full client (deadline transport,
safe parsing, models) beside a bare httpx + lxml loop over the same sandbox pages."""

from __future__ import annotations

import httpx
from lxml import etree

from agent.backends.continuum import ContinuumClient
from agent.sandbox import SandboxServer
from bench.common import Table, peak_rss_mb, stopwatch

PAGE = 1000


def _bare(url: str, total: int) -> int:
    count = 0
    with httpx.Client(base_url=url, headers={"X-PSG": "demo"}) as http:
        for page in range(1, total // PAGE + 2):
            root = etree.fromstring(http.get("/psa/v1/devices", params={"page": page, "pageSize": PAGE}).content)
            count += sum(1 for _ in root.iterchildren("Device"))
    return count


def main(quick: bool) -> Table:
    devices = 5_000 if quick else 50_000
    table = Table(f"Continuum client: {devices} devices from the sandbox, pages of {PAGE}")
    with SandboxServer(psg="demo", seed=1, sites=50, devices=devices, tickets=0) as sb:
        with stopwatch() as bare:
            assert _bare(sb.url, devices) == devices
        with ContinuumClient(sb.url, "demo") as client, stopwatch() as full:
            assert sum(1 for _ in client.iter_devices(page_size=PAGE)) == devices
        with ContinuumClient(sb.url, "demo") as client, stopwatch() as pings:
            for _ in range(200):
                client.ping()
    table.add("devices per second (client)", devices / full[0], "dev/s", baseline=devices / bare[0],
              target="within 2x of bare httpx+lxml")
    table.add("ping round trips per second", 200 / pings[0], "req/s")
    table.add("peak RSS of the run", peak_rss_mb(), "MB", higher_is_better=False)
    return table
