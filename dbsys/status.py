"""The status file ``ZenithStatus_<InstanceID>.xml``: a flat snapshot of the running agent.

Each field is one element; a ``type`` attribute (``int``, ``float``, ``bool``, ``none``;
absent for text) lets :func:`read_status` give back the values it was given. Booleans are
written ``true`` / ``false`` and ``None`` as an empty element, so scripts can read the file
without knowing the attribute.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from dbsys import safexml
from dbsys.atomic import atomic_write
from dbsys.redact import redact
from dbsys.timestamps import format_utc

ROOT_TAG = "ZenithStatus"
_MAX_BYTES = 1024 * 1024


def status_path(folder: str | os.PathLike[str], instance_id: str) -> Path:
    """``<folder>/ZenithStatus_<InstanceID>.xml``."""
    return Path(folder) / f"ZenithStatus_{instance_id}.xml"


def write_status(path: str | os.PathLike[str], fields: dict[str, Any]) -> None:
    """Write the flat ``fields`` (str, int, float, bool, None, datetime) atomically."""
    root = etree.Element(ROOT_TAG)
    for key, value in fields.items():
        _check_key(key)
        elem = etree.SubElement(root, key)
        kind, text = _render(key, value)
        if kind:
            elem.set("type", kind)
        if text is not None:
            elem.text = redact(text)
    atomic_write(Path(path), etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))


def _check_key(key: str) -> None:
    try:
        etree.QName(key)
    except ValueError:
        raise ValueError(f"status field {key!r} is not a valid element name; use letters and digits") from None


def _render(key: str, value: Any) -> tuple[str, str | None]:
    if value is None:
        return "none", None
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        return "float", repr(value)
    if isinstance(value, datetime):
        return "", format_utc(value)
    if isinstance(value, str):
        return "", value
    raise ValueError(f"status field {key!r} has a {type(value).__name__}; only flat values are allowed")


def read_status(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The fields of a status file, typed as they were written."""
    path = Path(path)
    root = safexml.parse_file(path, ROOT_TAG, max_bytes=_MAX_BYTES, what="status file")
    return {child.tag: _parse(child) for child in root if isinstance(child.tag, str)}


def _parse(elem: etree._Element) -> Any:
    kind, text = elem.get("type", ""), elem.text or ""
    try:
        if kind == "none":
            return None
        if kind == "bool":
            return text.strip().lower() == "true"
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        pass  # a hand-edited value: give the text back rather than fail the whole file
    return text
