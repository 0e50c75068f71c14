"""The total deadline per attempt, against a real misbehaving HTTP server on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

from agent.backends.continuum import ContinuumClient, ContinuumUnavailable, RetryPolicy

PONG = b'<Pong partner="p" activated="true"/>'


class Misbehaving(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = "ok"
        self.stop = threading.Event()

    def handle_error(self, request, client_address) -> None:
        pass  # the client hanging up on this server is the point of the tests


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: Misbehaving = self.server  # type: ignore[assignment]
        sock: socket.socket = self.request
        while not server.stop.is_set():
            if not _read_request(sock):
                return
            mode = server.mode
            if mode == "ok":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(PONG), PONG))
            elif mode == "hang":
                server.stop.wait(10)
                return
            elif mode == "trickle-body":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<Pong partner=\"")
                _trickle(sock, server.stop, b"p" * 100000)
                return
            elif mode == "trickle-headers":
                _trickle(sock, server.stop, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100000)
                return


def _read_request(sock: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return False
        if not chunk:
            return False
        data += chunk
    return True


def _trickle(sock: socket.socket, stop: threading.Event, data: bytes) -> None:
    for i in range(len(data)):
        if stop.wait(0.05):
            return
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            return


@pytest.fixture
def server():
    srv = Misbehaving()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("mode", ["hang", "trickle-body", "trickle-headers"])
def test_attempt_aborts_within_deadline_and_next_request_works(server, mode):
    host, port = server.server_address
    timeout = 0.6
    with ContinuumClient(f"http://{host}:{port}", "psg", timeout=timeout, retry=RetryPolicy(max_attempts=1)) as client:
        assert client.ping().partner == "p"  # a kept-alive connection exists before the fault
        server.mode = mode
        start = time.monotonic()
        with pytest.raises(ContinuumUnavailable) as info:
            client.ping()
        elapsed = time.monotonic() - start
        assert timeout * 0.9 <= elapsed < timeout + 1.0
        assert "deadline" in str(info.value)
        server.mode = "ok"
        assert client.ping().activated


def test_every_retry_gets_its_own_deadline(server):
    host, port = server.server_address
    server.mode = "trickle-body"
    sleeps: list[float] = []
    with ContinuumClient(f"http://{host}:{port}", "psg", timeout=0.3, sleep=sleeps.append,
                         retry=RetryPolicy(max_attempts=3, random=lambda: 0.0)) as client:
        start = time.monotonic()
        with pytest.raises(ContinuumUnavailable):
            client.ping()
        elapsed = time.monotonic() - start
    assert len(sleeps) == 2
    assert 0.8 <= elapsed < 0.9 + 1.0
