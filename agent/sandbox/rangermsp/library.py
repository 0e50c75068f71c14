"""The two DLLs' functions as ctypes function objects over the simulator's records.

Each attribute of :class:`SimulatedEngine` (``CmtDbEng.dll``) and :class:`SimulatedQuery`
(``CmtDbQry.dll``) is a ``ctypes.CFUNCTYPE`` object: the caller passes exactly what it passes to
the real functions (bytes, ints, ``create_string_buffer`` objects, ``byref(c_int())``) and the
simulator writes the answers into that memory, never past the size given, NUL-terminated.
A Python error inside never escapes (ctypes would swallow it): it becomes status 1100.
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from loguru import logger

from agent.sandbox.rangermsp import messages
from agent.sandbox.rangermsp.faults import Faults
from agent.sandbox.rangermsp.messages import Refused
from agent.sandbox.rangermsp.records import SimulatorDatabase
from agent.sandbox.rangermsp.schema import (
    BY_CODE,
    BY_PREFIX,
    MISSING_REQUIRED,
    PLACEHOLDER_BODY,
    STATUS_NEW,
    TEXT_ENCODING,
)

SUCCESS, BAD_APP_NAME, DB_ACCESS, NOT_INITIALISED = 1, 1015, 1100, 1100
TOO_SMALL, MORE, NONE_MATCHED = 110004, 110019, 110021
DESCRIPTIONS = {
    1: "Success", 1015: "Application name must be 3-15 characters", 1100: "Database access error",
    110001: "Missing data kind", 110002: "Wrong root element", 110003: "Bad record count",
    110004: "Response buffer too small", 110005: "Bad query filter", 110008: "Bad data kind",
    110019: "More records exist", 110021: "No records found", 150001: "Invalid XML or data",
    150002: "Unknown field name", 150003: "No record for this REC ID", 150004: "XML version not supported",
    150005: "XML version missing", 150006: "REC ID is a placeholder", 150007: "REC ID is a placeholder",
    150008: "Invalid REC ID",
}

_STATUS = ctypes.POINTER(ctypes.c_int)
_STR, _INT, _BUF = ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p
INIT = ctypes.CFUNCTYPE(None, _STR, _STR, _STATUS)
TERMINATE = ctypes.CFUNCTYPE(None)
INS_UPD = ctypes.CFUNCTYPE(None, _STR, _INT, _STR, _STR, _INT, _INT, _INT, _INT, _INT, _BUF, _BUF, _BUF, _STATUS)
READ = ctypes.CFUNCTYPE(None, _STR, _INT, _BUF, _INT, _STATUS)
DESCRIBE = ctypes.CFUNCTYPE(None, _INT, _INT, _BUF)


def _put(buf: int | None, size: int, text: str) -> bool:
    """Write ``text`` and a NUL into ``buf``; ``False`` (nothing written) if it does not fit."""
    data = text.encode(TEXT_ENCODING, errors="replace")
    if buf is None or len(data) + 1 > size:
        return False
    ctypes.memmove(buf, data + b"\x00", len(data) + 1)
    return True


class _Simulator:
    """What both DLLs share in one process: the records, the faults, the call counts."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.db: SimulatorDatabase | None = None
        self.faults: Faults | None = None
        self.users = 0
        self.calls: Counter[str] = Counter()

    def init(self, app_name: bytes | None, db_path: bytes | None, status: Any, name: str) -> None:
        self.calls[name] += 1
        try:
            app = (app_name or b"").decode(TEXT_ENCODING, "replace")
            if not 3 <= len(app) <= 15:
                status[0] = BAD_APP_NAME
                return
            folder = Path((db_path or b"").decode(TEXT_ENCODING, "replace"))
            with self.lock:
                if self.db is None:
                    self.db = SimulatorDatabase(folder)
                    self.faults = Faults(folder)
                self.users += 1
            status[0] = SUCCESS
        except Exception:  # noqa: BLE001 - nothing may escape a DLL function
            logger.exception("simulator: init failed")
            status[0] = DB_ACCESS

    def terminate(self, name: str) -> None:
        self.calls[name] += 1
        with self.lock:
            self.users = max(0, self.users - 1)
            if self.users == 0 and self.db is not None:
                self.db.close()
                self.db = self.faults = None

    def guarded(self, name: str, status: Any, work: Any) -> None:
        self.calls[name] += 1
        try:
            if self.db is None or self.faults is None:
                status[0] = NOT_INITIALISED
                return
            if self.faults.busy():
                status[0] = DB_ACCESS
                return
            status[0] = work(self.db, self.faults)
        except Refused as exc:
            status[0] = exc.status
        except Exception:  # noqa: BLE001 - nothing may escape a DLL function
            logger.exception("simulator: {} failed", name)
            status[0] = DB_ACCESS


def _check_rec_id(rec_id: str) -> None:
    if len(rec_id) != 20 or rec_id[:3] not in BY_PREFIX or not rec_id[3:].isalnum():
        raise Refused(150008, f"{rec_id!r} is not a REC ID")
    if rec_id[3:] == PLACEHOLDER_BODY:
        raise Refused(150006, f"{rec_id} is a placeholder")


