"""The two DLLs' functions as ctypes function objects over the simulator's records.

Each attribute of :class:`SimulatedEngine` (``CmtDbEng.dll``) and :class:`SimulatedQuery`
(``CmtDbQry.dll``) is a ``ctypes.CFUNCTYPE`` object with the vendor's signature (facts §1.2): the
caller passes exactly what it passes to the real functions and the simulator writes the answers
into that memory, never past the size given, NUL-terminated. A Python error inside never escapes
(ctypes would swallow it): it becomes status 2000. One :class:`SimulatorLibraries` is one load of
the DLLs: its Init state lives as long as it does (facts §6).
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from collections.abc import Callable
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
    ENTITY_ACCOUNT,
    ENTITY_KINDS,
    MISSING_REQUIRED,
    PLACEHOLDER_BODY,
    STATUS_NEW,
    STATUS_TEXTS,
    Installation,
    Table,
)
from agent.sandbox.rangermsp.settings import read_installation

# Status values and result codes (facts §4.6/§4.7).
SUCCESS, NOT_INITIALISED, NO_DB_FOLDER, BAD_DB_FOLDER, BAD_APP_NAME = 1, 1008, 1009, 1010, 1015
SMALL_RECID_BUFFER, BAD_REC_ID, NO_SUCH_REC_ID, TOO_SMALL = 1006, 1017, 1019, 1020
MAINTENANCE, NEWER_API, DB_ACCESS, GENERAL, CANNOT_DELETE = 1022, 1023, 1100, 2000, 1501
TRUNCATED, ILLEGAL_KIND, ILLEGAL_STATUS, NO_RECORD = 50001, 51000, 54005, 150003
MORE, NONE_MATCHED = 110019, 110021
STOP_FILE = "CRMStop.ini"  # <RangerMSP>\DBsys\CRMStop.ini (facts §6, S6)
DESCRIPTIONS = {
    1: "OK", 1008: "Cannot process the transaction. Make sure to call the INIT procedure at least once prior "
    "to sending transactions for processing.", 1009: "Path specified for Commit DB folder not found.",
    1010: "Path specified for Commit DB folder found, but its contents do not reflect a valid DB folder.",
    1015: "Software name is too long. Make sure your software name has 3 to 15 characters.",
    1017: "Invalid Record ID received. Record ID should consist of exactly 20 characters.",
    1019: "Invalid RECID received. Its value cannot point to any entity in CommitCRM.",
    1020: "The size for the result buffer is too small. Increase its size and try again.",
    1022: "API calls cannot currently be processed due to periodic maintenance. Please try again in a few moments.",
    1023: "A newer API version was found. Please restart any applications that use the CommitCRM API and try again.",
    1100: "Database access error", 2000: "General Error Occurred",
}

_STATUS = ctypes.POINTER(ctypes.c_int)
_STR, _INT, _BUF = ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p
INIT = ctypes.CFUNCTYPE(None, _STR, _STR, _STATUS)
TERMINATE = ctypes.CFUNCTYPE(None)
INS_UPD = ctypes.CFUNCTYPE(None, _STR, _INT, _STR, _STR, _INT, _INT, _INT, _INT, _INT, _BUF, _BUF, _BUF, _STATUS)
DELETE = ctypes.CFUNCTYPE(None, _STR, _INT, _STR, _STR, _INT, _INT, _INT, _INT, _BUF, _BUF, _BUF, _STATUS)
READ = ctypes.CFUNCTYPE(None, _STR, _INT, _BUF, _INT, _STATUS)
DESCRIBE = ctypes.CFUNCTYPE(None, _INT, _INT, _BUF)


class _Simulator:
    """What both DLLs share in one load: the records, the installation, the faults, the Init state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.db: SimulatorDatabase | None = None
        self.faults: Faults | None = None
        self.installation = Installation()
        self.root: Path | None = None
        # Each DLL stores its Init status once: before Init every call answers 1008; Init only
        # initialises while it is 1008; Terminate does not reset it (facts §6, S2 disassembly).
        self.init_status = {"eng": NOT_INITIALISED, "qry": NOT_INITIALISED}
        self.calls: Counter[str] = Counter()

    # -- text in the installation's ANSI code page (facts §3.3) -------------------------------
    def decode(self, data: bytes | None) -> str:
        return (data or b"").decode(self.installation.code_page, errors="replace")

    def put(self, buf: int | None, size: int, text: str) -> bool:
        """Write ``text`` into ``buf`` as StrPLCopy does (at most ``size`` bytes and a NUL);
        ``False`` (nothing written) when it is longer (facts §4.5: the DLL answers 1020)."""
        data = text.encode(self.installation.code_page, errors="replace")
        if buf is None or len(data) > size:
            return False
        ctypes.memmove(buf, data + b"\x00", len(data) + 1)
        return True

    def init(self, which: str, app_name: bytes | None, db_path: bytes | None, status: Any, name: str) -> None:
        self.calls[name] += 1
        with self.lock:
            if self.init_status[which] != NOT_INITIALISED:
                status[0] = self.init_status[which]
                return
            try:
                status[0] = self.init_status[which] = self._init(app_name, db_path)
            except Exception:  # noqa: BLE001 - nothing may escape a DLL function
                logger.exception("simulator: init failed")
                status[0] = self.init_status[which] = GENERAL

    def _init(self, app_name: bytes | None, db_path: bytes | None) -> int:
        app = (app_name or b"").decode("latin-1")
        if not 3 <= len(app) <= 15:
            return BAD_APP_NAME
        folder = Path((db_path or b"").decode("latin-1"))
        if not folder.is_dir():
            return NO_DB_FOLDER
        if self.db is None:
            self.installation = read_installation(folder)
            self.db = SimulatorDatabase(folder)
            self.faults = Faults(folder)
            self.root = folder.parent
        return SUCCESS

    def terminate(self, name: str) -> None:
        self.calls[name] += 1  # the stored Init status stays (facts §6)

    def guarded(self, name: str, which: str, status: Any, work: Callable[[SimulatorDatabase, Faults], int],
                fail: Callable[[Refused], None] | None = None) -> None:
        self.calls[name] += 1
        try:
            with self.lock:
                if self.init_status[which] != SUCCESS:
                    status[0] = self.init_status[which]
                    return
                assert self.db is not None and self.faults is not None
                if self.root is not None and (self.root / "Dbsys" / STOP_FILE).exists():
                    status[0] = MAINTENANCE
                    return
                early = self.faults.before_call()
                if early:
                    status[0] = early
                    return
                status[0] = work(self.db, self.faults)
        except Refused as exc:
            status[0] = exc.status
            if fail is not None:
                fail(exc)
        except Exception:  # noqa: BLE001 - nothing may escape a DLL function
            logger.exception("simulator: {} failed", name)
            status[0] = GENERAL


