"""A RangerMSP API update (1023) while the agent runs its DLLs in its own process: the loaded DLLs
cannot be loaded again there, so the service stops with a failure code, which Windows' recovery
actions answer by starting it again (docs/service.md); the new process works (real processes)."""

from __future__ import annotations

import json
import re

from agent.sandbox import SandboxServer
from agent.sandbox.rangermsp import SimulatorDatabase
from agent.sandbox.rangermsp.faults import FILE_NAME

from conftest import run_cli, wait_for
from test_inbound_support import ini_text
from test_service import start_agent, status_of


def test_a_newer_api_stops_the_service_with_a_failure_code_and_a_new_process_carries_on(tmp_path):
    dbsys = tmp_path / "Dbsys"
    db_folder = dbsys / "RangerMSP-simulator" / "Db"
    with SandboxServer(psg="demo", seed=5, sites=3, devices=6) as sb:
        ini = tmp_path / "CmtZenithLink.ini"
        ini.write_text(re.sub(r"^Backend=.*$", "Backend=rangermsp-simulator", ini_text(sb.url, dbsys), flags=re.M),
                       encoding="utf-8")
        proc = start_agent(ini)
        wait_for(lambda: status_of(ini).get("running"), 60, "the agent to start")
        (db_folder / FILE_NAME).write_text(json.dumps({"newer_api": 1}), encoding="utf-8")
        sb.world.open_tickets(2)

        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "1023" in err and "Restart the zenithlink service" in err
        assert status_of(ini)["running"] is False

        (db_folder / FILE_NAME).write_text("{}", encoding="utf-8")  # the new DLLs load in the new process
        assert run_cli(["run", "--once"], config=ini, timeout=120).code == 0
    sim = SimulatorDatabase(db_folder)
    try:
        assert len(sim.records("TICKET")) == 2
    finally:
        sim.close()
