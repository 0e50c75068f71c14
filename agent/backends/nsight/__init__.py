"""The N-able N-sight backend of the RMM port (a snapshot RMM: failing checks). See docs/nsight.md."""

from typing import Any

from .client import MIN_POLL_SECONDS, NSIGHT_CAPABILITIES, NsightClient


def backend(settings: Any) -> NsightClient:
    """The RMM backend named ``nsight``: a client for ``settings.nsight_url`` / ``.nsight_api_key``."""
    return NsightClient.from_settings(settings)


__all__ = ["MIN_POLL_SECONDS", "NSIGHT_CAPABILITIES", "NsightClient", "backend"]
