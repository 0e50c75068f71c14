"""A sandbox Continuum PSA API server for the demo, the tests, benchmarks and curious users.

``SandboxServer`` serves the wire contract over real HTTP on loopback; ``World`` is its
state and ``Faults`` its fault injection. See docs/sandbox.md.
"""

from agent.sandbox.errors import SandboxError
from agent.sandbox.faults import Faults
from agent.sandbox.server import SandboxServer
from agent.sandbox.world import World

__all__ = ["SandboxServer", "World", "Faults", "SandboxError"]
