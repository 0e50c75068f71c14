"""The ``/psa/v1`` endpoints: authentication, activation, routing and idempotency."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from urllib.parse import unquote

from agent.sandbox import bodies, render
from agent.sandbox.errors import SandboxError, invalid, not_found
from agent.sandbox.exchange import Answer, Request
from agent.sandbox.idempotency import Replays, check_key, fingerprint
from agent.sandbox.world import World

PREFIX = "/psa/v1"


class Api:
    """Answers PSA API requests for one world."""

    def __init__(self, world: World, psg: str, partner: str) -> None:
        self.world = world
        self._psg = psg.encode("utf-8")
        self.partner = partner
        self.replays = Replays()
        T = r"/tickets/(?P<tid>[^/]+)"
        self._routes: list[tuple[re.Pattern, dict[str, Callable]]] = [
            (re.compile(r"/ping"), {"GET": self.ping}),
            (re.compile(r"/sites"), {"GET": self.sites}),
            (re.compile(r"/devices"), {"GET": self.devices}),
            (re.compile(r"/queue"), {"GET": self.queue}),
            (re.compile(r"/queue/ack"), {"POST": self.ack}),
            (re.compile(r"/tickets"), {"POST": self.create}),
            (re.compile(T), {"GET": self.get_ticket}),
            (re.compile(T + r"/assign"), {"POST": self.assign}),
            (re.compile(T + r"/notes"), {"POST": self.note}),
            (re.compile(T + r"/close"), {"POST": self.close_ticket}),
        ]
        self.feed_flags: Callable[[str], tuple[bool, bool]] = lambda path: (False, False)

    # ---- dispatch --------------------------------------------------------------------------
    def handle(self, req: Request) -> Answer:
        try:
            self._authorise(req)
            handler, params = self._route(req)
            if req.method in ("POST", "PUT"):
                return self._idempotent(req, handler, params)
            return handler(req, **params)
        except SandboxError as exc:
            return error(exc.status, exc.code, exc.message)

    def _authorise(self, req: Request) -> None:
        given = (req.headers.get("X-PSG") or "").encode("utf-8", "replace")
        if not given or not hmac.compare_digest(given, self._psg):
            raise SandboxError(401, "BadSecurityCode",
                               "The X-PSG header is missing or wrong; "
                               "set the PSG key in the INI's [Continuum] section.")
        if not self.world.activated:
            raise SandboxError(403, "NotActivated",
                               "The Security Code is known but the PSA activation has not reached the back end yet "
                               "(this can take up to 24 hours); keep retrying slowly.")

    def _route(self, req: Request) -> tuple[Callable, dict[str, str]]:
        sub = req.path[len(PREFIX):].rstrip("/") or "/"
        for pattern, methods in self._routes:
            match = pattern.fullmatch(sub)
            if match:
                if req.method not in methods:
                    raise SandboxError(405, "Invalid", f"Use {' or '.join(methods)} on {req.path}.")
                return methods[req.method], {k: unquote(v) for k, v in match.groupdict().items()}
        raise not_found(f"No endpoint {req.path}; see the Continuum PSA API contract.")

    def _idempotent(self, req: Request, handler: Callable, params: dict) -> Answer:
        key = req.headers.get("Idempotency-Key")
        if key is None:
            return handler(req, key=None, **params)
        check_key(key)
        print_ = fingerprint(req.method, req.path, req.body)
        with self.world.lock:
            stored = self.replays.lookup(key, print_)
            if stored is not None:
                return Answer(stored.status, stored.body)
            answer = handler(req, key=key, **params)
            self.replays.remember(key, print_, answer.status, answer.body)
            return answer

    # ---- reads -----------------------------------------------------------------------------
    def ping(self, req: Request) -> Answer:
        return Answer(200, render.pong_xml(self.partner, self.world.activated))

    def sites(self, req: Request) -> Answer:
        page, size = _paging(req)
        total, items = self.world.sites_page(page, size)
        return Answer(200, render.sites_xml(page, size, total, items))

    def devices(self, req: Request) -> Answer:
        page, size = _paging(req)
        total, items = self.world.devices_page(page, size, req.query.get("siteCode") or None)
        return Answer(200, render.devices_xml(page, size, total, items))

    def queue(self, req: Request) -> Answer:
        limit = _int(req, "limit", 100, 1, 500)
        duplicate, redeliver = self.feed_flags(req.path)
        changes, next_cursor, more = self.world.feed(req.query.get("after") or None, limit, redeliver=redeliver)
        if duplicate:
            changes = [c for change in changes for c in (change, change)]
        return Answer(200, render.changes_xml(next_cursor, more, changes))

    def get_ticket(self, req: Request, tid: str) -> Answer:
        with self.world.lock:
            return Answer(200, render.document(render.ticket_xml(self.world.get_ticket(tid))))

    # ---- writes ----------------------------------------------------------------------------
    def ack(self, req: Request, key: str | None) -> Answer:
        cursor, links = bodies.ack(req.body)
        acked = self.world.ack(cursor, links, key)
        return Answer(200, render.acked_xml(acked), applied=True)

    def create(self, req: Request, key: str | None) -> Answer:
        ticket = self.world.psa_create(bodies.new_ticket(req.body), key)
        return Answer(201, render.document(render.ticket_xml(ticket)), applied=True)

    def assign(self, req: Request, tid: str, key: str | None) -> Answer:
        assign_to, note = bodies.assign(req.body)
        ticket = self.world.psa_assign(tid, assign_to, note, key)
        return Answer(200, render.document(render.ticket_xml(ticket)), applied=True)

    def note(self, req: Request, tid: str, key: str | None) -> Answer:
        text, author = bodies.note(req.body)
        note = self.world.psa_note(tid, text, author, key)
        return Answer(201, render.document(render.note_xml(note)), applied=True)

    def close_ticket(self, req: Request, tid: str, key: str | None) -> Answer:
        resolution = bodies.close_ticket(req.body)
        ticket, changed = self.world.psa_close(tid, resolution, key)
        return Answer(200, render.document(render.ticket_xml(ticket)), applied=changed)


def error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    return Answer(status, render.error_xml(code, message), headers=list(headers or []))


def _int(req: Request, name: str, default: int, low: int, high: int) -> int:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be a whole number from {low} to {high}.") from None
    if not low <= value <= high:
        raise invalid(f"{name} must be from {low} to {high}; got {value}.")
    return value


def _paging(req: Request) -> tuple[int, int]:
    return _int(req, "page", 1, 1, 10**9), _int(req, "pageSize", 500, 1, 1000)
