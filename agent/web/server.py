"""Serving the console with uvicorn: in the foreground (``zenithlink web``) or in a thread (``run``).

Loopback by default; listening on any other address needs TLS (``[Web] CertFile``/``KeyFile``)
unless ``AllowPlainHttpBeyondLoopback=Y`` says a proxy on the same machine adds it (D10).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from loguru import logger

from agent.errors import ConfigError, ZenithError

DEFAULT_LISTEN = "127.0.0.1:8470"
START_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    cert_file: Path | None
    key_file: Path | None

    @property
    def tls(self) -> bool:
        return self.cert_file is not None

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{port or self.port}"


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = (text or "").strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError([f"[Web] Listen = {text!r}: must be HOST:PORT, e.g. {DEFAULT_LISTEN}"])
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_listen(settings, listen: str | None = None) -> Listen:
    """Where and how to serve; :class:`ConfigError` (exit code 2) for a setting that is not safe or not usable."""
    host, port = parse_listen(listen or settings.web_listen)
    cert, key = settings.web_cert_file, settings.web_key_file
    problems = []
    if bool(cert) != bool(key):
        problems.append("[Web] CertFile and KeyFile go together: set both (TLS) or neither")
    for name, path in (("CertFile", cert), ("KeyFile", key)):
        if path and not Path(path).is_file():
            problems.append(f"[Web] {name} = {path}: no such file")
    if not is_loopback(host) and not (cert and key) and not settings.web_allow_plain_http:
        problems.append(
            f"[Web] Listen = {host}:{port} is beyond loopback, and the console does not serve passwords and "
            "session cookies in plain HTTP over a network: set CertFile and KeyFile (TLS), or listen on "
            "127.0.0.1 (the default), or set AllowPlainHttpBeyondLoopback=Y if a proxy on this machine adds TLS")
    if problems:
        raise ConfigError(problems)
    return Listen(host, port, Path(cert) if cert else None, Path(key) if key else None)


class WebServer:
    """uvicorn serving the console of ``app``; :meth:`start` in a thread, or :meth:`serve` in this one."""

    def __init__(self, app, listen: Listen, **console_options) -> None:
        from agent.web import heap
        from agent.web.app import create_app

        self.listen = listen
        asgi = create_app(app, tls=listen.tls, **console_options)
        heap.settle()
        config = uvicorn.Config(asgi, host=listen.host, port=listen.port, log_config=None, access_log=False,
                                lifespan="off", server_header=False,
                                ssl_certfile=str(listen.cert_file) if listen.cert_file else None,
                                ssl_keyfile=str(listen.key_file) if listen.key_file else None)
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return self.listen.url(self.port)

    @property
    def port(self) -> int:
        for server in getattr(self.server, "servers", []) or []:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.listen.port

    def serve(self) -> None:
        """Serve until Ctrl-C / SIGTERM (uvicorn handles them in the main thread)."""
        self.server.run()
        if not self.server.started:
            raise ZenithError(f"the web console cannot listen on {self.listen.url()}; is the port in use by another "
                              "program (or another zenithlink)? Choose another one with [Web] Listen or --listen.")

    def start(self) -> str:
        """Serve in a thread; returns the console's URL once it listens."""
        self.thread = threading.Thread(target=self._run, name="zenithlink-web", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ZenithError(f"the web console cannot listen on {self.listen.url()} "
                                  f"({self._failure or 'it did not start'}); is the port in use? Choose another "
                                  "one with [Web] Listen.")
            time.sleep(0.02)
        logger.info("web console at {}", self.url)
        return self.url

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # noqa: BLE001 - uvicorn exits the thread with SystemExit on a bind error
            self._failure = exc

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=timeout)
            if self.thread.is_alive():
                self.server.force_exit = True
                self.thread.join(timeout=timeout)
