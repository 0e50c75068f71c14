"""Result files ``ZenithRequests/Results/<id>.xml``: the agent's answer to each request drop."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger
from lxml import etree

from dbsys import safexml
from dbsys.atomic import atomic_write
from dbsys.devicenames import is_reserved
from dbsys.drops import ID_RE
from dbsys.redact import redact
from dbsys.timestamps import format_utc

STATUSES = ("Queued", "Done", "Failed")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_MAX_RESULT_BYTES = 1024 * 1024


def result_name(request_id: str) -> str:
    """``<id>.xml``. A name that is not a valid id (a bad drop's file name stands in for its
    id) has its other characters replaced by ``_`` so it stays a plain file name, and one that
    Windows reserves for a device (``CON``, ``nul.x``) gets a ``_`` in front."""
    if ID_RE.match(request_id) and not is_reserved(request_id):
        return f"{request_id}.xml"
    safe = _UNSAFE_NAME.sub("_", request_id)[:100].lstrip(".") or "_"
    return f"_{safe}.xml" if is_reserved(safe) else f"{safe}.xml"


def write_result(results_folder: str | os.PathLike[str], request_id: str, action: str, status: str, *,
                 at: datetime | None = None, continuum_ticket_id: str | None = None,
                 error_code: str | None = None, error_message: str | None = None,
                 extra: dict[str, str] | None = None, sync_folder: bool = True) -> Path:
    """Write (or replace) the result of one request, atomically; return its path.

    ``sync_folder=False``: the caller makes the rename durable (see :func:`dbsys.atomic.atomic_writer`)."""
    if status not in STATUSES:
        raise ValueError(f"result status must be one of {', '.join(STATUSES)}, not {status!r}")
    if status == "Failed" and not (error_code and error_message):
        raise ValueError("a Failed result needs error_code and error_message")
    root = etree.Element("ZenithResult", {"id": redact(request_id), "action": redact(action or ""),
                                          "status": status, "at": format_utc(at)})
    if continuum_ticket_id:
        etree.SubElement(root, "ContinuumTicketID").text = redact(str(continuum_ticket_id))
    if error_code or error_message:
        error = etree.SubElement(root, "Error", {"code": redact(error_code or "Error")})
        error.text = redact(error_message or "")
    for key, value in (extra or {}).items():
        etree.SubElement(root, _element_name(key)).text = redact(str(value))
    folder = Path(results_folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / result_name(request_id)
    atomic_write(path, etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True),
                 sync_folder=sync_folder)
    return path


def _element_name(key: str) -> str:
    try:
        etree.QName(key)
    except ValueError:
        raise ValueError(f"{key!r} cannot be an element name in a result; use letters and digits") from None
    if key in ("ContinuumTicketID", "Error"):
        raise ValueError(f"{key!r} is a reserved element of results; pass it by its own argument")
    return key


def read_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A result as ``{id, action, status, at, continuum_ticket_id, error_code, error_message, extra}``."""
    path = Path(path)
    root = safexml.parse_file(path, "ZenithResult", max_bytes=_MAX_RESULT_BYTES, what="result file")
    result: dict[str, Any] = {
        "id": root.get("id", ""), "action": root.get("action", ""), "status": root.get("status", ""),
        "at": root.get("at", ""), "continuum_ticket_id": None, "error_code": None, "error_message": None,
        "extra": {}, "file": path.name,
    }
    for child in root:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "ContinuumTicketID":
            result["continuum_ticket_id"] = (child.text or "").strip()
        elif child.tag == "Error":
            result["error_code"] = child.get("code", "")
            result["error_message"] = (child.text or "").strip()
        else:
            result["extra"][child.tag] = child.text or ""
    return result


def list_results(results_folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every readable result in the folder, newest first (unreadable ones are logged and skipped)."""
    results = []
    folder = Path(results_folder)
    if not folder.is_dir():
        return []
    for path in folder.glob("*.xml"):
        try:
            results.append(read_result(path))
        except (OSError, ValueError) as exc:
            logger.warning("Skipped the unreadable result {}: {}", path.name, exc)
    results.sort(key=lambda r: (r["at"], r["file"]), reverse=True)
    return results
