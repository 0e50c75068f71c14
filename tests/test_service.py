"""The service: one per folder, hot reload, clean stop, and the PSG nowhere (real processes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.sandbox import SandboxServer
from dbsys.status import read_status, status_path

from conftest import ROOT, TEST_PSG, run_cli, track, wait_for, write_ini

LEAKY_PLUGIN = '''
import os
from agent.hookspecs import hookimpl

def _psg():
    for line in open(os.environ["ZENITHLINK_CONFIG"], encoding="utf-8"):
        if line.lower().startswith("psg="):
            return line.split("=", 1)[1].strip()

@hookimpl
def zenith_notify(event):
    secret = _psg()
    raise RuntimeError("notifier exploded holding " + secret)

@hookimpl
def zenith_skip_change(change, settings):
    psg = settings.psg
    raise ValueError(f"skip rule exploded with {psg}")
'''


@pytest.fixture
def sandbox():
    with SandboxServer(psg=TEST_PSG, seed=3, sites=5, devices=20, tickets=3) as sb:
        yield sb


def start_agent(ini: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ZENITHLINK_CONFIG=str(ini))
    proc = subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "-v", "run", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return track(proc)




def status_of(ini: Path) -> dict:
    path = status_path(ini.parent / "Dbsys", "RMAZenithINFOTECHID1")
    try:
        return read_status(path)
    except (FileNotFoundError, ValueError):
        return {}


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def test_second_instance_is_refused_naming_the_holder(tmp_path, sandbox):
    ini = write_ini(tmp_path, url=sandbox.url)
    first = start_agent(ini)
    try:
        wait_for(lambda: status_of(ini).get("pid"), 15, "the first agent's status file")
        res = run_cli(["run"], config=ini, timeout=30)
        assert res.code == 1
        assert f"pid {first.pid}" in res.err and "already running" in res.err
    finally:
        stop(first)


@pytest.mark.posix  # a graceful SIGTERM
def test_sigterm_stops_promptly_and_cleanly(tmp_path, sandbox):
    ini = write_ini(tmp_path, url=sandbox.url)
    proc = start_agent(ini)
    wait_for(lambda: status_of(ini).get("pid"), 15, "the status file")
    started = time.monotonic()
    code, err = stop(proc)
    assert code == 0, err
    assert time.monotonic() - started < 10  # the stop contract's bound, far above the 4 s grace
    assert status_of(ini)["running"] is False
    leftovers = list((tmp_path / "Dbsys").rglob("*.tmp"))
    assert leftovers == []


@pytest.mark.parametrize("how", ["rename", "in_place"])
def test_ini_hot_reload_without_a_restart(tmp_path, sandbox, how):
    ini = write_ini(tmp_path, url=sandbox.url)
    proc = start_agent(ini)
    try:
        wait_for(lambda: status_of(ini).get("pid"), 15, "the status file")
        assert status_of(ini)["process_queue"] is False
        new_text = ini.read_text() + "ProcessContinuumUpdatesQueue=Y\n"
        if how == "rename":
            tmp = ini.with_name(".CmtZenithLink.ini.swp")
            tmp.write_text(new_text)
            os.replace(tmp, ini)
        else:
            with open(ini, "r+") as handle:
                handle.seek(0)
                handle.write(new_text)
                handle.truncate()
        # How fast is the watcher's business (debounce, a poll at worst); here only that it happens.
        wait_for(lambda: status_of(ini).get("process_queue") is True, 20, "the reloaded setting")
        assert proc.poll() is None  # the same process: reloaded, not restarted
    finally:
        stop(proc)


def test_invalid_reload_keeps_the_last_good_config(tmp_path, sandbox):
    ini = write_ini(tmp_path, url=sandbox.url)
    proc = start_agent(ini)
    try:
        wait_for(lambda: status_of(ini).get("pid"), 15, "the status file")
        good = ini.read_text()
        ini.write_text(good + "PollIntervalSeconds=often\n")
        errors = tmp_path / "Dbsys" / "ZenithErrors"
        report = wait_for(lambda: list(errors.glob("*config*.xml")) if errors.exists() else None, 5,
                          "an error report for the refused configuration")
        assert "PollIntervalSeconds" in report[0].read_text()
        assert proc.poll() is None, "the agent must keep running on the last good configuration"
        ini.write_text(good + "ProcessContinuumUpdatesQueue=Y\n")
        wait_for(lambda: status_of(ini).get("process_queue") is True, 5, "a later valid change")
    finally:
        stop(proc)


def last_queue_poll(ini: Path) -> str | None:
    database = ini.parent / "Dbsys" / "zenithlink.sqlite3"
    if not database.exists():
        return None
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM sync_state WHERE key = 'last_queue_poll'").fetchone()
    except sqlite3.OperationalError:  # the agent is still creating the store
        return None
    finally:
        db.close()
    return row[0] if row else None


@pytest.mark.posix  # a graceful SIGTERM (Wine delivers no console event to stop it on Windows)
@pytest.mark.parametrize("broken, missing", [
    ("", ["PSG", "ContinuumURL"]),
    ("[Continuum]\nContinuumURL={url}\nProcessContinuumUpdatesQueue=Y\n", ["PSG"]),
    (f"[Continuum]\nPSG={TEST_PSG}\nProcessContinuumUpdatesQueue=Y\n", ["ContinuumURL"]),
], ids=["empty", "no-psg", "no-url"])
def test_a_reload_refuses_what_start_up_refuses_and_keeps_polling(tmp_path, sandbox, broken, missing):
    ini = write_ini(tmp_path, "ProcessContinuumUpdatesQueue=Y\nPollIntervalSeconds=1\n", url=sandbox.url)
    assert run_cli(["check-config", "--offline"], config=ini).code == 0
    err_path = tmp_path / "agent.err"
    env = dict(os.environ, PYTHONPATH=str(ROOT), ZENITHLINK_CONFIG=str(ini))
    with err_path.open("w") as err:  # a file: a pipe nobody reads could fill and stall the agent
        proc = track(subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "-v", "run"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err))
    try:
        wait_for(lambda: last_queue_poll(ini), 20, "the first poll of the queue")
        with open(ini, "r+") as handle:  # rewritten in place, as an editor that truncates first
            handle.seek(0)
            handle.write(broken.format(url=sandbox.url))
            handle.truncate()
        assert run_cli(["run", "--once"], config=ini).code == 2, "start-up refuses this file"
        errors = tmp_path / "Dbsys" / "ZenithErrors"
        report = wait_for(lambda: list(errors.glob("*config*.xml")) if errors.exists() else None, 10,
                          "an error report for the refused configuration")
        assert all(f"{name} is missing" in report[0].read_text() for name in missing)
        polled = last_queue_poll(ini)
        wait_for(lambda: last_queue_poll(ini) != polled, 10, "a later poll: the queue is still read")
        assert proc.poll() is None
    finally:
        code, _ = stop(proc)
    log = err_path.read_text()
    assert code == 0, log[-2000:]
    refused = [line for line in log.splitlines() if "the changed configuration was refused" in line]
    assert refused and all(f"[Continuum] {name} is missing" in refused[0] for name in missing), log[-2000:]
    assert "configuration reloaded" not in log


def test_invalid_ini_at_start_exits_2_with_every_problem(tmp_path):
    ini = write_ini(tmp_path, "VerifyTLS=sometimes\nPollIntervalSeconds=-1\n")
    res = run_cli(["run", "--once"], config=ini)
    assert res.code == 2
    assert "VerifyTLS" in res.err and "PollIntervalSeconds" in res.err


def test_psg_never_written_anywhere(tmp_path, sandbox):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "leaky.py").write_text(LEAKY_PLUGIN)
    ini = write_ini(tmp_path, "ProcessContinuumUpdatesQueue=Y\n[Plugins]\nPluginFolders=plugins\n"
                              "[Logging]\nLevel=DEBUG\n", url=sandbox.url)
    res = run_cli(["-vv", "run", "--once"], config=ini, env={"ZENITHLINK_CONFIG": str(ini)})
    assert "exploded" in res.err, "the leaky plugin must have run for this test to mean anything"
    assert TEST_PSG not in res.out + res.err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != ini and p.parent != plugins]
    assert any(p.suffix == ".log" for p in written)
    for path in written:
        assert TEST_PSG.encode() not in path.read_bytes(), f"the PSG leaked into {path.name}"


def test_a_new_requests_folder_takes_effect_without_a_restart(tmp_path, sandbox):
    ini = write_ini(tmp_path, url=sandbox.url)
    proc = start_agent(ini)
    try:
        wait_for(lambda: status_of(ini).get("pid"), 15, "the status file")
        ini.write_text(ini.read_text() + "[RangerMSP]\nRequestsFolder=Drops\n")
        drops = tmp_path / "Drops"
        wait_for(drops.exists, 5, "the new requests folder")
        (drops / "r1.xml").write_text('<ZenithRequest id="r1" action="UnlinkSite" user="nobody">'
                                      "<SiteCode>X</SiteCode></ZenithRequest>")
        result = drops / "Results" / "r1.xml"
        wait_for(result.exists, 10, "a result in the new folder")
        assert 'status="Failed"' in result.read_text()
        # The result is written first, then the drop moves (D3): it follows at once, not with it.
        wait_for((drops / "Failed" / "r1.xml").exists, 10, "the drop in Failed")
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.posix  # a graceful SIGTERM
def test_a_backlog_beyond_one_round_is_read_on_without_waiting_for_the_poll_interval(tmp_path):
    from agent.app import App
    from agent.sync.inbound.engine import MAX_PAGES_PER_ROUND, PAGE_LIMIT

    backlog = PAGE_LIMIT * MAX_PAGES_PER_ROUND + 200  # one round's budget, and more
    with SandboxServer(psg=TEST_PSG, seed=3, sites=5, devices=20) as sb:
        sb.world.open_tickets(backlog)
        ini = write_ini(tmp_path, "ProcessContinuumUpdatesQueue=Y\nPollIntervalSeconds=3600\n", url=sb.url)
        env = dict(os.environ, PYTHONPATH=str(ROOT), ZENITHLINK_CONFIG=str(ini))
        with (tmp_path / "agent.err").open("w") as err:  # a file: a pipe nobody reads would fill and stall it
            proc = track(subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "run"],
                                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err))
        app = App(ini)
        try:
            wait_for(lambda: app.psa.count_tickets() == backlog, 60,
                     f"{backlog} tickets (the poll interval is an hour: only an immediate second round gets there)")
            wait_for(lambda: sb.world.acked_cursor == app.state.feed_cursor, 10, "the last ack")
        finally:
            app.close()
            code, _ = stop(proc)
        assert code == 0, (tmp_path / "agent.err").read_text()[-2000:]


def test_a_reload_that_changes_only_the_psg_wakes_the_workers(tmp_path):
    from agent.app import App
    from agent.runtime.service import Service

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nPSG=old-code\nContinuumURL=http://127.0.0.1:9\n[RangerMSP]\nDbsysFolder=Dbsys\n")
    app = App(ini)
    try:
        service = Service(app)
        wake = threading.Event()
        service.workers = {"queue": SimpleNamespace(wake=wake)}
        ini.write_text("[Continuum]\nPSG=new-code\nContinuumURL=http://127.0.0.1:9\n[RangerMSP]\nDbsysFolder=Dbsys\n")
        assert service.reload() is True
        assert wake.is_set() and app.settings.psg == "new-code"
        service.processor.close()
    finally:
        app.close()


def test_shutdown_leaves_the_store_open_for_a_worker_that_outlived_the_grace(tmp_path, monkeypatch):
    from agent.app import App
    from agent.runtime import service as service_module

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[RangerMSP]\nDbsysFolder=Dbsys\n")
    app = App(ini)
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="outbox worker")
    stuck.start()
    try:
        monkeypatch.setattr(service_module, "STOP_GRACE_SECONDS", 0.05)
        service = service_module.Service(app)
        service.workers = {"outbox": SimpleNamespace(thread=stuck, wake=threading.Event())}
        state = app.state
        service._shutdown()
        app.close()
        state.set_state("still", "writable")  # the worker's store was not closed under it
        assert state.get_state("still") == "writable"
    finally:
        release.set()
        stuck.join()
    app.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed once the worker had finished
        state.db.conn.execute("SELECT 1")


def test_a_refused_reload_leaves_every_notifier_as_it_was(tmp_path):
    from agent.app import App
    from agent.runtime.service import Service
    from plugins import notify_webhook

    base = "[Continuum]\nPSG=code\nContinuumURL=http://127.0.0.1:9\n[RangerMSP]\nDbsysFolder=Dbsys\n"
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text(base + "[Plugins]\nnotify_webhook=Y\n[plugin:notify_webhook]\nURL=http://127.0.0.1:9/a\n")
    app = App(ini)
    try:
        app.pm  # noqa: B018 - configures the webhook notifier for /a
        running = notify_webhook._slot._current
        assert running.config.url.endswith("/a")
        service = Service(app)
        # The webhook moves to /b, but the e-mail notifier is switched on without its settings.
        ini.write_text(base + "[Plugins]\nnotify_webhook=Y\nnotify_email=Y\n"
                              "[plugin:notify_webhook]\nURL=http://127.0.0.1:9/b\n")
        assert service.reload() is False
        assert notify_webhook._slot._current is running and running.config.url.endswith("/a")
        service.processor.close()
    finally:
        app.close()
        notify_webhook.shutdown(timeout=1)


def test_start_up_sweeps_every_temporary_file_a_killed_agent_left_however_young(tmp_path):
    from agent.app import App
    from agent.runtime.service import Service
    from dbsys.atomic import temp_name

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[RangerMSP]\nDbsysFolder=Dbsys\n")
    results = tmp_path / "Dbsys" / "ZenithRequests" / "Results"
    results.mkdir(parents=True)
    left = [results / temp_name("r1.xml"), tmp_path / "Dbsys" / temp_name("ZenithDevices_X.cmt")]
    for path in left:
        path.write_bytes(b"half")  # written a moment ago by an agent that was then killed
    keep = results / "r2.xml"
    keep.write_bytes(b"<Result/>")
    app = App(ini)
    try:
        service = Service(app)
        service._prepare()
        service.processor.close()
    finally:
        app.close()
    assert [p.exists() for p in left] == [False, False]
    assert keep.exists()


def test_while_running_housekeeping_removes_stray_temporary_files_but_not_a_write_in_progress(tmp_path):
    from agent.app import App
    from agent.runtime import service as service_module
    from dbsys import results as results_module
    from dbsys.atomic import temp_name

    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[RangerMSP]\nDbsysFolder=Dbsys\n")
    results = tmp_path / "Dbsys" / "ZenithRequests" / "Results"
    results.mkdir(parents=True)
    stale = [results / temp_name("r1.xml"), tmp_path / "Dbsys" / temp_name("ZenithDevices_X.cmt"),
             tmp_path / "Dbsys" / "ZenithRequests" / "Processed" / temp_name("d1.xml")]
    writing = results / temp_name("r2.xml")
    long_ago = time.time() - service_module.STALE_TEMP_SECONDS - 5
    for path in [*stale, writing]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    for path in stale:  # left by a command killed while the agent ran: nobody has written it since
        os.utime(path, (long_ago, long_ago))
    app = App(ini)
    try:
        # And a result that says Queued for a request the store has finished (its write failed).
        app.state.record_request("q-1", "hash", "q-1.xml", "AddNote", "tech", "Queued")
        app.state.finish_request("q-1", "Done")
        results_module.write_result(results, "q-1", "AddNote", "Queued")
        service = service_module.Service(app)
        sweep = service._workers()["housekeeping"]
        assert sweep.interval() == service_module.HOUSEKEEPING_EVERY_SECONDS
        sweep.run_guarded()
        service.processor.close()
    finally:
        app.close()
    assert [p.exists() for p in stale] == [False, False, False]
    assert writing.exists()  # written a moment ago: a writer may still own it
    assert results_module.read_result(results / "q-1.xml")["status"] == "Done"


@pytest.mark.posix  # a graceful SIGTERM
def test_a_stop_while_a_send_hangs_ends_within_the_contract_and_the_send_applies_once(tmp_path, sandbox):
    from stores import embedded

    from test_outbound_support import PSG, make_env

    env = make_env(tmp_path, sandbox)
    rec_id, tid = env.linked_ticket()
    ini = env.app.config_path
    env.app.close()
    ini.write_text(ini.read_text().replace("RequestTimeoutSeconds=5", "RequestTimeoutSeconds=30")
                   .replace(f"PSG={PSG}", f"PSG={TEST_PSG}"))
    assert run_cli(["tickets", "note", rec_id, "held by a slow Continuum"], config=ini, user="jsmith").code == 0
    # Continuum answers the note only after 6 s: it applies it after the agent has gone.
    sandbox.faults.set(latency_ms=6000, paths=[f"/psa/v1/tickets/{tid}/notes"])
    proc = start_agent(ini)
    wait_for(lambda: sandbox.faults.held, 30, "the note's send to be in flight")
    started = time.monotonic()
    code, err = stop(proc)
    assert code == 0, err
    assert time.monotonic() - started < 10  # the stop contract, though the request may take 30 s
    assert "abandoned" in err

    def notes() -> list[str]:
        return [n["text"] for n in sandbox.world.ticket(tid)["notes"] if "held by a slow" in n["text"]]

    wait_for(notes, 20, "Continuum to apply the abandoned send")
    sandbox.faults.clear()
    assert run_cli(["run", "--once"], config=ini, timeout=60).code == 0  # sends the pending row again
    assert len(notes()) == 1  # its idempotency key: applied once
    with embedded(ini.parent / "Dbsys" / "zenithlink.sqlite3") as (state, _):
        assert state.outbox_depth() == 0
