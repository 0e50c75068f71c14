"""The ``/sandbox`` admin endpoints: JSON, no PSG, never affected by faults.

Each endpoint calls one method of the world or of the faults with the JSON body's fields
as keyword arguments, so the HTTP and the Python interfaces cannot drift apart.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from agent.sandbox.errors import SandboxError, invalid, not_found
from agent.sandbox.exchange import Answer, Request, json_answer
from agent.sandbox.faults import Faults
from agent.sandbox.world import World

ENDPOINTS = [
    ("GET", "/sandbox/", "this list"),
    ("GET", "/sandbox/state", "activation, acked cursor, links, counts and every ticket"),
    ("GET", "/sandbox/ledger", "every effect applied by a PSA-side request"),
    ("GET", "/sandbox/changes", "the change feed (ids, kinds, tickets, origins)"),
    ("GET", "/sandbox/tickets/{id}", "one ticket with its notes"),
    ("POST", "/sandbox/tickets", "open a ticket: site_code, device_id, title, description, priority, source"),
    ("POST", "/sandbox/tickets/bulk", "open tickets in bulk: count"),
    ("POST", "/sandbox/tickets/{id}/return", "hand back to the partner: status, note"),
    ("POST", "/sandbox/tickets/{id}/close", "close in Continuum: note"),
    ("POST", "/sandbox/tickets/{id}/notes", "add a note in Continuum: text, author"),
    ("POST", "/sandbox/tickets/{id}/update",
     "change fields: title, description, priority, status, assigned_to, site_code, device_id"),
    ("POST", "/sandbox/activation", "switch activation: activated"),
    ("POST", "/sandbox/sites", "add a site: name, client_name, code, address"),
    ("DELETE", "/sandbox/sites/{code}", "remove a site and its devices"),
    ("POST", "/sandbox/sites/{code}/rename", "rename a site: name"),
    ("POST", "/sandbox/devices", "add a device: site_code, name, device_type, other device fields"),
    ("DELETE", "/sandbox/devices/{id}", "remove a device"),
    ("POST", "/sandbox/devices/{id}/rename", "rename a device: name"),
    ("GET", "/sandbox/faults", "the current fault settings"),
    ("POST", "/sandbox/faults", "merge fault settings (see 'zenithlink docs sandbox')"),
    ("DELETE", "/sandbox/faults", "clear every fault"),
]


def _call(fn: Callable, body: dict, *args: Any) -> Any:
    try:
        inspect.signature(fn).bind(*args, **body)
    except TypeError as exc:
        raise invalid(f"Bad fields for this endpoint: {exc}.") from None
    return fn(*args, **body)


class Admin:
    """Answers ``/sandbox`` requests for one world and its faults."""

    def __init__(self, world: World, faults: Faults) -> None:
        w = world
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/?", lambda b: {"endpoints": [{"method": m, "path": p, "does": d} for m, p, d in ENDPOINTS]}),
            ("GET", r"/state", lambda b: w.state()),
            ("GET", r"/ledger", lambda b: w.ledger),
            ("GET", r"/changes", lambda b: w.changes),
            ("GET", r"/faults", lambda b: faults.snapshot()),
            ("POST", r"/faults", lambda b: _call(faults.set, b)),
            ("DELETE", r"/faults", lambda b: _after(faults.clear, faults.snapshot)),
            ("POST", r"/activation", lambda b: _call(w.set_activated, b) or {"activated": w.activated}),
            ("POST", r"/tickets", lambda b: _call(w.open_ticket, b)),
            ("POST", r"/tickets/bulk", lambda b: {"ticket_ids": _call(w.open_tickets, b)}),
            ("GET", r"/tickets/([^/]+)", lambda b, t: w.ticket(t)),
            ("POST", r"/tickets/([^/]+)/return", lambda b, t: _call(w.return_ticket, b, t)),
            ("POST", r"/tickets/([^/]+)/close", lambda b, t: _call(w.close_ticket, b, t)),
            ("POST", r"/tickets/([^/]+)/notes", lambda b, t: _call(w.add_note, b, t)),
            ("POST", r"/tickets/([^/]+)/update", lambda b, t: _call(w.update_ticket, b, t)),
            ("POST", r"/sites", lambda b: _call(w.add_site, b)),
            ("DELETE", r"/sites/([^/]+)", lambda b, c: _after(lambda: w.remove_site(c), lambda: {"removed": c})),
            ("POST", r"/sites/([^/]+)/rename", lambda b, c: _call(w.rename_site, b, c)),
            ("POST", r"/devices", lambda b: _call(w.add_device, b)),
            ("DELETE", r"/devices/([^/]+)", lambda b, d: _after(lambda: w.remove_device(d), lambda: {"removed": d})),
            ("POST", r"/devices/([^/]+)/rename", lambda b, d: _call(w.rename_device, b, d)),
        ]
        self._routes = [(m, re.compile(p), fn) for m, p, fn in routes]

    def handle(self, req: Request) -> Answer:
        try:
            fn, args = self._route(req)
            status = 201 if req.method == "POST" and _creates(req) else 200
            return json_answer(status, fn(_json_body(req.body), *args))
        except SandboxError as exc:
            return json_answer(exc.status, {"error": {"code": exc.code, "message": exc.message}})

    def _route(self, req: Request) -> tuple[Callable, list[str]]:
        sub = req.path[len("/sandbox"):]
        allowed = []
        for method, pattern, fn in self._routes:
            match = pattern.fullmatch(sub)
            if match:
                if method == req.method:
                    return fn, [unquote(g) for g in match.groups()]
                allowed.append(method)
        if allowed:
            raise SandboxError(405, "Invalid", f"Use {' or '.join(allowed)} on {req.path}.")
        raise not_found(f"No admin endpoint {req.path}; GET /sandbox/ lists them.")


def _after(call: Callable[[], object], answer: Callable[[], Any]) -> Any:
    """What ``answer`` gives once ``call`` (which answers nothing) is done."""
    call()
    return answer()


def _creates(req: Request) -> bool:
    return req.path.rstrip("/") in ("/sandbox/tickets", "/sandbox/sites", "/sandbox/devices", "/sandbox/tickets/bulk") \
        or req.path.endswith("/notes")


def _json_body(body: bytes) -> dict:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise invalid("The body must be a JSON object.")
    return data