class SimulatedEngine:
    """``CmtDbEng.dll``."""

    def __init__(self, sim: _Simulator) -> None:
        self._sim = sim
        self.CmtInitDbEngDll = INIT(lambda a, d, st: sim.init(a, d, st, "CmtInitDbEngDll"))
        self.CmtTerminateDbEngDll = TERMINATE(lambda: sim.terminate("CmtTerminateDbEngDll"))
        self.CmtInsUpdRec = INS_UPD(self._ins_upd)

    def _ins_upd(self, app: bytes, table_id: int, data: bytes, mapping: bytes, flag: int, reserved: int,
                 recid_size: int, errcodes_size: int, errmsg_size: int, recid_buf: int, errcodes_buf: int,
                 errmsg_buf: int, status: Any) -> None:
        def work(db: SimulatorDatabase, faults: Faults) -> int:
            try:
                table = BY_CODE.get(table_id)
                if table is None:
                    raise Refused(110008, f"unknown table {table_id}")
                quote, delimiter, names = messages.parse_map(mapping or b"")
                values = messages.parse_data(data or b"", quote, delimiter)
                if len(values) != len(names):
                    raise Refused(150001, f"{len(values)} values for {len(names)} fields")
                unknown = [n for n in names if n not in table.fields]
                if unknown:
                    raise Refused(150002, f"unknown field(s) for {table.datakind}: {', '.join(unknown)}")
                fields = dict(zip(names, values))
                fields.pop(table.rec_id_field, None)
                fields.pop("FLDTKTTICKETNO", None)
                target = ctypes.string_at(recid_buf).decode(TEXT_ENCODING, "replace").strip() if recid_buf else ""
                faults.before_write()
                if target:
                    _check_rec_id(target)
                    if target[:3] != table.prefix or not db.update(target, fields):
                        raise Refused(150003, f"no {table.datakind} with REC ID {target}")
                else:
                    missing = [n for n in table.required if not fields.get(n)]
                    if missing:
                        raise Refused(MISSING_REQUIRED, f"required field(s) missing: {', '.join(missing)}")
                    if table.prefix == "TKT" and not fields.get("FLDTKTSTATUS"):
                        fields["FLDTKTSTATUS"] = str(STATUS_NEW)
                    target = db.insert(table, fields)
                    _put(recid_buf, recid_size + 1, target)
                faults.after_write()
                return SUCCESS
            except Refused as exc:
                _put(errcodes_buf, errcodes_size, str(exc.status))
                _put(errmsg_buf, errmsg_size, str(exc)[: max(0, errmsg_size - 1)])
                raise

        self._sim.guarded("CmtInsUpdRec", status, work)




class SimulatedQuery:
    """``CmtDbQry.dll``."""

    def __init__(self, sim: _Simulator) -> None:
        self._sim = sim
        self.CmtInitDbQryDll = INIT(lambda a, d, st: sim.init(a, d, st, "CmtInitDbQryDll"))
        self.CmtTerminateDbQryDll = TERMINATE(lambda: sim.terminate("CmtTerminateDbQryDll"))
        self.CmtGetQueryRecIds = READ(self._query)
        self.CmtGetRecordDataByRecId = READ(self._record)
        self.CmtGetDescriptionByStatus = DESCRIBE(self._describe)

    def _query(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def work(db: SimulatorDatabase, faults: Faults) -> int:
            query = messages.parse_query((request or b"")[:length])
            if faults.small_buffer():
                return TOO_SMALL
            found = [r[query.table.rec_id_field] for r in db.records(query.table.datakind)
                     if messages.matches(r, query)]
            if not found:
                _put(buf, size, messages.query_answer(query.table, []))
                return NONE_MATCHED
            cap = min(query.max_records, faults.max_records() or query.max_records)
            answer = messages.query_answer(query.table, found[:cap])
            if not _put(buf, size, answer):
                return TOO_SMALL
            return MORE if len(found) > cap else SUCCESS

        self._sim.guarded("CmtGetQueryRecIds", status, work)

    def _record(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def work(db: SimulatorDatabase, faults: Faults) -> int:
            rec_id, names = messages.parse_record_request((request or b"")[:length])
            _check_rec_id(rec_id)
            table = BY_PREFIX[rec_id[:3]]
            unknown = [n for n in names if n not in table.fields]
            if unknown or not names:
                raise Refused(150002, f"unknown field(s): {', '.join(unknown) or '(none asked)'}")
            record = db.get(rec_id)
            if record is None:
                raise Refused(150003, f"no record {rec_id}")
            if faults.small_buffer():
                return TOO_SMALL
            if not _put(buf, size, messages.record_answer(record, names)):
                return TOO_SMALL
            return SUCCESS

        self._sim.guarded("CmtGetRecordDataByRecId", status, work)

    def _describe(self, code: int, size: int, buf: int) -> None:
        self._sim.calls["CmtGetDescriptionByStatus"] += 1
        text = DESCRIPTIONS.get(code, f"Unknown status {code}")
        data = text.encode(TEXT_ENCODING)[: max(0, size - 1)]
        if buf and size > 0:
            ctypes.memmove(buf, data + b"\x00", len(data) + 1)


class SimulatorLibraries:
    """The pair of simulated DLLs of one process: ``eng`` and ``qry``, as the backend loads them."""

    def __init__(self) -> None:
        self._sim = _Simulator()
        self.eng = SimulatedEngine(self._sim)
        self.qry = SimulatedQuery(self._sim)

    @property
    def calls(self) -> Counter[str]:
        """DLL calls made so far, by function name."""
        return self._sim.calls

    @property
    def faults(self) -> Faults | None:
        return self._sim.faults


def simulator_libraries() -> SimulatorLibraries:
    """A fresh pair of simulated DLLs; their records live in the ``db_path`` given to the init calls."""
    return SimulatorLibraries()
