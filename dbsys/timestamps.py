"""UTC timestamps as written in the Dbsys files (``2026-11-27T10:00:03Z``).

A naive ``datetime`` is taken to be UTC already: the agent only ever makes aware ones, and
guessing a local zone would shift times by hours on a server in another zone.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utc(at: datetime | None = None) -> datetime:
    """``at`` (now when ``None``) as an aware UTC datetime, to whole seconds."""
    if at is None:
        at = datetime.now(timezone.utc)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).replace(microsecond=0)


def format_utc(at: datetime | None = None) -> str:
    """``2026-11-27T10:00:03Z``."""
    return utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact_utc(at: datetime | None = None) -> str:
    """``20261127T100003Z``: the same instant, safe in a file name on every system."""
    return utc(at).strftime("%Y%m%dT%H%M%SZ")


def parse_utc(text: str) -> datetime:
    """Read a timestamp written by :func:`format_utc` (other ISO 8601 forms are accepted too)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"'{text}' is not a timestamp like 2026-11-27T10:00:03Z") from None
