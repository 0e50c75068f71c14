"""Built-in skip rule (R11): changes caused by the PSA's own requests create no PSA work.

Continuum marks such changes with ``Origin`` = ``PSA`` (on the note when the change carries
one, else on the ticket). They are still acknowledged and recorded as processed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.hookspecs import hookimpl

if TYPE_CHECKING:
    from agent.ports.rmm import Change
    from config.loader import Settings

DEFAULT_ENABLED = True
ECHO_ORIGIN = "PSA"


@hookimpl(trylast=True)
def zenith_skip_change(change: Change, settings: Settings) -> bool | None:
    return True if is_echo(change) else None


def is_echo(change: Change) -> bool:
    """Whether Continuum says this change was caused by the PSA itself."""
    return (change.origin or "").strip().upper() == ECHO_ORIGIN
