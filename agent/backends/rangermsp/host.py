"""RangerMSP's 32-bit DLLs called from a 64-bit agent, through a 32-bit host process.

The DLLs are PE32 x86 (facts §1.3): a 64-bit Python cannot load them. msl-loadlib (its
``Client64`` / ``Server32`` pair, the well-kept library for exactly this) starts its frozen 32-bit
Python with ``host32.py``, which loads the DLLs there; :class:`HostedDllCalls` offers the same
calls as :class:`~agent.backends.rangermsp.dllcalls.DllCalls` and forwards each one.

It supervises the host:

- a host that dies, or stops answering, mid-call is replaced by a new one; the call fails as
  "busy" (1100), whose handling already covers a write that may have committed (the key is looked
  up before anything is written again), and a read is simply made again;
- after 1023 (a newer API was installed) the binding asks for a new host, which loads the newer
  DLLs; after a failed Init the next Init is made in a new host, since a DLL keeps a failed Init
  for the life of its process (facts §6);
- the DLLs leak over many calls (PyCommit recycles its worker every 10,000 calls, facts §6): the
  host is recycled between two calls after :data:`RECYCLE_EVERY` calls.

Each new host repeats the Init calls that succeeded in the one before, so the binding above it
never sees the change of process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from agent.backends.rangermsp.dllcalls import WriteResult
from agent.backends.rangermsp.status import DB_ACCESS, DbApiBusy, DbApiRestart
from agent.errors import ConfigError

RECYCLE_EVERY = 10_000
#: Seconds a call may take before the host is taken for hung (the DLL answers in milliseconds;
#: the longest calls page through a few thousand records).
CALL_TIMEOUT = 120.0
START_TIMEOUT = 60.0
SERVER_MODULE = Path(__file__).with_name("host32.py")


class Host(Protocol):
    """What the agent uses of msl-loadlib's ``Client64``."""

    def request32(self, name: str, *args: Any) -> Any: ...
    def shutdown_server32(self, kill_timeout: float = 10) -> Any: ...


def start_msl_host(folder: Path) -> Host:
    """msl-loadlib's 32-bit server hosting ``host32.py`` for the DLLs in ``folder``."""
    try:
        from msl.loadlib import Client64
    except ImportError:
        raise ConfigError(["[RangerMSP] RangerMSP's DLLs are 32-bit and this zenithlink runs on a 64-bit Python: "
                           "it needs msl-loadlib for its 32-bit host process ('pip install msl-loadlib', which "
                           "zenithlink installs on Windows), or install zenithlink with a 32-bit (x86) "
                           "Python"]) from None
    return MslHost(Client64(str(SERVER_MODULE), folder=str(folder), timeout=START_TIMEOUT,
                            rpc_timeout=CALL_TIMEOUT))