def _check_rec_id(rec_id: str) -> None:
    if len(rec_id) != 20:
        raise Refused(BAD_REC_ID, f"{rec_id!r} is not 20 characters")
    if rec_id[:3] not in BY_PREFIX or not rec_id[3:].isalnum():
        raise Refused(NO_SUCH_REC_ID, f"{rec_id!r} points to nothing")


class SimulatedEngine:
    """``CmtDbEng.dll``: insert, update and delete (facts §2)."""

    def __init__(self, sim: _Simulator) -> None:
        self._sim = sim
        self.CmtInitDbEngDll = INIT(lambda a, d, st: sim.init("eng", a, d, st, "CmtInitDbEngDll"))
        self.CmtTerminateDbEngDll = TERMINATE(lambda: sim.terminate("CmtTerminateDbEngDll"))
        self.CmtInsUpdRec = INS_UPD(self._ins_upd)
        self.CmtDelete = DELETE(self._delete)
        self.CmtGetDescriptionByStatus = DESCRIBE(self._describe)

    def _buffers(self, table_id: int, data: bytes, mapping: bytes) -> tuple[Table, dict[str, str]]:
        table = BY_CODE.get(table_id)
        if table is None:
            raise Refused(1001, f"unknown data kind {table_id}")
        quote, delimiter, names = messages.parse_map(self._sim.decode(mapping))
        values = messages.parse_data(self._sim.decode(data), quote, delimiter)
        if len(values) != len(names):
            raise Refused(1002, f"{len(values)} values for {len(names)} fields")
        unknown = [n for n in names if n not in table.fields]
        if unknown:
            raise Refused(GENERAL, f"unknown field(s) for {table.datakind}: {', '.join(unknown)}", (150010,))
        return table, dict(zip(names, values))

    def _ins_upd(self, app: bytes, table_id: int, data: bytes, mapping: bytes, cont_when_invalid: int,
                 flags: int, recid_size: int, errcodes_size: int, errmsg_size: int, recid_buf: int,
                 errcodes_buf: int, errmsg_buf: int, status: Any) -> None:
        sim = self._sim

        def fail(exc: Refused) -> None:
            sim.put(errcodes_buf, errcodes_size, ",".join(map(str, exc.codes)))
            sim.put(errmsg_buf, errmsg_size, str(exc)[:errmsg_size])

        def work(db: SimulatorDatabase, faults: Faults) -> int:
            if (cont_when_invalid, flags) != (0, 0):
                # The vendor passes 0, 0 (facts §2.1); what 1 does is unknown, so it is refused here.
                raise Refused(GENERAL, f"arguments 5 and 6 are {cont_when_invalid}, {flags}: the vendor passes 0, 0")
            if recid_size < 20:
                raise Refused(SMALL_RECID_BUFFER, "the RECID buffer must hold at least 20 characters")
            table, fields = self._buffers(table_id, data, mapping)
            codes = self._validate(table, fields)
            # The rec-id buffer is output only: whatever the caller put in it is ignored (facts §2.1).
            target = fields.pop(table.rec_id_field, "")
            fields.pop("FLDTKTTICKETNO", None)
            faults.before_write()
            if target:
                _check_rec_id(target)
                if target[:3] != table.prefix or not db.update(target, fields):
                    raise Refused(NO_SUCH_REC_ID, f"no {table.datakind} with REC ID {target}", (NO_RECORD,))
            else:
                missing = [n for n in table.required if not fields.get(n)]
                if missing:
                    raise Refused(GENERAL, f"mandatory field(s) missing: {', '.join(missing)}", (MISSING_REQUIRED,))
                if table.prefix == "TKT":
                    fields.setdefault("FLDTKTSTATUS", str(STATUS_NEW))
                if table.prefix == "CRD":
                    fields.setdefault("FLDCRDENTITYKIND", str(ENTITY_ACCOUNT))
                target = db.insert(table, fields)
                sim.put(recid_buf, recid_size, target)
            sim.put(errcodes_buf, errcodes_size, ",".join(map(str, codes)))
            return faults.after_write()

        sim.guarded("CmtInsUpdRec", "eng", status, work, fail)

    def _validate(self, table: Table, fields: dict[str, str]) -> tuple[int, ...]:
        """Values RangerMSP refuses, and text truncated to its field's size with 50001 (facts §3.1)."""
        status = fields.get("FLDTKTSTATUS")
        if table.prefix == "TKT" and status is not None and (not status.isdigit() or int(status) not in STATUS_TEXTS):
            raise Refused(GENERAL, f"illegal ticket status {status!r}", (ILLEGAL_STATUS,))
        kind = fields.get("FLDCRDENTITYKIND")
        if table.prefix == "CRD" and kind not in (None, "") and (not kind.isdigit() or int(kind) not in ENTITY_KINDS):
            raise Refused(GENERAL, f"illegal account entity kind {kind!r}", (ILLEGAL_KIND,))
        codes: list[int] = []
        for name, value in list(fields.items()):
            size = self._sim.installation.size(table, name)
            if size and len(value) > size:
                fields[name] = value[:size]
                codes = [TRUNCATED]
        return tuple(codes)

    def _delete(self, app: bytes, table_id: int, data: bytes, mapping: bytes, flags: int, recid_size: int,
                errcodes_size: int, errmsg_size: int, recid_buf: int, errcodes_buf: int, errmsg_buf: int,
                status: Any) -> None:
        sim = self._sim

        def fail(exc: Refused) -> None:
            sim.put(errcodes_buf, errcodes_size, ",".join(map(str, exc.codes)))
            sim.put(errmsg_buf, errmsg_size, str(exc)[:errmsg_size])

        def work(db: SimulatorDatabase, faults: Faults) -> int:
            table, fields = self._buffers(table_id, data, mapping)
            target = fields.get(table.rec_id_field, "")
            if set(fields) != {table.rec_id_field}:
                raise Refused(CANNOT_DELETE, "a delete names the REC ID field only (facts §2.1)")
            _check_rec_id(target)
            if target[:3] != table.prefix or not db.delete(target):
                raise Refused(NO_SUCH_REC_ID, f"no {table.datakind} with REC ID {target}", (NO_RECORD,))
            return SUCCESS

        sim.guarded("CmtDelete", "eng", status, work, fail)

    def _describe(self, code: int, size: int, buf: int) -> None:
        self._sim.calls["CmtGetDescriptionByStatus"] += 1
        self._sim.put(buf, max(0, size), DESCRIPTIONS.get(code, "This status does not exist in CommitCRM")[:size])


