"""``zenithlink tickets create-in-continuum|reassign|note|complete``, and ``requests`` showing drops.

Run as subprocesses: the exit codes are part of the contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.sandbox import SandboxServer
from agent.sync.requests import RequestProcessor

from test_outbound_support import PSG, env, put_request  # noqa: F401 - env is a fixture


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(psg=PSG, seed=7, sites=4, devices=12) as server:
        yield server


def zl(env, *args, user="jsmith"):
    cmd = [sys.executable, "-c", "from agent.cli import main; main()", "--config", str(env.app.config_path), *args]
    if user:
        cmd += ["--user", user]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_create_in_continuum_queues_and_says_so(env):
    rec_id = env.ticket()
    out = zl(env, "tickets", "create-in-continuum", rec_id, "--assign", "NOC", "--note", "look")
    assert out.returncode == 0, out.stderr
    assert "queued; the agent sends it to Continuum" in out.stdout
    assert env.state.outbox_depth() == 1


def test_create_with_wait_delivers_and_prints_the_continuum_ticket(env, sandbox):
    rec_id = env.ticket()
    out = zl(env, "tickets", "create-in-continuum", rec_id, "--assign", "VSD", "--wait", "20", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["state"] == "done"
    assert doc["continuum_ticket_id"] == env.state.continuum_for_ticket(rec_id)
    assert sandbox.world.ticket(doc["continuum_ticket_id"])["assigned_to"] == "VSD"


def test_reassign_note_complete_with_wait(env, sandbox):
    rec_id, tid = env.linked_ticket()
    assert zl(env, "tickets", "reassign", rec_id, "--assign", "Partner", "--note", "yours",
              "--wait", "20").returncode == 0
    assert zl(env, "tickets", "note", rec_id, "a note from the CLI", "--wait", "20").returncode == 0
    out = zl(env, "tickets", "complete", rec_id, "--wait", "20")
    assert out.returncode == 0, out.stderr
    assert "sent to Continuum" in out.stdout
    remote = sandbox.world.ticket(tid)
    assert remote["status"] == "Closed" and remote["assigned_to"] == "Partner"
    again = zl(env, "tickets", "complete", rec_id)
    assert again.returncode == 0 and "already" in again.stdout


def test_exit_codes_for_preconditions_privileges_usage_and_refusals(env):
    unlinked = env.ticket(account=env.unlinked_account)
    out = zl(env, "tickets", "create-in-continuum", unlinked, "--assign", "NOC")
    assert out.returncode == 1 and "Nobody Ltd" in out.stderr and "link-site" in out.stderr
    out = zl(env, "tickets", "create-in-continuum", env.ticket(), "--assign", "NOC", user="limited")
    assert out.returncode == 3 and "Continuum Integration" in out.stderr
    out = zl(env, "tickets", "note", env.ticket(), "hello")
    assert out.returncode == 1 and "is not linked to a Continuum ticket" in out.stderr
    out = zl(env, "tickets", "reassign", env.ticket(), "--assign", "NOC")
    assert out.returncode == 2
    rec_id = env.ticket()
    env.state.link_ticket("123456789", rec_id, acked=True)  # unknown to Continuum: refused for good
    out = zl(env, "tickets", "note", rec_id, "hello", "--wait", "20")
    assert out.returncode == 1 and "refused" in out.stderr.lower()
    assert env.state.outbox_depth() == 0 and env.state.get_outbox(1).state == "failed"


def test_requests_listing(env):
    rec_id = env.ticket(account=env.unlinked_account)
    put_request(env, "cli-1", "CreateTicket", TicketRecID=rec_id, AssignTo="NOC")
    RequestProcessor(env.app).scan()
    out = zl(env, "requests", "--failed", "--json", user=None)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows] == ["cli-1"] and rows[0]["error_code"] == "NotLinked"
    assert "cli-1" in zl(env, "requests", user=None).stdout
