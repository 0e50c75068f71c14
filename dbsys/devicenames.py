"""Windows' reserved device names: a file called ``CON``, ``nul.xml`` or ``COM1.log`` is a device.

Windows gives these names, in any case and with any extension, to devices in every folder:
writing ``Results/CON.xml`` writes to the console, not to a file. Names the agent builds from
outside input (request ids, a drop's file name) are checked here.
"""

from __future__ import annotations

RESERVED = frozenset({"CON", "PRN", "AUX", "NUL",
                      *(f"COM{n}" for n in range(10)), *(f"LPT{n}" for n in range(10))})


def is_reserved(name: str) -> bool:
    """Whether Windows takes the file name ``name`` for a device (the part before the first dot counts)."""
    return name.split(".", 1)[0].rstrip(" ").upper() in RESERVED
