"""Installing the agent as a systemd service: one unit per Dbsys folder (R23).

The unit runs ``<venv>/bin/zenithlink --config <absolute INI> run``, starts after the network
is up, restarts on failure and is enabled for ``multi-user.target``. Its name is derived from
the Dbsys folder's absolute path, so installing twice for one folder replaces the unit instead
of adding a second agent that would fight over the folder lock.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import PreconditionError, ZenithError

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


class ServiceError(ZenithError):
    """The service cannot be installed, removed or queried on this machine."""

    code = "ServiceError"


@dataclass
class Plan:
    """What an install or uninstall does, step by step: ``(verb, argument)`` with verb
    ``write`` (the unit file), ``remove`` (the unit file), ``run`` or ``try`` (a command; a
    failing ``try`` is not an error)."""

    unit_name: str
    unit_path: Path
    unit_text: str | None
    steps: list[tuple[str, Path | list[str]]] = field(default_factory=list)

    def describe(self) -> list[str]:
        """The steps for a person to read (``--dry-run``)."""
        words = {"write": "write", "remove": "remove"}
        return [f"{words[verb]} {arg}" if verb in words else " ".join(arg)  # type: ignore[arg-type]
                for verb, arg in self.steps]


def unit_name(dbsys_folder: Path) -> str:
    """``zenithlink-<folder name>-<8 hex of the absolute path>.service``."""
    absolute = str(Path(dbsys_folder).resolve())
    digest = hashlib.sha256(absolute.encode("utf-8")).hexdigest()[:8]
    slug = _SLUG_UNSAFE.sub("-", Path(absolute).name).strip("-").lower()[:32] or "root"
    return f"zenithlink-{slug}-{digest}.service"


def zenithlink_command() -> list[str]:
    """How the service starts the agent: the ``zenithlink`` script beside this interpreter."""
    beside = Path(sys.executable).parent / ("zenithlink.exe" if os.name == "nt" else "zenithlink")
    if beside.exists():
        return [str(beside.absolute())]
    found = shutil.which("zenithlink")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-c", "from agent.cli import main; main()"]


def render_unit(config_path: Path, dbsys_folder: Path, *, run_as: str | None = None,
                command: list[str] | None = None) -> str:
    """The text of the systemd unit for the agent of ``config_path``."""
    config = Path(config_path).resolve()
    argv = (command or zenithlink_command()) + ["--config", str(config), "run"]
    lines = [
        "# Installed by 'zenithlink service install'; remove with 'zenithlink service uninstall'.",
        "[Unit]",
        f"Description=zenithlink agent (Continuum link) for {_escape(str(Path(dbsys_folder).resolve()))}",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={' '.join(_quote(a) for a in argv)}",
        f"WorkingDirectory={_escape(str(config.parent))}",
        "Restart=on-failure",
        "RestartSec=10",
        # Exit 2 is a configuration error: restarting would only fail again (the INI needs a person).
        "RestartPreventExitStatus=2",
        # SIGTERM lets the agent finish or roll back its transaction (D8) before systemd kills it.
        "KillSignal=SIGTERM",
        "TimeoutStopSec=60",
        "Environment=PYTHONUNBUFFERED=1",
    ]
    if run_as:
        lines.append(f"User={run_as}")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    # '%' starts a systemd specifier; a literal one is written twice.
    return text.replace("%", "%%")


def _quote(arg: str) -> str:
    arg = _escape(arg)
    if arg and not re.search(r"[\s\"'\\;$]", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def install_plan(config_path: Path, dbsys_folder: Path, *, unit_dir: Path = SYSTEM_UNIT_DIR,
                 run_as: str | None = None, systemctl: str = "systemctl") -> Plan:
    name = unit_name(dbsys_folder)
    path = Path(unit_dir) / name
    return Plan(name, path, render_unit(config_path, dbsys_folder, run_as=run_as),
                [("write", path), ("run", [systemctl, "daemon-reload"]), ("run", [systemctl, "enable", "--now", name])])


def uninstall_plan(dbsys_folder: Path, *, unit_dir: Path = SYSTEM_UNIT_DIR, systemctl: str = "systemctl") -> Plan:
    name = unit_name(dbsys_folder)
    path = Path(unit_dir) / name
    # disable may fail for a unit systemd never loaded; the file must go all the same.
    return Plan(name, path, None,
                [("try", [systemctl, "disable", "--now", name]), ("remove", path),
                 ("run", [systemctl, "daemon-reload"])])


def check_systemd(systemctl: str = "systemctl", *, real: bool = True) -> str:
    """The ``systemctl`` to use; :class:`ServiceError` when this machine has no systemd."""
    if os.name == "nt":
        raise ServiceError("this is Windows, which has no systemd: leave out --target systemd to manage the "
                           "Windows service")
    found = shutil.which(systemctl)
    if found is None or (real and not Path("/run/systemd/system").is_dir()):
        raise ServiceError("this machine does not run systemd, which 'zenithlink service' needs. Start "
                           "'zenithlink --config <INI> run' from your init system instead (see "
                           "'zenithlink docs service'); "
                           "'zenithlink service install --dry-run' shows the unit it would write.")
    return found


def check_writable(unit_dir: Path) -> None:
    """:class:`PreconditionError` (exit 1) unless the unit folder can be written (usually: root)."""
    if not _writable(unit_dir):
        raise PreconditionError(f"cannot write to {unit_dir}: installing a system service needs root. Run the "
                                f"same command with sudo, or add --dry-run to see what it would do.")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def apply(plan: Plan) -> list[str]:
    """Carry out ``plan``; returns what was done. A failing command raises :class:`ServiceError`."""
    from dbsys.atomic import atomic_write

    done = []
    for (verb, arg), text in zip(plan.steps, plan.describe()):
        if verb == "write":
            atomic_write(plan.unit_path, (plan.unit_text or "").encode("utf-8"))
            os.chmod(plan.unit_path, 0o644)
        elif verb == "remove":
            plan.unit_path.unlink(missing_ok=True)
        else:
            _run(arg, tolerate=verb == "try")  # type: ignore[arg-type]
        done.append(text)
    return done


def _run(command: list[str], *, tolerate: bool = False) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"'{' '.join(command)}' could not run: {exc}. Check systemd on this machine.") from None
    if completed.returncode != 0 and not tolerate:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise ServiceError(f"'{' '.join(command)}' failed (exit {completed.returncode}): "
                           f"{detail[-1] if detail else 'no message'}. See 'journalctl -xe'.")
    return completed.stdout.strip()


def query(name: str, systemctl: str) -> dict[str, str]:
    """``systemctl is-active`` / ``is-enabled`` of the unit (their one-word answers)."""
    answers = {}
    for verb in ("is-active", "is-enabled"):
        try:
            completed = subprocess.run([systemctl, verb, name], capture_output=True, text=True, timeout=30)
            answers[verb] = completed.stdout.strip() or completed.stderr.strip() or "unknown"
        except (OSError, subprocess.TimeoutExpired) as exc:
            answers[verb] = f"unknown ({exc})"
    return answers


def agent_running(dbsys_folder: Path) -> tuple[bool, int | None]:
    """Whether an agent holds the lock of ``dbsys_folder``, and its pid as recorded beside the lock.

    Only looks: never creates the folder or the lock file, never writes the pid.
    """
    from agent.runtime.lock import holder

    return holder(Path(dbsys_folder))
