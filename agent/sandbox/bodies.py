"""Request bodies of the PSA API, parsed safely and validated into plain dicts."""

from __future__ import annotations

from lxml import etree

from agent.sandbox.errors import invalid
from agent.sandbox.model import ASSIGNEES, PRIORITIES
from dbsys.safexml import UnsafeXML, child_text, parse_bytes

MAX_BODY = 1024 * 1024


def _root(body: bytes, tag: str) -> etree._Element:
    try:
        root = parse_bytes(body, max_bytes=MAX_BODY, what="request body")
    except UnsafeXML as exc:
        raise invalid(f"Send a well-formed <{tag}> document: {exc}.") from None
    if root.tag != tag:
        raise invalid(f"The body's root element must be <{tag}>, not <{root.tag}>.")
    return root


def _optional(root: etree._Element, tag: str) -> str | None:
    return child_text(root, tag) or None


def new_ticket(body: bytes) -> dict:
    """``<NewTicket>``: SiteCode required; Title or Description required; enums checked."""
    root = _root(body, "NewTicket")
    site_code = child_text(root, "SiteCode")
    if not site_code:
        raise invalid("SiteCode is required: the site linked to the PSA ticket's account.")
    title, description = child_text(root, "Title"), child_text(root, "Description")
    if not title and not description:
        raise invalid("Give a Title or a Description.")
    priority = child_text(root, "Priority", "Medium")
    if priority not in PRIORITIES:
        raise invalid(f"Priority must be one of {', '.join(PRIORITIES)}.")
    assign_to = child_text(root, "AssignTo", "NOC")
    if assign_to not in ASSIGNEES:
        raise invalid(f"AssignTo must be one of {', '.join(ASSIGNEES)}.")
    return {"site_code": site_code, "device_id": _optional(root, "DeviceID"),
            "title": title or description.splitlines()[0][:100], "description": description,
            "priority": priority, "assign_to": assign_to, "note": _optional(root, "Note"),
            "psa_ticket_id": _optional(root, "PsaTicketID")}


def assign(body: bytes) -> tuple[str, str | None]:
    root = _root(body, "Assign")
    assign_to = child_text(root, "AssignTo")
    if assign_to not in ASSIGNEES:  # "Keep" is not an assignment: a client sends only the note
        raise invalid(f"AssignTo must be one of {', '.join(ASSIGNEES)}.")
    return assign_to, _optional(root, "Note")


def note(body: bytes) -> tuple[str, str]:
    root = _root(body, "Note")
    text = child_text(root, "Text")
    if not text:
        raise invalid("A note needs a non-empty <Text>.")
    return text, child_text(root, "Author", "PSA")


def close_ticket(body: bytes) -> str | None:
    if not body.strip():
        return None  # an empty body is an acceptable "close without a resolution"
    return _optional(_root(body, "Close"), "Resolution")


def ack(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    root = _root(body, "Ack")
    cursor = (root.get("cursor") or "").strip()
    if not cursor:
        raise invalid("<Ack> needs a cursor attribute: the 'next' of the last page committed.")
    links = []
    for link in root.iter("Link"):
        tid, psa = (link.get("ticketId") or "").strip(), (link.get("psaTicketId") or "").strip()
        if not tid or not psa:
            raise invalid("Every <Link> needs ticketId and psaTicketId attributes.")
        links.append((tid, psa))
    return cursor, links
