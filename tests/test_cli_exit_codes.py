"""Exit codes that scripts and monitoring rely on: check-config, run --once and status (real processes)."""

from __future__ import annotations

import json

import pytest

from agent.runtime.lock import FolderLock
from agent.sandbox import SandboxServer

from conftest import TEST_PSG, run_cli, write_ini

DEAD_URL = "http://127.0.0.1:9"  # nothing listens there: the connection is refused


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# -- check-config judges the file as run does ----------------------------------------------------
def test_check_config_refuses_a_fresh_template_as_run_does(tmp_path):
    ini = tmp_path / "CmtZenithLink.ini"
    assert run_cli(["init", str(ini)]).code == 0
    checked = run_cli(["check-config", "--offline"], config=ini)
    ran = run_cli(["run", "--once"], config=ini)
    assert (checked.code, ran.code) == (2, 2), checked.out + checked.err
    for name in ("[Continuum] PSG is missing", "[Continuum] ContinuumURL is missing"):
        assert name in checked.err and name in ran.err
    assert "is valid" not in checked.out
    doc = json.loads(run_cli(["check-config", "--json", "--offline"], config=ini).out)
    assert doc["valid"] is False and len(doc["problems"]) == 2


def test_check_config_refuses_a_plugin_that_run_refuses(tmp_path):
    ini = write_ini(tmp_path, "[Plugins]\nnotify_email=Y\n")
    checked = run_cli(["check-config", "--offline"], config=ini)
    ran = run_cli(["run", "--once"], config=ini)
    assert (checked.code, ran.code) == (2, 2), checked.out + checked.err
    assert "[plugin:notify_email] SMTPHost is missing" in checked.err


def test_check_config_refuses_an_unknown_backend_as_run_does(tmp_path):
    ini = write_ini(tmp_path, "[RangerMSP]\nBackend=nosuch\n")
    checked = run_cli(["check-config", "--offline"], config=ini)
    ran = run_cli(["run", "--once"], config=ini)
    assert (checked.code, ran.code) == (2, 2)
    assert "Backend='nosuch'" in checked.err


def test_check_config_fails_when_continuum_cannot_be_reached_unless_offline(tmp_path):
    ini = write_ini(tmp_path, url=DEAD_URL)
    res = run_cli(["check-config"], config=ini)
    assert res.code == 1, res.out + res.err
    assert "The configuration is valid." not in res.out
    assert last_line(res.err).startswith("Error: The connection check failed") and "--offline" in res.err
    as_json = run_cli(["check-config", "--json"], config=ini)
    doc = json.loads(as_json.out)
    assert as_json.code == 1 and doc["valid"] is True and doc["connection"]["ok"] is False
    for flag in ("--offline", "--no-ping"):
        offline = run_cli(["check-config", flag], config=ini)
        assert offline.code == 0, offline.err
        assert "not checked" in offline.out


def test_check_config_passes_when_continuum_answers(tmp_path):
    with SandboxServer(psg=TEST_PSG, sites=1, devices=1) as sb:
        res = run_cli(["check-config"], config=write_ini(tmp_path, url=sb.url))
    assert res.code == 0, res.err
    assert "The configuration is valid." in res.out


# -- run --once fails when its cycle fails ----------------------------------------------------------
def test_run_once_exits_1_and_says_what_failed_when_continuum_is_unreachable(tmp_path):
    res = run_cli(["run", "--once"], config=write_ini(tmp_path, url=DEAD_URL))
    assert res.code == 1, res.err
    line = last_line(res.err)
    assert line.startswith("Error: The cycle failed (inventory)") and "Connection refused" in line
    assert "run 'zenithlink run --once' again" in line
    assert "the agent will try again" not in res.err and "try again later" in line  # it will not: it exits
    assert list((tmp_path / "Dbsys" / "ZenithErrors").glob("*inventory*.xml"))


def test_inventory_refresh_that_fails_does_not_promise_that_the_agent_tries_again(tmp_path):
    res = run_cli(["inventory", "refresh"], config=write_ini(tmp_path, url=DEAD_URL))
    assert res.code == 1, res.err
    line = last_line(res.err)
    assert line.startswith("Error: The inventory refresh failed") and "Connection refused" in line
    assert "the agent will try again" not in line and "try again later, check the network" in line


def test_a_retry_promise_becomes_advice_to_try_again_later():
    from agent.errors import without_retry_promise

    assert without_retry_promise("Busy. The agent tries again later; if this lasts, check it.") == (
        "Busy. Try again later; if this lasts, check it.")
    assert without_retry_promise("Limited; nothing needs fixing, the agent tries again later by itself.") == (
        "Limited; nothing needs fixing, try again later.")
    assert without_retry_promise("Held open. Close it, and the agent tries again at its next round.") == (
        "Held open. Close it, and try again later.")


def test_run_once_exits_1_when_continuum_refuses_the_psg(tmp_path):
    with SandboxServer(psg="the-right-code", sites=2, devices=2, tickets=1) as sb:
        ini = write_ini(tmp_path, "ProcessContinuumUpdatesQueue=Y\n", url=sb.url)
        res = run_cli(["run", "--once"], config=ini)
    assert res.code == 1, res.err
    line = last_line(res.err)
    assert line.startswith("Error: The cycle failed (inventory, inbound)") and "[Continuum] PSG" in line
    assert TEST_PSG not in res.out + res.err


def test_run_once_exits_0_when_every_job_of_the_cycle_is_done(tmp_path):
    with SandboxServer(psg=TEST_PSG, sites=2, devices=2, tickets=1) as sb:
        ini = write_ini(tmp_path, "ProcessContinuumUpdatesQueue=Y\n", url=sb.url)
        res = run_cli(["run", "--once"], config=ini)
    assert res.code == 0, res.err
    assert "Error" not in res.err


# -- status --check for monitoring -----------------------------------------------------------
@pytest.mark.parametrize("as_json", [False, True])
def test_status_check_exits_1_when_no_agent_runs_and_plain_status_0(tmp_path, as_json):
    ini = write_ini(tmp_path)
    extra = ["--json"] if as_json else []
    assert run_cli(["status", *extra], config=ini).code == 0
    res = run_cli(["status", "--check", *extra], config=ini)
    assert res.code == 1
    assert last_line(res.err).startswith("Error: No zenithlink agent is running") and "zenithlink run" in res.err
    if as_json:
        assert json.loads(res.out)["running"] is False  # stdout stays one JSON document


def test_status_check_exits_0_while_an_agent_holds_the_folder(tmp_path):
    ini = write_ini(tmp_path)
    with FolderLock(tmp_path / "Dbsys"):
        res = run_cli(["status", "--check"], config=ini)
    assert res.code == 0, res.err
    assert "running (pid" in res.out
