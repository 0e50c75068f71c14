"""A sandbox RMM's HTTP server on loopback, run in a thread: what the N-sight and NinjaOne
sandboxes share (the Continuum sandbox, which also runs in a process of its own, has its own)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class SandboxHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sandbox: Any) -> None:
        self.sandbox = sandbox  # the handler answers from it
        super().__init__(address, handler)


class LoopbackSandbox:
    """Serves ``handler`` on 127.0.0.1 (``port`` 0: any free port) while used as a context manager;
    the handler reaches this object as ``self.server.sandbox``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, port: int = 0, name: str) -> None:
        self._server = SandboxHttpServer(("127.0.0.1", port), handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
