"""A total deadline for one HTTP attempt, enforced on every socket operation.

httpx's timeouts apply to each read separately, so a server that trickles one byte a second
could keep a request alive for ever. The agent's transport wraps httpcore's network backend:
every connect, read and write is given at most the time left before the deadline of the
attempt running in the calling thread, and fails with a timeout once it has passed. Headers
and body alike are covered, so an attempt ends within its deadline plus one socket operation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx
from loguru import logger

_local = threading.local()


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Run the block with every socket operation of this thread bounded by ``at`` (monotonic)."""
    previous = getattr(_local, "at", None)
    _local.at = at
    try:
        yield
    finally:
        _local.at = previous


def _clip(timeout: float | None, error: type[Exception]) -> float | None:
    at = getattr(_local, "at", None)
    if at is None:
        return timeout
    remaining: float = at - time.monotonic()
    if remaining <= 0:
        raise error("the total deadline of the request has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _clip(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        timeout = _clip(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        timeout = _clip(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(*, verify: bool = True) -> httpx.HTTPTransport:
    """An httpx transport whose sockets honour :func:`deadline`."""
    result = httpx.HTTPTransport(verify=verify, retries=0)
    pool = getattr(result, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if pool is None or inner is None:
        # A future httpx/httpcore may lay this out differently; the client still checks the
        # deadline between body chunks, only the per-socket clipping is lost.
        logger.warning("httpx transport internals changed: the per-socket request deadline is not enforced")
        return result
    pool._network_backend = _Backend(inner)
    return result
