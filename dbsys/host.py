"""What differs between the platforms the agent runs on, behind one seam.

Production is Windows Server; development and the Linux CI are not. Code asks this module
instead of ``os.name`` or ``sys.platform``, so that a test can monkeypatch :func:`is_windows`
and exercise the Windows behaviour on Linux.
"""

from __future__ import annotations

import os


def is_windows() -> bool:
    """True on Windows."""
    return os.name == "nt"
