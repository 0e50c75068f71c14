"""Files held open the way Windows holds them: the seam of :mod:`dbsys.fsops` failing on purpose."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from dbsys import fsops


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(fsops, "RETRY_DELAYS", (0.0,) * len(fsops.RETRY_DELAYS))


def sharing_violation() -> OSError:
    exc = OSError(errno.EACCES, "The process cannot access the file because it is being used by another process")
    exc.winerror = 32  # type: ignore[attr-defined] - what Windows sets
    return exc


def held(real, times: int, *, error=lambda: PermissionError(13, "Access is denied"), only=None):
    """``real``, failing with ``error()`` the first ``times`` calls (those whose last path is ``only``)."""
    calls: list[tuple] = []
    refused = [0]

    def call(*args):
        calls.append(args)
        if (only is None or Path(args[-1]) == only) and refused[0] < times:
            refused[0] += 1
            raise error()
        return real(*args)

    call.calls = calls  # type: ignore[attr-defined]
    return call


TRIES = len(fsops.RETRY_DELAYS) + 1
