"""The simulator server behind the simulator's real DLLs (``dll/cmtsim.c``).

The DLLs are thin: each exported function sends its arguments here over TCP on 127.0.0.1 and
copies the reply into the caller's buffers. This server answers each request by calling the
simulator's own functions (:mod:`agent.sandbox.rangermsp.library`) with buffers of the sizes the
caller gave, so the simulator's logic has one home and the real loading path (PE check, working
directory, ``WinDLL``, argtypes, stdcall, buffer sizes, NUL termination, the ``int*`` status) runs
against it. :func:`serve` writes the address file ``zenithlink-simulator.addr`` beside the DLLs
(``<installation>\\ThirdParty\\UserDev``): ``127.0.0.1:PORT``, optionally followed by a space and
the DLLs' I/O timeout in milliseconds; the DLL reads it from its own folder.

One simulator load per client **process id**: both DLLs of one process share it (their Init
state, facts §6, "Init once per load"); another process is another load. A load lives as long
as the server (a process that unloads and reloads the DLLs keeps its load).

Protocol (all integers little-endian; the same text is in ``cmtsim.c``)::

    request = u32 length of the rest | u16 version (1) | u16 function | u32 process id
              | u16 int count | u16 byte-string count | int count x i32
              | byte-string count x (u32 length | bytes)
    reply   = u32 length of the rest | i32 status | u16 output count
              | output count x (u32 length | bytes), length 0xFFFFFFFF = "not written"

    function                              ints                          byte strings         outputs
     1 CmtInitDbEngDll                    -                             app, db path, cwd    -
     2 CmtTerminateDbEngDll               -                             -                    -
     3 CmtInsUpdRec                       kind, cont, flags, rec-id/codes/message sizes
                                                                        app, data, map       rec id, codes, message
     4 CmtDelete                          kind, flags, rec-id/codes/message sizes
                                                                        app, data, map       rec id, codes, message
     5 CmtGetDescriptionByStatus (Eng)    status, size                  -                    text
    11 CmtInitDbQryDll                    -                             app, db path, cwd    -
    12 CmtTerminateDbQryDll               -                             -                    -
    13 CmtGetQueryRecIds, 14 CmtGetRecordDataByRecId, 15 CmtGetMultiRecordDataByRecId,
    16 CmtGetFieldAttributesByRecId, 17 CmtGetSystemProperties
                                          request length, answer size   request              answer
    18 CmtGetDescriptionByStatus (Qry)    status, size                  -                    text

``cwd`` is the caller's working directory at Init (the vendor sets it to the DLL folder; the
tests read it back from :attr:`Load.init_cwds`). An output the simulator did not write is sent as
"not written" and the DLL leaves the caller's buffer alone; a written one is at most ``size``
bytes, which the DLL copies and NUL-terminates as StrPLCopy does (facts §4.5).

The simulator's injected deaths (``die_before_write`` …, faults.py) end the process they run in,
which here is the server's, not the DLL caller's: use them with the in-process simulator.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from loguru import logger

from agent.sandbox.rangermsp.library import GENERAL, SUCCESS, SimulatorLibraries

VERSION = 1
ADDRESS_FILE = "zenithlink-simulator.addr"
NOT_WRITTEN = 0xFFFFFFFF
MAX_FRAME = 512 * 1024 * 1024
ACCEPT_POLL = 0.2  # seconds: how soon the accepting thread notices close()


class Function(IntEnum):
    INIT_ENG = 1
    TERMINATE_ENG = 2
    INS_UPD = 3
    DELETE = 4
    DESCRIBE_ENG = 5
    INIT_QRY = 11
    TERMINATE_QRY = 12
    QUERY = 13
    RECORD = 14
    MULTI_RECORD = 15
    FIELD = 16
    PROPERTIES = 17
    DESCRIBE_QRY = 18


READS = {Function.QUERY: "CmtGetQueryRecIds", Function.RECORD: "CmtGetRecordDataByRecId",
         Function.MULTI_RECORD: "CmtGetMultiRecordDataByRecId", Function.FIELD: "CmtGetFieldAttributesByRecId",
         Function.PROPERTIES: "CmtGetSystemProperties"}


class ProtocolError(ValueError):
    """A frame that does not follow the protocol."""


@dataclass
class Request:
    function: int
    pid: int
    ints: list[int]
    strings: list[bytes]


# -- frames --------------------------------------------------------------------------------------
def encode_request(request: Request) -> bytes:
    body = struct.pack("<HHIHH", VERSION, request.function, request.pid, len(request.ints), len(request.strings))
    body += struct.pack(f"<{len(request.ints)}i", *request.ints)
    body += b"".join(struct.pack("<I", len(s)) + s for s in request.strings)
    return struct.pack("<I", len(body)) + body


def decode_request(body: bytes) -> Request:
    try:
        version, function, pid, n_ints, n_strings = struct.unpack_from("<HHIHH", body, 0)
        if version != VERSION:
            raise ProtocolError(f"protocol version {version}, not {VERSION}")
        at = 12
        ints = list(struct.unpack_from(f"<{n_ints}i", body, at))
        at += 4 * n_ints
        strings = []
        for _ in range(n_strings):
            (length,) = struct.unpack_from("<I", body, at)
            at += 4
            if at + length > len(body):
                raise ProtocolError("a byte string runs past the frame")
            strings.append(body[at:at + length])
            at += length
    except struct.error as exc:
        raise ProtocolError(str(exc)) from None
    return Request(function, pid, ints, strings)


def encode_reply(status: int, outputs: Sequence[bytes | None]) -> bytes:
    body = struct.pack("<iH", status, len(outputs))
    for out in outputs:
        body += struct.pack("<I", NOT_WRITTEN) if out is None else struct.pack("<I", len(out)) + out
    return struct.pack("<I", len(body)) + body


def decode_reply(body: bytes) -> tuple[int, list[bytes | None]]:
    status, count = struct.unpack_from("<iH", body, 0)
    at = 6
    outputs: list[bytes | None] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<I", body, at)
        at += 4
        if length == NOT_WRITTEN:
            outputs.append(None)
        else:
            outputs.append(body[at:at + length])
            at += length
    return status, outputs


def read_frame(conn: socket.socket) -> bytes | None:
    """The body of the next frame, or ``None`` when the peer closed the connection."""
    head = _read_exactly(conn, 4)
    if head is None:
        return None
    (length,) = struct.unpack("<I", head)
    if length > MAX_FRAME:
        raise ProtocolError(f"a frame of {length} bytes")
    body = _read_exactly(conn, length)
    if body is None:
        raise ProtocolError("the connection closed inside a frame")
    return body


def _read_exactly(conn: socket.socket, length: int) -> bytes | None:
    chunks, left = [], length
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the server ----------------------------------------------------------------------------------
@dataclass
class Load:
    """One load of the pair of DLLs: one client process."""

    pid: int
    libraries: SimulatorLibraries = field(default_factory=SimulatorLibraries)
    init_cwds: dict[str, str] = field(default_factory=dict)  # Init function -> the caller's cwd


class SimulatorServer:
    """A thread accepting the DLLs' connections on 127.0.0.1, a thread per connection."""

    def __init__(self, installation: Path, host: str = "127.0.0.1", *, timeout_ms: int | None = None) -> None:
        self.installation = Path(installation)
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(ACCEPT_POLL)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._loads: dict[int, Load] = {}
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        self.address_file = self.installation / "ThirdParty" / "UserDev" / ADDRESS_FILE
        self.address_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.address_file.with_suffix(".tmp")
        timeout = f" {timeout_ms}" if timeout_ms else ""
        temporary.write_text(f"{self.address[0]}:{self.address[1]}{timeout}", encoding="ascii")
        os.replace(temporary, self.address_file)
        self._acceptor = threading.Thread(target=self._accept, name="rangermsp-simulator-server", daemon=True)
        self._acceptor.start()
        logger.debug("RangerMSP simulator server on {}:{} for {}", *self.address, self.installation)

    @property
    def loads(self) -> dict[int, Load]:
        """The loads so far, by client process id."""
        with self._lock:
            return dict(self._loads)

    def load(self, pid: int) -> Load:
        with self._lock:
            if pid not in self._loads:
                self._loads[pid] = Load(pid)
            return self._loads[pid]

    def close(self) -> None:
        """Stop accepting, close every connection (the DLLs answer 2000 from then on), remove the
        address file and wait for the threads."""
        self._closing.set()
        self._listener.close()  # wakes accept() on Windows; elsewhere the poll notices
        self._acceptor.join()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        for thread in threads:
            thread.join()
        self.address_file.unlink(missing_ok=True)

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(conn,), name="rangermsp-simulator-connection",
                                      daemon=True)
            with self._lock:
                self._connections.add(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                body = read_frame(conn)
                if body is None:
                    return
                request = decode_request(body)
                status, outputs = self.answer(request)
                conn.sendall(encode_reply(status, outputs))
        except (OSError, ProtocolError) as exc:
            if not self._closing.is_set():
                logger.warning("RangerMSP simulator server: connection dropped ({})", exc)
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def answer(self, request: Request) -> tuple[int, list[bytes | None]]:
        """Call the simulator's function for ``request``: its status and outputs."""
        load = self.load(request.pid)
        try:
            return _call(load, request)
        except (ValueError, IndexError, TypeError) as exc:  # wrong counts or an unknown function
            logger.warning("RangerMSP simulator server: bad request {} ({})", request.function, exc)
            return GENERAL, []


def serve(installation: Path, *, timeout_ms: int | None = None) -> SimulatorServer:
    """A running simulator server for ``installation``, its address written beside the DLLs
    (with ``timeout_ms``, the DLLs wait that long for an answer instead of 60 s)."""
    return SimulatorServer(installation, timeout_ms=timeout_ms)


# -- calling the simulator -----------------------------------------------------------------------
class _Buffers:
    """The caller's output buffers, as the simulator sees them: ``size + 1`` bytes each (StrPLCopy
    adds a NUL, facts §4.5), filled with 0xFF so that an untouched one (no NUL) reads "not written"."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self._raw = [bytearray(b"\xff" * (max(size, 0) + 1)) for size in sizes]
        self._arrays = [(ctypes.c_char * len(raw)).from_buffer(raw) for raw in self._raw]
        self.addresses = [ctypes.addressof(a) for a in self._arrays]

    def written(self) -> list[bytes | None]:
        found = [raw.find(0) for raw in self._raw]
        result = [None if end < 0 else bytes(raw[:end]) for raw, end in zip(self._raw, found)]
        self._arrays.clear()  # releases the bytearrays
        return result


def _cwd_text(raw: bytes) -> str:
    # The DLL sends GetCurrentDirectoryA: the ANSI code page.
    return raw.decode("mbcs" if sys.platform == "win32" else "latin-1", errors="replace")


def _call(load: Load, request: Request) -> tuple[int, list[bytes | None]]:
    eng: Any = load.libraries.eng
    qry: Any = load.libraries.qry
    fn, ints, strings = Function(request.function), request.ints, request.strings
    status = ctypes.c_int(0)
    if fn in (Function.INIT_ENG, Function.INIT_QRY):
        name = "CmtInitDbEngDll" if fn == Function.INIT_ENG else "CmtInitDbQryDll"
        app, db, cwd = strings
        load.init_cwds.setdefault(name, _cwd_text(cwd))
        getattr(eng if fn == Function.INIT_ENG else qry, name)(app, db, ctypes.byref(status))
        return status.value, []
    if fn in (Function.TERMINATE_ENG, Function.TERMINATE_QRY):
        (eng.CmtTerminateDbEngDll if fn == Function.TERMINATE_ENG else qry.CmtTerminateDbQryDll)()
        return SUCCESS, []
    if fn in (Function.INS_UPD, Function.DELETE):
        app, data, mapping = strings
        sizes = ints[-3:]
        buffers = _Buffers(sizes)
        if fn == Function.INS_UPD:
            kind, cont, flags = ints[:3]
            eng.CmtInsUpdRec(app, kind, data, mapping, cont, flags, *sizes, *buffers.addresses, ctypes.byref(status))
        else:
            kind, flags = ints[:2]
            eng.CmtDelete(app, kind, data, mapping, flags, *sizes, *buffers.addresses, ctypes.byref(status))
        return status.value, buffers.written()
    if fn in (Function.DESCRIBE_ENG, Function.DESCRIBE_QRY):
        code, size = ints
        buffers = _Buffers([size])
        describe: Callable[..., None] = (eng if fn == Function.DESCRIBE_ENG else qry).CmtGetDescriptionByStatus
        describe(code, size, buffers.addresses[0])
        return SUCCESS, buffers.written()
    length, size = ints
    (text,) = strings
    buffers = _Buffers([size])
    getattr(qry, READS[fn])(text, length, buffers.addresses[0], size, ctypes.byref(status))
    return status.value, buffers.written()


class Client:
    """The DLLs' side of the protocol in Python (for tests of the server without the DLLs)."""

    def __init__(self, address: tuple[str, int], pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self._conn = socket.create_connection(address, timeout=30)

    def call(self, function: Function, ints: Sequence[int] = (), strings: Sequence[bytes] = ()) -> tuple[
            int, list[bytes | None]]:
        self._conn.sendall(encode_request(Request(function, self.pid, list(ints), list(strings))))
        body = read_frame(self._conn)
        if body is None:
            raise ProtocolError("the server closed the connection")
        return decode_reply(body)

    def close(self) -> None:
        self._conn.close()


def main(argv: list[str]) -> int:
    """``python -m agent.sandbox.rangermsp.wire INSTALLATION``: serve the simulator's DLLs copied
    into ``INSTALLATION\\ThirdParty\\UserDev`` until interrupted (for trying a caller by hand)."""
    if len(argv) != 1:
        print("usage: python -m agent.sandbox.rangermsp.wire INSTALLATION_FOLDER", file=sys.stderr)
        return 2
    from agent.sandbox.rangermsp import make_installation

    server = serve(make_installation(argv[0]))
    print(f"serving {server.installation} on {server.address[0]}:{server.address[1]} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


__all__ = ["ADDRESS_FILE", "Client", "Function", "Load", "ProtocolError", "Request", "SimulatorServer",
           "decode_reply", "decode_request", "encode_reply", "encode_request", "serve"]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
