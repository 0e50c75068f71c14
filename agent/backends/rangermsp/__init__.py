"""The ``rangermsp`` PSA backend: RangerMSP's own database through its DB API (``CmtDbEng.dll`` /
``CmtDbQry.dll``), and ``rangermsp-simulator``, the same backend over the project's simulator of
those DLLs (:mod:`agent.sandbox.rangermsp`). See docs/rangermsp.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from agent.backends.rangermsp.binding import DbApi, Libraries, load_windows_libraries
from agent.backends.rangermsp.fields import FieldMap
from agent.backends.rangermsp.journal import SideStore
from agent.backends.rangermsp.pe import process_bits
from agent.backends.rangermsp.psa import RangerMspPsa
from agent.backends.rangermsp.status import DbApiMaintenance, app_name_problem
from agent.errors import ConfigError

__all__ = ["RangerMspPsa", "backend", "open_backend", "paused_by", "simulator_backend"]

SIMULATOR_FOLDER = "RangerMSP-simulator"
STOP_FILE = "CRMStop.ini"


def _int_list(value: Any, default: tuple[int, ...]) -> tuple[int, ...]:
    if value in (None, ""):
        return default
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return tuple(int(v) for v in str(value).replace(";", ",").split(",") if v.strip())


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
    try:
        not_accounts = _int_list(getattr(settings, "rangermsp_not_account_kinds", None),
                                 FieldMap.not_account_kinds)
    except ValueError:
        problems.append("[RangerMSP] NotAccountEntityKinds= is numbers separated by ',', e.g. 5,3")
        not_accounts = FieldMap.not_account_kinds
    if problems:
        raise ConfigError(problems)
    return app_name, FieldMap(
        continuum_ticket=field, not_account_kinds=not_accounts,
        status_new=getattr(settings, "rangermsp_new_ticket_status", None) or FieldMap.status_new,
        asset_type_default=getattr(settings, "rangermsp_new_asset_type", None) or FieldMap.asset_type_default,
        asset_status_default=getattr(settings, "rangermsp_new_asset_status", None) or FieldMap.asset_status_default)


def key_field_sizes(api: DbApi, field_map: FieldMap) -> dict[str, int]:
    """The size of every field a key is written into, refused at start-up when a key cannot fit it:
    RangerMSP truncates to the size (50001) and the truncated key would never be found again."""
    sizes: dict[str, int] = {}
    problems = []
    for name, needed in field_map.key_fields().items():
        size = api.field_size(name)
        if size is None:
            continue
        sizes[name] = size
        if size < needed:
            hint = ("choose a ticket field of at least that size with [RangerMSP] ContinuumTicketField="
                    if name == field_map.continuum_ticket else "enlarge the field in RangerMSP")
            problems.append(f"[RangerMSP] RangerMSP keeps only {size} characters in {name}, and zenithlink's key "
                            f"there needs {needed}: {hint}")
    if problems:
        raise ConfigError(problems)
    return sizes


def _date_tokens(text: str) -> str:
    """A date format in RangerMSP's tokens; the strftime form of earlier releases (whose template
    shipped ``%d/%m/%Y %H:%M``) is read as the same tokens."""
    date_part = text.strip().split(" ")[0]
    for code, token in (("%d", "dd"), ("%m", "mm"), ("%Y", "yyyy"), ("%y", "yy")):
        date_part = date_part.replace(code, token)
    return date_part.lower()


def _check_date_format(api: DbApi, expected: str) -> None:
    actual = api.dates.date_format
    if expected.strip() and _date_tokens(expected) != _date_tokens(actual):
        raise ConfigError([f"[RangerMSP] DateFormat={expected} but this RangerMSP installation writes dates as "
                           f"{actual} (CmtGetSystemProperties): set DateFormat={actual}, or leave it empty to "
                           "follow the installation"])


def installation_folder(settings: Any) -> Path | None:
    """The RangerMSP installation the configured backend uses (``None`` for other backends)."""
    if settings.psa_backend in ("rangermsp-simulator", "rangermsp-simulator-dlls"):
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


def open_backend(libraries: Libraries, settings: Any, state: Any, installation: Path, *,
                 on_close: Callable[[], None] | None = None) -> RangerMspPsa:
    app_name, field_map = _checked(settings)
    api = DbApi(libraries, app_name, code_page=getattr(settings, "rangermsp_code_page", None) or None)
    api.open()
    database = Path(state.db.path)
    expected = getattr(settings, "rangermsp_date_format", None) or ""

    def start_up_checks() -> dict[str, int]:
        _check_date_format(api, expected)
        return key_field_sizes(api, field_map)

    try:
        try:
            sizes: dict[str, int] | None = start_up_checks()
        except DbApiMaintenance:
            logger.warning("RangerMSP is in maintenance: the start-up checks of its fields are made before the "
                           "first write")
            sizes = None
        side = SideStore(database.with_name(database.stem + "-rangermsp.sqlite3"))
        return RangerMspPsa(api, side, field_map=field_map, stop_files=stop_files(settings, installation),
                            key_sizes=sizes, start_up_checks=start_up_checks, on_close=on_close)
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
    libraries = Libraries(sim.eng, sim.qry, str(folder / "Db"), folder / "ThirdParty" / "UserDev")
    return open_backend(libraries, settings, state, folder)


def simulator_dlls_backend(settings: Any, state: Any) -> RangerMspPsa:
    """``Backend=rangermsp-simulator-dlls`` (developers, Windows): the simulator built as real
    stdcall DLLs (``ZENITHLINK_SIMULATOR_DLLS``, docs/rangermsp-simulator.md), of this Python's
    bitness, installed in the simulator's installation folder and loaded the way
    ``Backend=rangermsp`` loads RangerMSP's own: the engines run through the real loading path."""
    from agent.sandbox.rangermsp import make_installation
    from agent.sandbox.rangermsp.dll import built_dlls, install_dlls, unavailable
    from agent.sandbox.rangermsp.wire import serve

    reason = unavailable()
    dlls = built_dlls()
    if reason is not None or dlls is None:
        raise ConfigError([f"[RangerMSP] Backend=rangermsp-simulator-dlls cannot run here: {reason}"])
    folder = Path(settings.rangermsp_folder or Path(settings.dbsys_folder) / SIMULATOR_FOLDER)
    _checked(settings)
    make_installation(folder)
    install_dlls(folder, dlls, "x64" if process_bits() == 64 else "x86")
    server = serve(folder)
    try:
        return open_backend(load_windows_libraries(folder), settings, state, folder, on_close=server.close)
    except BaseException:
        server.close()
        raise
