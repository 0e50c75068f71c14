"""The backend's real Windows loading path against the simulator built as real stdcall DLLs
(agent/sandbox/rangermsp/dll): PE check, working directory, WinDLL, argtypes, buffer sizes, NUL
termination and the int* status, with the simulator's logic answering through the wire server.

Windows only (the Windows lane), with the DLLs built and named by ZENITHLINK_SIMULATOR_DLLS."""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from rangermsp_support import settings

from agent.backends.rangermsp import messages, open_backend
from agent.backends.rangermsp.binding import DbApi, load_windows_libraries
from agent.backends.rangermsp.pe import check_loadable, dll_bits
from agent.errors import ConfigError
from agent.sandbox.rangermsp import DESCRIPTIONS, SimulatorDatabase, configure, make_installation
from agent.sandbox.rangermsp.dll import built_dlls, install_dlls, unavailable
from agent.sandbox.rangermsp.faults import FILE_NAME as FAULTS_FILE
from agent.sandbox.rangermsp.wire import ADDRESS_FILE, Request, decode_request, encode_reply, read_frame, serve

DLLS = built_dlls()
pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")


@pytest.fixture
def installation(tmp_path):
    assert DLLS is not None
    folder = make_installation(tmp_path / "RangerMSP")
    install_dlls(folder, DLLS, "x64")
    with serve(folder) as server:
        yield folder, server


def _psa(tmp_path: Path, folder: Path, **overrides):
    state = SimpleNamespace(db=SimpleNamespace(path=tmp_path / "zenithlink.sqlite3"))
    conf = settings(tmp_path, rangermsp_folder=folder, **overrides)
    return open_backend(load_windows_libraries(folder), conf, state, folder)


def test_the_pe_check_loads_x64_and_refuses_x86_with_the_fix(tmp_path, installation):
    folder, _ = installation
    libraries = load_windows_libraries(folder)
    assert libraries.folder == folder / "ThirdParty" / "UserDev"
    assert dll_bits(folder / "ThirdParty" / "UserDev" / "CmtDbQry.dll") == 64
    x86 = make_installation(tmp_path / "x86")
    assert DLLS is not None
    for name in ("CmtDbEng.dll", "CmtDbQry.dll"):
        check_loadable(install_dlls(x86, DLLS, "x86") / name, 32)  # what a 32-bit process loads
        with pytest.raises(ConfigError) as refused:
            check_loadable(x86 / "ThirdParty" / "UserDev" / name, 64)
        assert f"{name} is a 32-bit DLL" in str(refused.value)
        assert "install zenithlink with a 32-bit (x86) Python" in str(refused.value)


def test_init_runs_in_the_dll_folder_once_per_dll_and_the_working_directory_comes_back(tmp_path, installation):
    folder, server = installation
    before = os.getcwd()
    psa = _psa(tmp_path, folder)
    try:
        assert os.getcwd() == before
        load = server.loads[os.getpid()]
        dll_folder = os.path.normcase(str(folder / "ThirdParty" / "UserDev"))
        assert {k: os.path.normcase(v) for k, v in load.init_cwds.items()} == {
            "CmtInitDbEngDll": dll_folder, "CmtInitDbQryDll": dll_folder}
        assert load.libraries.calls["CmtInitDbEngDll"] == load.libraries.calls["CmtInitDbQryDll"] == 1
    finally:
        psa.close()
    assert load.libraries.calls["CmtTerminateDbQryDll"] == load.libraries.calls["CmtTerminateDbEngDll"] == 1


def test_a_buffer_too_small_answers_1020_writes_nothing_past_it_and_the_read_grows(tmp_path, installation):
    folder, server = installation
    psa = _psa(tmp_path, folder)
    try:
        api: DbApi = psa.api
        qry = api.libs.qry
        request = messages.system_properties_request("zenithlink").encode()
        buf = ctypes.create_string_buffer(b"#" * 64, 64)
        status = ctypes.c_int(0)
        qry.CmtGetSystemProperties(request, len(request), buf, 16, ctypes.byref(status))
        assert status.value == 1020 and buf.raw == b"#" * 64  # not written at all

        text = ctypes.create_string_buffer(b"#" * 64, 64)
        qry.CmtGetDescriptionByStatus(1020, 10, text)
        assert text.raw[:12] == b"The size f\x00#"  # ten bytes and a NUL, as StrPLCopy copies

        (folder / "Db" / FAULTS_FILE).write_text('{"small_buffer": 2}', encoding="utf-8")
        before = api.calls["CmtGetSystemProperties"]
        assert api.system_properties()["CmtDateFormat"]
        assert api.calls["CmtGetSystemProperties"] - before == 3  # 1020, 1020, then the whole answer
    finally:
        psa.close()


