"""The Windows service: its install plan, its recovery policy, and what it runs, through the seams
that stand for Windows here (the service control manager behind ``ServiceControl``; the service
body, ``AgentServiceHost``, run for real against the sandbox Continuum)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.runtime import installers, winservice
from agent.runtime.installers import ServiceError
from agent.runtime.lock import FolderLock
from agent.sandbox import SandboxServer
from dbsys import reports
from dbsys.status import read_status, status_path

from conftest import TEST_PSG, run_cli, wait_for, write_ini


class RecordingControl:
    """The control manager's side of the seam: records what it is asked, fails where told."""

    def __init__(self, fail: set[str] = frozenset()) -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def _call(self, verb: str, *args) -> None:
        self.calls.append((verb, *args))
        if verb in self.fail:
            raise OSError(5, "Access is denied")

    def create(self, *args) -> None:
        self._call("create", *args)

    def set_delayed_start(self, name) -> None:
        self._call("set_delayed_start", name)

    def set_recovery(self, *args) -> None:
        self._call("set_recovery", *args)

    def set_recovery_on_failure_code(self, name) -> None:
        self._call("set_recovery_on_failure_code", name)

    def start(self, name) -> None:
        self._call("start", name)

    def stop(self, name) -> None:
        self._call("stop", name)

    def delete(self, name) -> None:
        self._call("delete", name)

    def query(self, name):
        return {"state": "running"}


def test_the_install_plan_registers_one_delayed_auto_service_per_folder_with_recovery(tmp_path):
    ini = write_ini(tmp_path)
    shown = run_cli(["service", "install", "--target", "windows", "--dry-run"], config=ini)
    assert shown.code == 0, shown.err
    name = winservice.service_name(tmp_path / "Dbsys")
    assert name.startswith("ZenithLinkRMMServer-") and name in shown.out
    assert "Automatic (Delayed Start)" in shown.out and "agent.runtime.winservice.ZenithLinkService" in shown.out
    assert "restart after 60 s, 60 s, 300 s" in shown.out and "not after a configuration error" in shown.out
    assert str(ini.resolve()) in shown.out
    other = tmp_path / "other"
    other.mkdir()
    assert winservice.service_name(other / "Dbsys") != name  # two folders, two services


def test_applying_the_plan_asks_the_control_manager_in_order_and_a_refusal_is_one_sentence(tmp_path):
    plan = winservice.install_plan(tmp_path / "CmtZenithLink.ini", tmp_path / "Dbsys", exe="C:/py/pythonservice.exe")
    control = RecordingControl()
    applied = winservice.apply(plan, control)
    assert [c[0] for c in control.calls] == ["create", "set_delayed_start", "set_recovery",
                                             "set_recovery_on_failure_code", "start"]
    create = control.calls[0]
    assert create[1:5] == (plan.name, plan.display, "C:/py/pythonservice.exe", winservice.SERVICE_CLASS)
    assert create[5] == str((tmp_path / "CmtZenithLink.ini").resolve())
    assert control.calls[2][2:] == ([60_000, 60_000, 300_000], 86_400)
    assert len(applied.done) == 5 and applied.refused == []

    with pytest.raises(ServiceError, match="elevated prompt"):
        winservice.apply(plan, RecordingControl(fail={"create"}))
    # Uninstalling a service that is not running: the stop may fail, the removal must happen.
    gone = RecordingControl(fail={"stop"})
    winservice.apply(winservice.uninstall_plan(tmp_path / "Dbsys"), gone)
    assert [c[0] for c in gone.calls] == ["stop", "delete"]


