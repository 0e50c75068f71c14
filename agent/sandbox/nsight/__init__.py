"""A sandbox N-able N-sight RMM: its Data Extraction API over loopback HTTP (demo, tests, benchmarks).

Built only from N-able's public documentation; see ``docs/nsight.md`` for the pages each answer
follows and for what the documentation leaves unsaid (and how the sandbox fills it in).
"""

from agent.sandbox.nsight.server import NsightSandbox
from agent.sandbox.nsight.world import NsightWorld

__all__ = ["NsightSandbox", "NsightWorld"]
