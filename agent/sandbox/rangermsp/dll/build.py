"""Compile the simulator's DLLs (``cmtsim.c``) with mingw-w64: ``CmtDbEng.dll`` and ``CmtDbQry.dll``
for i686 into ``<out>/x86/`` and for x86_64 into ``<out>/x64/``, each with ``cmtsimcheck.exe``, a
C caller of them for the tests (``cmtsimcheck.c``).

Run on Linux (the Windows lane's build calls :func:`build`), or by hand::

    python -m agent.sandbox.rangermsp.dll.build .winlane/simdlls

Outputs newer than the sources are left alone. libgcc is linked statically, so the DLLs need only
what every Windows has (kernel32, msvcrt, ws2_32). ``--kill-at`` exports the stdcall functions
undecorated (``CmtInsUpdRec``, not ``_CmtInsUpdRec@52``), as the vendor's are (facts §1.1).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from loguru import logger

SOURCE = Path(__file__).resolve().with_name("cmtsim.c")
# A C caller of the DLLs (LoadLibrary, GetProcAddress, stdcall pointers) for the tests.
CHECKER_SOURCE = SOURCE.with_name("cmtsimcheck.c")
CHECKER = "cmtsimcheck.exe"
# folder name -> the mingw-w64 compiler for it
ARCHITECTURES = {"x86": "i686-w64-mingw32-gcc", "x64": "x86_64-w64-mingw32-gcc"}
DLLS = {"CmtDbEng.dll": "CMTSIM_ENG", "CmtDbQry.dll": "CMTSIM_QRY"}
FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-s", "-static-libgcc", "-Wl,--kill-at"]
INSTALL_HINT = "apt-get install gcc-mingw-w64-i686 gcc-mingw-w64-x86-64"


class BuildError(RuntimeError):
    """The DLLs could not be built (no compiler, or it failed); the message says what to do."""


def outputs(out: Path) -> list[Path]:
    """Every file :func:`build` makes under ``out``: the DLLs and the checker, for each architecture."""
    return [out / arch / name for arch in ARCHITECTURES for name in (*DLLS, CHECKER)]


def build(out: Path | str, *, force: bool = False) -> list[Path]:
    """Build both DLLs for both architectures under ``out`` (skipped when they are newer than the
    sources); returns their paths. Raises :class:`BuildError` with the fix when a compiler is missing."""
    out = Path(out)
    sources = [SOURCE, CHECKER_SOURCE, Path(__file__).resolve()]
    newest_source = max(p.stat().st_mtime_ns for p in sources)
    made = outputs(out)
    if not force and all(p.exists() and p.stat().st_mtime_ns > newest_source for p in made):
        return made
    for arch, compiler in ARCHITECTURES.items():
        found = shutil.which(compiler)
        if found is None:
            raise BuildError(f"the simulator's DLLs need the mingw-w64 C compiler {compiler}, which is not "
                             f"installed: {INSTALL_HINT}")
        (out / arch).mkdir(parents=True, exist_ok=True)
        commands = {name: [found, *FLAGS, "-shared", f"-D{define}", "-o", str(out / arch / name), str(SOURCE),
                           "-lws2_32"] for name, define in DLLS.items()}
        commands[CHECKER] = [found, *FLAGS, "-o", str(out / arch / CHECKER), str(CHECKER_SOURCE)]
        for name, command in commands.items():
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BuildError(f"{compiler} failed to build {arch}/{name}:\n{done.stderr.strip()}")
            logger.debug("built {}", out / arch / name)
    return made


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m agent.sandbox.rangermsp.dll.build OUTPUT_FOLDER", file=sys.stderr)
        return 2
    try:
        for path in build(argv[0]):
            print(path)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
