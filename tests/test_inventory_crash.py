"""kill -9 of an agent mid-refresh: no broken final file, and no stray file after the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.app import App
from agent.sandbox import SandboxServer
from agent.sync.inventory.refresh import inventory_paths, refresh, sweep_if_idle
from config.loader import parse_settings
from dbsys import cmt
from dbsys.atomic import is_temp_name

pytestmark = pytest.mark.posix  # SIGKILL

REFRESH = """
import sys
from agent.app import App
from agent.sync.inventory.refresh import refresh

app = App(sys.argv[1])
refresh(app, page_size=100)
"""


def stray(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if is_temp_name(p.name)]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_kill_9_mid_write_leaves_the_previous_files_and_the_next_start_sweeps(tmp_path):
    with SandboxServer(psg="demo", seed=6, sites=40, devices=3000) as sb:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(f"[Continuum]\nPSG=demo\nContinuumURL={sb.url}\n"
                       f"[RangerMSP]\nDbsysFolder=Dbsys\nDatabase=state.db\n")
        app = App(ini, settings=parse_settings(ini.read_text(), base_dir=tmp_path))
        refresh(app)
        paths = inventory_paths(app.settings)
        folder = paths["sites"].parent
        before = {p: p.read_bytes() for p in paths.values()}

        sb.world.rename_site(next(iter(sb.world._sites)), "Renamed before the crash")
        sb.faults.set(latency_ms=150, paths=["/psa/v1/devices"])
        proc = subprocess.Popen([sys.executable, "-c", REFRESH, str(ini)], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any("ZenithDevices" in p.name for p in stray(folder)):
                time.sleep(0.02)
            time.sleep(0.5)  # a few device pages into the temporary file
            assert proc.poll() is None, "the refresh ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        sb.faults.clear()

        left = stray(folder)
        assert any("ZenithSites" in p.name for p in left) and any("ZenithDevices" in p.name for p in left)
        assert {p: p.read_bytes() for p in paths.values()} == before

        # The next start: the sweep spares files younger than a write in progress could be.
        an_hour_ago = time.time() - 3600
        for p in left:
            os.utime(p, (an_hour_ago, an_hour_ago))
        assert sweep_if_idle(app.settings) == len(left)
        assert stray(folder) == []

        result = refresh(app)
        assert result.changes.sites.renamed == 1 and cmt.inventory_header(paths["devices"])[1] == 3000
        assert sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".zenithlink"))\
            == sorted(p.name for p in paths.values())
        app.close()
