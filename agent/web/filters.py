"""Jinja2 filters of the console's templates."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


def when(value: Any) -> str:
    """A stored time (``2026-11-27T10:00:00.000000Z``) as ``2026-11-27 10:00:00 UTC``; '' for none."""
    if not value:
        return ""
    text = str(value).replace("T", " ")
    if "." in text:
        text = text.split(".", 1)[0]
    return text.rstrip("Z") + " UTC"


def score(value: Any) -> str:
    return "" if value is None else f"{float(value):.0f}"


def query(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from ``params`` with ``changes`` applied (``None`` drops a key)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else "?"


def first_line(text: Any, limit: int = 90) -> str:
    line = next((part.strip() for part in str(text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


FILTERS = {"when": when, "score": score, "query": query, "first_line": first_line}
