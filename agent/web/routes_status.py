"""The agent's health: queue, inventory, feed, outbox, failures, error reports and the audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agent.errors import NotFoundError, UsageError
from agent.web.context import Viewer, console_of, page, render

AUDIT_ROWS = 100


def _status(request: Request) -> dict:
    from agent.runtime.status import gather_status
    from dbsys import reports

    app = console_of(request).app
    return {"doc": gather_status(app), "reports": reports.list_reports(app.settings.dbsys_folder)[:50],
            "failed_outbox": app.state.failed_outbox(20),
            "failed_requests": app.state.list_requests(failed_only=True, limit=20)}


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
