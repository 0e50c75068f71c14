"""The bitness of a DLL, read from its PE header before anything loads it.

CmtDbQry.dll is PE32 x86 (Machine 0x14c, Magic 0x10b, facts §1.3): a 64-bit process cannot load
it (Windows answers WinError 193). Reading the header first turns that into a sentence with the fix.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from agent.errors import ConfigError

MACHINES = {0x14C: 32, 0x8664: 64, 0xAA64: 64, 0x1C4: 32}


def process_bits() -> int:
    return struct.calcsize("P") * 8


def dll_bits(path: Path) -> int:
    """32 or 64, from the PE header of ``path`` (raises :class:`ConfigError` when it is no DLL)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise ConfigError([f"[RangerMSP] {path} cannot be read ({exc.strerror}): check RangerMSPFolder="]) from None
    if head[:2] != b"MZ" or len(head) < 0x40:
        raise ConfigError([f"[RangerMSP] {path} is not a Windows DLL: check RangerMSPFolder="])
    offset = struct.unpack_from("<I", head, 0x3C)[0]
    if head[offset:offset + 4] != b"PE\0\0":
        raise ConfigError([f"[RangerMSP] {path} has no PE header: it is not a Windows DLL"])
    machine = struct.unpack_from("<H", head, offset + 4)[0]
    magic = struct.unpack_from("<H", head, offset + 24)[0]
    if magic == 0x10B:
        return 32
    if magic == 0x20B:
        return 64
    return MACHINES.get(machine, 0)


def check_loadable(path: Path, bits: int | None = None) -> None:
    """Refuse, before loading, a DLL of the other bitness than this process."""
    mine = bits or process_bits()
    theirs = dll_bits(path)
    if theirs and theirs != mine:
        python = "a 32-bit (x86) Python" if theirs == 32 else "a 64-bit Python"
        raise ConfigError([f"[RangerMSP] {path.name} is a {theirs}-bit DLL and this zenithlink runs in a {mine}-bit "
                           f"process ({sys.executable}), which cannot load it: install zenithlink with {python}."])
