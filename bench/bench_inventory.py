"""Inventory refresh: 5,000 sites and 100,000 devices from the sandbox into the two .cmt files.

The agent side runs in a subprocess so its peak RSS is not mixed with the sandbox's. The
baseline, also in a subprocess, fetches the same pages with plain httpx and writes every item
with a bare loop (no models, no change report, no atomic staging). Targets: at most 10 s, at
most 150 MB peak RSS, at least 0.7x the baseline's speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from agent.sandbox import SandboxServer
from bench.common import Table

PAGE = 1000

AGENT = """
import json, resource, sys, time
from loguru import logger
from agent.app import App
logger.remove()  # the CLI logs only warnings by default; do not time a debug stream to stderr
from agent.sync.inventory.refresh import refresh
app = App(sys.argv[1])
app.rmm  # the backend's imports (httpx) are start-up, not refresh, time
start = time.perf_counter()
result = refresh(app)
seconds = time.perf_counter() - start
if sys.argv[2] == "again":
    start = time.perf_counter()
    result = refresh(app)
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "sites": result.sites, "devices": result.devices,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BASELINE = """
import json, resource, sys, time
import httpx
from lxml import etree
url, folder, page_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
counts = {}
with httpx.Client(base_url=url, headers={"X-PSG": "demo"}, timeout=60) as http:
    for kind, root_tag, item in (("sites", "ZenithSites", "Site"), ("devices", "ZenithDevices", "Device")):
        count, page = 0, 1
        with open(f"{folder}/baseline_{kind}.cmt", "wb") as out:
            out.write(b"<?xml version='1.0' encoding='utf-8'?>\\n<" + root_tag.encode() + b">")
            while True:
                answer = http.get(f"/psa/v1/{kind}", params={"page": page, "pageSize": page_size})
                root = etree.fromstring(answer.content)
                items = root.findall(item)
                for elem in items:
                    out.write(b"\\n  " + etree.tostring(elem))
                count += len(items)
                if not items or count >= int(root.get("total")):
                    break
                page += 1
            out.write(b"\\n</" + root_tag.encode() + b">\\n")
        counts[kind] = count
print(json.dumps({"seconds": time.perf_counter() - start, "sites": counts["sites"], "devices": counts["devices"],
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(quick: bool) -> Table:
    sites, devices = (500, 10_000) if quick else (5_000, 100_000)
    table = Table(f"Inventory refresh: {sites} sites and {devices} devices from the sandbox, pages of {PAGE}")
    with SandboxServer(psg="demo", seed=1, sites=sites, devices=devices) as sb, \
            tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "CmtZenithLink.ini"
        ini.write_text(f"[Continuum]\nPSG=demo\nContinuumURL={sb.url}\n"
                       f"[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=store.db\n[Logging]\nLevel=WARNING\n")
        base = _run(BASELINE, sb.url, tmp, str(PAGE))
        first = _run(AGENT, str(ini), "once")
        again = _run(AGENT, str(ini), "again")
    for run in (base, first, again):
        assert (run["sites"], run["devices"]) == (sites, devices), run
    table.add("wall time, first refresh", first["seconds"], "s", baseline=base["seconds"],
              target="<= 10 s, >= 0.7x baseline speed", higher_is_better=False)
    table.add("wall time, refresh with a change report", again["seconds"], "s", baseline=base["seconds"],
              target="<= 10 s", higher_is_better=False)
    table.add("items per second, first refresh", (sites + devices) / first["seconds"], "items/s",
              baseline=(sites + devices) / base["seconds"], target=">= 0.7x baseline")
    table.add("peak RSS of the agent process", first["rss"], "MB", baseline=base["rss"],
              target="<= 150 MB", higher_is_better=False)
    table.add("peak RSS, refresh with a change report", again["rss"], "MB", baseline=base["rss"],
              target="<= 150 MB", higher_is_better=False)
    return table