class MslHost:
    """msl-loadlib's ``Client64``, ended cleanly when its server died first.

    ``Client64.shutdown_server32`` asks the server to stop over its connection; when the server
    has crashed or been killed that request fails, and ``Client64.__del__`` makes it again and
    fails again during garbage collection. Here a failed shutdown drops the dead connection and
    lets msl-loadlib remove what the server left (its process, its unpacked files)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def request32(self, name: str, *args: Any) -> Any:
        return self.client.request32(name, *args)

    def shutdown_server32(self, kill_timeout: float = 10) -> Any:
        try:
            return self.client.shutdown_server32(kill_timeout)
        except OSError:
            inner = getattr(self.client, "_client", None)
            if inner is None or not hasattr(inner, "_conn"):
                raise
            inner._conn = None
            cleanup = getattr(inner, "_cleanup_zombie_and_files", None)
            if cleanup is not None:
                cleanup()
            raise


class HostedDllCalls:
    """:class:`~agent.backends.rangermsp.dllcalls.DllCalls` in a supervised 32-bit host process."""

    def __init__(self, folder: Path, *, start: Callable[[Path], Host] = start_msl_host,
                 recycle_every: int = RECYCLE_EVERY) -> None:
        """``start``: makes a running host for the DLL folder (tests pass a stand-in)."""
        self.folder = folder
        self._start = start
        self.recycle_every = recycle_every
        self.init_status: dict[str, int] = {}
        self._inits: dict[str, tuple[bytes, bytes]] = {}
        self._host: Host | None = None
        self._calls = 0
        self._lock = threading.RLock()
        #: How many hosts were started (the first one included).
        self.starts = 0

    # -- the calls ---------------------------------------------------------------------------
    def init(self, which: str, app: bytes, db: bytes) -> int:
        with self._lock:
            if which in self.init_status and self.init_status[which] != 1:
                self._stop("a new host, for an Init that failed in the last one")  # facts §6
                self.init_status.pop(which)
            if which in self.init_status:
                return self.init_status[which]
            status = int(self._call("init", which, app, db))
            self.init_status[which] = status
            if status == 1:
                self._inits[which] = (app, db)
            return status

    def ins_upd(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> WriteResult:
        return WriteResult(*self._call("ins_upd", app, table_id, data, mapping))

    def delete(self, app: bytes, table_id: int, data: bytes, mapping: bytes) -> WriteResult:
        return WriteResult(*self._call("delete", app, table_id, data, mapping))

    def read(self, function: str, request: bytes, size: int) -> tuple[int, bytes]:
        status, raw = self._call("read", function, request, size)
        return int(status), bytes(raw)

    def describe_status(self, status: int) -> bytes:
        return bytes(self._call("describe_status", status))

    def terminate(self) -> None:
        with self._lock:
            if self._host is not None:
                try:
                    self._host.request32("terminate")
                except Exception as exc:  # noqa: BLE001 - ending anyway
                    logger.debug("the 32-bit host did not terminate the DLLs: {}", exc)
                self._stop("the backend closed")
            self.init_status.clear()
            self._inits.clear()

    def host_bits(self) -> int:
        """The running host's own bitness (32 for RangerMSP's DLLs), starting it when needed."""
        return int(self._call("bits"))

    def host_pid(self) -> int:
        """The running host's process id, starting it when needed."""
        return int(self._call("pid"))

    def restart(self) -> bool:
        """A new host for the next call (after 1023): it loads the DLLs afresh."""
        with self._lock:
            self._stop("RangerMSP's API was updated (1023)")
        return True

    # -- supervision -------------------------------------------------------------------------
    def _call(self, name: str, *args: Any) -> Any:
        with self._lock:
            if self._calls >= self.recycle_every:
                self._stop(f"recycled after {self._calls} calls (the DLLs leak memory)")
            host = self._running()
            self._calls += 1
            try:
                return host.request32(name, *args)
            except Exception as exc:  # noqa: BLE001 - whatever ended the host, the next call gets a new one
                self._stop(f"it failed during {name}: {exc}")
                raise DbApiBusy(f"RangerMSP's 32-bit host process ended during {name} ({exc}); a new one is "
                                "started for the next call. A write it was making may have committed: it is "
                                "looked up before anything is written again.", status=DB_ACCESS, call=name) from exc

    def _running(self) -> Host:
        if self._host is None:
            self._host = self._start(self.folder)
            self.starts += 1
            self._calls = 0
            for which, (app, db) in self._inits.items():
                status = int(self._host.request32("init", which, app, db))
                if status != 1:
                    self._stop(f"{which} failed in the new host")
                    raise DbApiRestart(f"RangerMSP's {which} answered {status} in a new 32-bit host process.",
                                       status=status, call=which)
            if self.starts > 1:
                logger.info("RangerMSP's 32-bit host process started again ({} so far)", self.starts)
        return self._host

    def _stop(self, why: str) -> None:
        host, self._host = self._host, None
        if host is None:
            return
        logger.info("stopping RangerMSP's 32-bit host process: {}", why)
        try:
            host.shutdown_server32()
        except Exception as exc:  # noqa: BLE001 - it may be gone already
            logger.debug("the 32-bit host did not stop cleanly: {}", exc)
