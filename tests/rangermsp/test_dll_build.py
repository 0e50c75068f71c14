"""The build of the simulator's DLLs with mingw-w64 (on Linux, where the lane builds them)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from agent.backends.rangermsp.pe import dll_bits
from agent.sandbox.rangermsp.dll import build as dll_build

EXPORTS = {
    "CmtDbEng.dll": ["CmtInitDbEngDll", "CmtTerminateDbEngDll", "CmtInsUpdRec", "CmtDelete",
                     "CmtGetDescriptionByStatus"],
    "CmtDbQry.dll": ["CmtInitDbQryDll", "CmtTerminateDbQryDll", "CmtGetQueryRecIds", "CmtGetRecordDataByRecId",
                     "CmtGetMultiRecordDataByRecId", "CmtGetFieldAttributesByRecId", "CmtGetSystemProperties",
                     "CmtGetDescriptionByStatus"],
}


@pytest.mark.skipif(not all(shutil.which(c) for c in dll_build.ARCHITECTURES.values()),
                    reason=f"no mingw-w64 compilers ({dll_build.INSTALL_HINT})")
def test_both_dlls_are_built_for_both_architectures_with_undecorated_exports_once(tmp_path):
    made = dll_build.build(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in made) == [
        "x64/CmtDbEng.dll", "x64/CmtDbQry.dll", "x64/cmtsimcheck.exe",
        "x86/CmtDbEng.dll", "x86/CmtDbQry.dll", "x86/cmtsimcheck.exe"]
    for path in (p for p in made if p.suffix == ".dll"):
        assert dll_bits(path) == (32 if path.parent.name == "x86" else 64)
        data = path.read_bytes()
        for name in EXPORTS[path.name]:
            assert name.encode() + b"\0" in data
        assert b"@" + b"52\0" not in data and b"_CmtInsUpdRec" not in data  # no stdcall decoration
    stamps = [p.stat().st_mtime_ns for p in made]
    assert dll_build.build(tmp_path) == made
    assert [p.stat().st_mtime_ns for p in made] == stamps  # newer than the sources: left alone


def test_a_missing_compiler_is_named_with_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(dll_build.shutil, "which", lambda name: None)
    with pytest.raises(dll_build.BuildError, match="apt-get install gcc-mingw-w64-i686 gcc-mingw-w64-x86-64"):
        dll_build.build(tmp_path)


# The bytes each export pops on x86 (stdcall: 4 per argument), as the shipped CmtDbQry.dll's
# epilogues show and the vendor's P/Invoke declares (facts §1.2).
STACK_BYTES = {"CmtInitDbEngDll": 12, "CmtTerminateDbEngDll": 0, "CmtInsUpdRec": 52, "CmtDelete": 48,
               "CmtGetDescriptionByStatus": 12, "CmtInitDbQryDll": 12, "CmtTerminateDbQryDll": 0,
               "CmtGetQueryRecIds": 20, "CmtGetRecordDataByRecId": 20, "CmtGetMultiRecordDataByRecId": 20,
               "CmtGetFieldAttributesByRecId": 20, "CmtGetSystemProperties": 20}


@pytest.mark.skipif(not (shutil.which("i686-w64-mingw32-gcc") and shutil.which("i686-w64-mingw32-nm")),
                    reason=f"no i686 mingw-w64 compiler ({dll_build.INSTALL_HINT})")
def test_every_x86_export_pops_the_vendors_argument_bytes(tmp_path):
    found: dict[str, int] = {}
    for define in dll_build.DLLS.values():
        obj = tmp_path / f"{define}.o"
        subprocess.run(["i686-w64-mingw32-gcc", "-std=c99", "-O2", "-c", f"-D{define}", "-o", str(obj),
                        str(dll_build.SOURCE)], check=True)
        symbols = subprocess.run(["i686-w64-mingw32-nm", str(obj)], capture_output=True, text=True,
                                 check=True).stdout
        for name, size in re.findall(r" T _(Cmt\w+)@(\d+)$", symbols, re.MULTILINE):
            found[name] = int(size)
    assert found == STACK_BYTES
