"""A sandbox NinjaOne: its public API v2 over loopback HTTP (JSON, OAuth2 client credentials).

Built only from public sources; see ``docs/ninjaone.md`` for them and for what they leave unsaid.
"""

from agent.sandbox.ninjaone.server import NinjaSandbox

__all__ = ["NinjaSandbox"]
