"""RangerMSP-style REC IDs: 20 characters, a 3-letter table prefix, then 17 of [0-9A-Z].

The body starts with the creation time in base 36 so REC IDs sort roughly by creation, then
random characters so two agents (or two threads) never collide.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time

PREFIXES = {"account": "CRD", "asset": "AST", "ticket": "TKT", "history": "HIS", "employee": "EMP"}
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LENGTH = 20
PATTERN = re.compile(r"^(CRD|AST|TKT|HIS|EMP)[0-9A-Z]{17}$")


# Two base-36 digits per step: REC IDs are made for every ticket and history note the inbound
# sync writes (and the time part changes every millisecond), so the conversion is worth a
# 1,296-entry table.
_PAIRS = tuple(a + b for a in ALPHABET for b in ALPHABET)


def _base36(number: int, width: int) -> str:
    chunks = []
    while width >= 2:
        number, rem = divmod(number, 1296)
        chunks.append(_PAIRS[rem])
        width -= 2
    if width:
        chunks.append(ALPHABET[number % 36])
    return "".join(reversed(chunks))
_TAIL_WIDTH = 8
_TIME_WIDTH = LENGTH - 3 - _TAIL_WIDTH
_TAIL_RANGE = 36 ** _TAIL_WIDTH
_TAIL_BITS = _TAIL_RANGE.bit_length()
_local = threading.local()  # each thread's last time prefix: nothing shared between threads
# Uniqueness, not secrecy, is asked of the tail: a generator seeded from os.urandom (and again
# in every forked child) gives it without a system call per REC ID.
_random = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random.seed)


def _tail() -> str:
    # One draw for the whole tail: the same distribution as a draw per character.
    number = _random.getrandbits(_TAIL_BITS)
    while number >= _TAIL_RANGE:  # rejection keeps the draw uniform (as randrange does)
        number = _random.getrandbits(_TAIL_BITS)
    number, d = divmod(number, 1296)
    number, c = divmod(number, 1296)
    a, b = divmod(number, 1296)
    return _PAIRS[a] + _PAIRS[b] + _PAIRS[c] + _PAIRS[d]


def new_rec_id(table: str) -> str:
    """A new REC ID for ``table`` (one of :data:`PREFIXES`)."""
    # The time part's last two digits change every millisecond, the rest every 1.296 seconds:
    # only the rest is worth remembering.
    high, low = divmod(time.time_ns() // 1_000_000, 1296)
    last: tuple[int, str] = getattr(_local, "stamp", (-1, ""))
    if last[0] != high:
        last = _local.stamp = (high, _base36(high, _TIME_WIDTH - 2))
    return PREFIXES[table] + last[1] + _PAIRS[low] + _tail()


def is_rec_id(value: str, table: str | None = None) -> bool:
    if not PATTERN.match(value or ""):
        return False
    return table is None or value.startswith(PREFIXES[table])