class SimulatedQuery:
    """``CmtDbQry.dll``: queries, records, field attributes, system properties (facts §4)."""

    def __init__(self, sim: _Simulator) -> None:
        self._sim = sim
        self.CmtInitDbQryDll = INIT(lambda a, d, st: sim.init("qry", a, d, st, "CmtInitDbQryDll"))
        self.CmtTerminateDbQryDll = TERMINATE(lambda: sim.terminate("CmtTerminateDbQryDll"))
        self.CmtGetQueryRecIds = READ(self._query)
        self.CmtGetRecordDataByRecId = READ(self._record)
        self.CmtGetMultiRecordDataByRecId = READ(self._multi_record)
        self.CmtGetFieldAttributesByRecId = READ(self._field)
        self.CmtGetSystemProperties = READ(self._properties)
        self.CmtGetDescriptionByStatus = DESCRIBE(self._describe)

    def _answer(self, name: str, root: str, request: bytes, length: int, buf: int, size: int, status: Any,
                body: Callable[[SimulatorDatabase, Faults, str], tuple[str, tuple[int, ...]]]) -> None:
        sim = self._sim

        def fail(exc: Refused) -> None:
            sim.put(buf, size, messages.answer(root, status=exc.status, codes=exc.codes, message=str(exc)))

        def work(db: SimulatorDatabase, faults: Faults) -> int:
            text, codes = body(db, faults, sim.decode((request or b"")[:length]))
            if faults.small_buffer() or not sim.put(buf, size, messages.answer(root, text, codes=codes)):
                return TOO_SMALL
            return SUCCESS

        sim.guarded(name, "qry", status, work, fail)

    def _query(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def body(db: SimulatorDatabase, faults: Faults, text: str) -> tuple[str, tuple[int, ...]]:
            query = messages.parse_query(text)
            found = [r for r in db.records(query.table.datakind) if messages.matches(r, query.where, query.table)]
            for name, descending in reversed(query.order):
                found.sort(key=_field_value(name), reverse=descending)
            ids = [r[query.table.rec_id_field] for r in found]
            if not ids:
                return "", (NONE_MATCHED,)
            cap = min(query.max_records, faults.max_records() or query.max_records)
            return messages.query_body(query.table, ids[:cap]), ((MORE,) if len(ids) > cap else ())

        self._answer("CmtGetQueryRecIds", "CommitCRMQueryDataResponse", request, length, buf, size, status, body)

    def _record(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def body(db: SimulatorDatabase, faults: Faults, text: str) -> tuple[str, tuple[int, ...]]:
            rec_id, names = messages.parse_record_request(text)
            _check_rec_id(rec_id)
            if rec_id[3:] == PLACEHOLDER_BODY:
                return "", (150007,)
            table = BY_PREFIX[rec_id[:3]]
            unknown = [n for n in names if n not in table.fields]
            if unknown:
                return "", (150010,)
            record = db.get(rec_id)
            if record is None:
                return "", (NO_RECORD,)
            return messages.record_body(record, names or sorted(table.fields)), ()

        self._answer("CmtGetRecordDataByRecId", "CommitCRMGetRecordDataResponse", request, length, buf, size,
                     status, body)

    def _multi_record(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def body(db: SimulatorDatabase, faults: Faults, text: str) -> tuple[str, tuple[int, ...]]:
            rec_ids, names = messages.parse_multi_record_request(text)
            records: list[tuple[dict[str, str] | None, list[str]]] = []
            for rec_id in rec_ids:
                _check_rec_id(rec_id)
                table = BY_PREFIX[rec_id[:3]]
                if any(n not in table.fields for n in names):
                    return "", (150010,)
                records.append((db.get(rec_id), names or sorted(table.fields)))
            return messages.multi_record_body(records), ()

        self._answer("CmtGetMultiRecordDataByRecId", "CommitCRMGetMultiRecordDataResponse", request, length, buf,
                     size, status, body)

    def _field(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def body(db: SimulatorDatabase, faults: Faults, text: str) -> tuple[str, tuple[int, ...]]:
            name = messages.parse_field_request(text)
            table = next((t for t in BY_CODE.values() if name in t.fields), None)
            if table is None:
                return "", (150010,)
            size_of = self._sim.installation.size(table, name)
            kind = "NUMBER" if name in table.numeric else ("MEMO" if size_of == 0 else "CHAR")
            return messages.values_body({"TYPE": kind, "SIZE": str(size_of), "LABEL": name[6:].title(),
                                         "HINT": "", "NAME": name, "DEFAULTVALUE": "", "DISPLAYSYMBOL": ""}), ()

        self._answer("CmtGetFieldAttributesByRecId", "CommitCRMGetFieldAttributesResponse", request, length, buf,
                     size, status, body)

    def _properties(self, request: bytes, length: int, buf: int, size: int, status: Any) -> None:
        def body(db: SimulatorDatabase, faults: Faults, text: str) -> tuple[str, tuple[int, ...]]:
            messages.parse_properties_request(text)
            inst = self._sim.installation
            return messages.values_body({"CmtDateFormat": inst.date_format, "CmtDateSeparator": inst.date_separator,
                                         "CmtTimeFormat": inst.time_format,
                                         "CmtIsTimeFormatAMPMInUse": "Y" if inst.am_pm else "N"}), ()

        self._answer("CmtGetSystemProperties", "CommitCRMGetSystemPropertiesResponse", request, length, buf, size,
                     status, body)

    def _describe(self, code: int, size: int, buf: int) -> None:
        self._sim.calls["CmtGetDescriptionByStatus"] += 1
        self._sim.put(buf, max(0, size), DESCRIPTIONS.get(code, "This status does not exist in CommitCRM")[:size])


def _field_value(name: str) -> Callable[[dict[str, str]], str]:
    return lambda record: record.get(name, "")


class SimulatorLibraries:
    """One load of the pair of simulated DLLs: ``eng`` and ``qry``, as the backend loads them."""

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

    def unload(self) -> None:
        """What the end of the process that loaded the DLLs does: their files are released
        (Windows refuses to delete an open file)."""
        if self._sim.db is not None:
            self._sim.db.close()
            self._sim.db = None


def simulator_libraries() -> SimulatorLibraries:
    """A fresh load of the simulated DLLs; their records live in the ``db_path`` given to the Init calls."""
    return SimulatorLibraries()
