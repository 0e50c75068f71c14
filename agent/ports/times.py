"""The one format the agent keeps times in (state store, PSA records): ISO 8601 UTC with
microseconds and a ``Z``, so that stored times sort as text."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

_local = threading.local()


def now_iso() -> str:
    """Current UTC time as stored: ISO 8601 with microseconds and a ``Z``."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    last: tuple[int, str] = getattr(_local, "second", (-1, ""))
    if last[0] != seconds:
        # strftime is the dear part and is called for nearly every row written: once a second
        # (per thread, so that no state is shared between threads).
        last = _local.second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{last[1]}.{nanos // 1000:06d}Z"


def stored_time(moment: datetime) -> str:
    """A moment in the format the store keeps times in (that of :func:`now_iso`)."""
    # isoformat is a fraction of the cost of strftime with %f; the naive UTC form has no offset.
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_stored_time(text: str) -> datetime:
    """A time as the store keeps it (see :func:`now_iso`), as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


