"""The sandbox HTTP server: stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive.

The handler turns bytes into a :class:`Request`, asks the API or the admin side for an
:class:`Answer`, and applies the socket-level faults (hang, latency, trickle, dropped
connection, hostile bodies) that route handlers cannot express.
"""

from __future__ import annotations

import socket
import sys
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from loguru import logger

from agent.sandbox.admin import Admin
from agent.sandbox.api import PREFIX, Api, error
from agent.sandbox.exchange import Answer, Request
from agent.sandbox.faults import Faults
from agent.sandbox.hostile import hostile_body
from agent.sandbox.world import World

MAX_REQUEST_BODY = 4 * 1024 * 1024
TRICKLE_TICK = 0.05


class _BadFraming(Exception):
    """The request's body cannot be read safely; the connection is closed after the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api, admin: Admin, faults: Faults) -> None:
        self.api, self.admin, self.faults = api, admin, faults
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-request (a deadline, a killed agent) is ordinary here.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        logger.opt(exception=exc).warning("sandbox: the request from {} failed", client_address)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._open_lock:
            (self._open.add if add else self._open.discard)(sock)

    def close_connections(self) -> None:
        """Wake every handler blocked on a keep-alive read so its thread ends."""
        with self._open_lock:
            socks = list(self._open)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ContinuumSandbox/1.0"
    sys_version = ""
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.trace("sandbox {} {}", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_GET

    # ---- one exchange ------------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            req = self._request()
        except _BadFraming as exc:
            self._send(error(exc.status, "Invalid", str(exc)), close=True)
            return
        if req.path == PREFIX or req.path.startswith(PREFIX + "/"):
            self._serve_api(req)
        elif req.path == "/sandbox" or req.path.startswith("/sandbox/"):
            self._send(self.server.admin.handle(req))
        else:
            self._send(error(404, "NotFound", f"No endpoint {req.path}; the API lives under {PREFIX}/."))

    def _request(self) -> Request:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise _BadFraming(411, "Send the body with a Content-Length; chunked bodies are not accepted.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadFraming(400, "The Content-Length header is not a number.") from None
        if length > MAX_REQUEST_BODY:
            raise _BadFraming(413, f"The request body is larger than {MAX_REQUEST_BODY} bytes.")
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        return Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                       self.headers, body)

    def _serve_api(self, req: Request) -> None:
        faults = self.server.faults
        injected = faults.before(req.path)
        if injected.hang:
            # Never answered; once the fault is cleared (or the server stops) the connection
            # is closed without an answer, so hung threads do not pile up.
            while faults.hanging(req.path) and not self.server.stopping.wait(0.1):
                pass
            self.close_connection = True
            return
        if injected.delay and self.server.stopping.wait(injected.delay):
            self.close_connection = True
            return
        if injected.status:
            self._send(error(injected.status, injected.code, injected.message, injected.headers))
            return
        try:
            answer = self.server.api.handle(req)
        except Exception:  # a bug must not kill the connection without an answer
            logger.exception("sandbox: unexpected error on {} {}", req.method, req.path)
            answer = error(500, "Unavailable", "The sandbox failed unexpectedly; see its log.")
        if answer.applied and faults.drop_after_apply(req.path):
            self.close_connection = True
            return
        hostile = faults.take_hostile(req.path)
        if hostile is not None:
            answer.body = hostile_body(hostile[0], answer.body, hostile[1])
        self._send(answer, trickle=faults.trickle(req.path))

    def _send(self, answer: Answer, *, close: bool = False, trickle: int = 0) -> None:
        reason = HTTPStatus(answer.status).phrase if answer.status in HTTPStatus._value2member_map_ else ""
        lines = [f"HTTP/1.1 {answer.status} {reason}", f"Server: {self.server_version}",
                 f"Date: {formatdate(usegmt=True)}", f"Content-Type: {answer.content_type}",
                 f"Content-Length: {len(answer.body)}"]
        lines += [f"{name}: {value}" for name, value in answer.headers]
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.log_request(answer.status, len(answer.body))
        try:
            if trickle > 0:
                self.wfile.write(head)
                self._trickle(answer.body, trickle)
            else:
                self.wfile.write(head + answer.body)
        except OSError:
            self.close_connection = True

    def _trickle(self, body: bytes, rate: int) -> None:
        chunk = max(1, int(rate * TRICKLE_TICK))
        for start in range(0, len(body), chunk):
            if self.server.stopping.wait(TRICKLE_TICK):
                self.close_connection = True
                return
            self.wfile.write(body[start:start + chunk])


class SandboxServer:
    """A sandbox Continuum PSA API on loopback; use as a context manager or start()/stop()."""

    def __init__(self, psg: str = "demo", seed: int = 1, sites: int = 20, devices: int = 200,
                 tickets: int = 0, activated: bool = True, host: str = "127.0.0.1", port: int = 0,
                 partner: str | None = None) -> None:
        self.world = World(seed=seed, sites=sites, devices=devices, tickets=tickets, activated=activated)
        self.faults = Faults(seed)
        self.api = Api(self.world, psg, partner or f"PARTNER-{seed:04d}")
        self.api.feed_flags = self.faults.feed_flags
        self._address = (host, port)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("The sandbox is not started; call start() or use it in a 'with' block.")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        if self._httpd is None:
            self._httpd = _Server(self._address, self.api, Admin(self.world, self.faults), self.faults)
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="sandbox-http", daemon=True)
            self._thread.start()
            logger.info("sandbox Continuum listening on {}", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
