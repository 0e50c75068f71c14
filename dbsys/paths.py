"""Where things live in the Dbsys folder (contract ``dbsys-files.md``), named once."""

from __future__ import annotations

import os
from pathlib import Path

from dbsys.cmt import devices_path, sites_path
from dbsys.reports import reports_folder
from dbsys.status import status_path

__all__ = ["devices_path", "failed_folder", "processed_folder", "reports_folder", "requests_folder",
           "results_folder", "sites_path", "status_path"]

REQUESTS = "ZenithRequests"


def requests_folder(dbsys_folder: str | os.PathLike[str], override: str | os.PathLike[str] | None = None) -> Path:
    """The drop folder: the INI's ``RequestsFolder`` when set, else ``<DbsysFolder>/ZenithRequests``."""
    return Path(override) if override else Path(dbsys_folder) / REQUESTS


def processed_folder(requests: str | os.PathLike[str]) -> Path:
    """``<requests>/Processed``: accepted drops are moved here."""
    return Path(requests) / "Processed"


def failed_folder(requests: str | os.PathLike[str]) -> Path:
    """``<requests>/Failed``: refused drops are moved here."""
    return Path(requests) / "Failed"


def results_folder(requests: str | os.PathLike[str]) -> Path:
    """``<requests>/Results``: one ``<id>.xml`` per request."""
    return Path(requests) / "Results"
