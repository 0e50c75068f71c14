"""The agent as a Windows service, in place of the vendor's "CRM RMM Server" service.

One service per Dbsys folder, named from the folder's absolute path (``ZenithLinkRMMServer-<8
hex>``, shown as *zenithlink RMM Server (<folder>)*), set to Automatic (Delayed Start), run by
pywin32's service host (``pythonservice.exe``) with :class:`ZenithLinkService`; the INI's path is
kept in the service's registry parameters. Recovery actions restart it after a failure (1 minute,
1 minute, then 5 minutes; the count resets after a day), but a configuration error ends it
*without* a failure code, so a bad INI is not restarted in a loop: it is reported (error report,
Windows event log) and waits for the administrator.

What the service does is :class:`AgentServiceHost`, apart from the service control manager: it
runs :class:`agent.runtime.service.Service` for one INI, and its :meth:`~AgentServiceHost.stop`
is the same clean stop as SIGTERM (D8). The control manager is reached through
:class:`ServiceControl`; :class:`Pywin32Control` is the real one (Windows only), so everything
else here is tested on any system.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.errors import ZenithError

NAME_PREFIX = "ZenithLinkRMMServer"
SERVICE_CLASS = "agent.runtime.winservice.ZenithLinkService"
CONFIG_OPTION = "config"
RESTART_DELAYS_MS = (60_000, 60_000, 300_000)
RESET_FAILURES_SECONDS = 86_400
STOP_WAIT_MS = 60_000
CONFIG_ERROR_EXIT = 2


def service_name(dbsys_folder: Path) -> str:
    """``ZenithLinkRMMServer-<8 hex of the folder's absolute path>``: one service per Dbsys folder."""
    absolute = str(Path(dbsys_folder).resolve())
    return f"{NAME_PREFIX}-{hashlib.sha256(absolute.encode('utf-8')).hexdigest()[:8]}"


def display_name(dbsys_folder: Path) -> str:
    return f"zenithlink RMM Server ({Path(dbsys_folder).resolve()})"


@dataclass
class WindowsPlan:
    """What an install or uninstall does: ``(verb, details)`` steps, for ``--dry-run`` and :func:`apply`."""

    name: str
    display: str
    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def describe(self) -> list[str]:
        lines = []
        for verb, d in self.steps:
            if verb == "create":
                lines.append(f"register service {d['name']} ({d['display']}): {d['exe']} hosting {d['cls']}, "
                             "start Automatic, account LocalSystem")
                lines.append(f"  keep the INI path in its parameters: {d['config']}")
            elif verb == "delayed_start":
                lines.append(f"start {d['name']} Automatic (Delayed Start), after the services Windows needs first")
            elif verb == "recovery":
                delays = ", ".join(f"{ms // 1000} s" for ms in d["delays_ms"])
                lines.append(f"set recovery of {d['name']}: restart after {delays}; reset the count after "
                             f"{d['reset_seconds'] // 3600} h")
            elif verb == "recovery_flag":
                lines.append(f"restart {d['name']} also when it stops with a failure code (not after a "
                             "configuration error)")
            else:
                lines.append(f"{verb} service {d['name']}" + (" (if it runs)" if d.get("tolerate") else ""))
        return lines


@dataclass
class Applied:
    """What :func:`apply` did, and the optional steps Windows refused (the service works without
    them; each sentence says how to set the setting by hand)."""

    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def service_host_exe() -> str:
    """pywin32's service host beside this interpreter (where pywin32's post-install puts it)."""
    base = Path(sys.executable).parent
    for candidate in (base / "pythonservice.exe", base.parent / "pythonservice.exe",
                      base / "Lib" / "site-packages" / "win32" / "pythonservice.exe"):
        if candidate.exists():
            return str(candidate)
    return str(base / "pythonservice.exe")


def install_plan(config_path: Path, dbsys_folder: Path, *, exe: str | None = None) -> WindowsPlan:
    name, display = service_name(dbsys_folder), display_name(dbsys_folder)
    return WindowsPlan(name, display, [
        ("create", {"name": name, "display": display, "exe": exe or service_host_exe(), "cls": SERVICE_CLASS,
                    "config": str(Path(config_path).resolve()),
                    "description": "Links RangerMSP with Continuum: inventory, tickets and actions (zenithlink)."}),
        ("delayed_start", {"name": name, "optional": True}),
        ("recovery", {"name": name, "delays_ms": list(RESTART_DELAYS_MS), "reset_seconds": RESET_FAILURES_SECONDS,
                      "optional": True}),
        ("recovery_flag", {"name": name, "optional": True}),
        ("start", {"name": name}),
    ])


