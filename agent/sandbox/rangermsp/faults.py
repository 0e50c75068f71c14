"""Failures the real DLLs have, injected on demand: from a JSON file beside the records (so a test
can inject them into another process, e.g. an agent it will kill) or set in-process.

The file ``rangermsp-simulator-faults.json`` in the database folder, re-read when it changes::

    {"busy": 3,                 # the next 3 calls answer 1100 and do nothing
     "busy_probability": 0.1,   # or each call, with this probability (seeded by "seed")
     "commit_then_busy": 2,     # the next 2 writes commit, then answer 1100 anyway
     "commit_then_busy_probability": 0.1,  # or each write, with this probability
     "maintenance": 1,          # the next call answers 1022 (periodic maintenance)
     "newer_api": 1,            # the next call answers 1023 (a newer API was installed)
     "small_buffer": 2,         # the next 2 reads answer 1020 (the caller grows its buffer)
     "max_records": 5,          # a query answers at most 5 REC IDs (110019 when more match)
     "die_before_write": 4,     # the 4th write from now kills the process before it commits
     "die_after_write": 4,      # the 4th write from now commits, then the process dies
     "die_probability": 0.02,   # each write, with this probability, commits and then dies
     "seed": 7}

Counts are of this process's calls since the file last changed. Dying is ``os._exit(137)``:
no clean-up, exactly like a kill.
"""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path
from typing import Any

FILE_NAME = "rangermsp-simulator-faults.json"
DIED = 137


class Faults:
    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE_NAME
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._spec: dict[str, Any] = {}
        self._used: dict[str, int] = {}
        self._random = random.Random(0)

    def set(self, **spec: Any) -> None:
        """Inject in-process (replaces the file's faults until the file changes)."""
        with self._lock:
            self._take(spec)

    def _take(self, spec: dict[str, Any]) -> None:
        self._spec = dict(spec)
        self._used = {}
        self._random = random.Random(spec.get("seed", 0))

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if self._stamp is not None:
                self._stamp = None
                self._take({})
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._take(json.loads(self.path.read_text(encoding="utf-8")) or {})
            except (OSError, ValueError):
                self._take({})

    def _count(self, name: str) -> bool:
        """Whether the counted fault ``name`` fires now (it fires for the first N calls)."""
        limit = int(self._spec.get(name, 0) or 0)
        used = self._used.get(name, 0)
        if used < limit:
            self._used[name] = used + 1
            return True
        return False

    def before_call(self) -> int:
        """The status a call answers without doing anything (1100, 1022, 1023), or 0."""
        with self._lock:
            self._refresh()
            if self._count("maintenance"):
                return 1022
            if self._count("newer_api"):
                return 1023
            if self._count("busy"):
                return 1100
            p = float(self._spec.get("busy_probability", 0) or 0)
            return 1100 if p > 0 and self._random.random() < p else 0

    def small_buffer(self) -> bool:
        with self._lock:
            self._refresh()
            return self._count("small_buffer")

    def max_records(self) -> int | None:
        with self._lock:
            self._refresh()
            cap = self._spec.get("max_records")
            return int(cap) if cap else None

    def _nth_write(self, name: str) -> bool:
        nth = int(self._spec.get(name, 0) or 0)
        if not nth:
            return False
        seen = self._used[name] = self._used.get(name, 0) + 1
        return seen == nth

    def before_write(self) -> None:
        with self._lock:
            self._refresh()
            die = self._nth_write("die_before_write")
        if die:
            os._exit(DIED)

    def after_write(self) -> int:
        """After a write committed: die, or answer 1100 although it committed, or 1 (success)."""
        with self._lock:
            self._refresh()
            p = float(self._spec.get("die_probability", 0) or 0)
            die = self._nth_write("die_after_write") or (p > 0 and self._random.random() < p)
            q = float(self._spec.get("commit_then_busy_probability", 0) or 0)
            busy = self._count("commit_then_busy") or (q > 0 and self._random.random() < q)
        if die:
            os._exit(DIED)
        return 1100 if busy else 1
