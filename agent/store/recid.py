"""RangerMSP-style REC IDs: 20 characters, a 3-letter table prefix, then 17 of [0-9A-Z].

The body starts with the creation time in base 36 so REC IDs sort roughly by creation, then
random characters so two agents (or two threads) never collide.
"""

from __future__ import annotations

import re
import secrets
import time

PREFIXES = {"account": "CRD", "asset": "AST", "ticket": "TKT", "history": "HIS", "employee": "EMP"}
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LENGTH = 20
PATTERN = re.compile(r"^(CRD|AST|TKT|HIS|EMP)[0-9A-Z]{17}$")


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        digits.append(ALPHABET[rem])
    return "".join(reversed(digits))


def new_rec_id(table: str) -> str:
    """A new REC ID for ``table`` (one of :data:`PREFIXES`)."""
    prefix = PREFIXES[table]
    stamp = _base36(time.time_ns() // 1_000_000, 9)
    width = LENGTH - len(prefix) - len(stamp)
    # One draw for the whole tail (same distribution as a draw per character, a tenth of the cost:
    # REC IDs are made for every ticket and history note the inbound sync writes).
    tail = _base36(secrets.randbelow(36 ** width), width)
    return prefix + stamp + tail


def is_rec_id(value: str, table: str | None = None) -> bool:
    if not PATTERN.match(value or ""):
        return False
    return table is None or value.startswith(PREFIXES[table])
