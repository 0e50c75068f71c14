"""The one client the agent uses to talk to the Continuum PSA API (see the API contract).

One long-lived ``httpx.Client``; every attempt has a total deadline; transient failures are
retried with jittered backoff (state changes too, always with the same ``Idempotency-Key`` so
the server applies them once); a circuit breaker stops the agent hammering a dead server;
every answer is parsed as untrusted XML. The Security Code (PSG) only ever travels in the
``X-PSG`` header: it is never logged and never put into an exception.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from loguru import logger
from lxml import etree

from agent import __version__
from agent.errors import UsageError
from agent.ports.rmm import CONTINUUM_CAPABILITIES, InventoryRecord

from . import answers, bodies
from .circuit import CircuitBreaker
from .deadline import deadline
from .deadline import transport as deadline_transport
from .errors import (
    BadAnswer,
    BadSecurityCode,
    ContinuumConflict,
    ContinuumError,
    ContinuumInvalid,
    ContinuumNotFound,
    ContinuumRefused,
    ContinuumUnavailable,
    NotActivated,
    RateLimited,
)
from .models import ChangePage, Device, NewTicket, Note, Page, Pong, Site, Ticket
from .retry import RetryPolicy

T = TypeVar("T", bound=InventoryRecord)
P = TypeVar("P", bound=Page[Any])

MiB = 1024 * 1024
API = "/psa/v1"
XML = "application/xml; charset=utf-8"
MAX_PAGE_SIZE = 1000
MAX_QUEUE_LIMIT = 500
# kind -> (path, root element, item element, children each item must carry)
_LISTS = {"sites": ("/sites", "Sites", "Site", answers.SITE_REQUIRED),
          "devices": ("/devices", "Devices", "Device", answers.DEVICE_REQUIRED)}


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes


class _Transient(Exception):
    """No usable answer: connection error, timeout or deadline passed."""


class ContinuumClient:
    """Talks to one Continuum PSA API; thread-safe, use one per agent (and close it)."""

    capabilities = CONTINUUM_CAPABILITIES

    def __init__(self, base_url: str, psg: str, *, timeout: float = 30.0, verify: bool = True,
                 transport: httpx.BaseTransport | None = None, retry: RetryPolicy | None = None,
                 circuit: CircuitBreaker | None = None, max_answer_bytes: int = 16 * MiB,
                 sleep: Callable[[float], None] = time.sleep,
                 user_agent: str = f"zenithlink/{__version__}") -> None:
        _check_psg(psg)
        if not str(base_url).startswith(("http://", "https://")):
            raise UsageError(f"ContinuumURL {str(base_url)[:200]!r} is not an http(s) URL; "
                             "set [Continuum] ContinuumURL in the INI to the address of the Continuum PSA API.")
        self.timeout = float(timeout)
        self.retry = retry or RetryPolicy()
        self.circuit = circuit or CircuitBreaker()
        self.max_answer_bytes = max_answer_bytes
        self._psg = psg
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            transport=transport or deadline_transport(verify=verify),
            timeout=httpx.Timeout(self.timeout),
            headers={"X-PSG": psg, "Accept": "application/xml", "User-Agent": user_agent},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> ContinuumClient:
        """A client for ``settings.continuum_url`` / ``.psg`` / ``.request_timeout_seconds`` / ``.verify_tls``."""
        return cls(settings.continuum_url, settings.psg,
                   timeout=float(getattr(settings, "request_timeout_seconds", 30.0)),
                   verify=bool(getattr(settings, "verify_tls", True)), **kwargs)

    # -- resources -------------------------------------------------------------------------

    def ping(self) -> Pong:
        return answers.pong(self._get("/ping", "Pong"))

    def site_pages(self, page_size: int = 500) -> Iterator[Page[Site]]:
        """Every page of sites, fetched one after the other as the caller consumes them."""
        return self._model_pages("sites", answers.site, page_size, {})

    def device_pages(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Page[Device]]:
        """Every page of devices (of one site when ``site_code`` is given), fetched lazily."""
        return self._model_pages("devices", answers.device, page_size, {"siteCode": site_code} if site_code else {})

    def _model_pages(self, kind: str, build: Callable[[etree._Element], T], page_size: int,
                     extra: dict[str, str]) -> Iterator[Page[T]]:
        path, root_tag, item, _ = _LISTS[kind]
        return self._pages(path, root_tag, lambda root, size: answers.page(root, item, build, size), page_size, extra)

    def raw_pages(self, kind: Literal["sites", "devices"], page_size: int = 500,
                  site_code: str | None = None) -> Iterator[answers.ElementPage]:
        """Every page of ``"sites"`` or ``"devices"`` with its items as parsed lxml elements.

        The same requests, paging, retries, deadline and safe parsing as :meth:`site_pages` /
        :meth:`device_pages`, and the same check of the required children, without turning
        each child into Python values: for copying items through unchanged (the inventory).
        ``page.texts(tag)`` reads one field of every item. ``site_code`` filters devices only.
        """
        if kind not in _LISTS:
            raise UsageError(f"The kind of list must be 'sites' or 'devices', not {str(kind)[:40]!r}.")
        path, root_tag, item, required = _LISTS[kind]
        extra = {"siteCode": site_code} if site_code and kind == "devices" else {}
        return self._pages(path, root_tag, lambda root, size: answers.element_page(root, item, required, size),
                           page_size, extra)

    def inventory_pages(self, kind: Literal["sites", "devices"], page_size: int = 500) -> Iterator[answers.RecordPage]:
        """:meth:`raw_pages` as the port's inventory pages (records that wrap the parsed elements)."""
        return map(answers.RecordPage.of, self.raw_pages(kind, page_size))

    def iter_sites(self, page_size: int = 500) -> Iterator[Site]:
        for page in self.site_pages(page_size):
            yield from page.items

    def iter_devices(self, page_size: int = 500, site_code: str | None = None) -> Iterator[Device]:
        for page in self.device_pages(page_size, site_code):
            yield from page.items

    def changes(self, after: str | None, limit: int = 100) -> ChangePage:
        """The changes after cursor ``after`` (``None``: from the oldest the server holds)."""
        return answers.changes(self.changes_xml(after, limit))

    def read_changes(self, after: str | None, limit: int = 100) -> Callable[[], ChangePage]:
        """:meth:`changes` in two steps: the request and the XML parse now, the models when called."""
        root = self.changes_xml(after, limit)
        return lambda: answers.changes(root)

    def changes_xml(self, after: str | None, limit: int = 100) -> etree._Element:
        """:meth:`changes` before its models are built: the checked ``<Changes>`` element.

        For a reader thread: the request and the XML parse leave the interpreter lock free
        most of the time, building the models (:func:`answers.changes`) does not, so that is
        left to the thread that uses the page.
        """
        params: dict[str, Any] = {"limit": max(1, min(int(limit), MAX_QUEUE_LIMIT))}
        if after:
            params["after"] = after
        return self._get("/queue", "Changes", params)

    def ack(self, cursor: str, links: Iterable[tuple[str, str]] = (),
            idempotency_key: str | None = None) -> str:
        """Acknowledge every change up to ``cursor`` and record ``(ticket_id, psa_ticket_id)`` links."""
        body = bodies.ack(cursor, list(links))
        return answers.acked(self._post("/queue/ack", body, "Acked", idempotency_key or uuid.uuid4().hex))

    def get_ticket(self, ticket_id: str) -> Ticket:
        return answers.ticket(self._get(f"/tickets/{_segment(ticket_id)}", "Ticket"))

    def create_ticket(self, new: NewTicket, *, idempotency_key: str) -> Ticket:
        return answers.ticket(self._post("/tickets", bodies.new_ticket(new), "Ticket", idempotency_key))

    def assign(self, ticket_id: str, assign_to: str, note: str | None = None, *,
               idempotency_key: str) -> Ticket:
        path = f"/tickets/{_segment(ticket_id)}/assign"
        return answers.ticket(self._post(path, bodies.assign(assign_to, note), "Ticket", idempotency_key))

    def add_note(self, ticket_id: str, text: str, author: str, *, idempotency_key: str) -> Note:
        path = f"/tickets/{_segment(ticket_id)}/notes"
        return answers.note(self._post(path, bodies.note(text, author), "Note", idempotency_key))

    def close_ticket(self, ticket_id: str, resolution: str | None = None, *, idempotency_key: str) -> Ticket:
        path = f"/tickets/{_segment(ticket_id)}/close"
        return answers.ticket(self._post(path, bodies.close_ticket(resolution), "Ticket", idempotency_key))

    def close_connection(self) -> None:
        self._http.close()

    def __enter__(self) -> ContinuumClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_connection()

    def __repr__(self) -> str:
        return f"ContinuumClient({str(self._http.base_url)!r})"

    # -- plumbing --------------------------------------------------------------------------

    def _pages(self, path: str, root_tag: str, build: Callable[[etree._Element, int], P],
               page_size: int, extra: dict[str, str]) -> Iterator[P]:
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        number = 1
        while True:
            page = build(self._get(path, root_tag, {**extra, "page": number, "pageSize": size}), size)
            yield page
            if not page.items or (page.total >= 0 and number * page.page_size >= page.total):
                return
            number += 1

    def _get(self, path: str, expected: str, params: dict[str, Any] | None = None) -> etree._Element:
        return self._parse(self._send("GET", path, params=params), "GET", path, expected)

    def _post(self, path: str, body: bytes, expected: str, idempotency_key: str) -> etree._Element:
        _check_key(idempotency_key)
        answer = self._send("POST", path, body=body, idempotency_key=idempotency_key)
        return self._parse(answer, "POST", path, expected)

    def _parse(self, answer: _Answer, method: str, path: str, expected: str) -> etree._Element:
        if 200 <= answer.status <= 299:
            return answers.parse(answer.body, expected, max_bytes=self.max_answer_bytes)
        raise self._error(answer, method, path)

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: bytes | None = None, idempotency_key: str | None = None) -> _Answer:
        headers = {"Content-Type": XML} if body is not None else {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        retries = 0
        while True:
            failure = self._attempt_once(method, path, params, body, headers)
            if isinstance(failure, _Answer):
                return failure
            retries += 1
            if retries >= self.retry.max_attempts or self.retry.too_long(failure.retry_after):
                raise failure
            wait = self.retry.delay(retries, failure.retry_after)
            logger.debug("{} {} failed ({}); retry {} in {:.2f} s", method, path, failure.code, retries, wait)
            self._sleep(wait)

    def _attempt_once(self, method: str, path: str, params: dict[str, Any] | None, body: bytes | None,
                      headers: dict[str, str]) -> _Answer | ContinuumError:
        """One attempt through the circuit: the final answer, or the retryable failure it met."""
        self.circuit.before_call()
        try:
            answer = self._attempt(method, path, params, body, headers)
        except _Transient as exc:
            self.circuit.record_failure()
            return ContinuumUnavailable(
                f"Could not get an answer from Continuum for {method} {API}{path} ({exc}); "
                "the agent will try again, check the network and [Continuum] ContinuumURL if this lasts.")
        except BadAnswer:
            self.circuit.record_success()
            raise
        except BaseException:
            self.circuit.record_failure()
            raise
        if answer.status >= 500:
            self.circuit.record_failure()
        else:
            self.circuit.record_success()
        if self.retry.retries_status(answer.status):
            return self._error(answer, method, path)
        return answer

    def _attempt(self, method: str, path: str, params: dict[str, Any] | None, body: bytes | None,
                 headers: dict[str, str]) -> _Answer:
        start = time.monotonic()
        at = start + self.timeout
        try:
            with deadline(at):
                request = self._http.build_request(method, API + path, params=params, content=body,
                                                   headers=headers)
                response = self._http.send(request, stream=True)
                try:
                    data = self._read(response, at)
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise _Transient(f"no complete answer within the {self.timeout:g} s deadline") from None
        except httpx.DecodingError:
            raise BadAnswer("Continuum sent an answer that could not be decoded; "
                            "the agent will try again later, report this to Continuum if it persists.") from None
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {self._redact(str(exc))}") from None
        logger.debug("{} {} -> {} ({:.0f} ms, {} bytes)", method, API + path, response.status_code,
                     (time.monotonic() - start) * 1000, len(data))
        return _Answer(response.status_code, response.headers, data)

    def _read(self, response: httpx.Response, at: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_answer_bytes:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_answer_bytes:
                raise self._too_large()
            if time.monotonic() > at:
                raise _Transient(f"no complete answer within the {self.timeout:g} s deadline")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> BadAnswer:
        return BadAnswer(f"Continuum sent an answer larger than {self.max_answer_bytes} bytes, which was refused; "
                         "the agent will try again later, report this to Continuum if it persists.")

    def _error(self, answer: _Answer, method: str, path: str) -> ContinuumError:
        server_code, server_message = answers.error(answer.body, max_bytes=self.max_answer_bytes)
        server_message = self._redact(server_message)
        status = answer.status
        detail = f"HTTP {status}" + (f": {server_message}" if server_message else "")
        what = f"{method} {API}{path}"
        kwargs: dict[str, Any] = {"status": status, "server_message": server_message,
                                  "code": server_code if _plain_word(server_code) else None}
        retry_after = self.retry.parse_retry_after(answer.headers.get("retry-after"))
        if status == 429:
            wait = f" for {retry_after:.0f} s" if retry_after is not None else ""
            return RateLimited(f"Continuum is rate-limiting the agent{wait} ({detail}); "
                               "nothing needs fixing, the agent tries again later by itself.",
                               retry_after=retry_after, **kwargs)
        if status == 408 or 500 <= status <= 599:
            return ContinuumUnavailable(f"Continuum is unavailable for {what} ({detail}); "
                                        "the agent tries again later, check Continuum's status if this lasts.",
                                        retry_after=retry_after, **kwargs)
        if status == 401:
            return BadSecurityCode("Continuum does not accept the Security Code: fix [Continuum] PSG in the INI "
                                   "(the agent cannot reach Continuum until it is corrected).", **kwargs)
        if status == 403:
            return NotActivated("Continuum has not yet applied the PSA activation for this Security Code, "
                                "which can take up to 24 hours; nothing needs fixing, the agent keeps retrying.",
                                retry_after=retry_after, **kwargs)
        if status == 404:
            return ContinuumNotFound(f"Continuum does not know what {what} names ({detail}); "
                                     "check the ticket, site or device ID, the request is not retried.", **kwargs)
        if status == 409:
            return ContinuumConflict(f"Continuum refused {what} as a conflict with an earlier request ({detail}); "
                                     "check the ticket links, the request is not retried.", **kwargs)
        if status == 422:
            return ContinuumInvalid(f"Continuum refused {what} as invalid ({detail}); "
                                    "correct the data sent, the request is not retried.", **kwargs)
        if 400 <= status <= 499:
            return ContinuumRefused(f"Continuum refused {what} ({detail}); "
                                    "check the request and [Continuum] ContinuumURL, it is not retried.", **kwargs)
        return BadAnswer(f"Continuum answered {what} with HTTP {status}, which the API never sends; "
                         "check that [Continuum] ContinuumURL points at the Continuum PSA API.", **kwargs)

    def _redact(self, text: str) -> str:
        return _short(text.replace(self._psg, "***") if self._psg else text)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain_word(code: str) -> bool:
    return 0 < len(code) <= 40 and code.isascii() and code.isalnum()


def _segment(value: str) -> str:
    if not value:
        raise UsageError("A Continuum ticket ID is required; pass the TicketID of the Continuum ticket.")
    return quote(str(value), safe="")


def _check_psg(psg: str) -> None:
    if not isinstance(psg, str) or not all(0x20 < ord(c) < 0x7F for c in psg):
        raise BadSecurityCode("The Security Code holds characters that cannot be sent: re-enter [Continuum] PSG "
                              "in the INI exactly as Continuum issued it.")


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not 1 <= len(key) <= 255 or not all(0x20 < ord(c) < 0x7F for c in key):
        raise UsageError("An idempotency key must be 1 to 255 visible ASCII characters; "
                         "use the key stored with the outbox row.")
