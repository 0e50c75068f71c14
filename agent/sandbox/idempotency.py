"""Replay of first answers for ``Idempotency-Key``.

Only successful answers are kept: a refused request applied nothing, so running it again
cannot apply anything twice, and a client that fixes its body may reuse the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agent.sandbox.errors import conflict, invalid


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: bytes


def check_key(key: str) -> str:
    if not 1 <= len(key) <= 255:
        raise invalid("Idempotency-Key must be 1 to 255 characters long.")
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class Replays:
    """Answers by key; callers hold the world lock around lookup, apply and remember."""

    def __init__(self) -> None:
        self._answers: dict[str, Stored] = {}

    def lookup(self, key: str, print_: str) -> Stored | None:
        stored = self._answers.get(key)
        if stored is not None and stored.fingerprint != print_:
            raise conflict("This Idempotency-Key was used with another request body; use a new key.")
        return stored

    def remember(self, key: str, print_: str, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            self._answers[key] = Stored(print_, status, body)
