"""The simulator as a real pair of stdcall DLLs (``CmtDbEng.dll``, ``CmtDbQry.dll``), so that the
backend's Windows loading path (PE check, working directory, ``WinDLL``, argtypes, stdcall, buffer
sizes, the ``int*`` status) runs against the simulator's logic, which stays in Python: the DLLs
(``cmtsim.c``, built by ``build.py``) forward every call to :mod:`agent.sandbox.rangermsp.wire`.
See docs/rangermsp-simulator.md, "The simulator as real DLLs"."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# Where a test run finds the built DLLs: a folder holding x86/ and x64/ (what build() makes).
ENVIRONMENT_VARIABLE = "ZENITHLINK_SIMULATOR_DLLS"
NAMES = ("CmtDbEng.dll", "CmtDbQry.dll")


def built_dlls(environ: dict[str, str] | None = None) -> Path | None:
    """The folder named by ``ZENITHLINK_SIMULATOR_DLLS`` when it holds both DLLs for x86 and x64,
    else ``None``. Under Wine the variable may arrive as a Unix path (``/…``), which Wine shows
    to Windows programs on drive ``Z:``."""
    value = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "").strip()
    if not value:
        return None
    if os.name == "nt" and value.startswith("/"):
        value = "Z:" + value.replace("/", "\\")
    folder = Path(value)
    if all((folder / arch / name).is_file() for arch in ("x86", "x64") for name in NAMES):
        return folder
    return None


def unavailable(environ: dict[str, str] | None = None) -> str | None:
    """Why a test of the real DLLs cannot run here (a skip reason), or ``None`` when it can."""
    if sys.platform != "win32":
        return "the simulator's real DLLs load on Windows only (the Windows lane, scripts/winpy, runs this)"
    if built_dlls(environ) is None:
        return (f"the simulator's DLLs are not built: build them with 'python -m agent.sandbox.rangermsp.dll.build "
                f"OUT' and set {ENVIRONMENT_VARIABLE}=OUT (a folder holding x86/ and x64/)")
    return None


def install_dlls(installation: Path, dlls: Path, arch: str = "x64") -> Path:
    """Copy the built DLLs of ``arch`` (``x86`` or ``x64``) into the installation's
    ``ThirdParty\\UserDev``, where RangerMSP keeps its own; returns that folder."""
    target = installation / "ThirdParty" / "UserDev"
    target.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        source, copy = dlls / arch / name, target / name
        # Windows refuses to replace a DLL a process has loaded: a copy already there is kept.
        if not (copy.is_file() and copy.read_bytes() == source.read_bytes()):
            shutil.copyfile(source, copy)
    return target


__all__ = ["ENVIRONMENT_VARIABLE", "NAMES", "built_dlls", "install_dlls", "unavailable"]
