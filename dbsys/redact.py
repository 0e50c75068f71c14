"""The redaction hook applied to every text written to results, reports and status (D6).

``dbsys`` knows nothing of the PSG; the agent installs a function that blanks it (and
anything else secret) with :func:`set_redactor`, once, at start-up.
"""

from __future__ import annotations

from collections.abc import Callable

Redactor = Callable[[str], str]


def _identity(text: str) -> str:
    return text


_redactor: Redactor = _identity


def set_redactor(fn: Redactor | None) -> None:
    """Install ``fn`` as the redactor for every file text; ``None`` restores no redaction."""
    global _redactor
    _redactor = fn or _identity


def redact(text: str) -> str:
    """``text`` with secrets removed by the installed redactor."""
    return _redactor(text)
