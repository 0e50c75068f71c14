"""The code page of every byte the DLLs take and give: the system ANSI code page.

The vendor declares every import ``CharSet.Ansi`` and the DLL uses only ``…A`` Win32 APIs and
imports ``GetACP`` (S1/S2, facts §3.3): text is in the system's ANSI code page (CP_ACP), which
Python names ``mbcs`` on Windows. Never a fixed cp1252 or UTF-8 (PyCommit's UTF-8 mismatches it).
Elsewhere (the simulator, tests) the code page is named explicitly, e.g. ``cp1252``.
"""

from __future__ import annotations

import codecs
import sys

from agent.errors import ConfigError

SYSTEM = "mbcs"
ELSEWHERE = "cp1252"  # what the simulator and tests use on Linux unless they name another


def system_code_page() -> str:
    """The name of the system ANSI code page for this process."""
    return SYSTEM if sys.platform == "win32" else ELSEWHERE


def checked(name: str | None) -> str:
    """``name`` (or the system's), refused when Python does not know it."""
    chosen = name or system_code_page()
    try:
        codecs.lookup(chosen)
    except LookupError:
        raise ConfigError([f"the code page {chosen!r} is unknown to Python: name an ANSI code page such as "
                           "cp1252, or leave it out to use the system's"]) from None
    return chosen