def test_text_in_the_ansi_code_page_round_trips(tmp_path, installation):
    folder, _ = installation
    configure(folder / "Db", code_page="cp1252")
    psa = _psa(tmp_path, folder, rangermsp_code_page="cp1252")
    try:
        rec_id = psa.add_account("Caf\xe9 Zo\xeb", notes="r\xe9sum\xe9 \xa3 \u20ac")
        account = psa.get_account(rec_id)
        assert (account.name, account.notes) == ("Caf\xe9 Zo\xeb", "r\xe9sum\xe9 \xa3 \u20ac")
    finally:
        psa.close()
    db = SimulatorDatabase(folder / "Db")
    try:
        assert "Caf\xe9 Zo\xeb" in (db.get(rec_id) or {}).values()
    finally:
        db.close()


CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from agent.backends.rangermsp.binding import DbApi, load_windows_libraries
    api = DbApi(load_windows_libraries(Path(sys.argv[1])), "zenithlink")
    api.open()
    api.close()
    print(os.getpid())
""")


def test_a_second_process_is_a_new_load(tmp_path, installation):
    folder, server = installation
    psa = _psa(tmp_path, folder)
    try:
        child = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True,
                               timeout=180, check=False)
        assert child.returncode == 0, child.stderr
        pid = int(child.stdout.split()[-1])
    finally:
        psa.close()
    loads = server.loads
    assert set(loads) == {os.getpid(), pid}
    for load in loads.values():
        assert load.libraries.calls["CmtInitDbEngDll"] == load.libraries.calls["CmtInitDbQryDll"] == 1
        assert load.libraries.calls["CmtGetSystemProperties"] >= 1


def test_without_the_server_every_call_answers_2000_and_returns(tmp_path, installation):
    folder, server = installation
    libraries = load_windows_libraries(folder)
    server.close()  # also removes the address file: the DLL has nowhere to go
    status = ctypes.c_int(0)
    started = time.monotonic()
    libraries.eng.CmtInitDbEngDll(b"zenithlink", str(folder / "Db").encode(), ctypes.byref(status))
    assert status.value == 2000 and time.monotonic() - started < 10


class FakeServer:
    """One connection answered by ``reply`` (a frame's bytes; ``None``: never answer), to see what
    the DLL does with answers the real server never gives."""

    def __init__(self, folder: Path, reply: Callable[[Request], bytes | None], timeout_ms: int | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(20)
        self._reply, self._stop = reply, threading.Event()
        port = self._listener.getsockname()[1]
        (folder / ADDRESS_FILE).write_text(f"127.0.0.1:{port}" + (f" {timeout_ms}" if timeout_ms else ""),
                                           encoding="ascii")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        conn.settimeout(20)
        self._conn = conn
        try:
            while not self._stop.is_set() and (body := read_frame(conn)) is not None:
                answer = self._reply(decode_request(body))
                if answer is None:
                    self._stop.wait(20)
                    return
                conn.sendall(answer)
        except OSError:
            pass  # closed by close()
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        conn = getattr(self, "_conn", None)
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()  # wakes the thread's recv on Windows
        self._thread.join()


@pytest.fixture
def dll_folder(tmp_path):
    assert DLLS is not None
    return install_dlls(make_installation(tmp_path / "RangerMSP"), DLLS, "x64")


def test_an_answer_longer_than_the_buffer_is_cut_to_its_size_and_nul_terminated(dll_folder):
    fake = FakeServer(dll_folder, lambda request: encode_reply(1, [b"x" * 100]))
    try:
        libraries = load_windows_libraries(dll_folder.parent.parent)
        text = ctypes.create_string_buffer(b"#" * 64, 64)
        libraries.qry.CmtGetDescriptionByStatus(1, 10, text)
        assert text.raw[:12] == b"x" * 10 + b"\0#"
        answer, status = ctypes.create_string_buffer(b"#" * 64, 64), ctypes.c_int(0)
        libraries.qry.CmtGetSystemProperties(b"<r/>", 4, answer, 16, ctypes.byref(status))
        assert status.value == 1 and answer.raw[:18] == b"x" * 16 + b"\0#"
    finally:
        fake.close()


def test_a_malformed_answer_is_a_general_error_and_writes_nothing(dll_folder):
    fake = FakeServer(dll_folder, lambda request: struct.pack("<I", 3) + b"abc")
    try:
        libraries = load_windows_libraries(dll_folder.parent.parent)
        answer, status = ctypes.create_string_buffer(b"#" * 64, 64), ctypes.c_int(0)
        libraries.qry.CmtGetSystemProperties(b"<r/>", 4, answer, 16, ctypes.byref(status))
        assert status.value == 2000 and answer.raw == b"#" * 64
    finally:
        fake.close()


def test_a_server_that_never_answers_is_given_up_after_the_timeout(dll_folder):
    fake = FakeServer(dll_folder, lambda request: None, timeout_ms=300)
    try:
        libraries = load_windows_libraries(dll_folder.parent.parent)
        status = ctypes.c_int(0)
        started = time.monotonic()
        libraries.eng.CmtInitDbEngDll(b"zenithlink", b"C:\\nowhere", ctypes.byref(status))
        assert status.value == 2000 and time.monotonic() - started < 10
    finally:
        fake.close()


def test_calls_from_several_threads_are_each_answered_whole(tmp_path, installation):
    folder, _ = installation
    libraries = load_windows_libraries(folder)
    wrong: list[tuple[int, bytes]] = []

    def describe(code: int) -> None:
        for _ in range(50):
            text = ctypes.create_string_buffer(513)
            libraries.qry.CmtGetDescriptionByStatus(code, 512, text)
            if text.value != DESCRIPTIONS[code].encode():
                wrong.append((code, text.value))

    threads = [threading.Thread(target=describe, args=(code,)) for code in (1, 1008, 1020, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize("arch", ["x86", "x64"])
def test_a_c_caller_of_either_build_gets_the_simulators_answers_and_its_stack_back(tmp_path, arch):
    """cmtsimcheck.exe (LoadLibrary, GetProcAddress by the undecorated names, stdcall pointers)
    against the build of ``arch``: under the Windows lane a 32-bit process runs through WOW64,
    so the x86 build's stdcall (the callee pops the arguments) is exercised for real."""
    assert DLLS is not None
    folder = make_installation(tmp_path / "RangerMSP")
    dll_folder = install_dlls(folder, DLLS, arch)
    with serve(folder) as server:
        done = subprocess.run([str(DLLS / arch / "cmtsimcheck.exe"), str(dll_folder), str(folder / "Db")],
                              capture_output=True, text=True, timeout=120, check=False)
        loads = server.loads
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[:5] == ["CmtInitDbEngDll 1", "CmtInitDbQryDll 1", "CmtGetSystemProperties/16 1020",
                         "CmtGetSystemProperties 1 CmtDateFormat", lines[4]]
    assert lines[4].startswith("CmtInsUpdRec 1 CRD") and len(lines[4].split()[2]) == 20
    assert lines[5] == "CmtGetDescriptionByStatus The size f"
    pid = int(lines[6].split()[1])
    assert loads[pid].libraries.calls["CmtInsUpdRec"] == 1


def test_a_request_is_read_up_to_the_length_given_even_without_a_nul(tmp_path, installation):
    folder, _ = installation
    psa = _psa(tmp_path, folder)
    try:
        request = messages.system_properties_request("zenithlink").encode()
        unterminated = ctypes.create_string_buffer(request, len(request))  # no NUL after it
        answer, status = ctypes.create_string_buffer(65537), ctypes.c_int(0)
        psa.api.libs.qry.CmtGetSystemProperties(unterminated, len(request), answer, 65536, ctypes.byref(status))
        assert status.value == 1 and b"<CmtDateFormat>" in answer.value
    finally:
        psa.close()
