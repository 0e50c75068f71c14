"""The NinjaOne backend of the RMM port (a snapshot RMM: open alerts). See docs/ninjaone.md."""

from typing import Any

from .client import NINJAONE_CAPABILITIES, NinjaOneClient


def backend(settings: Any) -> NinjaOneClient:
    """The RMM backend named ``ninjaone``: a client for ``settings.ninjaone_url`` and its client credentials."""
    return NinjaOneClient.from_settings(settings)


__all__ = ["NINJAONE_CAPABILITIES", "NinjaOneClient", "backend"]
