"""The ctypes binding to RangerMSP's two DLLs (or to the project's simulator of them).

:class:`DbApi` is the only place that touches buffers and status codes: it grows a response
buffer on 110004, pages on 110019, reads 110021 as an empty answer, retries 1100 with backoff,
and turns every other status into an error of :mod:`agent.backends.rangermsp.status`. It also
counts its calls (``calls``), which the benchmark reports per ticket.

Libraries. On Windows they are ``ctypes.WinDLL`` objects loaded from the installation's
``ThirdParty\\UserDev`` (older installs: ``Server``), that folder put on ``PATH`` while loading
(the DLLs load neighbours). Anywhere, :mod:`agent.sandbox.rangermsp` offers the same functions as
ctypes function objects over a record file: the seam is "an object with ``eng`` and ``qry``
whose attributes are the DLL functions".
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from agent.backends.rangermsp import messages
from agent.backends.rangermsp.fields import ENCODING, PAGE_SIZE, Kind
from agent.backends.rangermsp.status import (
    BUFFER_TOO_SMALL,
    DB_ACCESS,
    MORE_RECORDS,
    NO_RECORDS,
    SUCCESS,
    DbApiBusy,
    error_for,
)
from agent.errors import ConfigError

DLL_FOLDERS = (Path("ThirdParty") / "UserDev", Path("Server"))
FIRST_RESPONSE_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
RECID_BYTES, ERRCODES_BYTES, ERRMSG_BYTES = 20, 64, 1024
BUSY_RETRIES = 5
BUSY_FIRST_DELAY = 0.05


@dataclass
class Libraries:
    """The two DLLs (or stand-ins): ``eng`` is CmtDbEng.dll, ``qry`` CmtDbQry.dll."""

    eng: Any
    qry: Any
    db_path: str


def dll_folder(installation: Path) -> Path:
    for sub in DLL_FOLDERS:
        if (installation / sub / "CmtDbEng.dll").is_file():
            return installation / sub
    raise ConfigError([f"[RangerMSP] RangerMSPFolder={installation}: no CmtDbEng.dll in "
                       f"{' or '.join(str(installation / s) for s in DLL_FOLDERS)}; name the RangerMSP "
                       "installation folder (the one that holds ThirdParty and Db)"])


def load_windows_libraries(installation: Path) -> Libraries:  # pragma: no cover - needs Windows and RangerMSP
    """The real DLLs, loaded from the installation (never copied), their folder on PATH while loading."""
    if sys.platform != "win32":
        raise ConfigError(["[RangerMSP] Backend=rangermsp needs RangerMSP's DLLs, which run on Windows only; "
                           "use Backend=rangermsp-simulator to try the backend elsewhere"])
    folder = dll_folder(installation)
    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{folder}{os.pathsep}{previous}"
    try:
        with os.add_dll_directory(str(folder)):
            eng = ctypes.WinDLL(str(folder / "CmtDbEng.dll"))
            qry = ctypes.WinDLL(str(folder / "CmtDbQry.dll"))
    finally:
        os.environ["PATH"] = previous
    _declare(eng, qry)
    return Libraries(eng, qry, str(installation / "Db"))


def _declare(eng: Any, qry: Any) -> None:  # pragma: no cover - real DLLs only
    p, i, st = ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
    eng.CmtInitDbEngDll.argtypes = [p, p, st]
    eng.CmtInsUpdRec.argtypes = [p, i, p, p, i, i, i, i, i, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, st]
    qry.CmtInitDbQryDll.argtypes = [p, p, st]
    qry.CmtGetQueryRecIds.argtypes = [p, i, ctypes.c_char_p, i, st]
    qry.CmtGetRecordDataByRecId.argtypes = [p, i, ctypes.c_char_p, i, st]
    qry.CmtGetDescriptionByStatus.argtypes = [i, i, ctypes.c_char_p]
    for fn in (eng.CmtInitDbEngDll, eng.CmtInsUpdRec, eng.CmtTerminateDbEngDll, qry.CmtInitDbQryDll,
               qry.CmtGetQueryRecIds, qry.CmtGetRecordDataByRecId, qry.CmtGetDescriptionByStatus,
               qry.CmtTerminateDbQryDll):
        fn.restype = None


class DbApi:
    """One initialised pair of DLLs; thread-safe (calls are serialised: the DLLs are not known to be)."""

    def __init__(self, libraries: Libraries, app_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.libs = libraries
        self.app_name = app_name
        self._app = app_name.encode(ENCODING)
        self._sleep = sleep
        self._lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self._open = False

    # -- life ------------------------------------------------------------------------------
    def open(self) -> None:
        db = self.libs.db_path.encode(ENCODING)
        with self._lock:
            self._call_status("CmtInitDbEngDll", lambda st: self.libs.eng.CmtInitDbEngDll(self._app, db, st))
            try:
                self._call_status("CmtInitDbQryDll", lambda st: self.libs.qry.CmtInitDbQryDll(self._app, db, st))
            except BaseException:
                self.libs.eng.CmtTerminateDbEngDll()
                raise
            self._open = True

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                self.libs.qry.CmtTerminateDbQryDll()
                self.libs.eng.CmtTerminateDbEngDll()

    # -- writes ----------------------------------------------------------------------------
    def insert(self, kind: Kind, values: dict[str, str]) -> str:
        """Insert a record; its new REC ID."""
        return self._ins_upd(kind, "", values)

    def update(self, kind: Kind, rec_id: str, values: dict[str, str]) -> None:
        self._ins_upd(kind, rec_id, values)

    def _ins_upd(self, kind: Kind, rec_id: str, values: dict[str, str]) -> str:
        fields = list(values)
        data = messages.data_buffer([values[f] for f in fields])
        mapping = messages.map_buffer(fields)
        what = f"{'update of ' + rec_id if rec_id else 'insert'} of a {kind.datakind}"

        def call() -> str:
            recid = ctypes.create_string_buffer(rec_id.encode(ENCODING), RECID_BYTES + 1)
            codes = ctypes.create_string_buffer(ERRCODES_BYTES)
            text = ctypes.create_string_buffer(ERRMSG_BYTES)
            status = ctypes.c_int(0)
            self.calls["CmtInsUpdRec"] += 1
            self.libs.eng.CmtInsUpdRec(self._app, kind.table_id, data, mapping, 1, 0, RECID_BYTES,
                                       ERRCODES_BYTES, ERRMSG_BYTES, recid, codes, text, ctypes.byref(status))
            if status.value != SUCCESS:
                detail = text.value.decode(ENCODING, "replace").strip()
                raise error_for(status.value, "CmtInsUpdRec", f"{what}{': ' + detail if detail else ''}")
            new = recid.value.decode(ENCODING, "replace").strip()
            if not rec_id and not (len(new) == 20 and new.startswith(kind.prefix)):
                raise messages.BadAnswer(f"RangerMSP's CmtInsUpdRec answered success for an insert of a "
                                         f"{kind.datakind} but gave the REC ID {new[:40]!r}")
            return new or rec_id

        with self._lock:
            return self._busy_retry(call)

    # -- reads -----------------------------------------------------------------------------
    def query(self, kind: Kind, where: Sequence[messages.Condition], *, limit: int | None = None,
              link: str = "AND") -> list[str]:
        """Every REC ID of ``kind`` matching ``where`` (all pages), or the first ``limit``."""
        found: list[str] = []
        after = ""
        page = min(PAGE_SIZE, limit) if limit else PAGE_SIZE
        while True:
            conds = list(where)
            if after:  # the next page: a narrower condition on the REC ID (the contract's way to page)
                if link != "AND":
                    raise ValueError("paging needs conditions joined by AND")
                conds.append(messages.Condition(kind.rec_id_field, ">", after))
            request = messages.query_request(self.app_name, kind, conds, max_records=page, link=link)
            raw, status = self._read("CmtGetQueryRecIds", self.libs.qry.CmtGetQueryRecIds, request)
            if status == NO_RECORDS:
                return found
            ids = messages.parse_rec_ids(raw, kind)
            found.extend(ids)
            if limit and len(found) >= limit:
                return found[:limit]
            if status != MORE_RECORDS or not ids:
                return found
            after = max(ids)

    def get(self, rec_id: str, fields: Sequence[str]) -> dict[str, str]:
        """Some fields of one record (raises :class:`DbApiNotFound` when RangerMSP has none by that REC ID)."""
        request = messages.record_request(self.app_name, rec_id, fields)
        raw, _ = self._read("CmtGetRecordDataByRecId", self.libs.qry.CmtGetRecordDataByRecId, request)
        return messages.parse_record(raw)

    def describe(self, status: int) -> str:
        """The vendor's text of a status code."""
        buf = ctypes.create_string_buffer(512)
        with self._lock:
            self.libs.qry.CmtGetDescriptionByStatus(status, len(buf), buf)
        return buf.value.decode(ENCODING, "replace").strip()

    def _read(self, call_name: str, fn: Any, request: bytes) -> tuple[bytes, int]:
        size = FIRST_RESPONSE_BYTES

        def call() -> tuple[bytes, int]:
            nonlocal size
            while True:
                buf = ctypes.create_string_buffer(size)
                status = ctypes.c_int(0)
                self.calls[call_name] += 1
                fn(request, len(request), buf, size, ctypes.byref(status))
                if status.value == BUFFER_TOO_SMALL and size < MAX_RESPONSE_BYTES:
                    size *= 4
                    continue
                if status.value in (SUCCESS, MORE_RECORDS, NO_RECORDS):
                    return buf.raw[:size], status.value
                raise error_for(status.value, call_name)

        with self._lock:
            return self._busy_retry(call)

    # -- status and retries ----------------------------------------------------------------
    def _call_status(self, call_name: str, fn: Callable[[Any], None]) -> None:
        status = ctypes.c_int(0)
        self.calls[call_name] += 1
        fn(ctypes.byref(status))
        if status.value != SUCCESS:
            raise error_for(status.value, call_name)

    def _busy_retry(self, call: Callable[[], Any]) -> Any:
        delay = BUSY_FIRST_DELAY
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return call()
            except DbApiBusy:
                if attempt == BUSY_RETRIES:
                    raise
                logger.debug("RangerMSP database busy (1100); retry in {:.2f} s", delay)
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """The calls made inside the block, by function."""
        before = Counter(self.calls)
        seen: Counter[str] = Counter()
        yield seen
        seen.update(self.calls - before)


__all__ = ["DB_ACCESS", "DbApi", "Libraries", "dll_folder", "load_windows_libraries"]