def test_a_refused_recovery_setting_still_registers_and_starts_the_service_and_says_how_to_set_it(tmp_path):
    # Wine refuses the failure-actions flag (ERROR_INVALID_LEVEL); some Windows policies refuse more.
    plan = winservice.install_plan(tmp_path / "CmtZenithLink.ini", tmp_path / "Dbsys", exe="C:/py/pythonservice.exe")
    control = RecordingControl(fail={"set_delayed_start", "set_recovery", "set_recovery_on_failure_code"})
    applied = winservice.apply(plan, control)
    assert [c[0] for c in control.calls][-1] == "start"
    assert len(applied.done) == 2 and len(applied.refused) == 3
    assert f"sc config {plan.name} start= delayed-auto" in applied.refused[0]
    by_hand = f"sc failure {plan.name} reset= 86400 actions= restart/60000/restart/60000/restart/300000"
    assert by_hand in applied.refused[1]
    assert f"sc failureflag {plan.name} 1" in applied.refused[2]
    assert all("works without it" in r for r in applied.refused)


def test_a_configuration_error_is_not_restarted_a_failure_is():
    assert winservice.scm_exit_code(0) == 0
    assert winservice.scm_exit_code(2) == 0  # a bad INI: restarting would only fail again
    assert winservice.scm_exit_code(1) == 1


def test_without_windows_the_real_control_manager_is_refused_with_what_to_do(tmp_path):
    if winservice.Pywin32Control is not None:
        pytest.skip("this machine has pywin32")
    with pytest.raises(ServiceError, match="pywin32"):
        winservice.real_control()
    refused = run_cli(["service", "install", "--target", "windows"], config=write_ini(tmp_path))
    assert refused.code == 1 and "--dry-run --target windows" in refused.err


def test_the_systemd_unit_does_not_restart_after_a_configuration_error(tmp_path):
    unit = installers.render_unit(tmp_path / "CmtZenithLink.ini", tmp_path / "Dbsys", command=["zenithlink"])
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=2" in unit


def test_the_service_body_runs_the_agent_and_the_stop_request_is_a_clean_stop(tmp_path):
    with SandboxServer(psg=TEST_PSG, seed=2, sites=3, devices=5) as sb:
        ini = write_ini(tmp_path, url=sb.url)
        host = winservice.AgentServiceHost(ini)
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(host.run()), name="service body")
        thread.start()
        folder = tmp_path / "Dbsys"
        wait_for(lambda: installers.agent_running(folder)[0], 30, "the agent to hold its folder")
        wait_for(lambda: _status(folder).get("last_inventory_refresh"), 30, "the first inventory refresh")
        host.stop()
        thread.join(timeout=15)
    assert not thread.is_alive() and result == [0]
    assert installers.agent_running(folder) == (False, None)
    assert _status(folder)["running"] is False  # the final status of a clean stop


def test_the_service_body_reports_a_refused_ini_and_ends_without_a_failure_code(tmp_path):
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[RangerMSP]\nDbsysFolder=Dbsys\n", encoding="utf-8")  # no PSG, no ContinuumURL
    code = winservice.AgentServiceHost(ini).run()
    assert code == 2 and winservice.scm_exit_code(code) == 0
    [report] = reports.list_reports(tmp_path / "Dbsys")
    assert "PSG" in reports.read_report(tmp_path / "Dbsys", report.name)["error"]


def test_a_second_agent_on_the_folder_is_a_failure_the_control_manager_restarts(tmp_path):
    ini = write_ini(tmp_path, url="http://127.0.0.1:9")
    (tmp_path / "Dbsys").mkdir(exist_ok=True)
    lock = FolderLock(tmp_path / "Dbsys")
    lock.acquire()
    try:
        code = winservice.AgentServiceHost(ini).run()
    finally:
        lock.release()
    assert code == 1 and winservice.scm_exit_code(code) == 1


def test_a_stop_before_the_agent_started_ends_the_body_at_once(tmp_path):
    host = winservice.AgentServiceHost(write_ini(tmp_path, url="http://127.0.0.1:9"))
    host.stop()
    assert host.run() == 0


def _status(folder: Path) -> dict:
    path = status_path(folder, "RMAZenithINFOTECHID1")
    try:
        return read_status(path)
    except (FileNotFoundError, ValueError):
        return {}
