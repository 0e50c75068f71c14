"""One request and its answer, as the route handlers see them (no sockets)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message

XML = "application/xml; charset=utf-8"
JSON = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = XML
    headers: list[tuple[str, str]] = field(default_factory=list)
    applied: bool = False  # a state change happened (for the drop-after-apply fault)


def json_answer(status: int, data: object) -> Answer:
    return Answer(status, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8"), JSON)
