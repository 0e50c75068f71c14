"""An installation's settings for the simulator (date format, code page, field sizes), kept in
``rangermsp-simulator-settings.json`` in the database folder so that every process sees them."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from agent.sandbox.rangermsp.schema import Installation

FILE_NAME = "rangermsp-simulator-settings.json"


def read_installation(db_folder: Path) -> Installation:
    path = db_folder / FILE_NAME
    if not path.exists():
        return Installation()
    data = json.loads(path.read_text(encoding="utf-8")) or {}
    known = {f.name for f in fields(Installation)}
    return Installation(**{k: v for k, v in data.items() if k in known})


def configure(db_folder: Path | str, **values: Any) -> Installation:
    """Set some of an installation's settings (e.g. ``date_format="mm/dd/yyyy"``,
    ``field_sizes={"FLDTKTUSER1": 10}``, ``code_page="cp1250"``) before the DLLs are loaded."""
    folder = Path(db_folder)
    folder.mkdir(parents=True, exist_ok=True)
    current = asdict(read_installation(folder))
    current.update(values)
    (folder / FILE_NAME).write_text(json.dumps(current, indent=1), encoding="utf-8")
    return Installation(**current)
