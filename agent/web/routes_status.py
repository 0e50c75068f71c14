"""The agent's health: queue, inventory, feed, outbox, failures, error reports and the audit log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.errors import NotFoundError, UsageError
from agent.web.context import Viewer, console_of, page, render

AUDIT_ROWS = 100
ISO = "%Y-%m-%dT%H:%M:%SZ"


def _status(request: Request) -> dict:
    from agent.runtime.status import gather_status
    from dbsys import reports

    app = console_of(request).app
    doc = gather_status(app)
    return {"doc": doc, "inventory": inventory_in_use(doc),
            "reports": reports.list_reports(app.settings.dbsys_folder)[:50],
            "failed_outbox": app.state.failed_outbox(20),
            "failed_requests": app.state.list_requests(failed_only=True, limit=20)}


def inventory_in_use(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The inventory the links pages use: the files' own counts and time. The refresh the service
    recorded may be older (a refresh from the command line writes the files only), so its counts
    are not shown beside the files' as if both were current."""
    files = doc.get("inventory_files") or {}
    sites, devices = files.get("sites"), files.get("devices")
    if not sites or not devices:
        return None
    generated = max(sites["generated"], devices["generated"])
    recorded = doc.get("last_inventory_refresh")
    return {"sites": sites["count"], "devices": devices["count"], "generated": generated.strftime(ISO),
            "recorded": recorded, "by_hand": not recorded or str(recorded) < generated.strftime(ISO)}


@page
def status(request: Request, viewer: Viewer) -> Response:
    app = console_of(request).app
    return render(request, "status.html", viewer, nav="status", audit=app.state.audit_log(AUDIT_ROWS),
                  **_status(request))


@page
def status_panel(request: Request, viewer: Viewer) -> Response:
    return render(request, "_status_panel.html", viewer, **_status(request))


@page
def error_report(request: Request, viewer: Viewer) -> Response:
    from dbsys import reports

    app = console_of(request).app
    try:
        report = reports.read_report(app.settings.dbsys_folder, request.query_params.get("name", ""))
    except FileNotFoundError as exc:
        raise NotFoundError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return render(request, "error_report.html", viewer, nav="status", report=report)


routes = [
    Route("/status", status, methods=["GET"]),
    Route("/status/panel", status_panel, methods=["GET"]),
    Route("/errors", error_report, methods=["GET"]),
]
