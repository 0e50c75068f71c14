"""Keeping the garbage collector's full passes short while the console serves.

Everything alive once the console is built (the modules, the agent's App, the templates) lives
as long as the process. A full collection walks every tracked object, and a page that happened
to trigger one waited for that walk: tens of milliseconds at every tenth page or so (measured by
``bench/bench_web.py``). Frozen, those objects are left out of every later collection; memory
is still freed by reference counting, as always.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then freeze what is left (only what is alive is frozen)."""
    gc.collect()
    gc.freeze()
