"""Built-in skip rule (R11): changes caused by the PSA's own requests create no PSA work."""

from __future__ import annotations

from agent.hookspecs import hookimpl

DEFAULT_ENABLED = True


@hookimpl(trylast=True)
def zenith_skip_change(change, settings):
    return True if change.origin == "PSA" else None
