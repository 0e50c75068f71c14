"""The locks the writers of request files share (the ``App``'s ``request_file_locks``)."""

from __future__ import annotations

import threading


class FileLocks:
    """The locks an agent's writers of request files share (one set per :class:`App`).

    Results are written from the store under a lock per request, so a late "Queued" never
    replaces the "Done" that the outbox sender wrote a moment before; a drop is moved under a
    lock per file name, as two movers of one file could each leave a copy. Striped: 64 locks
    serve every name.
    """

    STRIPES = 64

    def __init__(self) -> None:
        self._results = tuple(threading.Lock() for _ in range(self.STRIPES))
        self._moves = tuple(threading.Lock() for _ in range(self.STRIPES))

    def result(self, request_id: str) -> threading.Lock:
        return self._results[hash(request_id) % self.STRIPES]

    def move(self, file_name: str) -> threading.Lock:
        return self._moves[hash(file_name) % self.STRIPES]
