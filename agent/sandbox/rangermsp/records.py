"""The simulator's records: one SQLite file in the database folder, every call committed on its own
(as each DB API call is), so that a killed process finds every committed record again."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from pathlib import Path
from typing import Any

from agent.sandbox.rangermsp.schema import BY_PREFIX, ENTITY_ACCOUNT, REC_ID_CHARS, Table

FILE_NAME = "rangermsp-simulator.sqlite"


class SimulatorDatabase:
    """The records of a simulated RangerMSP database, and what RangerMSP's own client would do
    to them (merge accounts, change a field): the out-of-band side of the simulator."""

    def __init__(self, db_folder: Path | str) -> None:
        self.folder = Path(db_folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._random = random.SystemRandom()
        self._conn = sqlite3.connect(str(self.folder / FILE_NAME), isolation_level=None, check_same_thread=False,
                                     timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, rec_id TEXT UNIQUE NOT NULL,"
            " prefix TEXT NOT NULL, fields TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- what the DLL functions use --------------------------------------------------------
    def insert(self, table: Table, fields: dict[str, str]) -> str:
        """A new record under a random REC ID: a prefix and 17 characters, not in any order (the
        example ``CRDO4H7A4S453D55P4JJ``, facts §5.7), so that nothing may page by creation order."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                while True:
                    rec_id = table.prefix + "".join(self._random.choice(REC_ID_CHARS) for _ in range(17))
                    if self._conn.execute("SELECT 1 FROM records WHERE rec_id = ?", (rec_id,)).fetchone() is None:
                        break
                values = dict(fields, **{table.rec_id_field: rec_id})
                if table.prefix == "TKT":
                    number = self._bump("ticket_no")
                    values["FLDTKTTICKETNO"] = str(number)
                self._conn.execute("INSERT INTO records(rec_id, prefix, fields) VALUES (?, ?, ?)",
                                   (rec_id, table.prefix, json.dumps(values)))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return rec_id

    def delete(self, rec_id: str) -> bool:
        with self._lock:
            return self._conn.execute("DELETE FROM records WHERE rec_id = ?", (rec_id,)).rowcount > 0

    def _bump(self, name: str) -> int:
        self._conn.execute("INSERT INTO counters(name, value) VALUES (?, 1)"
                           " ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
        return int(self._conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

    def update(self, rec_id: str, fields: dict[str, str]) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT fields FROM records WHERE rec_id = ?", (rec_id,)).fetchone()
            if row is None:
                return False
            values = json.loads(row[0])
            values.update(fields)
            self._conn.execute("UPDATE records SET fields = ? WHERE rec_id = ?", (json.dumps(values), rec_id))
        return True

    def get(self, rec_id: str) -> dict[str, str] | None:
        with self._lock:
            row = self._conn.execute("SELECT fields FROM records WHERE rec_id = ?", (rec_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def records(self, kind: str) -> list[dict[str, str]]:
        """Every record of a kind (``ACCOUNT``, ``TICKET``, ``ASSET``, ``HISTORY-NOTE``, or a prefix), in the
        order they were stored (a query without ``<order>`` answers in no REC ID order)."""
        from agent.sandbox.rangermsp.schema import BY_DATAKIND

        table = BY_DATAKIND.get(kind) or BY_PREFIX[kind]
        with self._lock:
            rows = self._conn.execute("SELECT fields FROM records WHERE prefix = ? ORDER BY seq",
                                      (table.prefix,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- what RangerMSP's own client does --------------------------------------------------
    def set_field(self, rec_id: str, field: str, value: str) -> None:
        """Change one field, as an employee would in RangerMSP (e.g. ``FLDTKTSTATUS`` to ``1000``)."""
        if not self.update(rec_id, {field: value}):
            raise KeyError(rec_id)

    def add(self, kind: str, **fields: Any) -> str:
        """A record made in RangerMSP itself (not through the API)."""
        from agent.sandbox.rangermsp.schema import BY_DATAKIND

        table = BY_DATAKIND[kind]
        values = {k: str(v) for k, v in fields.items()}
        if table.prefix == "CRD":
            values.setdefault("FLDCRDENTITYKIND", str(ENTITY_ACCOUNT))
        return self.insert(table, values)

    def merge_accounts(self, source: str, into: str) -> None:
        """RangerMSP's account merge: the source's tickets, assets and notes move, the source goes
        (its REC ID then answers 150003)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for seq, fields in self._conn.execute("SELECT seq, fields FROM records").fetchall():
                values = json.loads(fields)
                changed = False
                for name in ("FLDTKTCARDID", "FLDASTACCRECID", "FLDHISCARDID"):
                    if values.get(name) == source:
                        values[name], changed = into, True
                if changed:
                    self._conn.execute("UPDATE records SET fields = ? WHERE seq = ?", (json.dumps(values), seq))
            self._conn.execute("DELETE FROM records WHERE rec_id = ?", (source,))
            self._conn.execute("COMMIT")
