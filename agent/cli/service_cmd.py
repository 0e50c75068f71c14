"""``zenithlink service``: the agent as a system service (a Windows service on Windows, a systemd
unit elsewhere)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from agent.cli.options import json_option
from agent.cli.output import done, emit_json, table
from agent.runtime import installers as servicectl
from agent.runtime import winservice


# -- service ---------------------------------------------------------------------------------
@click.group("service")
def service() -> None:
    """Install, remove, start, stop or query the agent as a system service (a Windows service on
    Windows, a systemd unit elsewhere)."""


def _target() -> str:
    return "windows" if os.name == "nt" else "systemd"


def _service_options(fn):
    fn = click.option("--target", type=click.Choice(["systemd", "windows"]), default=None,
                      help="The kind of service (default: this machine's). With --dry-run, shows another "
                           "system's plan.")(fn)
    fn = click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")(fn)
    fn = click.option("--unit-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                      hidden=True)(fn)
    fn = click.option("--systemctl", "systemctl", default="systemctl", hidden=True)(fn)
    return fn


def _systemctl(unit_dir: Path | None, systemctl: str) -> str:
    # A unit folder given by hand (tests, packaging) is not the live systemd: skip that check.
    return servicectl.check_systemd(systemctl, real=unit_dir is None)


@service.command("install")
@_service_options
@click.option("--run-as", default=None, metavar="USER", help="Run the agent as this system user (default: root).")
@click.pass_obj
def service_install(app, target: str | None, dry_run: bool, unit_dir: Path | None, systemctl: str,
                    run_as: str | None) -> None:
    """Install and start the agent as a service that starts at boot (Windows: Automatic (Delayed
    Start), restarted after a failure but not after a configuration error)."""
    settings = app.settings  # an invalid INI stops here (exit 2), before anything is installed
    if (target or _target()) == "windows":
        _windows_apply(winservice.install_plan(app.config_path, settings.dbsys_folder), dry_run,
                       "Installed and started {}. Check it with 'zenithlink service status'.")
        return
    if not dry_run:
        systemctl = _systemctl(unit_dir, systemctl)
    plan = servicectl.install_plan(app.config_path, settings.dbsys_folder,
                                   unit_dir=unit_dir or servicectl.SYSTEM_UNIT_DIR, run_as=run_as, systemctl=systemctl)
    if dry_run:
        _print_plan(plan)
        return
    servicectl.check_writable(plan.unit_path.parent)
    if plan.unit_path.exists() and plan.unit_path.read_text(encoding="utf-8") != plan.unit_text:
        click.echo(f"Replacing the existing unit {plan.unit_name} (one agent per Dbsys folder).", err=True)
    for step in servicectl.apply(plan):
        click.echo(f"  {step}", err=True)
    done(f"Installed and started {plan.unit_name}. Check it with 'zenithlink service status'.")


@service.command("uninstall")
@_service_options
@click.pass_obj
def service_uninstall(app, target: str | None, dry_run: bool, unit_dir: Path | None, systemctl: str) -> None:
    """Stop the service and remove it."""
    settings = app.settings
    if (target or _target()) == "windows":
        _windows_apply(winservice.uninstall_plan(settings.dbsys_folder), dry_run, "Stopped and removed {}.")
        return
    folder = unit_dir or servicectl.SYSTEM_UNIT_DIR
    plan = servicectl.uninstall_plan(settings.dbsys_folder, unit_dir=folder, systemctl=systemctl)
    if dry_run:
        _print_plan(plan)
        return
    if not plan.unit_path.exists():
        done(f"Nothing to do: {plan.unit_name} is not installed in {folder}.")
        return
    plan = servicectl.uninstall_plan(settings.dbsys_folder, unit_dir=folder,
                                     systemctl=_systemctl(unit_dir, systemctl))
    servicectl.check_writable(folder)
    for step in servicectl.apply(plan):
        click.echo(f"  {step}", err=True)
    done(f"Stopped and removed {plan.unit_name}.")


@service.command("status")
@_service_options
@json_option
@click.pass_obj
def service_status(app, target: str | None, dry_run: bool, unit_dir: Path | None, systemctl: str,
                   as_json: bool) -> None:
    """Whether the service is installed, enabled and active."""
    settings = app.settings
    if (target or _target()) == "windows":
        _windows_status(app, dry_run, as_json)
        return
    name = servicectl.unit_name(settings.dbsys_folder)
    path = (unit_dir or servicectl.SYSTEM_UNIT_DIR) / name
    doc: dict[str, Any] = {"unit": name, "unit_file": str(path), "installed": path.exists(),
                           "active": None, "enabled": None, "problem": None}
    if path.exists():
        doc["exec_start"] = next((line.split("=", 1)[1] for line in path.read_text(encoding="utf-8").splitlines()
                                  if line.startswith("ExecStart=")), None)
    if dry_run:
        doc["problem"] = f"not asked (--dry-run): {systemctl} is-active {name}; {systemctl} is-enabled {name}"
    else:
        try:
            answers = servicectl.query(name, _systemctl(unit_dir, systemctl))
        except servicectl.ServiceError as exc:
            doc["problem"] = exc.message
        else:
            doc["active"], doc["enabled"] = answers["is-active"], answers["is-enabled"]
    if as_json:
        emit_json(doc)
        return
    table(f"Service {name}", ["field", "value"], [
        ("unit file", f"{path} ({'installed' if doc['installed'] else 'not installed'})"),
        ("active", doc["active"] or "-"), ("enabled", doc["enabled"] or "-"),
        *([("note", doc["problem"])] if doc["problem"] else [])])


@service.command("start")
@_service_options
@click.pass_obj
def service_start(app, target: str | None, dry_run: bool, unit_dir: Path | None, systemctl: str) -> None:
    """Start the installed service."""
    _start_or_stop(app, "start", target, dry_run, unit_dir, systemctl)


@service.command("stop")
@_service_options
@click.pass_obj
def service_stop(app, target: str | None, dry_run: bool, unit_dir: Path | None, systemctl: str) -> None:
    """Stop the service: the agent finishes what it is doing (the same clean stop as SIGTERM)."""
    _start_or_stop(app, "stop", target, dry_run, unit_dir, systemctl)


def _start_or_stop(app, verb: str, target: str | None, dry_run: bool, unit_dir: Path | None, systemctl: str) -> None:
    folder = app.settings.dbsys_folder
    if (target or _target()) == "windows":
        name = winservice.service_name(folder)
        plan = winservice.WindowsPlan(name, winservice.display_name(folder), [(verb, {"name": name})])
        _windows_apply(plan, dry_run, f"{'Started' if verb == 'start' else 'Stopped'} {{}}.")
        return
    name = servicectl.unit_name(folder)
    if dry_run:
        click.echo(f"# {systemctl} {verb} {name} (not done: --dry-run)")
        return
    servicectl.apply(servicectl.Plan(name, (unit_dir or servicectl.SYSTEM_UNIT_DIR) / name, None,
                                     [("run", [_systemctl(unit_dir, systemctl), verb, name])]))
    done(f"{'Started' if verb == 'start' else 'Stopped'} {name}.")


def _windows_apply(plan: winservice.WindowsPlan, dry_run: bool, message: str) -> None:
    if dry_run:
        click.echo(f"# Windows service {plan.name}: {plan.display}")
        click.echo("# steps (not done: --dry-run; they need an elevated prompt)")
        for step in plan.describe():
            click.echo(f"#   {step}")
        return
    applied = winservice.apply(plan, winservice.real_control())
    for step in applied.done:
        click.echo(f"  {step}", err=True)
    for refusal in applied.refused:
        click.echo(f"Warning: {refusal}", err=True)
    done(message.format(plan.name))


def _windows_status(app, dry_run: bool, as_json: bool) -> None:
    name = winservice.service_name(app.settings.dbsys_folder)
    doc: dict[str, Any] = {"service": name, "display_name": winservice.display_name(app.settings.dbsys_folder),
                           "installed": None, "state": None, "problem": None}
    if dry_run:
        doc["problem"] = "not asked (--dry-run)"
    else:
        try:
            doc.update(winservice.real_control().query(name), installed=True)
        except servicectl.ServiceError as exc:
            doc["problem"] = exc.message
        except Exception as exc:  # noqa: BLE001 - e.g. not installed: the control manager says so
            doc.update(installed=False, problem=str(exc))
    if as_json:
        emit_json(doc)
        return
    table(f"Service {name}", ["field", "value"], [
        ("display name", doc["display_name"]),
        ("installed", "?" if doc["installed"] is None else str(doc["installed"])), ("state", doc["state"] or "-"),
        *([("note", doc["problem"])] if doc["problem"] else [])])


def _print_plan(plan: servicectl.Plan) -> None:
    click.echo(f"# {plan.unit_path}")
    if plan.unit_text is not None:
        click.echo(plan.unit_text)
    click.echo("# steps (not done: --dry-run)")
    for step in plan.describe():
        click.echo(f"#   {step}")
    if os.name != "nt" and hasattr(os, "geteuid") and os.geteuid() != 0:
        click.echo("# these steps need root: run without --dry-run under sudo")


commands = [service]
