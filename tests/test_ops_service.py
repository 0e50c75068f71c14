"""``zenithlink service``: the systemd unit, written into a fake unit folder; never the real systemd."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import cli
from agent.runtime import installers as servicectl

pytestmark = pytest.mark.posix  # systemd units, a shell script as systemctl


def make_ini(folder: Path, dbsys: str = "Dbsys") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ini = folder / "CmtZenithLink.ini"
    ini.write_text(f"[Continuum]\nInstanceID=T1\n[RangerMSP]\nDbsysFolder={dbsys}\n", encoding="utf-8")
    return ini


def zenithlink(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def fake_systemctl(tmp_path):
    """An executable that records its arguments, one call a line."""
    log = tmp_path / "systemctl.log"
    script = tmp_path / "bin" / "systemctl"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{log}'\necho active\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_dry_run_prints_the_unit_with_the_absolute_ini(tmp_path):
    ini = make_ini(tmp_path / "site")
    units = tmp_path / "units"
    units.mkdir()
    # A relative --config from the INI's folder: the unit must still name it absolutely.
    done = zenithlink("--config", "CmtZenithLink.ini", "service", "install", "--dry-run",
                      "--unit-dir", str(units), cwd=ini.parent)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start.endswith(f" --config {ini.resolve()} run")
    assert exec_start.split("=", 1)[1].split()[0].endswith("zenithlink")
    assert "Restart=on-failure" in lines
    assert "After=network-online.target" in lines
    assert "WantedBy=multi-user.target" in lines
    assert "systemctl enable --now " + servicectl.unit_name(ini.parent / "Dbsys") in done.stdout
    assert list(units.iterdir()) == []  # a dry run changes nothing


def test_unit_names_follow_the_dbsys_folder(tmp_path):
    one, two = make_ini(tmp_path / "a"), make_ini(tmp_path / "b")
    shared = make_ini(tmp_path / "c", dbsys=str(tmp_path / "a" / "Dbsys"))
    name = servicectl.unit_name
    assert name(one.parent / "Dbsys") != name(two.parent / "Dbsys")
    assert name(shared.parent / "x" / ".." / ".." / "a" / "Dbsys") == name(one.parent / "Dbsys")
    assert name(one.parent / "Dbsys").startswith("zenithlink-dbsys-")
    assert name(one.parent / "Dbsys").endswith(".service")


def test_paths_with_spaces_and_percent_are_quoted():
    text = servicectl.render_unit(Path("/srv/my 100% agent/CmtZenithLink.ini"), Path("/srv/my 100% agent/Dbsys"),
                                  run_as="zenith", command=["/opt/zl/bin/zenithlink"])
    assert 'ExecStart=/opt/zl/bin/zenithlink --config "/srv/my 100%% agent/CmtZenithLink.ini" run' in text
    assert "User=zenith" in text.splitlines()


def test_install_then_uninstall_in_a_fake_unit_folder(tmp_path, fake_systemctl):
    script, log = fake_systemctl
    ini = make_ini(tmp_path / "site")
    units = tmp_path / "units"
    units.mkdir()
    name = servicectl.unit_name(ini.parent / "Dbsys")
    common = ["--unit-dir", str(units), "--systemctl", str(script)]

    result = invoke("--config", str(ini), "service", "install", *common)
    unit = units / name
    assert result.exit_code == 0
    assert f"--config {ini.resolve()} run" in unit.read_text()
    assert log.read_text().splitlines() == ["daemon-reload", f"enable --now {name}"]

    result = invoke("--config", str(ini), "service", "status", "--json", *common)
    assert '"installed": true' in result.output and '"active": "active"' in result.output

    result = invoke("--config", str(ini), "service", "uninstall", *common)
    assert result.exit_code == 0
    assert not unit.exists()
    assert log.read_text().splitlines()[4:] == [f"disable --now {name}", "daemon-reload"]

    result = invoke("--config", str(ini), "service", "uninstall", *common)
    assert "Nothing to do" in result.output


def test_without_write_access_a_clear_message_and_exit_1(tmp_path, fake_systemctl, monkeypatch):
    script, log = fake_systemctl
    ini = make_ini(tmp_path / "site")
    units = tmp_path / "units"
    units.mkdir()
    monkeypatch.setattr(servicectl, "_writable", lambda folder: False)  # as a normal user on /etc
    result = CliRunner().invoke(cli, ["--config", str(ini), "service", "install", "--unit-dir", str(units),
                                      "--systemctl", str(script)], standalone_mode=False)
    assert result.exception is not None and result.exception.exit_code == 1
    assert "needs root" in result.exception.message and "sudo" in result.exception.message
    assert not log.exists() and list(units.iterdir()) == []


def test_without_systemd_a_clear_message_and_exit_1(tmp_path):
    ini = make_ini(tmp_path / "site")
    done = zenithlink("--config", str(ini), "service", "install", "--systemctl", str(tmp_path / "no-systemctl"))
    assert done.returncode == 1
    assert "does not run systemd" in done.stderr and "zenithlink docs service" in done.stderr


def test_an_invalid_ini_installs_nothing(tmp_path):
    ini = tmp_path / "CmtZenithLink.ini"
    ini.write_text("[Continuum]\nPollIntervalSeconds=often\n", encoding="utf-8")
    done = zenithlink("--config", str(ini), "service", "install", "--dry-run")
    assert done.returncode == 2 and "PollIntervalSeconds" in done.stderr
    assert "ExecStart" not in done.stdout


@pytest.mark.skipif(os.name == "nt", reason="systemd only")
def test_the_real_unit_folder_is_the_default(tmp_path):
    ini = make_ini(tmp_path / "site")
    done = zenithlink("--config", str(ini), "service", "uninstall", "--dry-run")
    assert done.returncode == 0
    assert f"/etc/systemd/system/{servicectl.unit_name(ini.parent / 'Dbsys')}" in done.stdout