def uninstall_plan(dbsys_folder: Path) -> WindowsPlan:
    name = service_name(dbsys_folder)
    return WindowsPlan(name, display_name(dbsys_folder),
                       [("stop", {"name": name, "tolerate": True}), ("delete", {"name": name})])


class ServiceControl(Protocol):
    """The Windows service control manager, as far as the agent uses it."""

    def create(self, name: str, display: str, exe: str, cls: str, config: str, description: str) -> None: ...
    def set_delayed_start(self, name: str) -> None: ...
    def set_recovery(self, name: str, delays_ms: list[int], reset_seconds: int) -> None: ...
    def set_recovery_on_failure_code(self, name: str) -> None: ...
    def start(self, name: str) -> None: ...
    def stop(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def query(self, name: str) -> dict[str, Any]: ...


def _by_hand(verb: str, d: dict[str, Any]) -> str:
    """The ``sc`` command that sets an optional step's setting by hand."""
    if verb == "delayed_start":
        return f"sc config {d['name']} start= delayed-auto"
    if verb == "recovery":
        actions = "/".join(f"restart/{ms}" for ms in d["delays_ms"])
        return f"sc failure {d['name']} reset= {d['reset_seconds']} actions= {actions}"
    return f"sc failureflag {d['name']} 1"


def apply(plan: WindowsPlan, control: ServiceControl) -> Applied:
    """Carry out ``plan``. A required step that fails raises :class:`ServiceError`; an optional
    one (a recovery setting, which some Windows builds, group policies and Wine refuse) is
    reported in :attr:`Applied.refused` and the rest goes on: a registered service that is not
    restarted after a crash is better than no service."""
    from agent.runtime.installers import ServiceError

    applied = Applied()
    for (verb, d), text in zip(plan.steps, [line for line in plan.describe() if not line.startswith("  ")]):
        try:
            if verb == "create":
                control.create(d["name"], d["display"], d["exe"], d["cls"], d["config"], d["description"])
            elif verb == "delayed_start":
                control.set_delayed_start(d["name"])
            elif verb == "recovery":
                control.set_recovery(d["name"], d["delays_ms"], d["reset_seconds"])
            elif verb == "recovery_flag":
                control.set_recovery_on_failure_code(d["name"])
            else:
                getattr(control, verb)(d["name"])
        except ServiceError:
            raise
        except Exception as exc:  # noqa: BLE001 - the control manager's errors become one sentence
            if d.get("tolerate"):
                continue
            if d.get("optional"):
                applied.refused.append(f"Windows refused to {text}: {exc}. The service works without it; set it "
                                       f"by hand in an elevated prompt: {_by_hand(verb, d)}")
                continue
            raise ServiceError(f"{text} failed: {exc}. Run the command in an elevated prompt (as an "
                               "administrator); 'zenithlink service install --dry-run' shows every step.") from None
        applied.done.append(text)
    return applied


# -- the service itself ----------------------------------------------------------------------
class AgentServiceHost:
    """Runs the agent of one INI until :meth:`stop`; what the Windows service does."""

    def __init__(self, config_path: Path, *, app_factory: Callable[[Path], Any] | None = None) -> None:
        self.config_path = Path(config_path)
        self._app_factory = app_factory
        self._lock = threading.Lock()
        self._service: Any = None
        self._stopping = False

    def run(self) -> int:
        """The agent's exit code: 0 stopped cleanly, 2 the INI was refused, 1 it failed."""
        from agent.app import App
        from agent.reporting import report_failure
        from agent.runtime.service import Service

        app = (self._app_factory or App)(self.config_path)
        try:
            app.require_service()
            with self._lock:
                if self._stopping:
                    return 0
                self._service = Service(app)
            return int(self._service.run())
        except ZenithError as exc:
            report_failure(app, "service", "the Windows service could not run the agent", exc,
                           todo="Fix what the error says (for a configuration error: the INI), then start the "
                                "service again: 'zenithlink service start'.")
            return exc.exit_code
        finally:
            app.close()

    def stop(self) -> None:
        """The service control manager's stop: the same clean stop as SIGTERM."""
        with self._lock:
            self._stopping = True
            service = self._service
        if service is not None:
            service.request_stop()


def scm_exit_code(agent_exit: int) -> int:
    """The code the service reports when it stops: non-zero (recovery restarts it) for a failure,
    zero for a clean stop and for a configuration error (restarting would only fail again)."""
    return 0 if agent_exit in (0, CONFIG_ERROR_EXIT) else agent_exit


if sys.platform == "win32":  # pragma: no cover - pywin32 exists on Windows only
    import servicemanager
    import win32service
    import win32serviceutil

    class ZenithLinkService(win32serviceutil.ServiceFramework):
        _svc_name_ = NAME_PREFIX
        _svc_display_name_ = "zenithlink RMM Server"

        def __init__(self, args: Any) -> None:
            from agent import logs

            logs.prepare_standard_streams()  # a service has no console: no standard streams at all
            super().__init__(args)
            name = args[0] if args else self._svc_name_
            self.host = AgentServiceHost(Path(win32serviceutil.GetServiceCustomOption(name, CONFIG_OPTION)))

        def SvcStop(self) -> None:  # noqa: N802 - pywin32's name
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_WAIT_MS)
            self.host.stop()

        SvcShutdown = SvcStop

        def SvcRun(self) -> None:  # noqa: N802 - pywin32's name
            self.ReportServiceStatus(win32service.SERVICE_RUNNING)
            code = self.host.run()
            if code == CONFIG_ERROR_EXIT:
                servicemanager.LogErrorMsg(f"zenithlink: the INI {self.host.config_path} was refused; see the "
                                           "error report in the Dbsys folder's ZenithErrors. Not restarted.")
            if scm_exit_code(code):
                # Raised, the host reports SERVICE_STOPPED with a failure code: recovery restarts it.
                raise RuntimeError(f"zenithlink stopped with exit code {code}; see the Dbsys folder's ZenithErrors")
            # Returned, the host reports a clean stop (after a configuration error too: not restarted).
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)

    class Pywin32Control:
        """:class:`ServiceControl` on the real service control manager."""

        def create(self, name: str, display: str, exe: str, cls: str, config: str, description: str) -> None:
            # Delayed start is a step of its own: pywin32 only warns when it is refused.
            win32serviceutil.InstallService(cls, name, display, startType=win32service.SERVICE_AUTO_START,
                                            exeName=exe, description=description)
            win32serviceutil.SetServiceCustomOption(name, CONFIG_OPTION, config)

        def set_delayed_start(self, name: str) -> None:
            self._configure(name, win32service.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, True)

        def set_recovery(self, name: str, delays_ms: list[int], reset_seconds: int) -> None:
            actions = [(win32service.SC_ACTION_RESTART, ms) for ms in delays_ms]
            self._configure(name, win32service.SERVICE_CONFIG_FAILURE_ACTIONS,
                            {"ResetPeriod": reset_seconds, "RebootMsg": None, "Command": None, "Actions": actions})

        def set_recovery_on_failure_code(self, name: str) -> None:
            self._configure(name, win32service.SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, True)

        def _configure(self, name: str, level: int, value: Any) -> None:
            scm = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_ALL_ACCESS)
            try:
                handle = win32service.OpenService(scm, name, win32service.SERVICE_ALL_ACCESS)
                try:
                    win32service.ChangeServiceConfig2(handle, level, value)
                finally:
                    win32service.CloseServiceHandle(handle)
            finally:
                win32service.CloseServiceHandle(scm)

        def start(self, name: str) -> None:
            win32serviceutil.StartService(name)

        def stop(self, name: str) -> None:
            win32serviceutil.StopServiceWithDeps(name, waitSecs=STOP_WAIT_MS // 1000)

        def delete(self, name: str) -> None:
            win32serviceutil.RemoveService(name)

        def query(self, name: str) -> dict[str, Any]:
            states = {win32service.SERVICE_RUNNING: "running", win32service.SERVICE_STOPPED: "stopped",
                      win32service.SERVICE_START_PENDING: "starting", win32service.SERVICE_STOP_PENDING: "stopping"}
            status = win32serviceutil.QueryServiceStatus(name)
            return {"state": states.get(status[1], str(status[1])), "exit_code": status[3] or status[4]}

else:
    ZenithLinkService = None
    Pywin32Control = None


def real_control() -> ServiceControl:
    """The service control manager of this machine (:class:`ServiceError` where there is none)."""
    from agent.runtime.installers import ServiceError

    if Pywin32Control is None:
        raise ServiceError("managing a Windows service needs Windows and pywin32 ('pip install pywin32', which "
                           "zenithlink installs on Windows); 'zenithlink service install --dry-run --target windows' "
                           "shows what it would do")
    return Pywin32Control()  # type: ignore[no-any-return,unused-ignore]
