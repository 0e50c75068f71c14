"""The build of the simulator's DLLs with mingw-w64 (on Linux, where the lane builds them)."""

from __future__ import annotations

import shutil

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
        "x64/CmtDbEng.dll", "x64/CmtDbQry.dll", "x86/CmtDbEng.dll", "x86/CmtDbQry.dll"]
    for path in made:
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
