"""The cyclic garbage collector paused while a feed page is applied.

A page of 500 changes allocates some hundred thousand objects that stay alive until the page is
committed (the page's records, the tickets' texts and events). The collector counts them and,
every 700 allocations, walks the younger ones, which survive every walk: measured on the
agent's applying thread, a fifth of its time went to these walks (``python -m bench inbound``,
docs/performance.md). Paused, the page's objects are freed by reference counting as always, and
the few reference cycles a page makes wait for the first collection after it.

The pause is the process's, not the thread's (the collector has no other switch). It is only
ever lifted by the pause that set it, and a pause that finds the collector off already (set by
someone else) leaves it alone: at worst another thread's work runs one page without collections.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside (reference counting still frees); the collector as it was after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
