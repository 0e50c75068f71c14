"""Sandbox server throughput: ping rate, a 500-device page, and paging 100,000 devices.

The baseline is a bare stdlib ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) answering a
fixed body of the same size, measured in the same run with the same client.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from agent.sandbox import SandboxServer
from bench.common import Table

HEADERS = {"X-PSG": "demo"}


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else header and body writes meet delayed ACKs
    body = b"<Pong/>"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


class _BareServer:
    def __init__(self, body: bytes) -> None:
        handler = type("Handler", (_Bare,), {"body": body})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path, headers=HEADERS)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return body


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def request_rate(url: str, path: str, seconds: float, threads: int = 2) -> float:
    """Requests per second over keep-alive connections, one per client thread."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = _connect(url)
        while time.perf_counter() < deadline:
            _get(conn, path)
            counts[i] += 1
        conn.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start)


def round_trip_ms(url: str, path: str, repeat: int) -> float:
    conn = _connect(url)
    _get(conn, path)
    start = time.perf_counter()
    for _ in range(repeat):
        _get(conn, path)
    conn.close()
    return (time.perf_counter() - start) / repeat * 1000


def page_all_seconds(url: str, total: int, size: int = 1000) -> float:
    conn = _connect(url)
    start = time.perf_counter()
    for page in range(1, total // size + 2):
        _get(conn, f"/psa/v1/devices?page={page}&pageSize={size}")
    conn.close()
    return time.perf_counter() - start


def main(quick: bool) -> Table:
    seconds, repeat, devices = (0.5, 20, 10_000) if quick else (2.0, 100, 100_000)
    table = Table("sandbox server (2 keep-alive client threads, loopback)")
    with SandboxServer(sites=200, devices=devices) as sb:
        ping = request_rate(sb.url, "/psa/v1/ping", seconds)
        page_path = "/psa/v1/devices?page=1&pageSize=500"
        page_ms = round_trip_ms(sb.url, page_path, repeat)
        all_pages = page_all_seconds(sb.url, devices)
        conn = _connect(sb.url)
        page_body, big_body = _get(conn, page_path), _get(conn, "/psa/v1/devices?page=1&pageSize=1000")
        conn.close()
    pong = b'<?xml version="1.0" encoding="utf-8"?>\n<Pong partner="PARTNER-0001" activated="true"/>'
    with _BareServer(pong) as bare:
        bare_ping = request_rate(bare, "/", seconds)
    with _BareServer(page_body) as bare:
        bare_page_ms = round_trip_ms(bare, "/", repeat)
    with _BareServer(big_body) as bare:
        bare_all = page_all_seconds(bare, devices)
    table.add("ping rate", ping, "req/s", baseline=bare_ping)
    table.add("500-device page round trip", page_ms, "ms", baseline=bare_page_ms, higher_is_better=False)
    table.add(f"page {devices:,} devices at 1000/page", all_pages, "s", baseline=bare_all,
              target="< 5 s" if devices >= 100_000 else "", higher_is_better=False)
    return table
