"""Logging, configured once at the entry point, with the PSG redacted in every sink (D6).

Sinks are callables that receive loguru's fully formatted text (message *and* traceback), so
redaction covers exception text too; ``diagnose`` is off so local variables never reach a sink.

Importing loguru costs a command's start ≈ 40 ms (it imports ``asyncio`` and ``multiprocessing``),
and a command that touches no module that logs (``--version``) should not pay it.
So this module does not import loguru: :func:`configure` applies the configuration at once when
loguru is loaded already, and otherwise the moment something first imports it — before the
importing module gets ``logger``, so loguru's own unredacted default sink never writes a line.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

REDACTED = "***"


class _Secrets:
    """The values never to be written anywhere. Readers take the current tuple without a lock; a
    writer swaps in a new one under the lock, so a reload that adds a secret never changes the
    values a log line is being redacted with. Longest first: a secret that holds another one
    (an API key holding a PSG) is replaced whole, not around the shorter one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: tuple[str, ...] = ()

    def add(self, secret: str) -> None:
        with self._lock:
            if secret not in self.values:
                self.values = tuple(sorted({*self.values, secret}, key=len, reverse=True))


_secrets = _Secrets()
_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <7} | {name}:{line} | {message}"
_STDERR_FORMAT = "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}"


def add_secret(secret: str | None) -> None:
    """Remember a value that must never be written anywhere (the PSG)."""
    if secret and len(secret) >= 3:
        _secrets.add(secret)


def redact(text: str) -> str:
    """``text`` with every known secret replaced."""
    for secret in _secrets.values:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _RotatingSink:
    def __init__(self, path: Path) -> None:
        # Imported here: only the service and the commands given a log folder write files, and
        # logging.handlers (sockets, pickle, queues) costs every command's start otherwise.
        import logging
        import logging.handlers

        path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=10 * 1024 * 1024, backupCount=10, encoding="utf-8")
        self._handler.terminator = ""
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    def __call__(self, message: str) -> None:
        import logging

        self._handler.emit(logging.makeLogRecord({"msg": redact(str(message)), "levelno": 20}))

    def close(self) -> None:
        self._handler.close()


def prepare_standard_streams() -> None:
    """Make printing never fail on a character the output's encoding lacks.

    A pipe or a file on Windows is in the ANSI code page (cp1252 in Western Europe), not UTF-8,
    and that is what a reader there (a scheduler's log, a ``findstr``, a service wrapper) decodes.
    Text keeps that encoding; a character it cannot represent (an arrow, a name in another
    script) is printed as ``?`` instead of ending the command. JSON is printed as ASCII with
    ``\\u`` escapes, so it is lossless in any code page (``agent.cli.output.emit_json``).
    ``PYTHONIOENCODING=utf-8`` or ``PYTHONUTF8=1`` gives UTF-8 output instead.

    A process with no console (a Windows service, ``pythonw``) has no standard streams at all
    (``None``): they are pointed at the null device, so printing and the stderr sink still work.
    """
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the life of the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the life of the process
    for stream in (sys.stdout, sys.stderr):
        # "surrogateescape" (Python's choice under a C locale) still fails on an unencodable character.
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
            stream.reconfigure(errors="replace")


def _stderr_sink(message: str) -> None:
    sys.stderr.write(redact(str(message)))


_file_sink: _RotatingSink | None = None


def configure(level: str = "INFO", log_folder: Path | None = None, *, quiet: bool = False) -> None:
    """Configure loguru: stderr plus, when ``log_folder`` is given, rotating files. Done now when
    loguru is loaded; otherwise when it is first imported (the latest call's arguments win)."""
    if "loguru" in sys.modules:
        _apply(level, log_folder, quiet)
        return
    pending = next((f for f in sys.meta_path if isinstance(f, _ConfigureOnImport)), None)
    if pending is None:
        pending = _ConfigureOnImport()
        sys.meta_path.insert(0, pending)
    pending.arguments = (level, log_folder, quiet)


class _ConfigureOnImport:
    """Finds loguru with the other finders and hands out its spec with a loader that, once the
    module has run, applies :func:`configure`'s arguments and takes this finder out again. (A
    finder and a loader by protocol: ``importlib.abc`` would cost ``importlib.resources`` too.)"""

    def __init__(self) -> None:
        self.arguments: tuple[str, Path | None, bool] = ("INFO", None, False)

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != "loguru":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = cast("Loader", _ThenConfigure(spec.loader, self))
                return spec
        return None

    def loaded(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        _apply(*self.arguments)


class _ThenConfigure:
    def __init__(self, loader: Any, finder: _ConfigureOnImport) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._finder.loaded()

    def __getattr__(self, name: str) -> Any:
        # Everything else (get_source for a traceback's lines, is_package, …) is loguru's own loader's.
        return getattr(self._loader, name)


def _apply(level: str, log_folder: Path | None, quiet: bool) -> None:
    global _file_sink
    from loguru import logger

    logger.remove()
    if _file_sink is not None:
        _file_sink.close()
        _file_sink = None
    logger.add(_stderr_sink, level="WARNING" if quiet else level, format=_STDERR_FORMAT,
               colorize=sys.stderr.isatty(), backtrace=False, diagnose=False)
    if log_folder is not None:
        try:
            _file_sink = _RotatingSink(Path(log_folder) / "zenithlink.log")
        except OSError as exc:
            logger.warning("cannot write log files in {}: {}; logging to stderr only", log_folder, exc)
        else:
            logger.add(_file_sink, level=level, format=_FORMAT, backtrace=False, diagnose=False)


def _install_file_redaction() -> None:
    # Results, error reports and the status file are written by ``dbsys``, which knows nothing
    # of the PSG: hand it the same redaction the log sinks use.
    from dbsys.redact import set_redactor

    set_redactor(redact)


_install_file_redaction()
