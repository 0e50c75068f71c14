"""The ``rangermsp`` PSA backend: RangerMSP's own database through its DB API (``CmtDbEng.dll`` /
``CmtDbQry.dll``), and ``rangermsp-simulator``, the same backend over the project's simulator of
those DLLs (:mod:`agent.sandbox.rangermsp`). See docs/rangermsp.md."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from agent.backends.rangermsp.binding import DbApi, Libraries, load_windows_libraries
from agent.backends.rangermsp.fields import FieldMap
from agent.backends.rangermsp.journal import SideStore
from agent.backends.rangermsp.psa import RangerMspPsa
from agent.backends.rangermsp.status import app_name_problem
from agent.errors import ConfigError

__all__ = ["RangerMspPsa", "backend", "open_backend", "paused_by", "simulator_backend"]

SIMULATOR_FOLDER = "RangerMSP-simulator"
STOP_FILE = "CRMStop.ini"


def _checked(settings: Any) -> tuple[str, FieldMap]:
    problems = []
    app_name = (settings.application_name or "").strip()
    problem = app_name_problem(app_name)
    if problem:
        problems.append(problem)
    field = (settings.continuum_ticket_field or "").strip().upper()
    if not (field.startswith("FLDTKT") and field[6:].isalnum()):
        problems.append(f"[RangerMSP] ContinuumTicketField={settings.continuum_ticket_field!r} is not a ticket "
                        "field name (FLDTKT…, e.g. FLDTKTUSER1)")
    date_format = getattr(settings, "rangermsp_date_format", None) or FieldMap.date_format
    sample = datetime(2026, 12, 31, 23, 59)
    try:
        readable = datetime.strptime(sample.strftime(date_format), date_format) == sample
    except ValueError:
        readable = False
    if not readable:
        problems.append(f"[RangerMSP] DateFormat={date_format!r} does not keep a date and time to the minute: "
                        "use strftime codes for day, month, year, hour and minute, e.g. %d/%m/%Y %H:%M")
    if problems:
        raise ConfigError(problems)
    return app_name, FieldMap(
        continuum_ticket=field, date_format=date_format,
        status_new=getattr(settings, "rangermsp_new_ticket_status", None) or FieldMap.status_new,
        asset_type_default=getattr(settings, "rangermsp_new_asset_type", None) or FieldMap.asset_type_default,
        asset_status_default=getattr(settings, "rangermsp_new_asset_status", None) or FieldMap.asset_status_default)


def installation_folder(settings: Any) -> Path | None:
    """The RangerMSP installation the configured backend uses (``None`` for other backends)."""
    if settings.psa_backend == "rangermsp-simulator":
        return Path(settings.rangermsp_folder or Path(settings.dbsys_folder) / SIMULATOR_FOLDER)
    if settings.psa_backend == "rangermsp" and settings.rangermsp_folder:
        return Path(settings.rangermsp_folder)
    return None


def stop_files(settings: Any, installation: Path) -> tuple[Path, ...]:
    """RangerMSP's maintenance flags: while one exists, nothing is written to RangerMSP."""
    return tuple(dict.fromkeys([installation / "Dbsys" / STOP_FILE, Path(settings.dbsys_folder) / STOP_FILE]))


def paused_by(settings: Any) -> Path | None:
    """The maintenance flag that pauses the configured RangerMSP backend now, or ``None``
    (read from the files alone: ``status`` must not load the DLLs)."""
    installation = installation_folder(settings)
    if installation is None:
        return None
    return next((flag for flag in stop_files(settings, installation) if flag.exists()), None)


def open_backend(libraries: Libraries, settings: Any, state: Any, installation: Path) -> RangerMspPsa:
    app_name, field_map = _checked(settings)
    api = DbApi(libraries, app_name)
    api.open()
    database = Path(state.db.path)
    try:
        side = SideStore(database.with_name(database.stem + "-rangermsp.sqlite3"))
        return RangerMspPsa(api, side, field_map=field_map, stop_files=stop_files(settings, installation))
    except BaseException:
        api.close()
        raise


def backend(settings: Any, state: Any) -> RangerMspPsa:
    """``Backend=rangermsp``: the real DLLs of the installation in ``RangerMSPFolder`` (Windows)."""
    folder = settings.rangermsp_folder
    if not folder:
        raise ConfigError(["[RangerMSP] RangerMSPFolder is missing: Backend=rangermsp needs the RangerMSP "
                           "installation folder (the one that holds ThirdParty and Db)"])
    _checked(settings)
    return open_backend(load_windows_libraries(Path(folder)), settings, state, Path(folder))


def simulator_backend(settings: Any, state: Any) -> RangerMspPsa:
    """``Backend=rangermsp-simulator``: the same backend over the simulator of the DLLs, whose
    records live under ``RangerMSPFolder`` (default: ``RangerMSP-simulator`` in the Dbsys folder)."""
    from agent.sandbox.rangermsp import make_installation, simulator_libraries

    folder = Path(settings.rangermsp_folder or Path(settings.dbsys_folder) / SIMULATOR_FOLDER)
    _checked(settings)
    make_installation(folder)
    sim = simulator_libraries()
    return open_backend(Libraries(sim.eng, sim.qry, str(folder / "Db")), settings, state, folder)
