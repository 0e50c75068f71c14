"""Every call the agent makes into RangerMSP's DLLs, as bytes in and bytes out.

The standard library only: this module also runs inside the 32-bit host process (msl-loadlib's
frozen 32-bit Python, ``host32.py``), which cannot import the agent's other dependencies.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# The vendor's output buffers for a write (S1 §2.1): a 64-byte REC ID and codes, a 1024-byte message.
RECID_BYTES, ERRCODES_BYTES, ERRMSG_BYTES = 64, 64, 1024


@dataclass
class WriteResult:
    status: int
    rec_id: bytes
    codes: bytes
    message: bytes


class DllCalls:
    """Every DLL call the agent makes, as bytes in and out (the vendor's signatures, S1 §1.2).

    The DLLs keep a failed Init for the life of the load (S2 §6): this object remembers each
    Init's status and never calls an Init twice.
    """

    def __init__(self, eng: Any, qry: Any) -> None:
        self.eng, self.qry = eng, qry
        self.init_status: dict[str, int] = {}

    def init(self, which: str, app: bytes, db: bytes) -> int:
        if which in self.init_status:
            return self.init_status[which]
        status = ctypes.c_int(0)
        getattr(self.eng if which == "CmtInitDbEngDll" else self.qry, which)(app, db, ctypes.byref(status))
        self.init_status[which] = status.value
        return status.value

    def ins_upd(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> WriteResult:
        recid = ctypes.create_string_buffer(RECID_BYTES + 1)
        codes = ctypes.create_string_buffer(ERRCODES_BYTES + 1)
        text = ctypes.create_string_buffer(ERRMSG_BYTES + 1)
        status = ctypes.c_int(0)
        # Arguments 5 and 6 (nContWhenInvalidData, nFlags) are 0 and 0, as the vendor passes them (S1 §2.1).
        self.eng.CmtInsUpdRec(app, table_id, data, mapping, 0, 0, RECID_BYTES, ERRCODES_BYTES, ERRMSG_BYTES,
                              recid, codes, text, ctypes.byref(status))
        return WriteResult(status.value, recid.value, codes.value, text.value)

    def delete(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> WriteResult:
        recid = ctypes.create_string_buffer(RECID_BYTES + 1)
        codes = ctypes.create_string_buffer(ERRCODES_BYTES + 1)
        text = ctypes.create_string_buffer(ERRMSG_BYTES + 1)
        status = ctypes.c_int(0)
        self.eng.CmtDelete(app, table_id, data, mapping, 0, RECID_BYTES, ERRCODES_BYTES, ERRMSG_BYTES,
                           recid, codes, text, ctypes.byref(status))
        return WriteResult(status.value, recid.value, codes.value, text.value)

    def read(self, function: str, request: bytes, size: int) -> tuple[int, bytes]:
        # One byte more than announced: the DLL copies with StrPLCopy, which adds a NUL (S2 §4.5).
        buf = ctypes.create_string_buffer(size + 1)
        status = ctypes.c_int(0)
        getattr(self.qry, function)(request, len(request), buf, size, ctypes.byref(status))
        return status.value, buf.value

    def describe_status(self, status: int) -> bytes:
        buf = ctypes.create_string_buffer(513)
        self.qry.CmtGetDescriptionByStatus(status, 512, buf)
        return buf.value

    def terminate(self) -> None:
        # Qry first, then Eng, as the vendor's Application.Terminate does (S1 §6).
        self.qry.CmtTerminateDbQryDll()
        self.eng.CmtTerminateDbEngDll()

    def restart(self) -> bool:
        """Load the DLLs afresh (after 1023, or a failed Init): impossible within this process."""
        return False


class Calls(Protocol):
    """What :class:`DllCalls` offers; a 32-bit host (``host.HostedDllCalls``) offers the same."""

    init_status: dict[str, int]

    def init(self, which: str, app: bytes, db: bytes) -> int: ...
    def ins_upd(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> WriteResult: ...
    def delete(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> WriteResult: ...
    def read(self, function: str, request: bytes, size: int) -> tuple[int, bytes]: ...
    def describe_status(self, status: int) -> bytes: ...
    def terminate(self) -> None: ...
    def restart(self) -> bool: ...


@contextmanager
def working_directory(folder: Path | str | None) -> Iterator[None]:
    """The vendor's ``SetCurrentDirectory(DllFolder)`` around loading and Init (S1 §6): ACE32.DLL
    and its configuration are found there."""
    if folder is None:
        yield
        return
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def declare(eng: Any, qry: Any) -> None:
    """The vendor's signatures (S1 §1.2) on the loaded DLLs: every function ``__stdcall`` and void."""
    p, i, st = ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)
    eng.CmtInitDbEngDll.argtypes = [p, p, st]
    eng.CmtInsUpdRec.argtypes = [p, i, p, p, i, i, i, i, i, p, p, p, st]
    eng.CmtDelete.argtypes = [p, i, p, p, i, i, i, i, p, p, p, st]
    qry.CmtInitDbQryDll.argtypes = [p, p, st]
    for name in ("CmtGetQueryRecIds", "CmtGetRecordDataByRecId", "CmtGetMultiRecordDataByRecId",
                 "CmtGetFieldAttributesByRecId", "CmtGetSystemProperties"):
        getattr(qry, name).argtypes = [p, i, p, i, st]
        getattr(qry, name).restype = None
    qry.CmtGetDescriptionByStatus.argtypes = [i, i, p]
    for fn in (eng.CmtInitDbEngDll, eng.CmtInsUpdRec, eng.CmtDelete, eng.CmtTerminateDbEngDll,
               qry.CmtInitDbQryDll, qry.CmtGetDescriptionByStatus, qry.CmtTerminateDbQryDll):
        fn.restype = None


