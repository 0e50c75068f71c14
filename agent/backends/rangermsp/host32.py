"""The 32-bit side of the host process: RangerMSP's DLLs loaded in msl-loadlib's 32-bit server.

RangerMSP's DLLs are 32-bit (facts §1.3) and the agent usually runs on a 64-bit Python, which
cannot load them. msl-loadlib's ``Client64`` starts its frozen 32-bit Python
(``server32-windows.exe``) with this file as its module; :class:`RangerMspHost` loads both DLLs
there, in their folder (the working directory around loading and Init, as the vendor does, S1
§6), and answers the calls of ``host.HostedDllCalls`` with :class:`~dllcalls.DllCalls`'s own code.

The 32-bit interpreter has the standard library and msl-loadlib only, so this file imports no
other part of the agent: it loads ``dllcalls.py``, which sits beside it, by its path.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from msl.loadlib import Server32


def _dllcalls() -> Any:
    spec = importlib.util.spec_from_file_location("zenithlink_dllcalls", Path(__file__).with_name("dllcalls.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve the module's annotations through sys.modules: register it before running it.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class RangerMspHost(Server32):  # type: ignore[misc]  # msl-loadlib has no type information
    """Both DLLs of one installation, one load for the life of this process."""

    def __init__(self, host: str, port: int, **kwargs: str) -> None:
        self.folder = kwargs["folder"]
        self._calls_module = _dllcalls()
        with self._calls_module.working_directory(self.folder):
            super().__init__(os.path.join(self.folder, "CmtDbEng.dll"), "windll", host, port)
            qry = ctypes.WinDLL(os.path.join(self.folder, "CmtDbQry.dll"))  # type: ignore[attr-defined,unused-ignore]
        self._calls_module.declare(self.lib, qry)
        self.calls = self._calls_module.DllCalls(self.lib, qry)

    def init(self, which: str, app: bytes, db: bytes) -> int:
        with self._calls_module.working_directory(self.folder):
            status: int = self.calls.init(which, app, db)
            return status

    def ins_upd(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> tuple[int, bytes, bytes, bytes]:
        r = self.calls.ins_upd(app, table_id, data, mapping)
        return r.status, r.rec_id, r.codes, r.message

    def delete(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> tuple[int, bytes, bytes, bytes]:
        r = self.calls.delete(app, table_id, data, mapping)
        return r.status, r.rec_id, r.codes, r.message

    def read(self, function: str, request: bytes, size: int) -> tuple[int, bytes]:
        result: tuple[int, bytes] = self.calls.read(function, request, size)
        return result

    def describe_status(self, status: int) -> bytes:
        text: bytes = self.calls.describe_status(status)
        return text

    def terminate(self) -> None:
        self.calls.terminate()

    def bits(self) -> int:
        """The host's own bitness (the probe shows it)."""
        return ctypes.sizeof(ctypes.c_void_p) * 8

    def pid(self) -> int:
        """The host's process id (the log and the supervision tests name it)."""
        return os.getpid()
