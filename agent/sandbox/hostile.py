"""Hostile answer bodies, for testing that a client refuses what the contract forbids."""

from __future__ import annotations

from agent.sandbox.render import DECLARATION

KINDS = ("doctype", "billion_laughs", "external_entity", "malformed", "huge")
HUGE_BYTES = 20 * 1024 * 1024  # above the agent's default 16 MiB cap on an XML answer

_LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
BILLION_LAUGHS = (f'{DECLARATION}<!DOCTYPE lolz [<!ENTITY lol0 "lol">{_LAUGHS}]>'
                  "<Pong partner=\"&lol9;\" activated=\"true\"/>")
EXTERNAL_ENTITY = (f'{DECLARATION}<!DOCTYPE Pong [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                   '<Pong partner="&xxe;" activated="true"/>')


def _strip_declaration(body: bytes) -> bytes:
    head = DECLARATION.encode()
    return body[len(head):] if body.startswith(head) else body


def hostile_body(kind: str, real: bytes, huge_bytes: int = HUGE_BYTES) -> bytes:
    """The body to send instead of ``real``."""
    if kind == "doctype":
        inner = _strip_declaration(real)
        root = inner[1:].split(b" ", 1)[0].split(b">", 1)[0].split(b"/", 1)[0] or b"Root"
        return DECLARATION.encode() + b"<!DOCTYPE " + root + b">" + inner
    if kind == "billion_laughs":
        return BILLION_LAUGHS.encode()
    if kind == "external_entity":
        return EXTERNAL_ENTITY.encode()
    if kind == "malformed":
        return real[: max(len(DECLARATION) + 5, len(real) // 2)] + b"<Broken attr='"
    if kind == "huge":
        pad = b"<Pad>" + b"x" * 1000 + b"</Pad>"
        count = huge_bytes // len(pad) + 1
        return DECLARATION.encode() + b"<Sites page=\"1\" pageSize=\"1\" total=\"0\">" + pad * count + b"</Sites>"
    raise ValueError(kind)
