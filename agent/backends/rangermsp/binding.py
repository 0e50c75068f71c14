"""The binding to RangerMSP's two DLLs (or to the project's simulator of them).

Two layers:

- :class:`DllCalls` is the whole interface to the DLL functions, in bytes: one method per call
  the agent makes, nothing else. It is the seam a 32-bit host process stands in for (the DLLs
  are PE32 x86, facts §1.3): a class with the same methods that forwards them to another process.
- :class:`DbApi` speaks the API on top of it: the code page, the messages, the status values and
  result codes (``status.py``), growing buffers on 1020 / 110004, paging, busy retries of reads
  and updates. It counts its DLL calls (``calls``), which the benchmark reports per ticket.

Loading follows the vendor (S1 ``Application::Initialize``, facts §6): the DLLs are loaded from
the installation's ``ThirdParty\\UserDev`` (older: ``Server``) without copying, with the working
directory set to that folder around loading and both Init calls; each Init once per load.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from loguru import logger

from agent.backends.rangermsp import messages
from agent.backends.rangermsp.codepage import checked
from agent.backends.rangermsp.dates import SystemDates
from agent.backends.rangermsp.dllcalls import Calls, DllCalls, declare, working_directory
from agent.backends.rangermsp.fields import PAGE_SIZE, Kind
from agent.backends.rangermsp.messages import Condition, Group
from agent.backends.rangermsp.pe import check_loadable, dll_bits, process_bits
from agent.backends.rangermsp.status import (
    BUFFER_TOO_SMALL,
    BUFFER_TOO_SMALL_CODE,
    MORE_RECORDS,
    NO_RECORDS,
    NOT_FOUND,
    SUCCESS,
    TRUNCATED,
    DbApiBusy,
    DbApiError,
    DbApiMaintenance,
    DbApiRestart,
    error_for,
    init_failed,
)
from agent.errors import ConfigError
from dbsys.backoff import Backoff

T = TypeVar("T")

DLL_FOLDERS = (Path("ThirdParty") / "UserDev", Path("Server"))
# The vendor's buffer sizes (S1 §4.5): a query answer starts at 16 KB, other answers at 64 KB,
# and grow while the DLL says 1020.
FIRST_QUERY_BYTES, FIRST_RECORD_BYTES = 16 * 1024, 64 * 1024
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MULTI_RECORDS = 100  # REC IDs per CmtGetMultiRecordDataByRecId call
BUSY_RETRIES = 5
BUSY_FIRST_DELAY = 0.05
#: The waits between tries while the database is busy (1100): 0.05 s doubling, five retries.
BUSY_BACKOFF = Backoff(BUSY_FIRST_DELAY, BUSY_FIRST_DELAY * 2 ** BUSY_RETRIES, "none")


@dataclass
class Libraries:
    """The two DLLs (or stand-ins): ``eng`` is CmtDbEng.dll, ``qry`` CmtDbQry.dll; ``folder`` the
    folder they were loaded from (the working directory of the Init calls)."""

    eng: Any
    qry: Any
    db_path: str
    folder: Path | None = None
    calls: Calls | None = field(default=None, repr=False)

    def dll_calls(self) -> Calls:
        """The one :class:`DllCalls` of this load (Init state lives with the load, not the caller),
        or the 32-bit host that stands in for it."""
        if self.calls is None:
            self.calls = DllCalls(self.eng, self.qry)
        return self.calls


def dll_folder(installation: Path) -> Path:
    for sub in DLL_FOLDERS:
        if (installation / sub / "CmtDbEng.dll").is_file():
            return installation / sub
    raise ConfigError([f"[RangerMSP] RangerMSPFolder={installation}: no CmtDbEng.dll in "
                       f"{' or '.join(str(installation / s) for s in DLL_FOLDERS)}; name the RangerMSP "
                       "installation folder (the one that holds ThirdParty and Db)"])


def load_windows_libraries(installation: Path) -> Libraries:
    """The real DLLs of the installation (never copied): in this process when their PE headers say
    it can load them, else (32-bit DLLs, 64-bit Python: RangerMSP's case, facts §1.3) in a 32-bit
    host process that this one starts and supervises (``host.py``)."""
    if sys.platform != "win32":
        raise ConfigError(["[RangerMSP] Backend=rangermsp needs RangerMSP's DLLs, which run on Windows only; "
                           "use Backend=rangermsp-simulator to try the backend elsewhere"])
    folder = dll_folder(installation)
    if needs_host(folder):
        from agent.backends.rangermsp.host import HostedDllCalls

        return Libraries(None, None, str(installation / "Db"), folder, calls=HostedDllCalls(folder))
    for name in ("CmtDbEng.dll", "CmtDbQry.dll"):
        check_loadable(folder / name)
    with working_directory(folder):
        eng = ctypes.WinDLL(str(folder / "CmtDbEng.dll"))
        qry = ctypes.WinDLL(str(folder / "CmtDbQry.dll"))
    declare(eng, qry)
    return Libraries(eng, qry, str(installation / "Db"), folder)


def needs_host(folder: Path) -> bool:
    """Whether the DLLs are 32-bit and this process 64-bit: the one case a host process serves."""
    return process_bits() == 64 and all(dll_bits(folder / name) == 32 for name in ("CmtDbEng.dll", "CmtDbQry.dll"))


@dataclass
class Written:
    rec_id: str
    codes: tuple[int, ...]


class DbApi:
    """One initialised pair of DLLs; thread-safe (the DLL serialises its calls, S2 §6; so do we)."""

    def __init__(self, libraries: Libraries, app_name: str, *, code_page: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.libs = libraries
        self.dll = libraries.dll_calls()
        self.app_name = app_name
        self.code_page = checked(code_page)
        self._app = self.encode(app_name)
        self._sleep = sleep
        self._lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self._dates: SystemDates | None = None
        self.properties: dict[str, str] = {}
        self._attributes: dict[str, dict[str, str]] = {}
        self._sizes: dict[str, int] = {}
        self._stale: DbApiError | None = None
        self._open = False

    # -- text ------------------------------------------------------------------------------
    def encode(self, text: str) -> bytes:
        """Text in the DLLs' code page; a character it lacks becomes '?', as Windows' best fit would."""
        return text.encode(self.code_page, errors="replace")

    def decode(self, data: bytes) -> str:
        return data.decode(self.code_page, errors="replace")

    # -- life ------------------------------------------------------------------------------
    def open(self) -> None:
        """Init both DLLs (Eng, then Qry) in their folder, then read the system properties."""
        db = self.encode(self.libs.db_path)
        with self._lock, working_directory(self.libs.folder):
            for which in ("CmtInitDbEngDll", "CmtInitDbQryDll"):
                if which not in self.dll.init_status:
                    self.calls[which] += 1
                status = self.dll.init(which, self._app, db)
                if status != SUCCESS:
                    raise init_failed(status, which)
            self._open = True
        try:
            _ = self.dates
        except DbApiMaintenance:
            logger.warning("RangerMSP is in maintenance: its date format is read when the maintenance ends")

    @property
    def dates(self) -> SystemDates:
        """The installation's date and time format, read once from ``CmtGetSystemProperties``
        (as the vendor's ``Application.Initialize`` does, facts §5.6)."""
        if self._dates is None:
            self.properties = self.system_properties()
            self._dates = SystemDates.from_properties(self.properties)
        return self._dates

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                self.dll.terminate()

    # -- writes ----------------------------------------------------------------------------
    def insert(self, kind: Kind, values: dict[str, str]) -> Written:
        """Insert a record (no REC ID field: S1 §2.1). Made once: a failure is raised, never
        retried here, because a busy or failed call may have committed (the caller resolves it)."""
        if kind.rec_id_field in values:
            raise ValueError("an insert names no REC ID")
        with self._lock:
            written = self._write("CmtInsUpdRec", kind, values, f"insert of a {kind.datakind}")
        if not (len(written.rec_id) == 20 and written.rec_id.startswith(kind.prefix)):
            raise messages.BadAnswer(f"RangerMSP's CmtInsUpdRec answered success for an insert of a "
                                     f"{kind.datakind} but gave the REC ID {written.rec_id[:40]!r}")
        return written

    def update(self, kind: Kind, rec_id: str, values: dict[str, str]) -> Written:
        """Update only ``values`` of ``rec_id``: the REC ID travels as the ``FLD…RECID`` field in
        data and map; the rec-id buffer is output only (S1 §2.1, PyCommit S5 §2.2). An update is
        the same whatever happened before, so a busy one is tried again."""
        fields = {kind.rec_id_field: rec_id, **{k: v for k, v in values.items() if k != kind.rec_id_field}}
        with self._lock:
            return self._busy_retry(lambda: self._write("CmtInsUpdRec", kind, fields, f"update of {rec_id}"))

    def delete(self, kind: Kind, rec_id: str) -> None:
        """``CmtDelete`` with only the REC ID field in data and map (S1 §2.1, ``Object::OnDelete``)."""
        with self._lock:
            self._write("CmtDelete", kind, {kind.rec_id_field: rec_id}, f"delete of {rec_id}")

    def _write(self, call: str, kind: Kind, values: dict[str, str], what: str) -> Written:
        names = list(values)
        data = self.encode(messages.data_buffer([values[n] for n in names]))
        mapping = self.encode(messages.map_buffer(names))
        self._check_current()
        self.calls[call] += 1
        fn = self.dll.ins_upd if call == "CmtInsUpdRec" else self.dll.delete
        result = fn(self._app, kind.table_id, data, mapping)
        codes = messages.parse_codes(self.decode(result.codes))
        if result.status != SUCCESS:
            detail = self.decode(result.message).strip()
            raise self._noted(error_for(result.status, call, f"{what}{': ' + detail if detail else ''}",
                                        codes=codes))
        if TRUNCATED in codes:
            logger.warning("RangerMSP truncated a value of the {} to its field's size (50001)", what)
        return Written(self.decode(result.rec_id).strip(), codes)

    # -- reads -----------------------------------------------------------------------------
    def query(self, kind: Kind, where: Sequence[Condition], *, limit: int | None = None,
              link: str = "and") -> list[str]:
        """Every REC ID of ``kind`` matching ``where`` (every page), or the first ``limit``.

        There is no offset (S1/S4 §4.5): the request is ordered by REC ID and the next page asks
        for REC IDs after the last one; a full page, or 110019, means there may be more."""
        found: list[str] = []
        after = ""
        page = min(PAGE_SIZE, limit) if limit else PAGE_SIZE
        base = Group(tuple(where), link)
        while True:
            items: list[Condition | Group] = [base] if where else []
            if after:
                items.append(Condition(kind.rec_id_field, ">", after))
            group = items[0] if len(items) == 1 and isinstance(items[0], Group) else Group(tuple(items), "and")
            request = messages.query_request(self.app_name, kind, group, max_records=page)
            answer = self._read("CmtGetQueryRecIds", "CommitCRMQueryDataResponse", request, FIRST_QUERY_BYTES)
            if answer is None or NO_RECORDS in answer.codes:
                return found
            ids = messages.rec_ids(answer, kind)
            found.extend(ids)
            if limit and len(found) >= limit:
                return found[:limit]
            if not ids or (len(ids) < page and MORE_RECORDS not in answer.codes):
                return found
            after = ids[-1]

    def get(self, rec_id: str, fields: Sequence[str]) -> dict[str, str]:
        """Some fields of one record (raises :class:`DbApiNotFound` when RangerMSP has none by that REC ID)."""
        request = messages.record_request(self.app_name, rec_id, fields)
        answer = self._read("CmtGetRecordDataByRecId", "CommitCRMGetRecordDataResponse", request,
                            FIRST_RECORD_BYTES)
        return messages.record_values(answer, "CmtGetRecordDataByRecId")

    def get_many(self, kind: Kind, rec_ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, str]]:
        """Some fields of several records of ``kind``, by REC ID, a chunk per
        ``CmtGetMultiRecordDataByRecId`` call; a REC ID RangerMSP has no record for is left out."""
        names = list(dict.fromkeys([kind.rec_id_field, *fields]))
        found: dict[str, dict[str, str]] = {}
        for start in range(0, len(rec_ids), MULTI_RECORDS):
            chunk = rec_ids[start:start + MULTI_RECORDS]
            request = messages.multi_record_request(self.app_name, chunk, names)
            answer = self._read("CmtGetMultiRecordDataByRecId", "CommitCRMGetMultiRecordDataResponse", request,
                                FIRST_RECORD_BYTES)
            for codes, values in messages.multi_record_values(answer):
                rec_id = values.get(kind.rec_id_field, "")
                if rec_id and not any(c in NOT_FOUND for c in codes):
                    found[rec_id] = values
        return found

    def system_properties(self) -> dict[str, str]:
        request = messages.system_properties_request(self.app_name)
        answer = self._read("CmtGetSystemProperties", "CommitCRMGetSystemPropertiesResponse", request,
                            FIRST_RECORD_BYTES)
        return messages.record_values(answer, "CmtGetSystemProperties")

    def field_attributes(self, field_id: str) -> dict[str, str]:
        """TYPE, SIZE, LABEL… of one field (S1 §4.3/§4.4), cached as the vendor caches them."""
        if field_id not in self._attributes:
            request = messages.field_attributes_request(self.app_name, field_id)
            answer = self._read("CmtGetFieldAttributesByRecId", "CommitCRMGetFieldAttributesResponse", request,
                                FIRST_RECORD_BYTES)
            self._attributes[field_id] = messages.record_values(answer, "CmtGetFieldAttributesByRecId")
        return self._attributes[field_id]

    def field_size(self, field_id: str) -> int | None:
        """The size of a CHAR field, or ``None`` (no limit given)."""
        attrs = self.field_attributes(field_id)
        try:
            size = int((attrs.get("SIZE") or "0").strip())
        except ValueError:
            return None
        return size if size > 0 and (attrs.get("TYPE") or "CHAR").strip().upper() == "CHAR" else None

    def describe(self, status: int) -> str:
        """The vendor's text of a status code."""
        with self._lock:
            return self.decode(self.dll.describe_status(status)).strip()

    def _read(self, call: str, root: str, request: str, first_size: int) -> messages.Answer | None:
        data = self.encode(request)
        size = max(first_size, self._sizes.get(call, 0))

        def attempt() -> messages.Answer | None:
            nonlocal size
            while True:
                self._check_current()
                self.calls[call] += 1
                status, raw = self.dll.read(call, data, size)
                answer = messages.parse_answer(self.decode(raw), root, call) if status == SUCCESS else None
                grow = status == BUFFER_TOO_SMALL or (answer is not None and BUFFER_TOO_SMALL_CODE in answer.codes)
                if grow and size < MAX_RESPONSE_BYTES:
                    size *= 2
                    self._sizes[call] = size  # answers of this call are that large: start there next time
                    continue
                if status != SUCCESS:
                    codes = messages.parse_codes(_codes_of(self.decode(raw)))
                    raise self._noted(error_for(status, call, codes=codes))
                if answer is not None and any(c not in _INFORMATIVE for c in answer.codes):
                    raise error_for(status, call, answer.message, codes=answer.codes)
                return answer

        with self._lock:
            result: messages.Answer | None = self._busy_retry(attempt)
            return result

    def _noted(self, error: DbApiError) -> DbApiError:
        """After 1023 a host process is started afresh (it loads the newer DLLs and initialises
        them again) and the call may be made again; in this process the DLLs cannot be reloaded."""
        if isinstance(error, DbApiRestart):
            if self.dll.restart():
                return DbApiBusy(f"{error.message} A new host process has loaded the DLLs again.",
                                 status=error.status, call=error.call, codes=error.codes)
            self._stale = error
        return error

    @property
    def restart_needed(self) -> DbApiRestart | None:
        """The 1023 that made the loaded DLLs unusable in this process (no host to start afresh)."""
        return self._stale if isinstance(self._stale, DbApiRestart) else None

    def _check_current(self) -> None:
        """After 1023 the loaded DLLs are older than the installed API: no more calls into them."""
        if self._stale is not None:
            raise self._stale

    # -- the one back-off of this backend ------------------------------------------------------
    def _busy_retry(self, call: Callable[[], T]) -> T:
        for delay in BUSY_BACKOFF.delays(BUSY_RETRIES):
            try:
                return call()
            except DbApiBusy:
                logger.debug("RangerMSP database busy (1100); retry in {:.2f} s", delay)
                self._sleep(delay)
        return call()

    def pause(self, attempt: int) -> None:
        """Wait before the ``attempt``-th retry of a write (1 = first; the same back-off as reads)."""
        self._sleep(BUSY_BACKOFF.delay(attempt))

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        """The calls made inside the block, by function."""
        before = Counter(self.calls)
        seen: Counter[str] = Counter()
        yield seen
        seen.update(self.calls - before)


# Result codes that come with status 1 and are information, not failure (S1/S2 §4.5).
_INFORMATIVE = frozenset({MORE_RECORDS, NO_RECORDS, TRUNCATED, BUFFER_TOO_SMALL_CODE})


def _codes_of(text: str) -> str:
    start, end = text.find("<ResultCodes>"), text.find("</ResultCodes>")
    return text[start + len("<ResultCodes>"):end] if 0 <= start < end else ""


__all__ = ["DbApi", "DllCalls", "Libraries", "dll_folder", "load_windows_libraries", "working_directory"]
