"""Error reports ``<DbsysFolder>/ZenithErrors/<UTC timestamp>-<kind>.xml``.

One file per failure an administrator must see: what failed, when, the last error and what
to do. Every text goes through the redactor (:func:`set_redactor`), so a report never holds
the PSG. Names are unique even for several reports of one kind in one second: the second
one gets ``-2`` after the kind, and so on.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from dbsys import host, safexml
from dbsys.atomic import atomic_write
from dbsys.redact import redact, set_redactor
from dbsys.timestamps import compact_utc, format_utc, parse_utc

__all__ = ["REPORTS_FOLDER", "ReportInfo", "list_reports", "read_report", "reports_folder",
           "set_redactor", "write_report"]

REPORTS_FOLDER = "ZenithErrors"
ROOT_TAG = "ZenithError"
_MAX_BYTES = 1024 * 1024
_KIND_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# Names are claimed by "exists? then write": one agent per Dbsys folder, so only this
# process's threads can race, and this lock serialises them.
_claim_lock = threading.Lock()


@dataclass(frozen=True)
class ReportInfo:
    name: str
    at: datetime
    kind: str
    what: str


def reports_folder(dbsys_folder: str | os.PathLike[str]) -> Path:
    """``<DbsysFolder>/ZenithErrors``."""
    return Path(dbsys_folder) / REPORTS_FOLDER


def _short_kind(kind: str) -> str:
    return _KIND_UNSAFE.sub("-", kind).strip("-")[:40] or "error"


def write_report(dbsys_folder: str | os.PathLike[str], kind: str, what: str, error: str, todo: str, *,
                 at: datetime | None = None, details: dict[str, Any] | None = None) -> Path:
    """Write one error report atomically and return its path."""
    at_text = format_utc(at)
    root = etree.Element(ROOT_TAG, {"kind": _short_kind(kind), "at": at_text})
    etree.SubElement(root, "What").text = redact(what)
    etree.SubElement(root, "Error").text = redact(error)
    etree.SubElement(root, "ToDo").text = redact(todo)
    if details:
        box = etree.SubElement(root, "Details")
        for key, value in details.items():
            etree.SubElement(box, "Detail", {"name": redact(str(key))}).text = redact(_text(value))
    # Administrators open these in Notepad: CRLF on Windows (XML readers take either).
    data = host.with_line_endings(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))
    folder = reports_folder(dbsys_folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{compact_utc(at)}-{_short_kind(kind)}"
    with _claim_lock:
        path = _free_name(folder, stem)
        atomic_write(path, data)
    from loguru import logger  # on use: a command that never logs here starts faster
    logger.info("Wrote the error report {}", path.name)
    return path


def _text(value: Any) -> str:
    return format_utc(value) if isinstance(value, datetime) else str(value)


def _free_name(folder: Path, stem: str) -> Path:
    n = 1
    while True:
        path = folder / (f"{stem}.xml" if n == 1 else f"{stem}-{n}.xml")
        if not path.exists():
            return path
        n += 1


def read_report(dbsys_folder: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """A report as ``{name, at, kind, what, error, todo, details}``; ``name`` with or without ``.xml``."""
    path = _report_path(dbsys_folder, name)
    try:
        root = safexml.parse_file(path, ROOT_TAG, max_bytes=_MAX_BYTES, what="error report")
    except FileNotFoundError:
        raise FileNotFoundError(f"There is no error report {path.name}; run 'zenithlink errors list' "
                                f"to see the reports there are.") from None
    details = {}
    box = root.find("Details")
    if box is not None:
        details = {d.get("name", ""): d.text or "" for d in box.iter("Detail")}
    return {
        "name": path.name, "at": parse_utc(root.get("at", "")), "kind": root.get("kind", ""),
        "what": safexml.child_text(root, "What"), "error": safexml.child_text(root, "Error"),
        "todo": safexml.child_text(root, "ToDo"), "details": details,
    }


def _report_path(dbsys_folder: str | os.PathLike[str], name: str) -> Path:
    if not name or name != Path(name).name or name.startswith(".") or "\\" in name or "/" in name:
        raise ValueError(f"{name!r} is not a report name; give a name as shown by 'zenithlink errors list'")
    if not name.lower().endswith(".xml"):
        name += ".xml"
    return reports_folder(dbsys_folder) / name


def list_reports(dbsys_folder: str | os.PathLike[str]) -> list[ReportInfo]:
    """Every readable report, newest first (unreadable files are logged and skipped)."""
    folder = reports_folder(dbsys_folder)
    if not folder.is_dir():
        return []
    found: list[tuple[datetime, int, str, ReportInfo]] = []
    for path in folder.glob("*.xml"):
        if path.name.startswith("."):
            continue
        try:
            report = read_report(dbsys_folder, path.name)
            mtime = path.stat().st_mtime_ns
        except (OSError, ValueError) as exc:
            from loguru import logger  # on use: a command that never logs here starts faster
            logger.warning("Skipped the unreadable error report {}: {}", path.name, exc)
            continue
        info = ReportInfo(path.name, report["at"], report["kind"], report["what"])
        found.append((info.at, mtime, path.name, info))
    found.sort(key=lambda f: f[:3], reverse=True)
    return [f[3] for f in found]
